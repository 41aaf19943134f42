// Two ClusterNodes in one process, over TCP on loopback: guest RAM coherent
// between them, one clock, ending together, and a peer's death named.
#include "vmm/cluster/cluster_node.h"

#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "dvm/mutex.h"
#include "dvm/wait_for_test.h"
#include "gtest/gtest.h"
#include "net/factory.h"
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

// A VM of `nodes` nodes on loopback, vCPU i on node i, with a cluster key
// written to `key_name` in the test's temp dir.
void MakeLoopbackSpec(const std::string& key_name, uint32_t nodes, spec::VmSpec* spec) {
  const std::string key = ::testing::TempDir() + "/" + key_name;
  FILE* f = std::fopen(key.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs(std::string(32, 'k').c_str(), f);
  std::fclose(f);
  spec->name = "t";
  spec->memory_bytes = kRamBytes;
  spec->vcpu_count = nodes;
  spec->cluster_key_file = key;
  for (uint32_t i = 0; i < nodes; ++i) {
    spec->nodes.push_back({NodeId(i), {"127.0.0.1", net::FreePort()}, {VcpuId(i)}, {}});
  }
}

class ClusterNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(MakeLoopbackSpec("cluster_node_test.key", 2, &spec_));
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

TEST_F(ClusterNodeTest, GathersBothNodesStats) {
  volatile uint8_t* ram1 = memory_[1]->mapped();
  EXPECT_EQ(ram1[3 * kPageSize], 0);  // a fault on node 1, so its DSM has something to say
  const std::string text = nodes_[0]->GatherStats(std::chrono::seconds(5));
  const size_t node0 = text.find("--- node 0 ---\nnode 0 DSM faults:");
  const size_t node1 = text.find("--- node 1 ---\nnode 1 DSM faults:");
  EXPECT_EQ(node0, 0u) << text;
  ASSERT_NE(node1, std::string::npos) << text;
  EXPECT_NE(text.find("node 1 link to node 0", node1), std::string::npos) << text;
  EXPECT_EQ(text.find("no answer"), std::string::npos) << text;
  // Either node may ask, and ask again.
  EXPECT_NE(nodes_[1]->GatherStats(std::chrono::seconds(5)).find("--- node 0 ---\nnode 0 DSM"), std::string::npos);
  EXPECT_NE(nodes_[0]->GatherStats(std::chrono::seconds(5)).find("--- node 1 ---\nnode 1 DSM"), std::string::npos);
}

// Three nodes: 0 and 1 are ClusterNodes, 2 is a bare transport that never
// answers (as a node whose transport thread is stuck would not).
class GatherStatsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(MakeLoopbackSpec("gather_stats_test.key", 3, &spec_)); }

  // Starts the three; node 1 reports what `node1_stats` gives.
  void Boot(std::function<std::string()> node1_stats) {
    std::function<std::string()> local_stats[2] = {[] { return std::string("vCPU 0: 7 exits\n"); },
                                                   std::move(node1_stats)};
    for (int i = 0; i < 2; ++i) {
      auto memory = memory::GuestMemory::Create(kRamBytes, "gather-stats-test");
      ASSERT_TRUE(memory.ok()) << memory.status();
      memory_[i].emplace(std::move(*memory));
      ClusterEvents callbacks = events_[i].Callbacks();
      callbacks.local_stats = local_stats[i];
      auto node = ClusterNode::Create(spec_, NodeId(i), &*memory_[i], std::move(callbacks),
                                      {.connect_deadline_ms = 10'000});
      ASSERT_TRUE(node.ok()) << node.status();
      nodes_[i] = std::move(*node);
    }
    auto silent = net::MakeTransportForNode(spec_, NodeId(2), {.connect_deadline_ms = 10'000});
    ASSERT_TRUE(silent.ok()) << silent.status();
    silent_ = std::move(*silent);
    std::thread one([this] { EXPECT_TRUE(nodes_[1]->Start().ok()); });
    std::thread two([this] {
      EXPECT_TRUE(silent_->Start({.on_message = [](const net::Received&) {},
                                  .on_peer_down = [](NodeId, const absl::Status&) {}})
                      .ok());
    });
    EXPECT_TRUE(nodes_[0]->Start().ok());
    one.join();
    two.join();
  }
  void TearDown() override {
    if (silent_) silent_->Stop();
    for (auto& n : nodes_) {
      if (n) n->Stop();
    }
  }

  spec::VmSpec spec_;
  std::optional<memory::GuestMemory> memory_[2];
  Events events_[2];
  std::unique_ptr<ClusterNode> nodes_[2];
  std::unique_ptr<net::Transport> silent_;
};

TEST_F(GatherStatsTest, NamesThePeerThatDoesNotAnswer) {
  ASSERT_NO_FATAL_FAILURE(Boot(nullptr));  // node 1: its ClusterNode's own text
  const auto start = std::chrono::steady_clock::now();
  const std::string text = nodes_[0]->GatherStats(std::chrono::milliseconds(500));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(text.find("--- node 0 ---\nvCPU 0: 7 exits\n--- node 1 ---\nnode 1 DSM faults:"), 0u) << text;
  EXPECT_NE(text.find("--- node 2 ---\nnode 2: no answer within 500 ms\n"), std::string::npos) << text;
  EXPECT_GE(took, std::chrono::milliseconds(500));
  EXPECT_LT(took, std::chrono::milliseconds(3000));

  // Once node 2 is gone it is named at once, without waiting.
  silent_->Stop();
  ASSERT_TRUE(WaitFor([&] { return events_[0].failure_count() >= 1; }));
  const auto again = std::chrono::steady_clock::now();
  const std::string after = nodes_[0]->GatherStats(std::chrono::seconds(10));
  EXPECT_LT(std::chrono::steady_clock::now() - again, std::chrono::seconds(5));
  EXPECT_NE(after.find("node 1 DSM faults:"), std::string::npos) << after;
  EXPECT_NE(after.find("--- node 2 ---\nnode 2: gone (its link is down)\n"), std::string::npos) << after;
}

TEST_F(GatherStatsTest, APeersLongTextArrivesCut) {
  std::string long_text;
  for (int i = 0; long_text.size() < 3 * kMaxStatsText; ++i) long_text += "vCPU 1: line " + std::to_string(i) + "\n";
  ASSERT_NO_FATAL_FAILURE(Boot([long_text] { return long_text; }));
  const std::string text = nodes_[0]->GatherStats(std::chrono::milliseconds(300));
  const size_t node1 = text.find("--- node 1 ---\nvCPU 1: line 0\n");
  const size_t node2 = text.find("--- node 2 ---");
  ASSERT_NE(node1, std::string::npos) << text;
  ASSERT_NE(node2, std::string::npos) << text;
  EXPECT_LE(node2 - node1, kMaxStatsText + 64);
  EXPECT_NE(text.find("(the rest of this node's statistics is cut"), std::string::npos);
}

}  // namespace
}  // namespace dvm::cluster
