// Drives node 0's wired devices (PIC, PIT, RTC, UART, i8042, ACPI PM, IOAPIC,
// a LAPIC) with arbitrary guest accesses through the vCPU's I/O router (the
// path a PIO/MMIO exit takes in the machine),
// interleaved with time passing and timer ticks. Whatever the guest writes,
// the VMM must neither crash nor touch memory it does not own.
//
// Input: records of 12 bytes {op, addr_lo, addr_hi, size, value[8]}.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "vmm/boot/acpi.h"
#include "vmm/bus/bus.h"
#include "vmm/devices/acpi_pm.h"
#include "vmm/devices/i8042.h"
#include "vmm/devices/pit.h"
#include "vmm/devices/rtc.h"
#include "vmm/devices/serial.h"
#include "vmm/hw/clock.h"
#include "vmm/irq/apic_bus.h"
#include "vmm/irq/ioapic.h"
#include "vmm/irq/isa_irq.h"
#include "vmm/irq/lapic.h"
#include "vmm/irq/pic.h"
#include "vmm/layout/layout.h"
#include "vmm/machine/timer_loop.h"
#include "vmm/machine/vcpu_io.h"

namespace dvm {
namespace {

class DropSink final : public devices::ByteSink {
 public:
  void Put(uint8_t) override {}
};

struct Machine {
  hw::FakeClock clock;
  hw::PowerLatch power;
  irq::ApicBus apic_bus;
  irq::Ioapic ioapic{layout::kIoapicId, &apic_bus};
  irq::Lapic lapic0{0, true, &clock, &apic_bus, &ioapic};
  irq::Lapic lapic1{1, false, &clock, &apic_bus, &ioapic};
  irq::PicPair pic;
  irq::IsaIrqLine irq0{layout::kIrqPit, &pic, &ioapic};
  irq::IsaIrqLine irq1{layout::kIrqKeyboard, &pic, &ioapic};
  irq::IsaIrqLine irq4{layout::kIrqCom1, &pic, &ioapic};
  irq::IsaIrqLine irq9{layout::kIrqAcpiSci, &pic, &ioapic};
  DropSink sink;
  devices::Serial uart{&sink, &irq4};
  devices::Pit pit{&clock, &irq0};
  devices::Rtc rtc{&clock, {.unix_seconds = 1700000000, .ram_bytes = 1ull << 30, .vcpu_count = 2}};
  devices::I8042 kbc{&irq1, &power};
  devices::AcpiPm pm{&clock, &irq9, &power, boot::kAcpiS5SleepType};
  bus::Bus pio{"pio"}, mmio{"mmio"};
  machine::TimerLoop timers{&clock};  // never started: writes only poke it
  machine::IoCounters counters;
  machine::LocalDevices devices{&pio, &mmio, &timers, &counters};
  machine::VcpuIoRouter router{&lapic0, &timers, &devices};

  Machine() {
    apic_bus.Attach(&lapic0);
    apic_bus.Attach(&lapic1);
    (void)pio.Register(layout::kPicMasterPort, 2, &pic.master(), "pic-master");
    (void)pio.Register(layout::kPicSlavePort, 2, &pic.slave(), "pic-slave");
    (void)pio.Register(layout::kElcrPort, 2, &pic.elcr(), "elcr");
    (void)pio.Register(layout::kPitPort, 4, &pit.ports(), "pit");
    (void)pio.Register(layout::kSystemControlPortB, 1, &pit.port61(), "port61");
    (void)pio.Register(layout::kI8042DataPort, 1, &kbc.data(), "i8042-data");
    (void)pio.Register(layout::kI8042CommandPort, 1, &kbc.command(), "i8042-cmd");
    (void)pio.Register(layout::kRtcPort, 2, &rtc, "rtc");
    (void)pio.Register(layout::kCom1Port, 8, &uart, "com1");
    (void)pio.Register(layout::kAcpiPmPort, layout::kAcpiPmPortCount, &pm, "acpi-pm");
    (void)mmio.Register(layout::kIoapic.value(), layout::kIoapicSize, &ioapic, "ioapic");
  }
};

// Interesting port bases, so short inputs reach devices.
constexpr uint16_t kPorts[] = {0x20, 0xA0, 0x4D0, 0x40, 0x61, 0x60, 0x64, 0x70, 0x3F8, 0x600};

}  // namespace
}  // namespace dvm

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dvm;
  auto machine = std::make_unique<Machine>();  // IoCounters is large for a stack
  Machine& m = *machine;
  for (size_t at = 0; at + 12 <= size; at += 12) {
    const uint8_t op = data[at];
    const uint16_t arg = static_cast<uint16_t>(data[at + 1] | data[at + 2] << 8);
    const uint32_t sizes[] = {1, 2, 4, 8};
    const uint32_t len = sizes[data[at + 3] & 3];
    uint8_t value[8];
    std::memcpy(value, data + at + 4, 8);
    const bool write = op & 1;
    const std::span<uint8_t> bytes(value, len);
    switch ((op >> 1) % 6) {
      case 0:  // a device port plus a small offset
        if (len == 8) continue;  // no 8-byte port accesses on x86
        m.router.Pio(static_cast<uint16_t>(kPorts[arg % std::size(kPorts)] + (arg >> 12)), bytes,
                     write);
        continue;
      case 1:  // LAPIC register
        m.router.Mmio(Gpa(layout::kLapic.value() + (arg & 0xFFF)), bytes, write);
        continue;
      case 2:  // IOAPIC register
        m.router.Mmio(Gpa(layout::kIoapic.value() + (arg & 0xFF)), bytes, write);
        continue;
      case 3:  // time passes, timers fire
        m.clock.Advance(uint64_t{arg} * 997);
        m.lapic0.Tick();
        m.lapic1.Tick();
        m.pit.Tick();
        continue;
      case 4:  // the vCPU loop takes interrupts
        if (m.lapic0.AcceptsExtInt() && m.pic.HasInterrupt()) m.pic.Acknowledge();
        (void)m.lapic0.AcknowledgeInterrupt();
        (void)m.lapic1.AcknowledgeInterrupt();
        (void)m.lapic1.TakeInit();
        (void)m.lapic1.TakeStartup();
        m.lapic0.SetApicBase(uint64_t{arg} << 8);
        continue;
      default:  // host input and IRQ lines, any pin number
        (void)m.uart.Receive(std::span(value, len));
        m.ioapic.SetPin(arg, op & 2);
        m.pic.SetIrq(arg, op & 4);
        if (op & 8) m.pm.PressPowerButton();
        continue;
    }
  }
  return 0;
}
