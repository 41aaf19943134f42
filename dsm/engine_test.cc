// The engine on real memory: several nodes in one process, each with its own
// memfd, userfaultfd and TCP transport on loopback. Test threads touch a
// node's memory the way its vCPUs would.
#include "dsm/engine.h"

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "dsm/in_process_cluster.h"
#include "dsm/message.h"
#include "dvm/wait_for_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dvm::dsm {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<InProcessCluster> MakeCluster(uint32_t nodes, uint64_t pages = 64) {
  auto cluster = InProcessCluster::Create({.nodes = nodes, .pages = pages}, TcpOnLoopback(nodes));
  EXPECT_TRUE(cluster.ok()) << cluster.status();
  return cluster.ok() ? std::move(*cluster) : nullptr;
}

template <typename T>
T Load(const T* p) {
  return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}
template <typename T>
void Store(T* p, T v) {
  __atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}

// More than the default bound: up to three nodes' threads share two CPUs here.
bool WaitFor(const std::function<bool()>& pred) { return dvm::WaitFor(pred, std::chrono::seconds(20)); }

TEST(EngineTest, UntouchedMemoryReadsAsZerosEverywhere) {
  auto c = MakeCluster(2);
  ASSERT_NE(c, nullptr);
  for (uint32_t n = 0; n < 2; ++n) {
    for (uint64_t g = 0; g < 4; ++g) EXPECT_EQ(Load(c->At<uint64_t>(n, Gfn(g), 8)), 0u);
  }
}

TEST(EngineTest, WriteOnOneNodeIsReadOnAnother) {
  auto c = MakeCluster(2);
  ASSERT_NE(c, nullptr);
  // Page 0 is homed on node 0, page 1 on node 1: both directions.
  for (uint64_t g = 0; g < 2; ++g) {
    Store(c->At<uint64_t>(0, Gfn(g), 16), 0x1234 + g);
    EXPECT_EQ(Load(c->At<uint64_t>(1, Gfn(g), 16)), 0x1234 + g);
    Store(c->At<uint64_t>(1, Gfn(g), 24), 0x5678 + g);
    EXPECT_EQ(Load(c->At<uint64_t>(0, Gfn(g), 24)), 0x5678 + g);
    EXPECT_EQ(Load(c->At<uint64_t>(0, Gfn(g), 16)), 0x1234 + g);
  }
  EngineStats s1 = c->engine(1).stats();
  EXPECT_GT(s1.faults[static_cast<size_t>(OpKind::kReadMiss)], 0u);
  EXPECT_GT(s1.installs, 0u);
  EXPECT_EQ(s1.bad_messages, 0u);
  EXPECT_TRUE(c->errors(0).empty());
  EXPECT_TRUE(c->errors(1).empty());
}

TEST(EngineTest, WriteInvalidatesEveryOtherCopy) {
  auto c = MakeCluster(3);
  ASSERT_NE(c, nullptr);
  uint64_t* p0 = c->At<uint64_t>(0, Gfn(1));
  Store(p0, uint64_t{1});
  for (uint32_t n = 1; n < 3; ++n) EXPECT_EQ(Load(c->At<uint64_t>(n, Gfn(1))), 1u);
  EXPECT_EQ(c->engine(2).StateOf(Gfn(1)), PageState::kShared);
  Store(c->At<uint64_t>(2, Gfn(1)), uint64_t{2});  // upgrade: the others drop theirs
  EXPECT_EQ(c->engine(0).StateOf(Gfn(1)), PageState::kInvalid);
  EXPECT_EQ(Load(p0), 2u);
  EXPECT_EQ(Load(c->At<uint64_t>(1, Gfn(1))), 2u);
  EXPECT_EQ(c->engine(2).stats().faults[static_cast<size_t>(OpKind::kUpgrade)], 1u);
}

TEST(EngineTest, WholePageTravelsIntact) {
  auto c = MakeCluster(2);
  ASSERT_NE(c, nullptr);
  uint8_t* src = c->At<uint8_t>(1, Gfn(2));
  for (size_t i = 0; i < kPageSize; ++i) src[i] = static_cast<uint8_t>(i * 7 + 1);
  std::vector<uint8_t> got(kPageSize);
  std::memcpy(got.data(), c->At<uint8_t>(0, Gfn(2)), kPageSize);
  for (size_t i = 0; i < kPageSize; ++i) ASSERT_EQ(got[i], static_cast<uint8_t>(i * 7 + 1)) << i;
}

