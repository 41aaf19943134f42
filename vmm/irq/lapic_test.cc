#include "vmm/irq/lapic.h"

#include "gtest/gtest.h"
#include "vmm/irq/apic_bus.h"
#include "vmm/irq/fake_sinks.h"

namespace dvm::irq {
namespace {

class LapicTest : public ::testing::Test {
 protected:
  uint32_t Reg(uint32_t reg) {
    uint8_t b[4];
    lapic_.Read(reg, b);
    return static_cast<uint32_t>(hw::AccessValue(b));
  }
  void SetReg(uint32_t reg, uint32_t v) {
    uint8_t b[4];
    std::memcpy(b, &v, 4);
    lapic_.Write(reg, b);
  }
  void Enable() { SetReg(apic_reg::kSvr, 0x1FF); }
  ApicMessage Fixed(uint8_t vector, bool level = false) {
    return {.vector = vector, .trigger = level ? TriggerMode::kLevel : TriggerMode::kEdge};
  }

  hw::FakeClock clock_;
  RecordingApicSink ipis_;
  RecordingEoiSink eois_;
  Lapic lapic_{3, /*bsp=*/true, &clock_, &ipis_, &eois_};
};

TEST_F(LapicTest, ResetState) {
  EXPECT_EQ(Reg(apic_reg::kId), 3u << 24);
  EXPECT_EQ(Reg(apic_reg::kVersion), kLapicVersion);
  EXPECT_EQ(Reg(apic_reg::kDfr), 0xFFFFFFFFu);
  EXPECT_EQ(Reg(apic_reg::kSvr), 0xFFu);
  EXPECT_EQ(Reg(apic_reg::kLvtTimer), kLvtMasked);
  EXPECT_EQ(Reg(apic_reg::kLvtLint0), 0x700u);  // BSP: virtual wire
  EXPECT_TRUE(lapic_.AcceptsExtInt());
  EXPECT_EQ(lapic_.apic_base(), 0xFEE00900u);
}

TEST_F(LapicTest, FixedInterruptPriorityAndEoi) {
  lapic_.Deliver(Fixed(0x31));
  EXPECT_FALSE(lapic_.PendingVector());  // software-disabled: dropped
  Enable();
  int kicks = 0;
  lapic_.SetKick([&] { ++kicks; });
  lapic_.Deliver(Fixed(0x31));
  lapic_.Deliver(Fixed(0x45));
  EXPECT_EQ(kicks, 2);
  EXPECT_EQ(Reg(apic_reg::kIrr + 0x10), (1u << (0x31 - 32)));
  EXPECT_EQ(lapic_.AcknowledgeInterrupt(), 0x45);
  EXPECT_EQ(Reg(apic_reg::kPpr), 0x40u);
  EXPECT_FALSE(lapic_.PendingVector());  // 0x31 is below the in-service class
  SetReg(apic_reg::kEoi, 0);
  EXPECT_TRUE(eois_.vectors.empty());  // edge: no broadcast
  EXPECT_EQ(lapic_.PendingVector(), 0x31);
  SetReg(apic_reg::kTpr, 0x30);
  EXPECT_FALSE(lapic_.PendingVector());  // TPR blocks the class
  SetReg(apic_reg::kTpr, 0x20);
  EXPECT_EQ(lapic_.AcknowledgeInterrupt(), 0x31);
}

TEST_F(LapicTest, LevelTriggeredEoiIsBroadcast) {
  Enable();
  lapic_.Deliver(Fixed(0x50, /*level=*/true));
  EXPECT_EQ(Reg(apic_reg::kTmr + 0x20), 1u << (0x50 - 64));
  ASSERT_EQ(lapic_.AcknowledgeInterrupt(), 0x50);
  SetReg(apic_reg::kEoi, 0);
  EXPECT_EQ(eois_.vectors, std::vector<uint8_t>{0x50});
  EXPECT_EQ(Reg(apic_reg::kIsr + 0x20), 0u);
}

TEST_F(LapicTest, IcrEmitsIpisWithoutDeliveringThem) {
  Enable();
  SetReg(apic_reg::kIcrHigh, 0x05000000);
  SetReg(apic_reg::kIcrLow, 0x4041);  // fixed, vector 0x41, assert
  ASSERT_EQ(ipis_.messages.size(), 1u);
  EXPECT_EQ(ipis_.messages[0], (ApicMessage{.vector = 0x41, .dest = 5, .source_id = 3}));
  EXPECT_FALSE(lapic_.PendingVector());
  EXPECT_EQ(Reg(apic_reg::kIcrLow) & (1u << 12), 0u);  // never "send pending"

  SetReg(apic_reg::kIcrLow, 0x000C4500);  // INIT to all excluding self
  SetReg(apic_reg::kIcrLow, 0x000C4608);  // SIPI vector 8, all excluding self
  SetReg(apic_reg::kIcrLow, 0x00008500);  // INIT level de-assert: dropped
  SetReg(apic_reg::kIcrLow, 0x00000C00 | 0x400 | 0x4000 | 0x800);  // NMI, logical
  ASSERT_EQ(ipis_.messages.size(), 4u);
  EXPECT_EQ(ipis_.messages[1].mode, DeliveryMode::kInit);
  EXPECT_EQ(ipis_.messages[1].shorthand, Shorthand::kAllExcludingSelf);
  EXPECT_EQ(ipis_.messages[2].mode, DeliveryMode::kStartup);
  EXPECT_EQ(ipis_.messages[2].vector, 8);
  EXPECT_EQ(ipis_.messages[3].mode, DeliveryMode::kNmi);
  EXPECT_EQ(ipis_.messages[3].dest_mode, DestMode::kLogical);
}

TEST_F(LapicTest, IllegalVectorsSetEsr) {
  Enable();
  SetReg(apic_reg::kIcrLow, 0x4005);  // fixed vector 5
  EXPECT_TRUE(ipis_.messages.empty());
  lapic_.Deliver(Fixed(3));
  EXPECT_EQ(Reg(apic_reg::kEsr), 0u);  // latched only by an ESR write
  SetReg(apic_reg::kEsr, 0);
  EXPECT_EQ(Reg(apic_reg::kEsr), (1u << 5) | (1u << 6));
  SetReg(apic_reg::kEsr, 0);
  EXPECT_EQ(Reg(apic_reg::kEsr), 0u);
}

TEST_F(LapicTest, OneShotAndPeriodicTimer) {
  Enable();
  SetReg(apic_reg::kTimerDivide, 0xB);  // divide by 1: 1 tick per ns
  SetReg(apic_reg::kLvtTimer, 0xEC);    // one-shot, vector 0xEC
  const uint64_t t0 = clock_.NowNs();
  SetReg(apic_reg::kTimerInitial, 1000);
  EXPECT_EQ(lapic_.NextDeadlineNs(), t0 + 1000);
  clock_.Advance(400);
  EXPECT_EQ(Reg(apic_reg::kTimerCurrent), 600u);
  lapic_.Tick();
  EXPECT_FALSE(lapic_.PendingVector());
  clock_.Advance(600);
  lapic_.Tick();
  EXPECT_EQ(lapic_.PendingVector(), 0xEC);
  EXPECT_FALSE(lapic_.NextDeadlineNs());
  EXPECT_EQ(Reg(apic_reg::kTimerCurrent), 0u);
  lapic_.AcknowledgeInterrupt();
  SetReg(apic_reg::kEoi, 0);

  SetReg(apic_reg::kTimerDivide, 0x0);                // divide by 2
  SetReg(apic_reg::kLvtTimer, (1u << 17) | 0xED);     // periodic
  const uint64_t t1 = clock_.NowNs();
  SetReg(apic_reg::kTimerInitial, 150000);            // 300 us period
  clock_.Advance(375000);
  EXPECT_EQ(Reg(apic_reg::kTimerCurrent), 150000u - 37500u);
  lapic_.Tick();
  EXPECT_EQ(lapic_.PendingVector(), 0xED);
  EXPECT_EQ(lapic_.NextDeadlineNs(), t1 + 600000);
  clock_.Advance(1000000);  // several periods missed: one interrupt, next deadline in the future
  lapic_.Tick();
  EXPECT_EQ(lapic_.NextDeadlineNs(), t1 + 1500000);
  SetReg(apic_reg::kTimerInitial, 0);
  EXPECT_FALSE(lapic_.NextDeadlineNs());
}

TEST_F(LapicTest, TinyPeriodicTimerIsRateLimited) {
  Enable();
  SetReg(apic_reg::kTimerDivide, 0xB);
  SetReg(apic_reg::kLvtTimer, (1u << 17) | 0xED);
  const uint64_t t0 = clock_.NowNs();
  SetReg(apic_reg::kTimerInitial, 1);  // 1 ns period
  EXPECT_EQ(lapic_.NextDeadlineNs(), t0 + 200'000);
  clock_.Advance(200'000);
  lapic_.Tick();
  EXPECT_EQ(lapic_.NextDeadlineNs(), t0 + 400'000);
}

TEST_F(LapicTest, HaltedTickLimitSpacesPeriodicTicksOfAHaltedVcpu) {
  int earlier = 0;
  lapic_.SetHaltedTickLimit(10'000'000, [&] { ++earlier; });  // 10 ms
  Enable();
  SetReg(apic_reg::kTimerDivide, 0xB);
  SetReg(apic_reg::kLvtTimer, (1u << 17) | 0xED);  // periodic
  const uint64_t t0 = clock_.NowNs();
  SetReg(apic_reg::kTimerInitial, 4'000'000);  // 4 ms, a 250 Hz tick
  // Running: every period fires.
  clock_.Advance(4'000'000);
  lapic_.Tick();
  EXPECT_EQ(lapic_.AcknowledgeInterrupt(), 0xED);
  SetReg(apic_reg::kEoi, 0);
  // Halted: the next tick waits for 10 ms after the last one.
  lapic_.SetHalted(true);
  EXPECT_EQ(lapic_.NextDeadlineNs(), t0 + 14'000'000);
  clock_.Advance(4'000'000);  // t0 + 8 ms: a period, but too soon
  lapic_.Tick();
  EXPECT_FALSE(lapic_.PendingVector());
  clock_.Advance(6'000'000);  // t0 + 14 ms
  lapic_.Tick();
  EXPECT_EQ(lapic_.AcknowledgeInterrupt(), 0xED);
  SetReg(apic_reg::kEoi, 0);
  EXPECT_EQ(lapic_.NextDeadlineNs(), t0 + 24'000'000);
  EXPECT_EQ(earlier, 0);
  // Running again: back to every period, and the timer loop is told.
  lapic_.SetHalted(false);
  EXPECT_EQ(earlier, 1);
  EXPECT_EQ(lapic_.NextDeadlineNs(), t0 + 16'000'000);
  // One-shot timers of a halted vCPU are never held back.
  lapic_.SetHalted(true);
  SetReg(apic_reg::kLvtTimer, 0xEC);
  const uint64_t t1 = clock_.NowNs();
  SetReg(apic_reg::kTimerInitial, 1000);
  EXPECT_EQ(lapic_.NextDeadlineNs(), t1 + 1000);
}

TEST_F(LapicTest, MaskedTimerDoesNotInterrupt) {
  Enable();
  SetReg(apic_reg::kLvtTimer, kLvtMasked | 0xEC);
  SetReg(apic_reg::kTimerInitial, 10);
  clock_.Advance(1000);
  lapic_.Tick();
  EXPECT_FALSE(lapic_.PendingVector());
}

TEST_F(LapicTest, InitResetsAndSipiIsReported) {
  Enable();
  lapic_.Deliver(Fixed(0x40));
  lapic_.Deliver({.vector = 0, .mode = DeliveryMode::kInit});
  EXPECT_TRUE(lapic_.TakeInit());
  EXPECT_FALSE(lapic_.TakeInit());
  EXPECT_FALSE(lapic_.PendingVector());
  EXPECT_EQ(Reg(apic_reg::kSvr), 0xFFu);
  EXPECT_EQ(Reg(apic_reg::kId), 3u << 24);
  lapic_.Deliver({.vector = 0x9A, .mode = DeliveryMode::kStartup});
  EXPECT_EQ(lapic_.TakeStartup(), 0x9A);
  EXPECT_FALSE(lapic_.TakeStartup());
  lapic_.Deliver({.mode = DeliveryMode::kNmi});
  EXPECT_TRUE(lapic_.TakeNmi());
}

TEST_F(LapicTest, HardwareDisableDropsEverything) {
  lapic_.SetApicBase(0xFEE00000);  // enable bit clear
  EXPECT_TRUE(lapic_.AcceptsExtInt());
  lapic_.Deliver({.mode = DeliveryMode::kNmi});
  EXPECT_FALSE(lapic_.TakeNmi());
  EXPECT_EQ(lapic_.apic_base(), 0xFEE00100u);  // BSP bit kept
}

TEST_F(LapicTest, BadAccessesAreHarmless) {
  uint8_t b8[8] = {};
  lapic_.Write(0x5000, std::span(b8, 4));
  lapic_.Write(apic_reg::kTpr + 1, std::span(b8, 1));
  lapic_.Write(apic_reg::kTpr, std::span(b8, 8));
  lapic_.Read(0xFFFF'FFFF'FFFF'FFF0ull, b8);
  lapic_.Read(apic_reg::kId + 4, std::span(b8, 4));
  EXPECT_EQ(hw::AccessValue(std::span(b8, 4)), 0u);
  lapic_.Read(apic_reg::kId + 3, std::span(b8, 1));
  EXPECT_EQ(b8[0], 3);
}

TEST_F(LapicTest, SaveRestoreMovesStateAndTimerToAnotherClock) {
  Enable();
  SetReg(apic_reg::kLdr, 0x08000000);
  SetReg(apic_reg::kTimerDivide, 0xB);
  SetReg(apic_reg::kLvtTimer, 0xEC);
  SetReg(apic_reg::kTimerInitial, 5000);
  lapic_.Deliver(Fixed(0x61, /*level=*/true));
  lapic_.Deliver(Fixed(0x52));
  ASSERT_EQ(lapic_.AcknowledgeInterrupt(), 0x61);
  clock_.Advance(2000);
  const LapicState saved = lapic_.Save();
  EXPECT_EQ(saved.timer_remaining_ns, 3000u);

  hw::FakeClock other(777'000'000);  // the target host's clock reads differently
  Lapic moved(3, false, &other, &ipis_, &eois_);
  ASSERT_TRUE(moved.Restore(saved).ok());
  EXPECT_EQ(moved.Save(), saved);
  EXPECT_EQ(moved.NextDeadlineNs(), other.NowNs() + 3000);
  uint8_t b[4];
  moved.Read(apic_reg::kTimerCurrent, b);
  EXPECT_EQ(hw::AccessValue(b), 3000u);
  EXPECT_EQ(moved.addressing().ldr, 0x08000000u);
  EXPECT_FALSE(moved.PendingVector());  // 0x52 is below the in-service 0x61
  uint8_t zero[4] = {};
  moved.Write(apic_reg::kEoi, zero);
  EXPECT_EQ(eois_.vectors, std::vector<uint8_t>{0x61});  // level EOI still broadcast
  EXPECT_EQ(moved.AcknowledgeInterrupt(), 0x52);

  LapicState bad = saved;
  bad.timer_tick_ns = 3;
  EXPECT_FALSE(moved.Restore(bad).ok());
  bad = saved;
  bad.ldr = 0x1234;
  EXPECT_FALSE(moved.Restore(bad).ok());
}

TEST(ApicDestinationTest, PhysicalLogicalFlatAndCluster) {
  ApicAddressing a{.id = 2, .ldr = 0x04000000, .dfr = 0xFFFFFFFF};
  EXPECT_TRUE(MatchesDestination(a, DestMode::kPhysical, 2));
  EXPECT_FALSE(MatchesDestination(a, DestMode::kPhysical, 3));
  EXPECT_TRUE(MatchesDestination(a, DestMode::kPhysical, 0xFF));
  EXPECT_TRUE(MatchesDestination(a, DestMode::kLogical, 0x06));
  EXPECT_FALSE(MatchesDestination(a, DestMode::kLogical, 0x03));
  ApicAddressing c{.id = 5, .ldr = 0x21000000, .dfr = 0x0FFFFFFF};  // cluster 2, member 1
  EXPECT_TRUE(MatchesDestination(c, DestMode::kLogical, 0x21));
  EXPECT_TRUE(MatchesDestination(c, DestMode::kLogical, 0xF1));
  EXPECT_FALSE(MatchesDestination(c, DestMode::kLogical, 0x11));
  EXPECT_FALSE(MatchesDestination(c, DestMode::kLogical, 0x22));
}

TEST(ApicBusTest, RoutesIpisBetweenLapics) {
  hw::FakeClock clock;
  ApicBus bus;
  Lapic a(0, true, &clock, &bus, nullptr), b(1, false, &clock, &bus, nullptr);
  bus.Attach(&a);
  bus.Attach(&b);
  uint8_t on[4] = {0xFF, 0x01, 0, 0};
  a.Write(apic_reg::kSvr, on);
  b.Write(apic_reg::kSvr, on);
  uint8_t high[4] = {0, 0, 0, 1};
  a.Write(apic_reg::kIcrHigh, high);
  uint8_t fixed[4] = {0x42, 0x40, 0, 0};
  a.Write(apic_reg::kIcrLow, fixed);
  EXPECT_EQ(b.PendingVector(), 0x42);
  EXPECT_FALSE(a.PendingVector());
  uint8_t self[4] = {0x43, 0x40, 0x04, 0};  // shorthand self
  a.Write(apic_reg::kIcrLow, self);
  EXPECT_EQ(a.PendingVector(), 0x43);
  uint8_t nobody[4] = {0, 0, 0, 9};
  a.Write(apic_reg::kIcrHigh, nobody);
  a.Write(apic_reg::kIcrLow, fixed);
  EXPECT_EQ(bus.undeliverable(), 1u);
}

}  // namespace
}  // namespace dvm::irq
