// net_peer: one node of a two-node transport test, run as its own process.
//
//   net_peer --self=0 --nodes=0=127.0.0.1:7000,1=127.0.0.1:7001 --key=FILE
//            [--transport=tcp] [--count=100000] [--expect_down]
//
// Each node sends `count` numbered messages to the other (every second one
// with a 4 KiB page whose bytes derive from the number, bodies of varying
// size) and checks that it receives the other's `count` messages in order,
// each exactly once, intact. Application-level credits bound what is queued.
// It then says "done" and exits 0 once the peer said so too.
//
// With --expect_down the node instead waits for the peer to disappear (the
// test kills it) and exits 0 when the transport reports it down, printing how
// long after the last message that took.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "dvm/log.h"
#include "dvm/mutex.h"
#include "net/auth.h"
#include "net/transport.h"
#include "test/integration/net/transport_factory.h"

namespace dvm::net {
namespace {

constexpr uint16_t kData = 1, kCredit = 2, kDone = 3;
constexpr uint64_t kCreditEvery = 256;
constexpr uint64_t kWindow = 2048;

std::vector<uint8_t> Body(uint64_t i) {
  std::vector<uint8_t> b(8 + (i * 13) % 120);
  std::memcpy(b.data(), &i, 8);
  for (size_t k = 8; k < b.size(); ++k) b[k] = static_cast<uint8_t>(i + k);
  return b;
}

void FillPage(uint64_t i, uint8_t* page) {
  for (size_t k = 0; k < kPageSize; ++k) page[k] = static_cast<uint8_t>(i * 31 + k * 7);
}

struct State {
  Mutex mu;
  CondVar cv;
  uint64_t received ABSL_GUARDED_BY(mu) = 0;
  uint64_t credited ABSL_GUARDED_BY(mu) = 0;
  bool peer_done ABSL_GUARDED_BY(mu) = false;
  bool peer_down ABSL_GUARDED_BY(mu) = false;
  std::string error ABSL_GUARDED_BY(mu);
  std::chrono::steady_clock::time_point last_msg ABSL_GUARDED_BY(mu);
  std::chrono::steady_clock::time_point down_at ABSL_GUARDED_BY(mu);
};

uint64_t DataReceived(State& st) {
  MutexLock lock(&st.mu);
  return st.received;
}

int Run(const Flags& f) {
  auto key = ClusterKey::FromFile(f.key_file);
  if (!key.ok()) {
    std::fprintf(stderr, "%s\n", std::string(key.status().message()).c_str());
    return 2;
  }
  auto transport = MakeTransport(f, *key);
  if (!transport.ok()) {
    std::fprintf(stderr, "node %u: %s\n", f.self.value(),
                 std::string(transport.status().message()).c_str());
    return 2;
  }
  Transport& t = **transport;
  NodeId peer = f.peer;
  State st;
  std::vector<uint8_t> expect_page(kPageSize);

  Callbacks cb;
  cb.on_message = [&](const Received& r) {
    MutexLock lock(&st.mu);
    st.last_msg = std::chrono::steady_clock::now();
    if (r.channel == kCredit && r.body.size() == 8) {
      std::memcpy(&st.credited, r.body.data(), 8);
    } else if (r.channel == kDone) {
      st.peer_done = true;
    } else if (r.channel == kData) {
      uint64_t i = st.received;
      std::vector<uint8_t> want = Body(i);
      bool page_ok = (r.page != nullptr) == (i % 2 == 1);
      if (page_ok && r.page != nullptr) {
        FillPage(i, expect_page.data());
        page_ok = std::memcmp(r.page, expect_page.data(), kPageSize) == 0;
      }
      if (r.type != (i % 7) || r.body.size() != want.size() ||
          std::memcmp(r.body.data(), want.data(), want.size()) != 0 || !page_ok) {
        if (st.error.empty()) {
          uint64_t got = 0;
          if (r.body.size() >= 8) std::memcpy(&got, r.body.data(), 8);
          st.error = "message " + std::to_string(i) + ": got number " + std::to_string(got) +
                     ", body " + std::to_string(r.body.size()) + " bytes";
        }
      }
      ++st.received;
      if (st.received % kCreditEvery == 0 || st.received == f.count) {
        uint64_t n = st.received;
        t.Send(peer, kCredit, 0, {reinterpret_cast<uint8_t*>(&n), 8}).IgnoreError();
      }
    } else if (st.error.empty()) {
      st.error = "unexpected channel " + std::to_string(r.channel);
    }
    st.cv.NotifyAll();
  };
  cb.on_peer_down = [&](NodeId id, const absl::Status& why) {
    MutexLock lock(&st.mu);
    st.peer_down = true;
    st.down_at = std::chrono::steady_clock::now();
    std::fprintf(stderr, "node %u: peer %u down: %s\n", f.self.value(), id.value(),
                 std::string(why.message()).c_str());
    st.cv.NotifyAll();
  };
  auto t0 = std::chrono::steady_clock::now();
  if (absl::Status s = t.Start(cb); !s.ok()) {
    std::fprintf(stderr, "node %u: start: %s\n", f.self.value(), std::string(s.message()).c_str());
    return 2;
  }
  std::vector<uint8_t> page(kPageSize);
  for (uint64_t i = 0; i < f.count; ++i) {
    {
      MutexLock lock(&st.mu);
      bool ok = st.cv.WaitFor(&st.mu, std::chrono::seconds(60), [&] {
        return i < st.credited + kWindow || st.peer_down;
      });
      if (!ok || st.peer_down) break;
    }
    if (i % 2 == 1) FillPage(i, page.data());
    absl::Status s = t.Send(peer, kData, static_cast<uint16_t>(i % 7), Body(i),
                            i % 2 == 1 ? page.data() : nullptr);
    if (!s.ok()) {
      std::fprintf(stderr, "node %u: send %lu: %s\n", f.self.value(), i,
                   std::string(s.message()).c_str());
      break;
    }
    if (i % 64 == 63) t.Flush();
  }
  t.Flush();

  int rc = 0;
  {
    MutexLock lock(&st.mu);
    if (f.expect_down) {
      bool ok = st.cv.WaitFor(&st.mu, std::chrono::seconds(60), [&] { return st.peer_down; });
      if (!ok) {
        std::fprintf(stderr, "node %u: peer never reported down\n", f.self.value());
        rc = 1;
      } else {
        double ms = std::chrono::duration<double, std::milli>(st.down_at - st.last_msg).count();
        std::printf("node %u: peer down reported %.1f ms after its last message (%lu received)\n",
                    f.self.value(), ms, st.received);
      }
    }
  }
  if (!f.expect_down) {
    {
      MutexLock lock(&st.mu);
      st.cv.WaitFor(&st.mu, std::chrono::seconds(120),
                    [&] { return st.received >= f.count || st.peer_down; });
    }
    t.Send(peer, kDone, 0, {}).IgnoreError();
    t.Flush();
    MutexLock lock(&st.mu);
    st.cv.WaitFor(&st.mu, std::chrono::seconds(30), [&] { return st.peer_done || st.peer_down; });
    if (!st.error.empty()) {
      std::fprintf(stderr, "node %u: %s\n", f.self.value(), st.error.c_str());
      rc = 1;
    } else if (st.received != f.count || !st.peer_done) {
      std::fprintf(stderr, "node %u: received %lu of %lu, peer done: %d\n", f.self.value(),
                   st.received, f.count, st.peer_done);
      rc = 1;
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  t.Stop();
  PeerCounters c = t.counters(peer);
  PeerCounters u = t.unknown_counters();
  std::printf(
      "node %u: %s: %lu data messages received in order; counters (data+credit+done): "
      "msgs_sent=%lu msgs_recv=%lu bytes_sent=%lu bytes_recv=%lu "
      "retransmits=%lu drops=%lu auth_failures=%lu unknown_drops=%lu (%.2f s)\n",
      f.self.value(), rc == 0 ? "OK" : "FAIL", DataReceived(st), c.msgs_sent, c.msgs_received,
      c.bytes_sent, c.bytes_received, c.retransmits, c.drops, c.auth_failures, u.drops, secs);
  return rc;
}

}  // namespace
}  // namespace dvm::net

int main(int argc, char** argv) {
  auto flags = dvm::net::ParseFlags(argc, argv);
  if (!flags.ok()) {
    std::fprintf(stderr, "%s\n", std::string(flags.status().message()).c_str());
    return 2;
  }
  return dvm::net::Run(*flags);
}
