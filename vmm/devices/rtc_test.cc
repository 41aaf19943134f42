#include "vmm/devices/rtc.h"

#include "dvm/types.h"
#include "gtest/gtest.h"

namespace dvm::devices {
namespace {

// 2026-11-25 01:50:09 UTC, a Wednesday.
constexpr int64_t kNow = 1795571409;

class RtcTest : public ::testing::Test {
 protected:
  uint8_t Get(uint8_t index) {
    uint8_t v = index;
    rtc_.Write(0, std::span(&v, 1));
    rtc_.Read(1, std::span(&v, 1));
    return v;
  }
  void Set(uint8_t index, uint8_t value) {
    rtc_.Write(0, std::span(&index, 1));
    rtc_.Write(1, std::span(&value, 1));
  }
  hw::FakeClock clock_;
  Rtc rtc_{&clock_, {.unix_seconds = kNow, .ram_bytes = 5 * kGiB, .vcpu_count = 4}};
};

TEST(CivilTest, RoundTrips) {
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(2000, 3, 1), 11017);
  int64_t y;
  unsigned m, d;
  CivilFromDays(DaysFromCivil(2024, 2, 29), &y, &m, &d);
  EXPECT_EQ(y, 2024);
  EXPECT_EQ(m, 2u);
  EXPECT_EQ(d, 29u);
}

TEST_F(RtcTest, ReadsBcdTime) {
  EXPECT_EQ(Get(0x09), 0x26);
  EXPECT_EQ(Get(0x32), 0x20);
  EXPECT_EQ(Get(0x08), 0x11);
  EXPECT_EQ(Get(0x07), 0x25);
  EXPECT_EQ(Get(0x04), 0x01);
  EXPECT_EQ(Get(0x02), 0x50);
  EXPECT_EQ(Get(0x00), 0x09);
  EXPECT_EQ(Get(0x06), 4);  // Wednesday (1 = Sunday)
  clock_.Advance(61 * hw::kNsPerSec);
  EXPECT_EQ(Get(0x02), 0x51);
  EXPECT_EQ(Get(0x00), 0x10);
  EXPECT_EQ(Get(0x0A) & 0x80, 0);  // never mid-update
  EXPECT_EQ(Get(0x0D), 0x80);
}

TEST_F(RtcTest, BinaryAnd12HourModes) {
  Set(0x0B, 0x04);  // binary, 12-hour
  EXPECT_EQ(Get(0x02), 50);
  EXPECT_EQ(Get(0x04), 1);  // 1 AM
  Set(0x0B, 0x06);
  EXPECT_EQ(Get(0x04), 1);
}

TEST_F(RtcTest, GuestSetsTime) {
  Set(0x0B, 0x82);  // SET, BCD, 24h
  Set(0x09, 0x30);
  Set(0x04, 0x13);
  clock_.Advance(10 * hw::kNsPerSec);
  EXPECT_EQ(Get(0x00), 0x09);  // frozen while SET
  Set(0x0B, 0x02);
  const int64_t expected = DaysFromCivil(2030, 11, 25) * 86400 + 13 * 3600 + 50 * 60 + 9;
  EXPECT_EQ(rtc_.NowUnixSeconds(), expected);
  clock_.Advance(2 * hw::kNsPerSec);
  EXPECT_EQ(rtc_.NowUnixSeconds(), expected + 2);
}

TEST_F(RtcTest, NvramDescribesMachine) {
  EXPECT_EQ(rtc_.cmos(0x15) | rtc_.cmos(0x16) << 8, 640);
  EXPECT_EQ(rtc_.cmos(0x17) | rtc_.cmos(0x18) << 8, 63 * 1024);
  EXPECT_EQ(rtc_.cmos(0x34) | rtc_.cmos(0x35) << 8, (3 * kGiB - 16 * kMiB) >> 16);
  EXPECT_EQ(rtc_.cmos(0x5B) | rtc_.cmos(0x5C) << 8 | rtc_.cmos(0x5D) << 16, (2 * kGiB) >> 16);
  EXPECT_EQ(rtc_.cmos(0x5F), 3);
  uint8_t junk[4] = {0xFF, 0xFF, 0xFF, 0xFF};
  rtc_.Write(0, std::span(junk, 1));  // index 0x7F after masking
  rtc_.Write(5, std::span(junk, 4));
  rtc_.Read(9, junk);
  EXPECT_EQ(Get(0x0C), 0);
}

}  // namespace
}  // namespace dvm::devices
