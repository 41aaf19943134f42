// Interrupts and I/O between two nodes over real TCP transports on loopback.
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "dvm/mutex.h"
#include "dvm/wait_for_test.h"
#include "gtest/gtest.h"
#include "net/auth.h"
#include "net/free_port_for_test.h"
#include "net/tcp_transport.h"
#include "vmm/cluster/apic_link.h"
#include "vmm/cluster/io_forwarding.h"
#include "vmm/hw/clock.h"
#include "vmm/irq/lapic.h"

namespace dvm::cluster {
namespace {

// Two connected transports; each node's messages go to `route[node]`.
class TwoNodes {
 public:
  using Route = std::function<void(const net::Received&)>;
  TwoNodes() {
    std::vector<net::PeerAddress> nodes = {{NodeId(0), "127.0.0.1", net::FreePort()},
                                           {NodeId(1), "127.0.0.1", net::FreePort()}};
    auto key = net::ClusterKey::FromBytes(std::vector<uint8_t>(32, 7));
    for (int i = 0; i < 2; ++i) {
      auto t = net::TcpTransport::Create({.self = NodeId(i), .nodes = nodes}, *key);
      transports_[i] = std::move(*t);
    }
  }
  ~TwoNodes() { Stop(); }
  // Before anything the handlers touch goes away.
  void Stop() {
    for (auto& t : transports_) t->Stop();
  }
  net::Transport* transport(int i) { return transports_[i].get(); }
  void Start(Route r0, Route r1, std::function<void(int, NodeId)> down = nullptr) {
    Route routes[2] = {std::move(r0), std::move(r1)};
    std::vector<std::thread> starters;
    for (int i = 0; i < 2; ++i) {
      starters.emplace_back([this, i, route = routes[i], down] {
        ASSERT_TRUE(transports_[i]
                        ->Start({.on_message = route,
                                 .on_peer_down = [i, down](NodeId n, const absl::Status&) {
                                   if (down) down(i, n);
                                 }})
                        .ok());
      });
    }
    for (auto& t : starters) t.join();
  }

