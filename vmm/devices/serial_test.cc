#include "vmm/devices/serial.h"

#include <string>

#include "gtest/gtest.h"

namespace dvm::devices {
namespace {

class StringSink final : public ByteSink {
 public:
  void Put(uint8_t b) override { text.push_back(static_cast<char>(b)); }
  std::string text;
};

class SerialTest : public ::testing::Test {
 protected:
  void Out(uint64_t reg, uint8_t v) { uart_.Write(reg, std::span(&v, 1)); }
  uint8_t In(uint64_t reg) {
    uint8_t v;
    uart_.Read(reg, std::span(&v, 1));
    return v;
  }
  StringSink sink_;
  hw::FakeIrqLine irq_;
  Serial uart_{&sink_, &irq_};
};

TEST_F(SerialTest, TransmitsToSink) {
  for (char c : std::string("hi\n")) Out(0, static_cast<uint8_t>(c));
  EXPECT_EQ(sink_.text, "hi\n");
  EXPECT_EQ(In(5) & 0x60, 0x60);  // THRE and TEMT
  EXPECT_FALSE(irq_.level());     // no interrupts enabled
}

TEST_F(SerialTest, DetectedAs16550A) {
  Out(7, 0xA5);
  EXPECT_EQ(In(7), 0xA5);  // scratch
  Out(1, 0x0F);
  EXPECT_EQ(In(1), 0x0F);
  Out(1, 0x00);
  Out(2, 0xC7);  // enable and clear FIFOs, trigger 14
  EXPECT_EQ(In(2) & 0xC0, 0xC0);
  Out(4, 0x1A);  // loopback, OUT2, RTS
  EXPECT_EQ(In(6) & 0xF0, 0x90);  // CTS, DCD
  Out(0, 'x');
  EXPECT_EQ(In(5) & 1, 1);
  EXPECT_EQ(In(0), 'x');
  EXPECT_EQ(sink_.text, "");  // looped back, not sent
  Out(4, 0x0B);
  EXPECT_EQ(In(6) & 0xF0, 0xB0);
}

TEST_F(SerialTest, DivisorLatch) {
  Out(3, 0x83);
  Out(0, 0x01);
  Out(1, 0x00);
  EXPECT_EQ(In(0), 0x01);
  Out(3, 0x03);
  Out(1, 0x05);
  EXPECT_EQ(In(1), 0x05);  // IER again
}

TEST_F(SerialTest, ThreInterruptOnEnableAndAfterWrite) {
  Out(1, 0x02);  // THRI
  EXPECT_TRUE(irq_.level());
  EXPECT_EQ(In(2) & 0x0F, 0x02);  // reading IIR clears it
  EXPECT_FALSE(irq_.level());
  Out(0, 'a');
  EXPECT_TRUE(irq_.level());
  EXPECT_EQ(In(2) & 0x0F, 0x02);
  EXPECT_EQ(In(2) & 0x0F, 0x01);
}

TEST_F(SerialTest, ReceiveRaisesRdaUntilDrained) {
  Out(1, 0x01);
  const uint8_t in[] = {'o', 'k'};
  EXPECT_EQ(uart_.Receive(in), 2u);
  EXPECT_TRUE(irq_.level());
  EXPECT_EQ(In(2) & 0x0F, 0x04);
  EXPECT_EQ(In(0), 'o');
  EXPECT_TRUE(irq_.level());
  EXPECT_EQ(In(0), 'k');
  EXPECT_FALSE(irq_.level());
  EXPECT_EQ(In(5) & 1, 0);
  std::vector<uint8_t> flood(Serial::kRxCapacity + 10, 'z');
  EXPECT_EQ(uart_.Receive(flood), Serial::kRxCapacity);
}

TEST_F(SerialTest, OutOfRangeAccessesAreHarmless) {
  uint8_t b[4];
  uart_.Read(8, b);
  uart_.Write(100, b);
  uart_.Write(0, {});
  EXPECT_EQ(sink_.text, "");
}

}  // namespace
}  // namespace dvm::devices
