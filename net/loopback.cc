#include "net/loopback.h"

#include <atomic>
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "net/auth.h"
#include "net/datagram_core.h"

namespace dvm::net {

class LoopbackNetwork::Endpoint : public Transport {
 public:
  Endpoint(LoopbackNetwork* net, NodeId self, const std::vector<NodeId>& nodes,
           const ClusterKey& key)
      : net_(net), core_(self, nodes, key, net->options_.link, net->Now()) {}

  NodeId self() const override { return core_.self(); }

  absl::Status Start(Callbacks callbacks) override {
    core_.SetCallbacks(std::move(callbacks));
    started_ = true;
    return absl::OkStatus();
  }

  absl::Status Send(NodeId to, uint16_t channel, uint16_t type, std::span<const uint8_t> body,
                    const uint8_t* page) override {
    if (stopped_) return absl::FailedPreconditionError("transport stopped");
    return core_.Send(to, channel, type, body, page);
  }

  void Flush() override {
    if (!started_ || stopped_) return;
    core_.Pump(net_->Now(), kBurst, Tx());
  }

  bool Poll() override {
    if (!started_ || stopped_) return false;
    uint64_t now = net_->Now();
    bool did = false;
    for (const auto& f : net_->TakeDue(self(), now)) {
      core_.OnWireFrame(f, now);
      did = true;
    }
    if (core_.Pump(now, kBurst, Tx())) did = true;
    return did;
  }

  void Stop() override {
    if (stopped_) return;
    if (started_) core_.SayBye(Tx());
    stopped_ = true;
  }

  PeerCounters counters(NodeId peer) const override { return core_.counters(peer); }
  PeerCounters unknown_counters() const override { return core_.unknown_counters(); }

 private:
  static constexpr size_t kBurst = 64;

  std::function<void(NodeId, std::span<const uint8_t>, std::span<const uint8_t>)> Tx() {
    return [this](NodeId to, std::span<const uint8_t> header, std::span<const uint8_t> payload) {
      net_->Transmit(self(), to, header, payload);
    };
  }

  LoopbackNetwork* net_;
  DatagramCore core_;
  bool started_ = false;  // the polling thread's own state
  std::atomic<bool> stopped_{false};
};

absl::StatusOr<std::unique_ptr<LoopbackNetwork>> LoopbackNetwork::Create(
    const std::vector<NodeId>& nodes, std::span<const uint8_t> key, LoopbackOptions options) {
  absl::StatusOr<ClusterKey> k = ClusterKey::FromBytes(key);
  if (!k.ok()) return k.status();
  std::unique_ptr<LoopbackNetwork> net(new LoopbackNetwork(std::move(options)));
  net->clock_ = net->options_.clock;
  if (!net->clock_) {
    net->clock_ = [] {
      return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                       std::chrono::steady_clock::now().time_since_epoch())
                                       .count());
    };
  }
  {
    MutexLock lock(&net->mu_);
    net->faults_ = net->options_.faults;
    net->rng_.seed(net->options_.seed);
  }
  for (NodeId id : nodes) {
    if (net->endpoints_.contains(id)) {
      return absl::InvalidArgumentError(absl::StrCat("node ", id.value(), " listed twice"));
    }
    net->endpoints_[id] = std::make_unique<Endpoint>(net.get(), id, nodes, *k);
  }
  return net;
}

LoopbackNetwork::LoopbackNetwork(LoopbackOptions options) : options_(std::move(options)) {}
LoopbackNetwork::~LoopbackNetwork() = default;

Transport* LoopbackNetwork::endpoint(NodeId node) {
  auto it = endpoints_.find(node);
  return it == endpoints_.end() ? nullptr : it->second.get();
}

void LoopbackNetwork::SetFaults(const FaultOptions& faults) {
  MutexLock lock(&mu_);
  faults_ = faults;
}

void LoopbackNetwork::SetPartitioned(NodeId a, NodeId b, bool partitioned) {
  MutexLock lock(&mu_);
  if (partitioned) {
    cut_.insert({a, b});
    cut_.insert({b, a});
  } else {
    cut_.erase({a, b});
    cut_.erase({b, a});
  }
}

void LoopbackNetwork::InjectFrame(NodeId to, std::vector<uint8_t> bytes) {
  MutexLock lock(&mu_);
  inbox_[to].emplace(0, std::move(bytes));
}

void LoopbackNetwork::Transmit(NodeId from, NodeId to, std::span<const uint8_t> header,
                               std::span<const uint8_t> payload) {
  uint64_t now = Now();
  MutexLock lock(&mu_);
  if (cut_.contains({from, to})) return;
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  if (faults_.loss > 0 && coin(rng_) < faults_.loss) return;
  std::vector<uint8_t> bytes;
  bytes.reserve(header.size() + payload.size());
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  if (faults_.corrupt > 0 && coin(rng_) < faults_.corrupt) {
    std::uniform_int_distribution<size_t> pos(0, bytes.size() - 1);
    bytes[pos(rng_)] ^= static_cast<uint8_t>(1u << (rng_() % 8));
  }
  uint64_t due = now + faults_.delay_ns;
  if (faults_.reorder > 0 && coin(rng_) < faults_.reorder) due += faults_.reorder_delay_ns;
  auto& q = inbox_[to];
  if (faults_.duplicate > 0 && coin(rng_) < faults_.duplicate) q.emplace(due, bytes);
  q.emplace(due, std::move(bytes));
}

std::vector<std::vector<uint8_t>> LoopbackNetwork::TakeDue(NodeId to, uint64_t now_ns) {
  std::vector<std::vector<uint8_t>> out;
  MutexLock lock(&mu_);
  auto it = inbox_.find(to);
  if (it == inbox_.end()) return out;
  auto& q = it->second;
  auto end = q.upper_bound(now_ns);
  for (auto i = q.begin(); i != end; ++i) out.push_back(std::move(i->second));
  q.erase(q.begin(), end);
  return out;
}

size_t LoopbackNetwork::frames_in_flight() const {
  MutexLock lock(&mu_);
  size_t n = 0;
  for (const auto& [id, q] : inbox_) n += q.size();
  return n;
}

bool LoopbackNetwork::PollAll() {
  bool did = false;
  for (auto& [id, ep] : endpoints_) {
    if (ep->Poll()) did = true;
  }
  return did;
}

}  // namespace dvm::net
