#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "bench/transport/roles.h"
#include "dvm/mutex.h"
#include "net/auth.h"
#include "net/transport.h"

namespace dvm::net::bench {
namespace {

constexpr uint16_t kChannel = 1, kRequest = 1, kReply = 2;

absl::StatusOr<std::unique_ptr<Transport>> Make(const Flags& f) {
  auto key = ClusterKey::FromFile(f.key_file);
  if (!key.ok()) return key.status();
  return MakeTransport(f, *key);
}

// Waits for `done` either by driving Poll() (yielding when idle, so two
// pollers can share a core) or on a condition variable fed by the I/O thread.
class Waiter {
 public:
  Waiter(Transport* t, bool poll) : t_(t), poll_(poll) {}
  void Notify() {
    if (poll_) return;
    MutexLock l(&mu_);
    cv_.NotifyAll();
  }
  template <typename Pred>
  void Wait(Pred done) {
    if (poll_) {
      while (!done()) {
        if (!t_->Poll()) sched_yield();
      }
    } else {
      MutexLock l(&mu_);
      cv_.Wait(&mu_, done);
    }
  }

 private:
  Transport* t_;
  bool poll_;
  Mutex mu_;
  CondVar cv_;
};

}  // namespace

int TransportServer(const Flags& f) {
  auto t = Make(f);
  if (!t.ok()) {
    std::fprintf(stderr, "server: %s\n", std::string(t.status().message()).c_str());
    return 1;
  }
  Transport& tr = **t;
  std::atomic<bool> down{false};
  Waiter waiter(&tr, f.poll);
  std::vector<uint8_t> page(kPageSize, 0x5a);
  Callbacks cb{.on_message =
                   [&](const Received& r) {
                     if (r.type != kRequest || r.body.size() < 8) return;
                     tr.Send(r.from, kChannel, kReply, r.body.first(8), page.data()).IgnoreError();
                   },
               .on_peer_down =
                   [&](NodeId, const absl::Status&) {
                     down = true;
                     waiter.Notify();
                   }};
  if (absl::Status s = tr.Start(cb); !s.ok()) {
    std::fprintf(stderr, "server: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  waiter.Wait([&] { return down.load(); });
  tr.Stop();
  return 0;
}

int TransportClient(const Flags& f) {
  auto t = Make(f);
  if (!t.ok()) {
    std::fprintf(stderr, "client: %s\n", std::string(t.status().message()).c_str());
    return 1;
  }
  Transport& tr = **t;
  std::atomic<uint64_t> replies{0};
  std::atomic<bool> down{false};
  Waiter waiter(&tr, f.poll);
  Callbacks cb{.on_message =
                   [&](const Received& r) {
                     if (r.type == kReply && r.page != nullptr) {
                       replies.fetch_add(1);
                       waiter.Notify();
                     }
                   },
               .on_peer_down =
                   [&](NodeId, const absl::Status&) {
                     down = true;
                     waiter.Notify();
                   }};
  if (absl::Status s = tr.Start(cb); !s.ok()) {
    std::fprintf(stderr, "client: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::vector<uint8_t> req(kRequestBytes);
  uint64_t sent = 0;
  auto send = [&] {
    std::memcpy(req.data(), &sent, 8);
    ++sent;
    return tr.Send(f.peer, kChannel, kRequest, req).ok();
  };
  auto round_trip = [&] {
    if (!send()) return false;
    tr.Flush();
    waiter.Wait([&] { return replies.load() == sent || down.load(); });
    return !down.load();
  };
  for (int i = 0; i < kWarmup; ++i) {
    if (!round_trip()) return 1;
  }
  std::vector<double> rtt;
  for (int i = 0; i < kRoundTrips; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    if (!round_trip()) return 1;
    rtt.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0)
                      .count());
  }
  uint64_t base = replies.load();
  auto t0 = std::chrono::steady_clock::now();
  auto until = t0 + std::chrono::duration<double>(kThroughputSeconds);
  while (std::chrono::steady_clock::now() < until && !down.load()) {
    while (sent - replies.load() < kInFlight) {
      if (!send()) return 1;
    }
    tr.Flush();
    uint64_t target = sent - kInFlight / 2;  // refill when half came back
    waiter.Wait([&] { return replies.load() >= target || down.load(); });
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double pages_per_s = (replies.load() - base) / secs;
  waiter.Wait([&] { return replies.load() == sent || down.load(); });
  PeerCounters c = tr.counters(f.peer);
  std::fprintf(stderr, "client counters: sent %lu received %lu retransmits %lu drops %lu\n",
               c.msgs_sent, c.msgs_received, c.retransmits, c.drops);
  tr.Stop();
  PrintResult(std::move(rtt), pages_per_s);
  return 0;
}

}  // namespace dvm::net::bench
