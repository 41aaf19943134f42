// The DSM operations bench/dsm times, each on a real InProcessCluster: one
// bench thread touches node i's memory as a vCPU of node i would, timing the
// access end to end; an untimed reset before each sample puts the page back
// into the state the operation starts from.
#ifndef DVM_BENCH_DSM_SCENARIOS_H_
#define DVM_BENCH_DSM_SCENARIOS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/dsm/common.h"
#include "dsm/in_process_cluster.h"

namespace dvm::dsm::bench {

struct Row {
  std::string name;
  int messages = 0;  // wire messages per operation (protocol.h)
  int hops = 0;      // of them, one-way trips on the critical path
  Summary latency;
};

// Where a remote read miss spends its time: medians of each hop, from the
// transport's own timestamps (traced_transport.h). Zero when not measured.
struct Breakdown {
  size_t samples = 0;
  double end_to_end_us = 0;          // the traced accesses, like the table's row
  double fault_to_request_us = 0;    // access -> requester's engine sends ReadReq
  double request_wire_us = 0;        // ReadReq sent -> home's handler starts
  double home_us = 0;                // home's handler starts -> ReadData sent
  double reply_wire_us = 0;          // ReadData sent -> requester's handler starts
  double install_and_wake_us = 0;    // requester's handler starts -> access returns
  double handler_us = 0;             // requester's handler starts -> handler returns
  double engine_read_miss_us = 0;    // the engine's own figure: fault taken -> woken
};

struct TwoNodeResult {
  std::vector<Row> rows;
  double stream_pages_per_s = 0;
  uint64_t stream_pages = 0;
  Breakdown breakdown;
};

// Nodes 0 (home) and 1: read miss from the home, invalidation of one remote
// sharer, upgrade while the home shares, the streaming read, and a traced pass
// of read misses for the breakdown.
absl::StatusOr<TwoNodeResult> RunTwoNode(const TransportMaker& make, int samples);

// Nodes 0 (home), 1, 2, 3: read forwarded to a third-node owner, upgrade with
// three other sharers, invalidation of three remote sharers.
absl::StatusOr<std::vector<Row>> RunFourNode(const TransportMaker& make, int samples);

}  // namespace dvm::dsm::bench

#endif  // DVM_BENCH_DSM_SCENARIOS_H_
