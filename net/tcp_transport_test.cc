#include "net/tcp_transport.h"
#include "net/free_port_for_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "dvm/mutex.h"
#include "dvm/wait_for_test.h"
#include "gtest/gtest.h"

namespace dvm::net {
namespace {

ClusterKey Key(uint8_t v = 3) { return *ClusterKey::FromBytes(std::vector<uint8_t>(32, v)); }

struct Node {
  std::unique_ptr<TcpTransport> t;
  Mutex mu;
  std::vector<uint32_t> got ABSL_GUARDED_BY(mu);
  std::vector<NodeId> down ABSL_GUARDED_BY(mu);
  absl::Status start;
  size_t got_count() {
    MutexLock l(&mu);
    return got.size();
  }
  size_t down_count() {
    MutexLock l(&mu);
    return down.size();
  }
};

class TcpTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    nodes_ = {{NodeId(0), "127.0.0.1", FreePort()}, {NodeId(1), "127.0.0.1", FreePort()}};
  }
  // Transports first: their I/O threads write into the Nodes' vectors.
  void TearDown() override {
    for (Node& n : n_) n.t.reset();
  }

  // Starts both nodes concurrently (Start blocks until connected).
  void StartBoth(bool own_thread = true) {
    for (int i = 0; i < 2; ++i) {
      TcpOptions o{.self = NodeId(i), .nodes = nodes_, .connect_deadline_ms = 5000,
                   .own_thread = own_thread};
      auto t = TcpTransport::Create(o, Key());
      ASSERT_TRUE(t.ok()) << t.status();
      n_[i].t = std::move(*t);
    }
    std::vector<std::thread> th;
    for (int i = 0; i < 2; ++i) {
      th.emplace_back([this, i] {
        Node& n = n_[i];
        n.start = n.t->Start(Callbacks{
            .on_message =
                [&n](const Received& r) {
                  uint32_t v = 0;
                  if (r.body.size() == 4) std::memcpy(&v, r.body.data(), 4);
                  if (r.page != nullptr && r.page[0] != static_cast<uint8_t>(v)) v = ~0u;
                  MutexLock l(&n.mu);
                  n.got.push_back(v);
                },
            .on_peer_down =
                [&n](NodeId id, const absl::Status&) {
                  MutexLock l(&n.mu);
                  n.down.push_back(id);
                }});
      });
    }
    for (auto& t : th) t.join();
    ASSERT_TRUE(n_[0].start.ok()) << n_[0].start;
    ASSERT_TRUE(n_[1].start.ok()) << n_[1].start;
  }

  absl::Status SendNumbered(int from, int to, uint32_t i) {
    std::vector<uint8_t> page(kPageSize, static_cast<uint8_t>(i));
    return n_[from].t->Send(NodeId(to), 1, 2, {reinterpret_cast<uint8_t*>(&i), 4},
                            i % 2 ? page.data() : nullptr);
  }

  std::vector<PeerAddress> nodes_;
  Node n_[2];
};

TEST_F(TcpTransportTest, ExchangesInOrderBothWays) {
  StartBoth();
  constexpr uint32_t kN = 5000;
  std::thread other([&] {
    for (uint32_t i = 0; i < kN; ++i) ASSERT_TRUE(SendNumbered(1, 0, i).ok());
  });
  for (uint32_t i = 0; i < kN; ++i) ASSERT_TRUE(SendNumbered(0, 1, i).ok());
  other.join();
  ASSERT_TRUE(WaitFor([&] { return n_[0].got_count() == kN && n_[1].got_count() == kN; }));
  for (Node* n : {&n_[0], &n_[1]}) {
    MutexLock l(&n->mu);
    for (uint32_t i = 0; i < kN; ++i) ASSERT_EQ(n->got[i], i);
  }
  PeerCounters c = n_[0].t->counters(NodeId(1));
  EXPECT_EQ(c.msgs_sent, kN);
  EXPECT_EQ(c.msgs_received, kN);
  EXPECT_EQ(c.drops + c.auth_failures, 0u);
}

