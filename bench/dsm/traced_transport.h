// A net::Transport decorator that timestamps what passes through it, so the
// bench can split one DSM operation into its hops without touching the engine:
// when the engine handed a message to the transport, when the receiving
// node's handler started on it, and when that handler returned (the engine
// installs an arriving page inside its handler).
#ifndef DVM_BENCH_DSM_TRACED_TRANSPORT_H_
#define DVM_BENCH_DSM_TRACED_TRANSPORT_H_

#include <atomic>
#include <cstdint>
#include <vector>

#include "dsm/in_process_cluster.h"
#include "dsm/message.h"

namespace dvm::dsm::bench {

enum class Point : uint8_t { kSend, kDeliver, kHandled, kOpStart, kOpEnd };

struct TraceEvent {
  uint64_t ns = 0;
  uint32_t node = 0;
  Point point = Point::kSend;
  MsgType type = MsgType::kReadReq;  // for kSend, kDeliver, kHandled
};

// A fixed-size, lock-free event log; records only while enabled.
class Trace {
 public:
  explicit Trace(size_t capacity) : events_(capacity) {}
  void Enable(bool on) { on_.store(on, std::memory_order_release); }
  void Clear() { next_.store(0); }
  void Record(uint32_t node, Point point, MsgType type = MsgType::kReadReq);
  // The events recorded since Clear(), in the order they took their slots.
  std::vector<TraceEvent> Events() const;

 private:
  std::atomic<bool> on_{false};
  std::atomic<size_t> next_{0};
  std::vector<TraceEvent> events_;
};

// Wraps every transport `make` builds so that it records into `trace`.
TransportMaker Traced(TransportMaker make, Trace* trace);

}  // namespace dvm::dsm::bench

#endif  // DVM_BENCH_DSM_TRACED_TRANSPORT_H_
