#include "vmm/bus/exit_dispatch.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "vmm/boot/acpi.h"
#include "vmm/devices/acpi_pm.h"
#include "vmm/devices/i8042.h"
#include "vmm/devices/pit.h"
#include "vmm/devices/serial.h"
#include "vmm/hw/clock.h"
#include "vmm/irq/apic_bus.h"
#include "vmm/irq/ioapic.h"
#include "vmm/irq/isa_irq.h"
#include "vmm/irq/lapic.h"
#include "vmm/irq/pic.h"
#include "vmm/layout/layout.h"

namespace dvm::bus {
namespace {

class StringSink final : public devices::ByteSink {
 public:
  void Put(uint8_t b) override { text.push_back(static_cast<char>(b)); }
  std::string text;
};

// Node 0's devices wired as the VMM will wire them, driven by made-up exits.
class MachineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pio_.Register(layout::kCom1Port, devices::Serial::kPorts, &uart_, "com1").ok());
    ASSERT_TRUE(pio_.Register(layout::kPitPort, 4, &pit_.ports(), "pit").ok());
    ASSERT_TRUE(pio_.Register(layout::kSystemControlPortB, 1, &pit_.port61(), "port61").ok());
    ASSERT_TRUE(pio_.Register(layout::kI8042DataPort, 1, &kbc_.data(), "i8042 data").ok());
    ASSERT_TRUE(pio_.Register(layout::kI8042CommandPort, 1, &kbc_.command(), "i8042 cmd").ok());
    ASSERT_TRUE(pio_.Register(layout::kPicMasterPort, 2, &pic_.master(), "pic master").ok());
    ASSERT_TRUE(pio_.Register(layout::kPicSlavePort, 2, &pic_.slave(), "pic slave").ok());
    ASSERT_TRUE(pio_.Register(layout::kElcrPort, 2, &pic_.elcr(), "elcr").ok());
    ASSERT_TRUE(pio_.Register(layout::kAcpiPmPort, layout::kAcpiPmPortCount, &pm_, "acpi pm").ok());
    ASSERT_TRUE(mmio_.Register(layout::kIoapic.value(), layout::kIoapicSize, &ioapic_, "ioapic").ok());
    pio_.Freeze();
    mmio_.Freeze();
    apic_bus_.Attach(&lapic_);
  }

  Action Pio(uint16_t port, bool write, std::vector<uint8_t>& data, uint32_t size = 1) {
    return dispatcher_.Dispatch({.reason = ExitReason::kIo, .addr = port, .size = size,
                                 .count = static_cast<uint32_t>(data.size() / size),
                                 .is_write = write, .data = data});
  }
  Action Mmio(uint64_t gpa, bool write, std::vector<uint8_t>& data) {
    return dispatcher_.Dispatch({.reason = ExitReason::kMmio, .addr = gpa,
                                 .size = static_cast<uint32_t>(data.size()), .is_write = write,
                                 .data = data});
  }

  hw::FakeClock clock_;
  hw::PowerLatch power_;
  irq::ApicBus apic_bus_;
  irq::Ioapic ioapic_{layout::kIoapicId & 0xF, &apic_bus_};
  irq::Lapic lapic_{0, true, &clock_, &apic_bus_, &ioapic_};
  irq::PicPair pic_;
  irq::IsaIrqLine irq0_{layout::kIrqPit, &pic_, &ioapic_};
  irq::IsaIrqLine irq1_{layout::kIrqKeyboard, &pic_, &ioapic_};
  irq::IsaIrqLine irq4_{layout::kIrqCom1, &pic_, &ioapic_};
  irq::IsaIrqLine irq9_{layout::kIrqAcpiSci, &pic_, &ioapic_};
  StringSink console_;
  devices::Serial uart_{&console_, &irq4_};
  devices::Pit pit_{&clock_, &irq0_};
  devices::I8042 kbc_{&irq1_, &power_};
  devices::AcpiPm pm_{&clock_, &irq9_, &power_, boot::kAcpiS5SleepType};
  Bus pio_{"pio"}, mmio_{"mmio"};
  DispatchCounters counters_;
  ExitDispatcher dispatcher_{&pio_, &mmio_, &lapic_, &power_, &counters_};
};

TEST_F(MachineTest, ConsoleOutputThroughStringIo) {
  std::vector<uint8_t> text = {'o', 'k', '\n'};
  EXPECT_EQ(Pio(layout::kCom1Port, true, text).kind, ActionKind::kResume);  // rep outsb
  EXPECT_EQ(console_.text, "ok\n");
  std::vector<uint8_t> lsr(1);
  Pio(layout::kCom1Port + 5, false, lsr);
  EXPECT_EQ(lsr[0] & 0x60, 0x60);
  EXPECT_EQ(counters_.pio.load(), 2u);
}