 private:
  std::unique_ptr<net::Transport> transports_[2];
};

TEST(IoForwardingTest, ReadsAndWritesReachTheDeviceNode) {
  TwoNodes net;
  Mutex mu;
  uint8_t registers[0x10000] = {};  // node 0's "device": one byte per port
  IoServer server(net.transport(0), [&](VcpuId, IoSpace space, uint64_t address,
                                        std::span<uint8_t> data, bool is_write) {
    MutexLock lock(&mu);
    ASSERT_EQ(space, IoSpace::kPio);
    for (size_t i = 0; i < data.size(); ++i) {
      if (is_write) registers[address + i] = data[i];
      else data[i] = registers[address + i];
    }
  });
  IoForwarder forwarder(net.transport(1), NodeId(0));
  net.Start([&](const net::Received& m) { if (m.channel == kIoChannel) server.OnRequest(m); },
            [&](const net::Received& m) { if (m.channel == kIoChannel) forwarder.OnReply(m); });

  std::vector<std::thread> vcpus;
  for (int v = 0; v < 4; ++v) {
    vcpus.emplace_back([&, v] {
      for (uint16_t i = 0; i < 50; ++i) {
        uint16_t port = static_cast<uint16_t>(0x100 * (v + 1) + i * 2);
        uint8_t out[2] = {static_cast<uint8_t>(v), static_cast<uint8_t>(i)};
        ASSERT_TRUE(forwarder.Forward(VcpuId(v), IoSpace::kPio, port, out, true).ok());
        uint8_t in[2] = {0xff, 0xff};
        ASSERT_TRUE(forwarder.Forward(VcpuId(v), IoSpace::kPio, port, in, false).ok());
        EXPECT_EQ(in[0], v);
        EXPECT_EQ(in[1], i);
      }
    });
  }
  for (auto& t : vcpus) t.join();
  EXPECT_EQ(server.served(), 400u);
  EXPECT_EQ(forwarder.forwarded(), 400u);
  net.Stop();
}

TEST(IoForwardingTest, GarbageIsCountedAndDeviceNodeDeathFailsTheAccess) {
  TwoNodes net;
  IoServer server(net.transport(0), [](VcpuId, IoSpace, uint64_t, std::span<uint8_t> data, bool) {
    std::memset(data.data(), 0xab, data.size());
  });
  IoForwarder forwarder(net.transport(1), NodeId(0));
  net.Start([&](const net::Received& m) { if (m.channel == kIoChannel) server.OnRequest(m); },
            [&](const net::Received& m) { if (m.channel == kIoChannel) forwarder.OnReply(m); },
            [&](int self, NodeId peer) { if (self == 1) forwarder.OnPeerDown(peer); });
  uint8_t junk[5] = {1, 2, 3, 4, 5};
  ASSERT_TRUE(net.transport(1)->Send(NodeId(0), kIoChannel, kIoRequest, junk).ok());
  ASSERT_TRUE(net.transport(0)->Send(NodeId(1), kIoChannel, kIoReply,
                                     EncodeIoReply({.id = 12345})).ok());  // answers nothing
  ASSERT_TRUE(WaitFor([&] { return server.bad_requests() == 1 && forwarder.bad_replies() == 1; }));
  uint8_t b[4];
  ASSERT_TRUE(forwarder.Forward(VcpuId(0), IoSpace::kMmio, 0xfec00000, b, false).ok());
  EXPECT_EQ(b[3], 0xab);

  net.transport(0)->Stop();  // the device node goes away
  absl::Status s = forwarder.Forward(VcpuId(0), IoSpace::kPio, 0x3f8, b, false);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("node 0"), std::string::npos) << s;
  net.Stop();
}

// vCPUs 0, 1 on node 0 and 2, 3 on node 1, each node with its own APIC bus.
TEST(ApicLinkTest, IpisCrossNodesInEveryAddressingMode) {
  TwoNodes net;
  hw::FakeClock clock;
  ApicLink links[2] = {ApicLink(net.transport(0), {NodeId(1)}, NodeId(0)),
                       ApicLink(net.transport(1), {NodeId(0)}, NodeId(0))};
  irq::ApicBus buses[2] = {irq::ApicBus(&links[0]), irq::ApicBus(&links[1])};
  for (int n = 0; n < 2; ++n) links[n].Attach(&buses[n]);
  net.Start([&](const net::Received& m) { if (m.channel == kApicChannel) links[0].OnMessage(m); },
            [&](const net::Received& m) { if (m.channel == kApicChannel) links[1].OnMessage(m); });
  std::vector<std::unique_ptr<irq::Lapic>> lapics;
  auto write = [&](int cpu, uint32_t reg, uint32_t v) {
    uint8_t b[4];
    std::memcpy(b, &v, 4);
    lapics[cpu]->Write(reg, b);
  };
  for (int i = 0; i < 4; ++i) {
    const int node = i / 2;
    lapics.push_back(std::make_unique<irq::Lapic>(i, i == 0, &clock, &buses[node], nullptr));
    buses[node].Attach(lapics.back().get());
    lapics.back()->SetAddressingListener(
        [&links, node](const irq::ApicAddressing& a) { links[node].Announce(a); });
    write(i, irq::apic_reg::kSvr, 0x1FF);
    write(i, irq::apic_reg::kLdr, 1u << (24 + i));
  }
  // The announcements travel while the IPIs below start, so each is sent
  // again until it lands (an IPI to a vCPU nobody knows yet goes nowhere).

  // Physical, fixed: vCPU 0 -> vCPU 2.
  ASSERT_TRUE(WaitFor([&] {
    write(0, irq::apic_reg::kIcrHigh, 2u << 24);
    write(0, irq::apic_reg::kIcrLow, 0x4041);
    return lapics[2]->PendingVector() == 0x41;
  }));
  EXPECT_FALSE(lapics[3]->PendingVector());

  // Logical flat, once the remote LDRs are known: vCPU 3 -> vCPUs 0 and 1.
  ASSERT_TRUE(WaitFor([&] {
    write(3, irq::apic_reg::kIcrHigh, 0x03u << 24);
    write(3, irq::apic_reg::kIcrLow, 0x4842);  // logical, fixed, vector 0x42
    return lapics[0]->PendingVector() == 0x42 && lapics[1]->PendingVector() == 0x42;
  }));

  // INIT then SIPI to vCPU 3 arrive in order.
  const uint64_t before = links[1].received();
  write(0, irq::apic_reg::kIcrHigh, 3u << 24);
  write(0, irq::apic_reg::kIcrLow, 0x4500);  // INIT, assert
  write(0, irq::apic_reg::kIcrLow, 0x4609);  // SIPI, vector 9
  ASSERT_TRUE(WaitFor([&] { return links[1].received() >= before + 2; }));
  EXPECT_TRUE(lapics[3]->TakeInit());
  EXPECT_EQ(lapics[3]->TakeStartup(), 9);
  EXPECT_EQ(links[0].bad_messages() + links[1].bad_messages(), 0u);
  net.Stop();
}

// Records EOIs from the transport thread for the test thread to read.
class LockedEoiSink final : public irq::EoiSink {
 public:
  void BroadcastEoi(uint8_t vector) override {
    MutexLock lock(&mu_);
    vectors_.push_back(vector);
  }
  std::vector<uint8_t> vectors() {
    MutexLock lock(&mu_);
    return vectors_;
  }

