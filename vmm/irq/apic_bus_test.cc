#include "vmm/irq/apic_bus.h"

#include <memory>
#include <vector>

#include "gtest/gtest.h"

namespace dvm::irq {
namespace {

// Two nodes' APIC buses joined by an in-process "network" that counts
// messages. vCPUs 0 and 1 run on node 0, vCPUs 2 and 3 on node 1.
class TwoNodeTest : public ::testing::Test, public RemoteApicSink {
 protected:
  void Forward(NodeId node, const ApicMessage& m) override {
    sent.push_back({node, m});
    buses_[node.value()]->DeliverFromRemote(m);
  }
  void SetUp() override {
    for (int n = 0; n < 2; ++n) buses_.push_back(std::make_unique<ApicBus>(this));
    for (int i = 0; i < 4; ++i) {
      const int node = i / 2;
      lapics_.push_back(
          std::make_unique<Lapic>(i, i == 0, &clock_, buses_[node].get(), nullptr));
      Lapic* l = lapics_.back().get();
      buses_[node]->Attach(l);
      // The VMM's job: tell the other node when addressing changes.
      l->SetAddressingListener([this, node](const ApicAddressing& a) {
        buses_[1 - node]->UpdateRemoteVcpu(NodeId(node), a);
      });
      Write(i, apic_reg::kSvr, 0x1FF);
      Write(i, apic_reg::kLdr, 1u << (24 + i));  // flat logical id: one bit per vCPU
    }
  }
  void Write(int cpu, uint32_t reg, uint32_t v) {
    uint8_t b[4];
    std::memcpy(b, &v, 4);
    lapics_[cpu]->Write(reg, b);
  }
  void Ipi(int from, uint32_t high, uint32_t low) {
    Write(from, apic_reg::kIcrHigh, high);
    Write(from, apic_reg::kIcrLow, low);
  }
  std::optional<uint8_t> Pending(int cpu) { return lapics_[cpu]->PendingVector(); }

  struct Sent {
    NodeId node;
    ApicMessage m;
  };
  std::vector<Sent> sent;
  hw::FakeClock clock_;
  std::vector<std::unique_ptr<ApicBus>> buses_;
  std::vector<std::unique_ptr<Lapic>> lapics_;
};

TEST_F(TwoNodeTest, PhysicalIpiCrossesNodes) {
  Ipi(0, 2u << 24, 0x4041);
  EXPECT_EQ(Pending(2), 0x41);
  EXPECT_FALSE(Pending(1));
  EXPECT_FALSE(Pending(3));
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].node, NodeId(1));
  Ipi(0, 1u << 24, 0x4042);  // local: no network
  EXPECT_EQ(Pending(1), 0x42);
  EXPECT_EQ(sent.size(), 1u);
}

TEST_F(TwoNodeTest, BroadcastReachesEachRemoteNodeOnce) {
  Ipi(1, 0, 0x000C4043);  // all excluding self
  EXPECT_EQ(Pending(0), 0x43);
  EXPECT_FALSE(Pending(1));
  EXPECT_EQ(Pending(2), 0x43);
  EXPECT_EQ(Pending(3), 0x43);
  EXPECT_EQ(sent.size(), 1u);
}

TEST_F(TwoNodeTest, LogicalDestinationUsesRemoteLdr) {
  Ipi(0, 0x0Au << 24, 0x4844);  // logical, MDA 0b1010: vCPUs 1 and 3
  EXPECT_FALSE(Pending(0));
  EXPECT_EQ(Pending(1), 0x44);
  EXPECT_FALSE(Pending(2));
  EXPECT_EQ(Pending(3), 0x44);
}

TEST_F(TwoNodeTest, LowestPriorityPrefersLocalThenForwardsAsPhysical) {
  Ipi(0, 0x0Fu << 24, 0x4945);  // lowest priority, logical, any of the four
  EXPECT_TRUE(sent.empty());
  EXPECT_TRUE(Pending(0) || Pending(1));
  Ipi(0, 0x0Cu << 24, 0x4946);  // only vCPUs 2 and 3 match
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].m.mode, DeliveryMode::kFixed);
  EXPECT_EQ(sent[0].m.dest_mode, DestMode::kPhysical);
  EXPECT_TRUE(Pending(2) == 0x46 || Pending(3) == 0x46);
  EXPECT_FALSE(Pending(2) == 0x46 && Pending(3) == 0x46);
}

TEST_F(TwoNodeTest, InitAndSipiToRemoteAp) {
  Ipi(0, 3u << 24, 0x00004500);
  Ipi(0, 3u << 24, 0x00004608);
  EXPECT_TRUE(lapics_[3]->TakeInit());
  EXPECT_EQ(lapics_[3]->TakeStartup(), 8);
}

TEST_F(TwoNodeTest, MigratedVcpuIsReachedOnItsNewNode) {
  // vCPU 3 moves from node 1 to node 0.
  const LapicState state = lapics_[3]->Save();
  buses_[1]->Detach(lapics_[3].get());
  buses_[0]->RemoveRemoteVcpu(3);
  auto moved = std::make_unique<Lapic>(3, false, &clock_, buses_[0].get(), nullptr);
  ASSERT_TRUE(moved->Restore(state).ok());
  buses_[0]->Attach(moved.get());
  buses_[1]->UpdateRemoteVcpu(NodeId(0), moved->addressing());
  Ipi(2, 3u << 24, 0x4047);
  EXPECT_EQ(moved->PendingVector(), 0x47);
  EXPECT_FALSE(lapics_[3]->PendingVector());
}

TEST_F(TwoNodeTest, UnmatchedIsCounted) {
  Ipi(0, 9u << 24, 0x4048);
  EXPECT_EQ(buses_[0]->undeliverable(), 1u);
  EXPECT_TRUE(sent.empty());
}

}  // namespace
}  // namespace dvm::irq
