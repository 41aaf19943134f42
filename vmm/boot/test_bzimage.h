// A synthetic bzImage for tests: a valid 2.15 header in front of a small
// protected-mode payload. Tests then break one field at a time.
#ifndef DVM_VMM_BOOT_TEST_BZIMAGE_H_
#define DVM_VMM_BOOT_TEST_BZIMAGE_H_

#include <cstdint>
#include <cstring>
#include <vector>

#include "vmm/boot/bzimage.h"

namespace dvm::boot::testing {

inline std::vector<uint8_t> MakeBzImage(size_t payload_bytes = 4096, uint32_t init_size = 0x100000,
                                        uint64_t pref_address = 0x1000000) {
  constexpr size_t kSetupSects = 4;
  std::vector<uint8_t> image((kSetupSects + 1) * hdr::kSectorSize + payload_bytes, 0);
  auto put = [&](size_t off, auto v) { std::memcpy(image.data() + off, &v, sizeof(v)); };
  put(hdr::kSetupSects, uint8_t{kSetupSects});
  put(hdr::kBootFlag, hdr::kBootFlagValue);
  put(hdr::kJump, uint8_t{0xEB});
  put(hdr::kJump + 1, uint8_t{0x6A});  // header ends at 0x26C, like 2.15 kernels
  put(hdr::kMagic, hdr::kMagicValue);
  put(hdr::kVersion, uint16_t{0x020F});
  put(hdr::kLoadFlags, hdr::kLoadedHigh);
  put(hdr::kInitrdAddrMax, uint32_t{0x7FFFFFFF});
  put(hdr::kKernelAlignment, uint32_t{0x200000});
  put(hdr::kRelocatableKernel, uint8_t{1});
  put(hdr::kXLoadFlags, uint16_t{hdr::kXlfKernel64 | hdr::kXlfCanBeLoadedAbove4G});
  put(hdr::kCmdlineSize, uint32_t{2047});
  put(hdr::kPrefAddress, pref_address);
  put(hdr::kInitSize, init_size);
  for (size_t i = 0; i < payload_bytes; ++i) {
    image[(kSetupSects + 1) * hdr::kSectorSize + i] = static_cast<uint8_t>(i * 7 + 1);
  }
  return image;
}

}  // namespace dvm::boot::testing

#endif  // DVM_VMM_BOOT_TEST_BZIMAGE_H_