TEST_F(TcpTransportTest, PollModeWorks) {
  StartBoth(/*own_thread=*/false);
  for (uint32_t i = 0; i < 100; ++i) ASSERT_TRUE(SendNumbered(0, 1, i).ok());
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (n_[1].got_count() < 100 && std::chrono::steady_clock::now() < until) {
    n_[0].t->Poll();
    n_[1].t->Poll();
  }
  EXPECT_EQ(n_[1].got_count(), 100u);
}

TEST_F(TcpTransportTest, StopIsReportedAsPeerDown) {
  StartBoth();
  n_[1].t->Stop();
  ASSERT_TRUE(WaitFor([&] { return n_[0].down_count() == 1; }, std::chrono::milliseconds(2000)));
  EXPECT_EQ(SendNumbered(0, 1, 1).code(), absl::StatusCode::kUnavailable);
}

TEST_F(TcpTransportTest, UnreachablePeerFailsStartWithClearError) {
  TcpOptions o{.self = NodeId(1), .nodes = nodes_, .connect_deadline_ms = 300};
  auto t = TcpTransport::Create(o, Key());
  ASSERT_TRUE(t.ok());
  auto start = std::chrono::steady_clock::now();
  absl::Status s = (*t)->Start({});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(s.message().find("node 0 at 127.0.0.1"), std::string::npos) << s;
  EXPECT_NE(s.message().find("unreachable"), std::string::npos) << s;
}

TEST_F(TcpTransportTest, WrongKeyNeverConnects) {
  TcpOptions o0{.self = NodeId(0), .nodes = nodes_, .connect_deadline_ms = 500};
  TcpOptions o1{.self = NodeId(1), .nodes = nodes_, .connect_deadline_ms = 500};
  auto a = TcpTransport::Create(o0, Key(1));
  auto b = TcpTransport::Create(o1, Key(2));
  ASSERT_TRUE(a.ok() && b.ok());
  absl::Status sa;
  std::thread th([&] { sa = (*a)->Start({}); });
  absl::Status sb = (*b)->Start({});
  th.join();
  EXPECT_FALSE(sa.ok());
  EXPECT_FALSE(sb.ok());
  EXPECT_GT((*a)->unknown_counters().auth_failures, 0u);
}

// Raw bytes from a stranger: each connection is dropped and counted, and the
// established peers keep talking.
TEST_F(TcpTransportTest, GarbageFromStrangersIsCountedAndHarmless) {
  StartBoth();
  auto blast = [&](std::vector<uint8_t> bytes) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(nodes_[0].port);  // node 0 accepts, node 1 dials
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    ASSERT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    close(fd);
  };
  std::vector<uint8_t> hello(kFrameHeaderSize);
  FrameHeader h;
  h.kind = FrameKind::kHello;
  h.src = 1;
  h.dst = 0;
  ClusterKey wrong = Key(9);
  wrong.SignAndEncode(&h, {}, std::span<uint8_t, kFrameHeaderSize>(hello.data(), kFrameHeaderSize));
  blast(hello);                                  // unauthenticated
  blast(std::vector<uint8_t>(200, 0xab));        // not a frame
  blast(std::vector<uint8_t>(hello.begin(), hello.begin() + 40));  // truncated
  std::vector<uint8_t> big = hello;
  uint32_t huge = 1 << 20;
  std::memcpy(big.data() + 56, &huge, 4);
  blast(big);  // oversized
  ASSERT_TRUE(WaitFor([&] {
    PeerCounters u = n_[0].t->unknown_counters();
    return u.auth_failures == 1 && u.drops == 3;
  }, std::chrono::milliseconds(3000))) << n_[0].t->unknown_counters().drops << " "
            << n_[0].t->unknown_counters().auth_failures;
  for (uint32_t i = 0; i < 10; ++i) ASSERT_TRUE(SendNumbered(0, 1, i).ok());
  ASSERT_TRUE(WaitFor([&] { return n_[1].got_count() == 10; }));
  EXPECT_EQ(n_[1].down_count(), 0u);
}

}  // namespace
}  // namespace dvm::net
