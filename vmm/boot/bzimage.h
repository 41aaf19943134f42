// Parsing a Linux x86 bzImage (Documentation/arch/x86/boot.rst).
//
// A bzImage is a real-mode setup part of (setup_sects + 1) sectors, whose
// setup header at 0x1f1 describes the kernel, followed by the protected-mode
// kernel that goes at 1 MiB. dvm enters the kernel at its 64-bit entry, so it
// needs boot protocol 2.06+ (cmdline_size) and a 64-bit kernel (XLF_KERNEL_64).
#ifndef DVM_VMM_BOOT_BZIMAGE_H_
#define DVM_VMM_BOOT_BZIMAGE_H_

#include <cstdint>
#include <span>

#include "absl/status/statusor.h"

namespace dvm::boot {

// Offsets into the bzImage file, which are also the offsets into boot_params
// (the setup header sits at the same place in both).
namespace hdr {
inline constexpr size_t kSetupSects = 0x1F1;
inline constexpr size_t kVidMode = 0x1FA;
inline constexpr size_t kBootFlag = 0x1FE;     // 0xAA55
inline constexpr size_t kJump = 0x200;         // byte 0x201 + 0x202 = end of the header
inline constexpr size_t kMagic = 0x202;        // "HdrS"
inline constexpr size_t kVersion = 0x206;
inline constexpr size_t kTypeOfLoader = 0x210;
inline constexpr size_t kLoadFlags = 0x211;
inline constexpr size_t kCode32Start = 0x214;
inline constexpr size_t kRamdiskImage = 0x218;
inline constexpr size_t kRamdiskSize = 0x21C;
inline constexpr size_t kHeapEndPtr = 0x224;
inline constexpr size_t kCmdLinePtr = 0x228;
inline constexpr size_t kInitrdAddrMax = 0x22C;
inline constexpr size_t kKernelAlignment = 0x230;
inline constexpr size_t kRelocatableKernel = 0x234;
inline constexpr size_t kXLoadFlags = 0x236;
inline constexpr size_t kCmdlineSize = 0x238;
inline constexpr size_t kPrefAddress = 0x258;
inline constexpr size_t kInitSize = 0x260;
inline constexpr size_t kMinHeaderEnd = 0x264;  // through init_size (protocol 2.10)

inline constexpr uint32_t kMagicValue = 0x53726448;  // "HdrS" little-endian
inline constexpr uint16_t kBootFlagValue = 0xAA55;
inline constexpr uint16_t kMinVersion = 0x0206;
inline constexpr uint8_t kLoadedHigh = 0x01;
inline constexpr uint16_t kXlfKernel64 = 0x01;
inline constexpr uint16_t kXlfCanBeLoadedAbove4G = 0x02;
inline constexpr size_t kSectorSize = 512;
inline constexpr size_t kEntry64Offset = 0x200;  // 64-bit entry from the load address
}  // namespace hdr

struct BzImage {
  uint16_t version = 0;        // 0x020F is 2.15
  uint8_t loadflags = 0;
  uint16_t xloadflags = 0;
  uint32_t initrd_addr_max = 0;  // highest address the initrd's last byte may have
  uint32_t kernel_alignment = 0;
  bool relocatable = false;
  uint32_t cmdline_size = 0;     // longest command line, without its NUL
  uint64_t pref_address = 0;     // where the kernel wants to run (protocol 2.10+)
  uint32_t init_size = 0;        // bytes it needs from there while decompressing
  std::span<const uint8_t> setup_header;    // file bytes [0x1f1, end of header)
  std::span<const uint8_t> protected_mode;  // file bytes after the setup sectors
};

// Checks the header and splits the file. The spans point into `file`.
absl::StatusOr<BzImage> ParseBzImage(std::span<const uint8_t> file);

}  // namespace dvm::boot

#endif  // DVM_VMM_BOOT_BZIMAGE_H_
