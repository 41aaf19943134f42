#include "vmm/devices/pit.h"

#include "gtest/gtest.h"

namespace dvm::devices {
namespace {

constexpr uint64_t kMs = 1'000'000;

class PitTest : public ::testing::Test {
 protected:
  void Out(hw::Device& d, uint64_t off, uint8_t v) { d.Write(off, std::span(&v, 1)); }
  uint8_t In(hw::Device& d, uint64_t off) {
    uint8_t v;
    d.Read(off, std::span(&v, 1));
    return v;
  }
  uint16_t LatchedCount(int ch) {
    Out(pit_.ports(), 3, uint8_t(ch << 6));
    const uint8_t lo = In(pit_.ports(), ch);
    return uint16_t(lo | In(pit_.ports(), ch) << 8);
  }
  hw::FakeClock clock_;
  hw::FakeIrqLine irq0_;
  Pit pit_{&clock_, &irq0_};
};

// What Linux's pit_calibrate_tsc does: gate high, channel 2 in mode 0 for
// 50 ms, then poll port 0x61 bit 5 until the output goes high.
TEST_F(PitTest, Channel2CalibrationLoop) {
  Out(pit_.port61(), 0, (In(pit_.port61(), 0) & ~0x02) | 0x01);
  Out(pit_.ports(), 3, 0xB0);  // channel 2, lo/hi, mode 0
  const uint16_t latch = kPitHz / 20;
  Out(pit_.ports(), 2, latch & 0xFF);
  Out(pit_.ports(), 2, latch >> 8);
  EXPECT_EQ(In(pit_.port61(), 0) & 0x20, 0);
  clock_.Advance(25 * kMs);
  const uint16_t half = LatchedCount(2);
  EXPECT_NEAR(half, latch / 2, 2);
  clock_.Advance(24 * kMs);
  EXPECT_EQ(In(pit_.port61(), 0) & 0x20, 0);
  clock_.Advance(2 * kMs);
  EXPECT_EQ(In(pit_.port61(), 0) & 0x20, 0x20);
  EXPECT_EQ(In(pit_.port61(), 0) & 0x01, 0x01);
  EXPECT_FALSE(pit_.NextDeadlineNs());  // channel 2 has no interrupt
}

TEST_F(PitTest, GateLowFreezesChannel2) {
  Out(pit_.ports(), 3, 0xB0);
  Out(pit_.ports(), 2, 0x00);
  Out(pit_.ports(), 2, 0x10);  // 4096, gate still low
  clock_.Advance(10 * kMs);
  EXPECT_EQ(LatchedCount(2), 4096);
  Out(pit_.port61(), 0, 0x01);
  clock_.Advance(1 * kMs);
  EXPECT_NEAR(LatchedCount(2), 4096 - 1193, 2);
  Out(pit_.port61(), 0, 0x00);
  clock_.Advance(5 * kMs);
  EXPECT_NEAR(LatchedCount(2), 4096 - 1193, 2);
}

TEST_F(PitTest, Channel0PeriodicInterrupts) {
  const uint64_t t0 = clock_.NowNs();
  Out(pit_.ports(), 3, 0x34);  // channel 0, lo/hi, mode 2
  const uint16_t latch = (kPitHz + 50) / 100;
  Out(pit_.ports(), 0, latch & 0xFF);
  Out(pit_.ports(), 0, latch >> 8);
  ASSERT_TRUE(pit_.NextDeadlineNs());
  EXPECT_NEAR(double(*pit_.NextDeadlineNs() - t0), 10.0 * kMs, 1000);
  clock_.Advance(5 * kMs);
  pit_.Tick();
  EXPECT_EQ(irq0_.rising_edges(), 0);
  clock_.Advance(5 * kMs + 10000);  // the period is 11932 ticks, a hair over 10 ms
  pit_.Tick();
  EXPECT_EQ(irq0_.rising_edges(), 1);
  EXPECT_NEAR(double(*pit_.NextDeadlineNs() - t0), 20.0 * kMs, 1000);
  clock_.Advance(35 * kMs);  // 3 periods late: one interrupt, next in the future
  pit_.Tick();
  EXPECT_EQ(irq0_.rising_edges(), 2);
  EXPECT_GT(*pit_.NextDeadlineNs(), clock_.NowNs());
}

TEST_F(PitTest, TinyPeriodIsRateLimited) {
  const uint64_t t0 = clock_.NowNs();
  Out(pit_.ports(), 3, 0x34);
  Out(pit_.ports(), 0, 2);
  Out(pit_.ports(), 0, 0);  // 2 ticks: 1.7 us
  EXPECT_EQ(pit_.NextDeadlineNs(), t0 + 200'000);
  clock_.Advance(1'000'000);
  pit_.Tick();
  EXPECT_EQ(irq0_.rising_edges(), 1);
  EXPECT_EQ(pit_.NextDeadlineNs(), t0 + 1'200'000);
}

TEST_F(PitTest, Channel0OneShotMode4) {
  Out(pit_.ports(), 3, 0x38);  // what Linux's PIT clockevent uses for one-shot
  Out(pit_.ports(), 0, 0xE8);
  Out(pit_.ports(), 0, 0x03);  // 1000 ticks
  clock_.Advance(hw::TicksToNs(1000, kPitHz));
  pit_.Tick();
  EXPECT_EQ(irq0_.rising_edges(), 1);
  EXPECT_FALSE(pit_.NextDeadlineNs());
  clock_.Advance(100 * kMs);
  pit_.Tick();
  EXPECT_EQ(irq0_.rising_edges(), 1);
}

TEST_F(PitTest, ReadBackStatusAndLsbOnlyAccess) {
  Out(pit_.ports(), 3, 0x56);  // channel 1, LSB only, mode 3
  Out(pit_.ports(), 1, 18);
  Out(pit_.ports(), 3, 0xE4);  // read-back: latch count and status of channel 1
  EXPECT_EQ(In(pit_.ports(), 1) & 0x3F, 0x16);  // rw=1, mode 3, binary
  EXPECT_EQ(In(pit_.ports(), 1), 18);
  EXPECT_EQ(In(pit_.ports(), 3), 0xFF);
  uint8_t big[8];
  pit_.ports().Read(9, big);
  pit_.ports().Write(2, {});
}

}  // namespace
}  // namespace dvm::devices
