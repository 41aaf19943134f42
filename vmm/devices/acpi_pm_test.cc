#include "vmm/devices/acpi_pm.h"

#include "gtest/gtest.h"

namespace dvm::devices {
namespace {

class AcpiPmTest : public ::testing::Test {
 protected:
  void Write16(uint64_t off, uint16_t v) { pm_.Write(off, std::span(reinterpret_cast<uint8_t*>(&v), 2)); }
  uint32_t Read(uint64_t off, size_t size) {
    uint8_t b[4] = {};
    pm_.Read(off, std::span(b, size));
    return static_cast<uint32_t>(hw::AccessValue(std::span(b, size)));
  }
  hw::FakeClock clock_;
  hw::FakeIrqLine sci_;
  hw::PowerLatch power_;
  AcpiPm pm_{&clock_, &sci_, &power_, 5};
};

TEST_F(AcpiPmTest, S5WritePowersOff) {
  EXPECT_EQ(Read(AcpiPm::kControl, 2) & 1, 1u);  // SCI_EN: ACPI mode
  Write16(AcpiPm::kControl, 5 << 10);            // Linux writes SLP_TYP first...
  EXPECT_EQ(power_.pending(), hw::PowerRequest::kNone);
  Write16(AcpiPm::kControl, (5 << 10) | kPm1SleepEnable);  // ...then with SLP_EN
  EXPECT_EQ(power_.pending(), hw::PowerRequest::kPowerOff);
  EXPECT_EQ(Read(AcpiPm::kControl, 2) & kPm1SleepEnable, 0u);
}

TEST_F(AcpiPmTest, OtherSleepTypesDoNothing) {
  Write16(AcpiPm::kControl, (1 << 10) | kPm1SleepEnable);
  EXPECT_EQ(power_.pending(), hw::PowerRequest::kNone);
}

TEST_F(AcpiPmTest, PowerButtonRaisesSciUntilCleared) {
  pm_.PressPowerButton();
  EXPECT_FALSE(sci_.level());  // not enabled yet
  Write16(AcpiPm::kEnable, kPm1PwrBtnStatus);
  EXPECT_TRUE(sci_.level());
  EXPECT_EQ(Read(AcpiPm::kStatus, 2), kPm1PwrBtnStatus);
  Write16(AcpiPm::kStatus, kPm1PwrBtnStatus);  // write one to clear
  EXPECT_FALSE(sci_.level());
  EXPECT_EQ(Read(AcpiPm::kStatus, 4) & 0xFFFF, 0u);
}

TEST_F(AcpiPmTest, TimerCountsAt3_58MHz) {
  const uint32_t t0 = Read(AcpiPm::kTimer, 4);
  clock_.Advance(hw::kNsPerSec / 1000);
  const uint32_t t1 = Read(AcpiPm::kTimer, 4);
  EXPECT_NEAR(double(t1 - t0), 3579.5, 1.0);
  Write16(AcpiPm::kTimer, 0);  // read-only
  EXPECT_EQ(Read(AcpiPm::kTimer, 4), t1);
  EXPECT_EQ(Read(40, 1), 0xFFu);
}

}  // namespace
}  // namespace dvm::devices
