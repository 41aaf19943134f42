// N DSM nodes in one process, each with its own guest RAM (memfd + its own
// userfaultfd), transport and engine, for the engine's tests and bench/dsm.
// Threads of the process stand in for vCPUs: touching node i's memory()
// faults into node i's engine exactly as a vCPU on that node would.
#ifndef DVM_DSM_IN_PROCESS_CLUSTER_H_
#define DVM_DSM_IN_PROCESS_CLUSTER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dsm/engine.h"
#include "dvm/mutex.h"
#include "net/transport.h"
#include "vmm/memory/guest_memory.h"

namespace dvm::dsm {

// Builds node `self`'s transport, not yet started.
using TransportMaker =
    std::function<absl::StatusOr<std::unique_ptr<net::Transport>>(NodeId self)>;

// TCP on 127.0.0.1 between `nodes` nodes, ports picked now.
TransportMaker TcpOnLoopback(uint32_t nodes);

class InProcessCluster {
 public:
  struct Options {
    uint32_t nodes = 2;
    uint64_t pages = 64;
    uint64_t interleave_bytes = kPageSize;  // homes alternate page by page
    ProtocolOptions protocol;
  };
  static absl::StatusOr<std::unique_ptr<InProcessCluster>> Create(const Options& options,
                                                                  const TransportMaker& make);
  // Stops transports, then engines, then frees memory. No thread may still be
  // touching memory() then.
  ~InProcessCluster();

  uint32_t size() const { return static_cast<uint32_t>(nodes_.size()); }
  uint8_t* memory(uint32_t node) const { return nodes_[node]->memory.mapped(); }
  template <typename T>
  T* At(uint32_t node, Gfn gfn, uint64_t byte = 0) const {
    return reinterpret_cast<T*>(memory(node) + gfn.value() * kPageSize + byte);
  }
  Engine& engine(uint32_t node) const { return *nodes_[node]->engine; }
  net::Transport& transport(uint32_t node) const { return *nodes_[node]->transport; }
  const HomeMap& homes() const { return homes_; }

  // Errors node `node`'s engine reported, in order.
  std::vector<std::string> errors(uint32_t node) const;
  // Cuts node `node` off as if its process died: its transport stops, and
  // every other node is told it is down once its transport notices.
  void Kill(uint32_t node);

 private:
  struct Node {
    explicit Node(memory::GuestMemory m) : memory(std::move(m)) {}
    memory::GuestMemory memory;
    std::unique_ptr<net::Transport> transport;
    std::unique_ptr<Engine> engine;
    mutable Mutex mu;
    std::vector<std::string> errors ABSL_GUARDED_BY(mu);
  };
  explicit InProcessCluster(HomeMap homes) : homes_(std::move(homes)) {}

  HomeMap homes_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

}  // namespace dvm::dsm

#endif  // DVM_DSM_IN_PROCESS_CLUSTER_H_
