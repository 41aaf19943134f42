// The guest-physical and port layout of every dvm machine, in one place.
//
// Every node builds its KVM VM with this same layout, so a guest address means
// the same thing on all of them. Nothing else in dvm should spell out a guest
// address or an I/O port number; take it from here.
//
//   0x0000_0000  real-mode IVT + BIOS data area (left zero, reserved by Linux)
//   0x0000_0500  GDT for the 64-bit entry (null, null, code 0x10, data 0x18, TSS 0x20)
//   0x0000_7000  boot_params ("zero page")
//   0x0000_8000  initial stack top (Linux switches to its own at once)
//   0x0000_9000  PML4, 0xA000 PDPT, 0xB000-0xEFFF four PDs: 4 GiB identity map
//   0x0002_0000  kernel command line
//   0x0009_FC00  EBDA .. 1 MiB: reserved in e820 (where firmware tables live)
//   0x000E_0000  ACPI tables, RSDP first (Linux scans 0xE0000-0xFFFFF for it,
//                or takes it from boot_params.acpi_rsdp_addr)
//   0x0010_0000  protected-mode kernel (bzImage payload); RAM continues to
//                min(ram, 3 GiB); the initrd goes at the top of low RAM
//   0xC000_0000  32-bit hole (1 GiB, no RAM): device windows below
//   0xD000_0000    virtio-mmio windows, 4 KiB each
//   0xFEC0_0000    IOAPIC
//   0xFEE0_0000    LAPIC (per vCPU, each node emulates its own vCPUs')
//   0x1_0000_0000  RAM above 4 GiB (whatever did not fit below the hole)
#ifndef DVM_VMM_LAYOUT_LAYOUT_H_
#define DVM_VMM_LAYOUT_LAYOUT_H_

#include <algorithm>
#include <cstdint>

#include "dvm/types.h"

namespace dvm::layout {

// --- boot structures in low memory -----------------------------------------
inline constexpr Gpa kGdt{0x500};
inline constexpr Gpa kBootParams{0x7000};
inline constexpr Gpa kBootStackTop{0x8000};
inline constexpr Gpa kPml4{0x9000};
inline constexpr Gpa kPdpt{0xA000};
inline constexpr Gpa kPd{0xB000};  // kIdentityMapGiB consecutive pages
inline constexpr uint64_t kIdentityMapGiB = 4;
inline constexpr Gpa kCmdline{0x20000};
inline constexpr uint64_t kCmdlineMax = 0x10000;  // hard cap; the kernel's cmdline_size is less

// Base memory ends where the EBDA begins; [kEbda, 1 MiB) is reserved.
inline constexpr Gpa kEbda{0x9FC00};
inline constexpr Gpa kAcpiTables{0xE0000};
inline constexpr uint64_t kAcpiTablesMax = 0x10000;  // up to 0xF0000
inline constexpr Gpa kAcpiRsdp = kAcpiTables;        // the RSDP opens the ACPI window
inline constexpr Gpa kHighMemory{0x100000};        // 1 MiB: kernel load address
inline constexpr Gpa kKernelLoad = kHighMemory;

// --- the 32-bit hole ---------------------------------------------------------
inline constexpr Gpa kHoleStart{0xC0000000};
inline constexpr Gpa kHoleEnd{0x100000000};  // RAM resumes here
inline constexpr Gpa kVirtioMmioBase{0xD0000000};
inline constexpr uint64_t kVirtioMmioSize = 0x1000;
inline constexpr uint32_t kVirtioMmioSlots = 32;
inline constexpr Gpa kIoapic{0xFEC00000};
inline constexpr uint64_t kIoapicSize = 0x1000;
inline constexpr Gpa kLapic{0xFEE00000};
inline constexpr uint64_t kLapicSize = 0x1000;

// --- I/O ports -----------------------------------------------------------------
inline constexpr uint16_t kPicMasterPort = 0x20;   // 2 ports
inline constexpr uint16_t kPitPort = 0x40;         // 4 ports (0x40-0x43)
inline constexpr uint16_t kI8042DataPort = 0x60;
inline constexpr uint16_t kSystemControlPortB = 0x61;  // PIT ch2 gate / speaker
inline constexpr uint16_t kI8042CommandPort = 0x64;
inline constexpr uint16_t kRtcPort = 0x70;  // 2 ports: index, data
inline constexpr uint16_t kPicSlavePort = 0xA0;
inline constexpr uint16_t kElcrPort = 0x4D0;  // 2 ports: master, slave edge/level control
inline constexpr uint16_t kCom1Port = 0x3F8;  // 8 ports
inline constexpr uint16_t kAcpiPmPort = 0x600;  // PM1a event (4), PM1a control (2), PM timer (4)
inline constexpr uint16_t kAcpiPm1aEvent = kAcpiPmPort;
inline constexpr uint16_t kAcpiPm1aControl = kAcpiPmPort + 4;
inline constexpr uint16_t kAcpiPmTimer = kAcpiPmPort + 8;
inline constexpr uint16_t kAcpiPmPortCount = 12;
// A byte written here ends the VM with that exit status (test guests use it).
inline constexpr uint16_t kDebugExitPort = 0x501;

// --- interrupts ------------------------------------------------------------------
inline constexpr uint32_t kIoapicPins = 24;
inline constexpr uint32_t kIoapicId = 0xFE;  // above every vCPU's APIC id (<= 0xFD)
inline constexpr uint8_t kIrqPit = 0;       // ISA IRQ; wired to IOAPIC pin 2 (override in MADT)
inline constexpr uint8_t kIrqCom1 = 4;
inline constexpr uint8_t kIrqRtc = 8;
inline constexpr uint8_t kIrqAcpiSci = 9;
inline constexpr uint8_t kIrqKeyboard = 1;
inline constexpr uint8_t kIrqVirtioBase = 16;  // virtio-mmio slot i uses GSI 16 + i (PCI-style)

// The IOAPIC pin an ISA IRQ arrives on: identity except the PIT.
constexpr uint32_t IsaIrqToGsi(uint8_t irq) { return irq == kIrqPit ? 2 : irq; }

// --- RAM split ---------------------------------------------------------------------
// Guest RAM fills [0, kHoleStart) first, then continues at 4 GiB.
constexpr uint64_t LowRamBytes(uint64_t ram_bytes) {
  return std::min(ram_bytes, kHoleStart.value());
}
constexpr uint64_t HighRamBytes(uint64_t ram_bytes) { return ram_bytes - LowRamBytes(ram_bytes); }

static_assert(kPd.value() + kIdentityMapGiB * kPageSize <= kCmdline.value());
static_assert(kCmdline.value() + kCmdlineMax <= kEbda.value());
static_assert(kAcpiTables.value() + kAcpiTablesMax <= kHighMemory.value());
static_assert(kVirtioMmioBase.value() + kVirtioMmioSlots * kVirtioMmioSize <= kIoapic.value());

}  // namespace dvm::layout

#endif  // DVM_VMM_LAYOUT_LAYOUT_H_
