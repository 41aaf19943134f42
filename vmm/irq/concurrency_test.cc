// LAPICs, the APIC bus and the IOAPIC are called from several vCPU threads
// at once (ICR writes, EOIs, device interrupts). This stresses those paths
// so TSan (DVM_SANITIZE=thread) can check the locking, and a lock-order
// cycle would hang the test.
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "vmm/irq/apic_bus.h"
#include "vmm/irq/ioapic.h"
#include "vmm/irq/lapic.h"

namespace dvm::irq {
namespace {

void WriteReg(Lapic& l, uint32_t reg, uint32_t v) {
  uint8_t b[4];
  std::memcpy(b, &v, 4);
  l.Write(reg, b);
}

TEST(IrqConcurrencyTest, IpisEoisAndDeviceInterruptsFromManyThreads) {
  constexpr int kCpus = 4;
  constexpr int kRounds = 3000;
  hw::FakeClock clock;
  ApicBus bus;
  Ioapic ioapic(0xFE, &bus);
  std::vector<std::unique_ptr<Lapic>> lapics;
  std::atomic<uint64_t> kicks{0};
  for (int i = 0; i < kCpus; ++i) {
    lapics.push_back(std::make_unique<Lapic>(i, i == 0, &clock, &bus, &ioapic));
    lapics.back()->SetKick([&] { kicks.fetch_add(1, std::memory_order_relaxed); });
    bus.Attach(lapics.back().get());
    WriteReg(*lapics.back(), apic_reg::kSvr, 0x1FF);
    WriteReg(*lapics.back(), apic_reg::kLdr, 1u << (24 + i));
  }
  // Pin 5: level-triggered, lowest priority to all four (logical flat 0x0F).
  uint8_t sel[4] = {0x10 + 2 * 5, 0, 0, 0}, lo[4] = {0x55, 0x89, 0, 0};
  uint8_t sel_hi[4] = {0x11 + 2 * 5, 0, 0, 0}, hi[4] = {0, 0, 0, 0x0F};
  ioapic.Write(Ioapic::kRegSel, sel_hi);
  ioapic.Write(Ioapic::kWindow, hi);
  ioapic.Write(Ioapic::kRegSel, sel);
  ioapic.Write(Ioapic::kWindow, lo);

  std::atomic<uint64_t> taken{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kCpus; ++i) {
    threads.emplace_back([&, i] {
      Lapic& me = *lapics[i];
      for (int r = 0; r < kRounds; ++r) {
        WriteReg(me, apic_reg::kIcrHigh, uint32_t((i + 1) % kCpus) << 24);
        WriteReg(me, apic_reg::kIcrLow, 0x4040 + (r & 0xF));
        if (r % 7 == 0) WriteReg(me, apic_reg::kIcrLow, 0x000C4050);  // all but self
        while (auto v = me.AcknowledgeInterrupt()) {
          taken.fetch_add(1, std::memory_order_relaxed);
          WriteReg(me, apic_reg::kEoi, 0);
        }
      }
    });
  }
  std::thread device([&] {
    for (int r = 0; r < kRounds; ++r) ioapic.SetPin(5, r & 1);
  });
  for (auto& t : threads) t.join();
  device.join();
  ioapic.SetPin(5, false);
  for (auto& l : lapics) {
    while (l->AcknowledgeInterrupt()) {
      taken.fetch_add(1);
      WriteReg(*l, apic_reg::kEoi, 0);
    }
    EXPECT_FALSE(l->PendingVector());
  }
  EXPECT_GT(taken.load(), 0u);  // edges of one vector coalesce in IRR, so no exact count
  EXPECT_GT(kicks.load(), 0u);
  EXPECT_EQ(bus.undeliverable(), 0u);
  EXPECT_FALSE(ioapic.redirection(5) & kRedirRemoteIrr);  // every level EOI came back
}

}  // namespace
}  // namespace dvm::irq