 private:
  Mutex mu_;
  std::vector<uint8_t> vectors_ ABSL_GUARDED_BY(mu_);
};

// A level-triggered interrupt taken on node 1: its EOI reaches node 0's IOAPIC.
TEST(ApicLinkTest, RemoteEoiOfALevelInterruptReachesTheIoapic) {
  TwoNodes net;
  hw::FakeClock clock;
  LockedEoiSink ioapic;
  ApicLink links[2] = {ApicLink(net.transport(0), {NodeId(1)}, NodeId(0)),
                       ApicLink(net.transport(1), {NodeId(0)}, NodeId(0))};
  irq::ApicBus buses[2] = {irq::ApicBus(&links[0]), irq::ApicBus(&links[1])};
  for (int n = 0; n < 2; ++n) links[n].Attach(&buses[n]);
  links[0].AttachIoapic(&ioapic);
  irq::Lapic remote(2, false, &clock, &buses[1], &links[1]);  // node 1's vCPU 2
  buses[1].Attach(&remote);
  buses[0].UpdateRemoteVcpu(NodeId(1), remote.addressing());
  net.Start([&](const net::Received& m) { if (m.channel == kApicChannel) links[0].OnMessage(m); },
            [&](const net::Received& m) { if (m.channel == kApicChannel) links[1].OnMessage(m); });
  uint8_t svr[4] = {0xff, 0x01, 0, 0};
  remote.Write(irq::apic_reg::kSvr, svr);
  // The IOAPIC on node 0 sends a level-triggered vector 0x39 to APIC ID 2.
  buses[0].Send({.vector = 0x39, .mode = irq::DeliveryMode::kFixed, .dest = 2,
                 .trigger = irq::TriggerMode::kLevel, .level = true});
  ASSERT_TRUE(WaitFor([&] { return remote.PendingVector() == 0x39; }));
  EXPECT_EQ(remote.AcknowledgeInterrupt(), 0x39);
  uint8_t zero[4] = {};
  remote.Write(irq::apic_reg::kEoi, zero);
  ASSERT_TRUE(WaitFor([&] { return ioapic.vectors().size() == 1; }));
  EXPECT_EQ(ioapic.vectors()[0], 0x39);
  net.Stop();
}

}  // namespace
}  // namespace dvm::cluster
