// The CPU state for entering Linux at its 64-bit entry: our own GDT, identity
// page tables for the first 4 GiB, and the register values that go with them.
// Pure data; the KVM layer turns BootCpuState into kvm_regs/kvm_sregs.
#ifndef DVM_VMM_BOOT_LONG_MODE_H_
#define DVM_VMM_BOOT_LONG_MODE_H_

#include <cstdint>
#include <span>

#include "absl/status/status.h"

namespace dvm::boot {

inline constexpr uint16_t kBootCsSelector = 0x10;  // __BOOT_CS, as boot.rst requires
inline constexpr uint16_t kBootDsSelector = 0x18;  // __BOOT_DS
inline constexpr uint16_t kBootTssSelector = 0x20;
inline constexpr size_t kGdtEntries = 6;  // null, null, code, data, 16-byte TSS

inline constexpr uint64_t kCr0Pe = 1ull << 0;
inline constexpr uint64_t kCr0Et = 1ull << 4;
inline constexpr uint64_t kCr0Pg = 1ull << 31;
inline constexpr uint64_t kCr4Pae = 1ull << 5;
inline constexpr uint64_t kEferLme = 1ull << 8;
inline constexpr uint64_t kEferLma = 1ull << 10;

// A segment register as KVM's kvm_segment describes it.
struct Segment {
  uint64_t base = 0;
  uint32_t limit = 0;
  uint16_t selector = 0;
  uint8_t type = 0;
  bool present = false;
  uint8_t dpl = 0;
  bool db = false;  // default operand size (32-bit)
  bool s = false;   // code/data rather than system
  bool l = false;   // 64-bit code
  bool g = false;   // limit in 4 KiB units
  bool unusable = false;
};

struct BootCpuState {
  uint64_t rip = 0;
  uint64_t rsp = 0;
  uint64_t rsi = 0;  // boot_params
  uint64_t rflags = 0x2;  // reserved bit 1; IF clear as the protocol requires
  uint64_t cr0 = 0, cr3 = 0, cr4 = 0, efer = 0;
  Segment cs, ds, es, fs, gs, ss, tr, ldt;
  uint64_t gdt_base = 0;
  uint16_t gdt_limit = 0;
  uint64_t idt_base = 0;
  uint16_t idt_limit = 0;
};

// 64-bit GDT descriptor for a segment (the 8-byte form; TSS high half is zero
// below 4 GiB).
uint64_t GdtEntry(const Segment& segment);

// Writes the GDT and the page tables at their layout.h addresses into
// `low_ram` (guest memory from GPA 0) and returns the long-mode state with
// rip/rsi/rsp still zero for the caller to fill.
absl::Status WriteLongModeTables(std::span<uint8_t> low_ram);
BootCpuState LongModeState();

}  // namespace dvm::boot

#endif  // DVM_VMM_BOOT_LONG_MODE_H_
