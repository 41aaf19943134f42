// The e820 memory map and the boot_params "zero page" handed to Linux in %rsi.
#ifndef DVM_VMM_BOOT_BOOT_PARAMS_H_
#define DVM_VMM_BOOT_BOOT_PARAMS_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "dvm/types.h"
#include "vmm/boot/bzimage.h"

namespace dvm::boot {

// boot_params offsets that are not part of the setup header (see zero-page.rst).
namespace zp {
inline constexpr size_t kSize = 4096;
inline constexpr size_t kAcpiRsdpAddr = 0x070;
inline constexpr size_t kExtRamdiskImage = 0x0C0;
inline constexpr size_t kExtRamdiskSize = 0x0C4;
inline constexpr size_t kExtCmdLinePtr = 0x0C8;
inline constexpr size_t kE820Entries = 0x1E8;
inline constexpr size_t kE820Table = 0x2D0;
inline constexpr size_t kE820EntrySize = 20;  // packed {u64 addr, u64 size, u32 type}
inline constexpr size_t kE820Max = 128;
static_assert(kE820Table + kE820Max * kE820EntrySize <= kSize);
}  // namespace zp

enum class E820Type : uint32_t { kRam = 1, kReserved = 2, kAcpi = 3, kNvs = 4 };

struct E820Entry {
  Gpa addr;
  uint64_t size = 0;
  E820Type type = E820Type::kRam;
  bool operator==(const E820Entry&) const = default;
};

// The map for a guest with `ram_bytes` of RAM laid out as in layout.h: base
// memory, the reserved EBDA/BIOS area, RAM to the hole, RAM above 4 GiB.
std::vector<E820Entry> BuildE820(uint64_t ram_bytes);

struct BootParamsConfig {
  Gpa cmdline;
  Gpa initrd;            // ignored when initrd_size is 0
  uint64_t initrd_size = 0;
  std::vector<E820Entry> e820;
  Gpa acpi_rsdp{0};  // written when nonzero and the kernel speaks protocol 2.14+
};

// Fills a zeroed 4 KiB zero page: the kernel's own setup header, then what a
// boot loader must set (loader type, command line, initrd, e820 map).
absl::Status WriteBootParams(std::span<uint8_t> zero_page, const BzImage& kernel,
                             const BootParamsConfig& config);

}  // namespace dvm::boot

#endif  // DVM_VMM_BOOT_BOOT_PARAMS_H_
