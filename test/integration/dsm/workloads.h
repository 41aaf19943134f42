// The memory-only workloads of the DSM node harness (dsm_node). Every node
// process runs the same workload on its own mapping of the shared region with
// `threads` host threads standing in for vCPUs; the DSM keeps the mappings
// coherent. Each workload checks its own outcome and returns what went wrong.
//
// Region layout (RAM page indices; homes interleave page by page):
//   0        barrier              8 + 8p   litmus pair p: data, flag, x, y, r1
//   1, 2     atomic counters      64..     stamped pages
//   3        bounce page          128 + n  node n's write counts (stamps)
//   16 + n   node n's own page (its last writer is always n: lost with n)
#ifndef DVM_TEST_INTEGRATION_DSM_WORKLOADS_H_
#define DVM_TEST_INTEGRATION_DSM_WORKLOADS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace dvm::dsm_harness {

inline constexpr uint64_t kRegionPages = 256;

struct Context {
  uint8_t* base = nullptr;  // the node's mapping of the region (faults into its engine)
  uint32_t node = 0;
  uint32_t nodes = 1;
  uint32_t threads = 1;
  uint64_t iters = 100;
};

// A barrier over every thread of every node, kept in the region itself.
class Barrier {
 public:
  explicit Barrier(const Context& ctx);
  // Every thread of every node calls the same sequence of Waits.
  void Wait(uint32_t thread);

 private:
  uint64_t* arrivals_;
  uint64_t participants_;
  std::vector<uint64_t> generations_;  // per local thread: barriers passed
};

struct Workload {
  const char* name;
  // Runs on every thread of every node; returns failures (empty: passed).
  // Thread 0 of each node reports a summary line in *summary.
  std::vector<std::string> (*run)(const Context& ctx, uint32_t thread, Barrier& barrier,
                                  std::string* summary);
};

// counter, litmus, stamps, bounce.
const std::vector<Workload>& AllWorkloads();

}  // namespace dvm::dsm_harness

#endif  // DVM_TEST_INTEGRATION_DSM_WORKLOADS_H_