TEST(EngineTest, AtomicIncrementsFromEveryNodeAddUp) {
  constexpr int kThreadsPerNode = 2;
  constexpr uint64_t kIncrements = 300;
  auto c = MakeCluster(3);
  ASSERT_NE(c, nullptr);
  std::vector<std::thread> threads;
  for (uint32_t n = 0; n < 3; ++n) {
    for (int t = 0; t < kThreadsPerNode; ++t) {
      threads.emplace_back([&c, n] {
        for (uint64_t i = 0; i < kIncrements; ++i) {
          __atomic_fetch_add(c->At<uint64_t>(n, Gfn(3)), 1, __ATOMIC_SEQ_CST);
          __atomic_fetch_add(c->At<uint64_t>(n, Gfn(4), 64), 1, __ATOMIC_SEQ_CST);
        }
      });
    }
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(Load(c->At<uint64_t>(1, Gfn(3))), 3 * kThreadsPerNode * kIncrements);
  EXPECT_EQ(Load(c->At<uint64_t>(2, Gfn(4), 64)), 3 * kThreadsPerNode * kIncrements);
}

TEST(EngineTest, PinHoldsThePageUntilUnpin) {
  auto c = MakeCluster(2);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->engine(1).Pin(Gfn(0), Access::kWrite).ok());
  EXPECT_EQ(c->engine(1).StateOf(Gfn(0)), PageState::kModified);
  Store(c->At<uint64_t>(1, Gfn(0)), uint64_t{77});
  std::atomic<uint64_t> seen{0};
  std::thread reader([&] { seen = Load(c->At<uint64_t>(0, Gfn(0))); });
  // The reader's request waits at node 1 behind the pin.
  ASSERT_TRUE(WaitFor([&] { return c->engine(1).stats().protocol.deferred > 0; }));
  EXPECT_EQ(seen.load(), 0u);
  Store(c->At<uint64_t>(1, Gfn(0)), uint64_t{78});
  c->engine(1).Unpin(Gfn(0), Access::kWrite);
  reader.join();
  EXPECT_EQ(seen.load(), 78u);
}

TEST(EngineTest, PinOutsideRamIsRefused) {
  auto c = MakeCluster(2, 8);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->engine(0).Pin(Gfn(8), Access::kRead).code(), absl::StatusCode::kOutOfRange);
}

TEST(EngineTest, GarbageFromAPeerIsCountedAndDropped) {
  auto c = MakeCluster(2, 8);
  ASSERT_NE(c, nullptr);
  std::vector<uint8_t> junk(kHeaderSize, 0xff);
  ASSERT_TRUE(c->transport(0).Send(NodeId(1), kDsmChannel, 0, junk).ok());
  // A well-formed message naming a page beyond node 1's RAM.
  Message beyond{.type = MsgType::kReadReq, .node = NodeId(0), .gfn = Gfn(1000)};
  ASSERT_TRUE(c->transport(0).Send(NodeId(1), kDsmChannel, 0, EncodeHeader(beyond)).ok());
  // A page flag with no page.
  Message flagged{.type = MsgType::kWriteback, .flags = kHasPage, .node = NodeId(0), .gfn = Gfn(1)};
  ASSERT_TRUE(c->transport(0).Send(NodeId(1), kDsmChannel, 0, EncodeHeader(flagged)).ok());
  // A well-formed message the protocol does not expect (an InvAck for nothing).
  Message unexpected{.type = MsgType::kInvAck, .node = NodeId(0), .gfn = Gfn(1)};
  ASSERT_TRUE(c->transport(0).Send(NodeId(1), kDsmChannel, 0, EncodeHeader(unexpected)).ok());
  ASSERT_TRUE(WaitFor([&] {
    EngineStats s = c->engine(1).stats();
    return s.bad_messages == 3 && s.protocol.protocol_errors == 1;
  }));
  // Node 1 still works.
  Store(c->At<uint64_t>(0, Gfn(1)), uint64_t{5});
  EXPECT_EQ(Load(c->At<uint64_t>(1, Gfn(1))), 5u);
}

TEST(EngineTest, DeadOwnerIsReportedWithItsPages) {
  auto c = MakeCluster(3);
  ASSERT_NE(c, nullptr);
  // Node 2 becomes the only holder of page 0 (homed on node 0).
  Store(c->At<uint64_t>(2, Gfn(0)), uint64_t{9});
  ASSERT_EQ(c->engine(0).StateOf(Gfn(0)), PageState::kInvalid);
  c->Kill(2);
  ASSERT_TRUE(WaitFor([&] { return !c->errors(0).empty(); }));
  EXPECT_THAT(c->errors(0)[0], HasSubstr("page 0 lost with node 2"));
}

}  // namespace
}  // namespace dvm::dsm
