// One node's machine: a KVM VM with guest RAM, the vCPUs this node runs,
// their user-space LAPICs, and (on node 0) the IOAPIC, PIC and PC devices.
// With one node that is the whole VM. With several, each node process builds
// one Machine: guest RAM is kept coherent by the DSM, interrupts and device
// accesses cross nodes, and the nodes start and end together (ClusterNode).
//
// Threads: one per vCPU (vcpu::Runner), one timer loop, one console reader,
// and the caller of Run(), which waits for the guest to end and then stops
// the rest. The guest ends by ACPI power-off (status 0), the debug exit port
// (the status written), a reset or triple fault (status 1: dvm does not
// reboot), a vCPU failure (1), a node's death or DSM failure (1), or Stop()
// (e.g. Ctrl-C). Whatever ends it on one node ends it on all.
#ifndef DVM_VMM_MACHINE_MACHINE_H_
#define DVM_VMM_MACHINE_MACHINE_H_

#include <unistd.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dvm/mutex.h"
#include "dvm/types.h"
#include "vmm/spec/vm_spec.h"

namespace dvm::machine {

enum class EndReason { kPowerOff, kExitPort, kReset, kTripleFault, kFailed, kStopped };

struct MachineEnd {
  EndReason reason = EndReason::kStopped;
  int exit_status = 0;  // what `dvm run` exits with
  std::string detail;
  // Some vCPU thread did not stop (it waits on guest memory or I/O that a
  // dead node held): the process must leave with _Exit, not destroy the
  // machine under it.
  bool threads_stuck = false;
};

struct MachineOptions {
  int console_out_fd = STDOUT_FILENO;  // -1: discard guest console output
  int console_in_fd = STDIN_FILENO;    // -1: no console input
  std::string kvm_device = "/dev/kvm";
  NodeId node{0};  // which [[node]] of the spec this process is
  uint64_t connect_deadline_ms = 30'000;  // how long to wait for the other nodes
  std::chrono::seconds stop_timeout{20};  // for vCPUs to stop and peers to leave
};

class Machine {
 public:
  // Builds this node's machine; node 0 loads the kernel. With several nodes,
  // connects to every other node and agrees on the clock. Errors:
  // InvalidArgument or ResourceExhausted for a kernel, initrd or memory size
  // that cannot boot (a bad input); FailedPrecondition when KVM is missing
  // (with the lab hint); Unavailable naming a node that does not come;
  // others for host failures.
  static absl::StatusOr<std::unique_ptr<Machine>> Create(const spec::VmSpec& spec,
                                                         const MachineOptions& options);
  ~Machine();

  // Runs the guest until it ends; call once.
  MachineEnd Run();
  // Ends the run from any thread.
  void Stop(const std::string& why);
  // Presses the ACPI power button (any thread): the guest is asked to shut
  // down and decides itself. Only the device node (node 0) has the button.
  absl::Status PressPowerButton();
  // Devices and vCPUs report how the guest ended; the first report wins and
  // is told to the other nodes.
  void End(EndReason reason, int exit_status, std::string detail);
  // Another node's machine ended this way (its text names the node).
  void EndAsPeerSaid(EndReason reason, int exit_status, std::string detail);

  // Exits, injections and unclaimed accesses per vCPU, and with several
  // nodes this node's DSM, interrupt, I/O and link counters, as text.
  std::string StatsText() const;
  // Every node's StatsText, this node's first (see ClusterNode::GatherStats):
  // waits at most `timeout` for the other nodes. With one node, StatsText()
  // under the same "--- node 0 ---" line.
  std::string GatherStatsText(std::chrono::milliseconds timeout);

  struct Parts;  // everything the machine owns (machine.cc)

 private:
  Machine();
  // Records the end; true if it was the first.
  bool RecordEnd(EndReason reason, int exit_status, std::string detail);

  std::unique_ptr<Parts> parts_;
  Mutex mu_;
  CondVar cv_;
  std::optional<MachineEnd> end_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dvm::machine

#endif  // DVM_VMM_MACHINE_MACHINE_H_