TEST_F(MachineTest, UnmappedPortsFloatAndAreCounted) {
  std::vector<uint8_t> data = {0, 0};
  EXPECT_EQ(Pio(0x80, false, data, 2).kind, ActionKind::kResume);
  EXPECT_EQ(data, (std::vector<uint8_t>{0xFF, 0xFF}));
  EXPECT_EQ(Pio(0x80, true, data).kind, ActionKind::kResume);  // POST code port: dropped
  std::vector<uint8_t> wide(4);
  EXPECT_EQ(Pio(layout::kCom1Port + 6, false, wide, 4).kind, ActionKind::kResume);  // straddles
  EXPECT_EQ(counters_.unmapped_pio.load(), 3u);
  std::vector<uint8_t> m(4);
  EXPECT_EQ(Mmio(0xD0000000, false, m).kind, ActionKind::kResume);
  EXPECT_EQ(m, (std::vector<uint8_t>{0xFF, 0xFF, 0xFF, 0xFF}));
}

TEST_F(MachineTest, AcpiPowerOffEndsTheRun) {
  std::vector<uint8_t> slp_typ = {0x00, 0x14};  // SLP_TYP=5
  EXPECT_EQ(Pio(layout::kAcpiPm1aControl, true, slp_typ, 2).kind, ActionKind::kResume);
  std::vector<uint8_t> slp_en = {0x00, 0x34};  // SLP_TYP=5 | SLP_EN
  EXPECT_EQ(Pio(layout::kAcpiPm1aControl, true, slp_en, 2).kind, ActionKind::kPowerOff);
}

TEST_F(MachineTest, KeyboardControllerResetEndsTheRun) {
  std::vector<uint8_t> cmd = {0xFE};
  EXPECT_EQ(Pio(layout::kI8042CommandPort, true, cmd).kind, ActionKind::kReset);
}

TEST_F(MachineTest, LapicPageGoesToThisVcpusLapic) {
  std::vector<uint8_t> id(4);
  EXPECT_EQ(Mmio(layout::kLapic.value() + irq::apic_reg::kVersion, false, id).kind,
            ActionKind::kResume);
  EXPECT_EQ(hw::AccessValue(id), irq::kLapicVersion);
  EXPECT_EQ(counters_.unmapped_mmio.load(), 0u);
}

// The path of a device interrupt: UART THRE -> IRQ 4 -> IOAPIC pin 4 ->
// APIC bus -> LAPIC IRR -> the loop acknowledges the vector -> EOI.
TEST_F(MachineTest, DeviceInterruptReachesLapic) {
  std::vector<uint8_t> svr = {0xFF, 0x01, 0, 0};
  Mmio(layout::kLapic.value() + irq::apic_reg::kSvr, true, svr);
  std::vector<uint8_t> sel = {0x10 + 2 * 4, 0, 0, 0}, entry = {0x24, 0, 0, 0};
  Mmio(layout::kIoapic.value(), true, sel);
  Mmio(layout::kIoapic.value() + 0x10, true, entry);
  std::vector<uint8_t> ier = {0x02};
  Pio(layout::kCom1Port + 1, true, ier);
  EXPECT_EQ(lapic_.AcknowledgeInterrupt(), 0x24);
  std::vector<uint8_t> eoi(4);
  Mmio(layout::kLapic.value() + irq::apic_reg::kEoi, true, eoi);
  EXPECT_FALSE(lapic_.PendingVector());
}

TEST_F(MachineTest, MalformedExitsFailCleanly) {
  std::vector<uint8_t> data(3);
  EXPECT_EQ(Pio(layout::kCom1Port, true, data, 3).kind, ActionKind::kFail);
  EXPECT_EQ(dispatcher_.Dispatch({.reason = ExitReason::kMmio, .addr = 0, .size = 4, .count = 2,
                                  .data = std::span(data).first(0)})
                .kind,
            ActionKind::kFail);
  EXPECT_EQ(dispatcher_.Dispatch({.reason = ExitReason::kUnknown, .detail = 99}).kind,
            ActionKind::kFail);
  EXPECT_EQ(dispatcher_.Dispatch({.reason = ExitReason::kHlt}).kind, ActionKind::kHalt);
  EXPECT_EQ(dispatcher_.Dispatch({.reason = ExitReason::kShutdown}).kind, ActionKind::kReset);
  EXPECT_EQ(dispatcher_.Dispatch({.reason = ExitReason::kFailEntry, .detail = 0x80000021}).kind,
            ActionKind::kFail);
}

}  // namespace
}  // namespace dvm::bus
