#include "vmm/devices/i8042.h"

#include "gtest/gtest.h"

namespace dvm::devices {
namespace {

class I8042Test : public ::testing::Test {
 protected:
  void Cmd(uint8_t v) { kbc_.command().Write(0, std::span(&v, 1)); }
  void Data(uint8_t v) { kbc_.data().Write(0, std::span(&v, 1)); }
  uint8_t Status() {
    uint8_t v;
    kbc_.command().Read(0, std::span(&v, 1));
    return v;
  }
  uint8_t ReadData() {
    uint8_t v;
    kbc_.data().Read(0, std::span(&v, 1));
    return v;
  }
  hw::FakeIrqLine irq_;
  hw::PowerLatch power_;
  I8042 kbc_{&irq_, &power_};
};

TEST_F(I8042Test, ResetPulseRequestsReset) {
  Cmd(0xFE);
  EXPECT_EQ(power_.pending(), hw::PowerRequest::kReset);
}

TEST_F(I8042Test, OutputPortResetBit) {
  Cmd(0xD1);
  Data(0x03);
  EXPECT_EQ(power_.pending(), hw::PowerRequest::kNone);
  Cmd(0xD1);
  Data(0x02);
  EXPECT_EQ(power_.pending(), hw::PowerRequest::kReset);
}

TEST_F(I8042Test, SelfTestAndCommandByte) {
  EXPECT_EQ(Status() & 0x01, 0);
  Cmd(0xAA);
  EXPECT_EQ(Status() & 0x01, 1);
  EXPECT_EQ(ReadData(), 0x55);
  Cmd(0x20);
  EXPECT_EQ(ReadData(), 0x61);
  Cmd(0x60);
  Data(0x45);
  Cmd(0x20);
  EXPECT_EQ(ReadData(), 0x45);
  EXPECT_NE(Status(), 0xFF);  // Linux treats 0xFF as "no controller"
}

TEST_F(I8042Test, KeyboardAcksAndInterrupts) {
  Data(0xFF);
  EXPECT_TRUE(irq_.level());
  EXPECT_EQ(ReadData(), 0xFA);
  EXPECT_EQ(ReadData(), 0xAA);
  EXPECT_FALSE(irq_.level());
  Data(0xF2);
  EXPECT_EQ(ReadData(), 0xFA);
  EXPECT_EQ(ReadData(), 0xAB);
  EXPECT_EQ(ReadData(), 0x83);
  for (int i = 0; i < 100; ++i) Data(0xED);  // queue stays bounded
  int n = 0;
  while (Status() & 1) {
    ReadData();
    ++n;
  }
  EXPECT_LE(n, 16);
  EXPECT_EQ(power_.pending(), hw::PowerRequest::kNone);
}

}  // namespace
}  // namespace dvm::devices
