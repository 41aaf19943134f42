#include "vmm/boot/bzimage.h"

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "vmm/boot/bytes.h"

namespace dvm::boot {

absl::StatusOr<BzImage> ParseBzImage(std::span<const uint8_t> file) {
  if (file.size() < hdr::kMinHeaderEnd) {
    return absl::InvalidArgumentError(
        absl::StrFormat("kernel image of %d bytes is too short to be a bzImage", file.size()));
  }
  if (Load<uint32_t>(file, hdr::kMagic) != hdr::kMagicValue) {
    return absl::InvalidArgumentError("kernel image is not a bzImage: no \"HdrS\" magic at 0x202");
  }
  if (Load<uint16_t>(file, hdr::kBootFlag) != hdr::kBootFlagValue) {
    return absl::InvalidArgumentError("kernel image is not a bzImage: boot_flag is not 0xAA55");
  }
  BzImage image;
  image.version = Load<uint16_t>(file, hdr::kVersion);
  if (image.version < hdr::kMinVersion) {
    return absl::InvalidArgumentError(
        absl::StrFormat("bzImage boot protocol %d.%02d is too old; dvm needs 2.06 or later",
                        image.version >> 8, image.version & 0xFF));
  }
  image.loadflags = Load<uint8_t>(file, hdr::kLoadFlags);
  if (!(image.loadflags & hdr::kLoadedHigh)) {
    return absl::InvalidArgumentError("bzImage is a zImage (LOADED_HIGH clear); not supported");
  }
  // xloadflags and pref_address/init_size arrived with 2.12 and 2.10: a kernel
  // older than that has no 64-bit entry we could use.
  if (image.version < 0x020C) {
    return absl::InvalidArgumentError(
        absl::StrFormat("bzImage boot protocol %d.%02d has no 64-bit entry (needs 2.12+)",
                        image.version >> 8, image.version & 0xFF));
  }
  image.xloadflags = Load<uint16_t>(file, hdr::kXLoadFlags);
  if (!(image.xloadflags & hdr::kXlfKernel64)) {
    return absl::InvalidArgumentError("bzImage is not a 64-bit kernel (XLF_KERNEL_64 clear)");
  }
  image.initrd_addr_max = Load<uint32_t>(file, hdr::kInitrdAddrMax);
  image.kernel_alignment = Load<uint32_t>(file, hdr::kKernelAlignment);
  image.relocatable = Load<uint8_t>(file, hdr::kRelocatableKernel) != 0;
  image.cmdline_size = Load<uint32_t>(file, hdr::kCmdlineSize);
  image.pref_address = Load<uint64_t>(file, hdr::kPrefAddress);
  image.init_size = Load<uint32_t>(file, hdr::kInitSize);

  const size_t header_end = 0x202 + Load<uint8_t>(file, hdr::kJump + 1);
  if (header_end < hdr::kMinHeaderEnd) {
    return absl::InvalidArgumentError("bzImage setup header is shorter than its version implies");
  }
  // setup_sects == 0 means 4, for compatibility with ancient boot sectors.
  size_t setup_sects = Load<uint8_t>(file, hdr::kSetupSects);
  if (setup_sects == 0) setup_sects = 4;
  const size_t setup_bytes = (setup_sects + 1) * hdr::kSectorSize;
  if (header_end > setup_bytes || setup_bytes >= file.size()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("bzImage of %d bytes is truncated: setup part is %d bytes", file.size(),
                        setup_bytes));
  }
  image.setup_header = file.subspan(hdr::kSetupSects, header_end - hdr::kSetupSects);
  image.protected_mode = file.subspan(setup_bytes);
  return image;
}

}  // namespace dvm::boot
