// `dvm run` with several nodes: the nodes whose address is on this host are
// started here as `dvm node` processes (separate processes, separate KVM VMs);
// the others must be started by hand on their hosts. `dvm run` itself is
// node 0. Nodes that do not come are named by node 0's start-up error.
#ifndef DVM_CMD_LOCAL_NODES_H_
#define DVM_CMD_LOCAL_NODES_H_

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "vmm/spec/vm_spec.h"

namespace dvm::cmd {

class LocalNodes {
 public:
  // Starts `self_exe node CONFIG --id N` for every node but 0 that listens on
  // a loopback address; prints where the other nodes are expected.
  absl::Status Start(const std::string& self_exe, const std::string& config_path, const spec::VmSpec& spec);
  // Waits up to `timeout` for them to exit, kills what is left, and returns
  // one line per node that did not exit 0 ("node 1 (pid 42) was killed by
  // signal 9").
  std::vector<std::string> Finish(std::chrono::seconds timeout);
  // Kills them at once (node 0 could not start).
  void Kill();

 private:
  struct Node {
    uint32_t id;
    pid_t pid;
  };
  std::vector<Node> nodes_;
};

// 127.0.0.0/8, ::1 and "localhost".
bool IsLoopback(const std::string& host);

}  // namespace dvm::cmd

#endif  // DVM_CMD_LOCAL_NODES_H_
