#include "vmm/irq/ioapic.h"

#include "gtest/gtest.h"
#include "vmm/irq/fake_sinks.h"

namespace dvm::irq {
namespace {

class IoapicTest : public ::testing::Test {
 protected:
  void SetReg(uint32_t index, uint32_t value) {
    uint8_t b[4];
    std::memcpy(b, &index, 4);
    ioapic_.Write(Ioapic::kRegSel, b);
    std::memcpy(b, &value, 4);
    ioapic_.Write(Ioapic::kWindow, b);
  }
  uint32_t Reg(uint32_t index) {
    uint8_t b[4];
    std::memcpy(b, &index, 4);
    ioapic_.Write(Ioapic::kRegSel, b);
    ioapic_.Read(Ioapic::kWindow, b);
    return static_cast<uint32_t>(hw::AccessValue(b));
  }
  RecordingApicSink sink_;
  Ioapic ioapic_{0xFE & 0xF, &sink_};
};

TEST_F(IoapicTest, VersionAndMaskedReset) {
  EXPECT_EQ(Reg(1), 0x00170011u);
  EXPECT_EQ(Reg(0x10), kRedirMasked);
  EXPECT_EQ(Reg(0x10 + 2 * 24), 0xFFFFFFFFu);  // beyond the table
  SetReg(0x10 + 2 * 24, 0);                    // ignored
  SetReg(0xFF, 0);
  ioapic_.SetPin(24, true);
  ioapic_.SetPin(0xFFFFFFFF, true);
  EXPECT_TRUE(sink_.messages.empty());
}

TEST_F(IoapicTest, EdgePinDeliversOnRisingEdge) {
  SetReg(0x10 + 2 * 4 + 1, 0x03000000);  // dest 3
  SetReg(0x10 + 2 * 4, 0x0934);          // lowest priority, vector 0x34
  ioapic_.SetPin(4, true);
  ioapic_.SetPin(4, true);  // no new edge
  ioapic_.SetPin(4, false);
  ioapic_.SetPin(4, true);
  ASSERT_EQ(sink_.messages.size(), 2u);
  EXPECT_EQ(sink_.messages[0].vector, 0x34);
  EXPECT_EQ(sink_.messages[0].dest, 3);
  EXPECT_EQ(sink_.messages[0].mode, DeliveryMode::kLowestPriority);
  EXPECT_EQ(sink_.messages[0].trigger, TriggerMode::kEdge);
}

TEST_F(IoapicTest, LevelPinHoldsRemoteIrrUntilEoi) {
  SetReg(0x10 + 2 * 9, 0xA000 | 0x39);  // level, active low, vector 0x39
  ioapic_.SetPin(9, true);
  EXPECT_EQ(sink_.messages.size(), 1u);
  EXPECT_TRUE(ioapic_.redirection(9) & kRedirRemoteIrr);
  ioapic_.SetPin(9, true);
  EXPECT_EQ(sink_.messages.size(), 1u);
  ioapic_.BroadcastEoi(0x39);  // still asserted: again
  EXPECT_EQ(sink_.messages.size(), 2u);
  ioapic_.SetPin(9, false);
  ioapic_.BroadcastEoi(0x39);
  EXPECT_EQ(sink_.messages.size(), 2u);
  EXPECT_FALSE(ioapic_.redirection(9) & kRedirRemoteIrr);
  EXPECT_EQ(sink_.messages[0].trigger, TriggerMode::kLevel);
}

TEST_F(IoapicTest, UnmaskingAssertedLevelPinDelivers) {
  SetReg(0x10 + 2 * 10, kRedirMasked | kRedirLevel | 0x41);
  ioapic_.SetPin(10, true);
  EXPECT_TRUE(sink_.messages.empty());
  SetReg(0x10 + 2 * 10, kRedirLevel | 0x41);
  EXPECT_EQ(sink_.messages.size(), 1u);
  SetReg(0x10 + 2 * 10, kRedirRemoteIrr | kRedirLevel | 0x41);  // RO bit not writable
  EXPECT_EQ(sink_.messages.size(), 1u);
  uint8_t eoi[4] = {0x41, 0, 0, 0};
  ioapic_.Write(Ioapic::kEoi, eoi);  // the version-0x20 EOI register works too
  EXPECT_EQ(sink_.messages.size(), 2u);
}

}  // namespace
}  // namespace dvm::irq
