#include "vmm/irq/pic.h"

#include "gtest/gtest.h"
#include "vmm/irq/fake_sinks.h"
#include "vmm/irq/isa_irq.h"

namespace dvm::irq {
namespace {

class PicTest : public ::testing::Test {
 protected:
  void Out(hw::Device& d, uint64_t off, uint8_t v) { d.Write(off, std::span(&v, 1)); }
  uint8_t In(hw::Device& d, uint64_t off) {
    uint8_t v;
    d.Read(off, std::span(&v, 1));
    return v;
  }
  // Linux's init_8259A: ICW1-4, vectors 0x30/0x38, then unmask.
  void InitLikeLinux(bool auto_eoi = false) {
    Out(pic_.master(), 1, 0xFF);
    Out(pic_.master(), 0, 0x11);
    Out(pic_.master(), 1, 0x30);
    Out(pic_.master(), 1, 0x04);
    Out(pic_.master(), 1, auto_eoi ? 0x03 : 0x01);
    Out(pic_.slave(), 0, 0x11);
    Out(pic_.slave(), 1, 0x38);
    Out(pic_.slave(), 1, 0x02);
    Out(pic_.slave(), 1, 0x01);
    Out(pic_.master(), 1, 0x00);
    Out(pic_.slave(), 1, 0x00);
  }
  PicPair pic_;
};

TEST_F(PicTest, EdgeInterruptAndEoi) {
  InitLikeLinux();
  int kicks = 0;
  pic_.SetKick([&] { ++kicks; });
  pic_.SetIrq(0, true);
  EXPECT_TRUE(pic_.HasInterrupt());
  EXPECT_EQ(kicks, 1);
  EXPECT_EQ(pic_.Acknowledge(), 0x30);
  EXPECT_FALSE(pic_.HasInterrupt());
  pic_.SetIrq(0, false);
  pic_.SetIrq(0, true);
  EXPECT_FALSE(pic_.HasInterrupt());  // IRQ0 in service
  Out(pic_.master(), 0, 0x0B);        // OCW3: read ISR
  EXPECT_EQ(In(pic_.master(), 0), 0x01);
  Out(pic_.master(), 0, 0x20);        // non-specific EOI
  EXPECT_TRUE(pic_.HasInterrupt());
  EXPECT_EQ(pic_.Acknowledge(), 0x30);
}

TEST_F(PicTest, PriorityAndMasking) {
  InitLikeLinux();
  pic_.SetIrq(4, true);
  pic_.SetIrq(1, true);
  EXPECT_EQ(pic_.Acknowledge(), 0x31);  // IRQ1 beats IRQ4
  EXPECT_FALSE(pic_.HasInterrupt());    // IRQ4 is lower than in-service IRQ1
  Out(pic_.master(), 0, 0x61);          // specific EOI for IRQ1
  Out(pic_.master(), 1, 0x10);          // mask IRQ4
  EXPECT_FALSE(pic_.HasInterrupt());
  EXPECT_EQ(In(pic_.master(), 1), 0x10);
  Out(pic_.master(), 1, 0x00);
  EXPECT_EQ(pic_.Acknowledge(), 0x34);
}

TEST_F(PicTest, CascadeThroughSlave) {
  InitLikeLinux();
  pic_.SetIrq(8 + 4, true);  // IRQ 12
  EXPECT_TRUE(pic_.HasInterrupt());
  EXPECT_EQ(pic_.Acknowledge(), 0x3C);
  Out(pic_.slave(), 0, 0x20);
  Out(pic_.master(), 0, 0x20);
  EXPECT_FALSE(pic_.HasInterrupt());
}

TEST_F(PicTest, LevelTriggeredViaElcrAndAutoEoi) {
  InitLikeLinux(/*auto_eoi=*/true);
  Out(pic_.elcr(), 1, 0xFF);  // only allowed bits stick
  EXPECT_EQ(In(pic_.elcr(), 1), 0xDE);
  pic_.SetIrq(9, true);
  EXPECT_EQ(pic_.Acknowledge(), 0x39);
  // The slave is in normal EOI mode: its ISR holds IRQ 9 until EOI; master is auto-EOI.
  Out(pic_.slave(), 0, 0x20);
  EXPECT_TRUE(pic_.HasInterrupt());  // level still high
  pic_.SetIrq(9, false);
  // The master latched the cascade edge; with the slave's request gone the
  // INTA yields the slave's spurious vector, as on hardware.
  EXPECT_EQ(pic_.Acknowledge(), 0x3F);
  EXPECT_FALSE(pic_.HasInterrupt());
}

TEST_F(PicTest, SpuriousAndPollAndJunk) {
  InitLikeLinux();
  EXPECT_EQ(pic_.Acknowledge(), 0x37);
  pic_.SetIrq(3, true);
  Out(pic_.master(), 0, 0x0C);  // poll
  EXPECT_EQ(In(pic_.master(), 0), 0x83);
  pic_.SetIrq(99, true);
  uint8_t big[4];
  pic_.master().Read(7, big);
  pic_.master().Write(1, {});
}

TEST(IsaIrqTest, DrivesPicAndIoapicPin) {
  PicPair pic;
  RecordingApicSink sink;
  Ioapic ioapic(0, &sink);
  uint8_t sel[4] = {0x10 + 2 * 2, 0, 0, 0}, entry[4] = {0x30, 0, 0, 0};
  ioapic.Write(Ioapic::kRegSel, sel);
  ioapic.Write(Ioapic::kWindow, entry);
  IsaIrqLine timer(0, &pic, &ioapic);
  timer.Pulse();
  EXPECT_EQ(sink.messages.size(), 1u);  // on GSI 2
  EXPECT_TRUE(pic.HasInterrupt());      // and on the PIC's IRQ 0
}

}  // namespace
}  // namespace dvm::irq
