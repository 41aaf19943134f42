// Two ClusterNodes in one process, over TCP on loopback: guest RAM coherent
// between them, one clock, ending together, and a peer's death named.
#include "vmm/cluster/cluster_node.h"

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "dvm/mutex.h"
#include "dvm/wait_for_test.h"
#include "gtest/gtest.h"
#include "net/free_port_for_test.h"

namespace dvm::cluster {
namespace {

constexpr uint64_t kRamBytes = 16 * kMiB;

// What one node's events reported.
struct Events {
  Mutex mu;
  std::vector<VmEnded> peer_ends ABSL_GUARDED_BY(mu);
  std::vector<std::string> failures ABSL_GUARDED_BY(mu);
  ClusterEvents Callbacks() {
    return {.on_peer_end =
                [this](const VmEnded& e) {
                  MutexLock lock(&mu);
                  peer_ends.push_back(e);
                },
            .on_failure =
                [this](const std::string& s) {
                  MutexLock lock(&mu);
                  failures.push_back(s);
                }};
  }
  size_t failure_count() {
    MutexLock lock(&mu);
    return failures.size();
  }
};

class ClusterNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string key = ::testing::TempDir() + "/cluster_node_test.key";
    FILE* f = std::fopen(key.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(std::string(32, 'k').c_str(), f);
    std::fclose(f);
    spec_.name = "t";
    spec_.memory_bytes = kRamBytes;
    spec_.vcpu_count = 2;
    spec_.cluster_key_file = key;
    spec_.nodes = {{NodeId(0), {"127.0.0.1", net::FreePort()}, {VcpuId(0)}, {}},
                   {NodeId(1), {"127.0.0.1", net::FreePort()}, {VcpuId(1)}, {}}};
    for (int i = 0; i < 2; ++i) {
      auto memory = memory::GuestMemory::Create(kRamBytes, "cluster-node-test");
      ASSERT_TRUE(memory.ok()) << memory.status();
      memory_[i].emplace(std::move(*memory));
      auto node = ClusterNode::Create(spec_, NodeId(i), &*memory_[i], events_[i].Callbacks(),
                                      {.connect_deadline_ms = 10'000});
      ASSERT_TRUE(node.ok()) << node.status();
      nodes_[i] = std::move(*node);
    }
    // Start blocks until the peer is there: start both at once.
    std::thread other([this] { EXPECT_TRUE(nodes_[1]->Start().ok()); });
    EXPECT_TRUE(nodes_[0]->Start().ok());
    other.join();
  }
  void TearDown() override {
    for (auto& n : nodes_) {
      if (n) n->Stop();
    }
  }

  spec::VmSpec spec_;
  std::optional<memory::GuestMemory> memory_[2];
  Events events_[2];
  std::unique_ptr<ClusterNode> nodes_[2];
};

TEST_F(ClusterNodeTest, SharesMemoryAndClockAndEndsTogether) {
  // Node 0 starts with every page (it loads the kernel): its write is seen
  // by node 1, whose read fetches the page through the DSM.
  volatile uint8_t* ram0 = memory_[0]->mapped();
  volatile uint8_t* ram1 = memory_[1]->mapped();
  ram0[5 * kPageSize + 7] = 0x5a;
  EXPECT_EQ(ram1[5 * kPageSize + 7], 0x5a);
  ram1[5 * kPageSize + 8] = 0x6b;  // and back, as a write
  EXPECT_EQ(ram0[5 * kPageSize + 8], 0x6b);
  EXPECT_GE(nodes_[1]->dsm_stats().installs, 1u);

  ClockSync clock{.kvmclock_ns = 42, .realtime_ns = 7, .kvm_flags = 0, .tsc_offset = -9};
  nodes_[0]->SendClock(clock);
  auto got = nodes_[1]->WaitForClock(std::chrono::seconds(10));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, clock);

  nodes_[1]->AnnounceEnd({.exit_status = 3, .reason = 1, .detail = "node 1: the guest wrote 3"});
  ASSERT_TRUE(WaitFor([&] {
    MutexLock lock(&events_[0].mu);
    return !events_[0].peer_ends.empty();
  }));
  {
    MutexLock lock(&events_[0].mu);
    EXPECT_EQ(events_[0].peer_ends[0].exit_status, 3);
    EXPECT_EQ(events_[0].peer_ends[0].detail, "node 1: the guest wrote 3");
  }
  // Both leave; the goodbye that follows is not a death.
  std::thread other([this] { EXPECT_TRUE(nodes_[1]->Leave(std::chrono::seconds(10))); });
  EXPECT_TRUE(nodes_[0]->Leave(std::chrono::seconds(10)));
  other.join();
  nodes_[1]->Stop();
  nodes_[0]->Stop();
  EXPECT_EQ(events_[0].failure_count(), 0u);
  EXPECT_EQ(events_[1].failure_count(), 0u);
  EXPECT_NE(nodes_[0]->StatsText().find("node 0 link to node 1"), std::string::npos);
}

TEST_F(ClusterNodeTest, PeerThatGoesWithoutLeavingIsNamedAsDead) {
  nodes_[1]->Stop();
  ASSERT_TRUE(WaitFor([&] { return events_[0].failure_count() == 1; }));
  MutexLock lock(&events_[0].mu);
  EXPECT_NE(events_[0].failures[0].find("node 1 died"), std::string::npos) << events_[0].failures[0];
}

TEST_F(ClusterNodeTest, ClockWaitGivesUpNamingNodeZero) {
  auto got = nodes_[1]->WaitForClock(std::chrono::seconds(1));
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("node 0"), std::string::npos) << got.status();
}

}  // namespace
}  // namespace dvm::cluster
