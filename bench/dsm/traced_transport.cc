#include "bench/dsm/traced_transport.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "bench/dsm/common.h"

namespace dvm::dsm::bench {
namespace {

MsgType TypeOf(std::span<const uint8_t> body) {
  auto msg = DecodeHeader(body, 64);
  return msg.ok() ? msg->type : MsgType::kLost;
}

class TracedTransport : public net::Transport {
 public:
  TracedTransport(std::unique_ptr<net::Transport> inner, Trace* trace)
      : inner_(std::move(inner)), trace_(trace) {}

  NodeId self() const override { return inner_->self(); }
  absl::Status Start(net::Callbacks callbacks) override {
    auto on_message = std::move(callbacks.on_message);
    uint32_t node = self().value();
    callbacks.on_message = [this, node, on_message](const net::Received& r) {
      MsgType type = TypeOf(r.body);
      trace_->Record(node, Point::kDeliver, type);
      on_message(r);
      trace_->Record(node, Point::kHandled, type);
    };
    return inner_->Start(std::move(callbacks));
  }
  absl::Status Send(NodeId to, uint16_t channel, uint16_t type, std::span<const uint8_t> body,
                    const uint8_t* page) override {
    trace_->Record(self().value(), Point::kSend, TypeOf(body));
    return inner_->Send(to, channel, type, body, page);
  }
  void Flush() override { inner_->Flush(); }
  bool Poll() override { return inner_->Poll(); }
  void Stop() override { inner_->Stop(); }
  net::PeerCounters counters(NodeId peer) const override { return inner_->counters(peer); }
  net::PeerCounters unknown_counters() const override { return inner_->unknown_counters(); }

 private:
  std::unique_ptr<net::Transport> inner_;
  Trace* trace_;
};

}  // namespace

void Trace::Record(uint32_t node, Point point, MsgType type) {
  if (!on_.load(std::memory_order_acquire)) return;
  uint64_t now = NowNs();
  size_t i = next_.fetch_add(1);
  if (i < events_.size()) events_[i] = TraceEvent{now, node, point, type};
}

std::vector<TraceEvent> Trace::Events() const {
  size_t n = std::min(next_.load(), events_.size());
  return std::vector<TraceEvent>(events_.begin(), events_.begin() + static_cast<ptrdiff_t>(n));
}

TransportMaker Traced(TransportMaker make, Trace* trace) {
  return [make = std::move(make),
          trace](NodeId self) -> absl::StatusOr<std::unique_ptr<net::Transport>> {
    absl::StatusOr<std::unique_ptr<net::Transport>> inner = make(self);
    if (!inner.ok()) return inner.status();
    return std::unique_ptr<net::Transport>(new TracedTransport(std::move(*inner), trace));
  };
}

}  // namespace dvm::dsm::bench
