#include "vmm/boot/long_mode.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "dvm/types.h"
#include "vmm/boot/bytes.h"
#include "vmm/layout/layout.h"

namespace dvm::boot {
namespace {

constexpr uint64_t kPtePresent = 1ull << 0;
constexpr uint64_t kPteWritable = 1ull << 1;
constexpr uint64_t kPtePageSize = 1ull << 7;  // 2 MiB page in a PD entry
constexpr uint64_t kTwoMiB = 2 * kMiB;

Segment FlatSegment(uint16_t selector, uint8_t type, bool code) {
  Segment s;
  s.base = 0;
  s.limit = 0xFFFFFFFF;
  s.selector = selector;
  s.type = type;
  s.present = true;
  s.s = true;
  s.l = code;    // 64-bit code segment
  s.db = !code;  // L and D/B must not both be set
  s.g = true;
  return s;
}

}  // namespace

uint64_t GdtEntry(const Segment& segment) {
  // Limit is stored in 20 bits, in pages when G is set.
  const uint64_t limit = segment.g ? (segment.limit >> 12) : segment.limit;
  const uint64_t base = segment.base;
  uint64_t entry = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16);
  entry |= uint64_t{segment.type & 0xFu} << 40;
  entry |= uint64_t{segment.s} << 44;
  entry |= uint64_t{segment.dpl & 3u} << 45;
  entry |= uint64_t{segment.present} << 47;
  entry |= ((limit >> 16) & 0xF) << 48;
  entry |= uint64_t{segment.l} << 53;
  entry |= uint64_t{segment.db} << 54;
  entry |= uint64_t{segment.g} << 55;
  entry |= ((base >> 24) & 0xFF) << 56;
  return entry;
}

BootCpuState LongModeState() {
  BootCpuState st;
  st.cs = FlatSegment(kBootCsSelector, 0xB, /*code=*/true);   // execute/read, accessed
  st.ds = FlatSegment(kBootDsSelector, 0x3, /*code=*/false);  // read/write, accessed
  st.es = st.fs = st.gs = st.ss = st.ds;
  // VMX insists on a usable busy TSS and an LDT marked unusable.
  st.tr.selector = kBootTssSelector;
  st.tr.type = 0xB;  // 64-bit busy TSS
  st.tr.present = true;
  st.tr.limit = 0x67;
  st.ldt.type = 0x2;
  st.ldt.present = true;
  st.ldt.unusable = true;
  st.gdt_base = layout::kGdt.value();
  st.gdt_limit = kGdtEntries * 8 - 1;
  st.cr0 = kCr0Pe | kCr0Et | kCr0Pg;
  st.cr3 = layout::kPml4.value();
  st.cr4 = kCr4Pae;
  st.efer = kEferLme | kEferLma;
  return st;
}

absl::Status WriteLongModeTables(std::span<uint8_t> low_ram) {
  const uint64_t tables_end = layout::kPd.value() + layout::kIdentityMapGiB * kPageSize;
  if (low_ram.size() < tables_end) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%d bytes of guest RAM cannot hold the boot page tables", low_ram.size()));
  }
  const BootCpuState st = LongModeState();
  const uint64_t gdt[kGdtEntries] = {0, 0, GdtEntry(st.cs), GdtEntry(st.ds), GdtEntry(st.tr), 0};
  for (size_t i = 0; i < kGdtEntries; ++i) Store(low_ram, layout::kGdt.value() + i * 8, gdt[i]);

  std::fill_n(low_ram.begin() + layout::kPml4.value(), tables_end - layout::kPml4.value(), 0);
  Store<uint64_t>(low_ram, layout::kPml4.value(), layout::kPdpt.value() | kPtePresent | kPteWritable);
  for (uint64_t gib = 0; gib < layout::kIdentityMapGiB; ++gib) {
    const uint64_t pd = layout::kPd.value() + gib * kPageSize;
    Store<uint64_t>(low_ram, layout::kPdpt.value() + gib * 8, pd | kPtePresent | kPteWritable);
    for (uint64_t i = 0; i < 512; ++i) {
      const uint64_t addr = gib * kGiB + i * kTwoMiB;
      Store<uint64_t>(low_ram, pd + i * 8, addr | kPtePresent | kPteWritable | kPtePageSize);
    }
  }
  return absl::OkStatus();
}

}  // namespace dvm::boot
