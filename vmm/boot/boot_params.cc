#include "vmm/boot/boot_params.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "vmm/boot/bytes.h"
#include "vmm/layout/layout.h"

namespace dvm::boot {

std::vector<E820Entry> BuildE820(uint64_t ram_bytes) {
  std::vector<E820Entry> map;
  const uint64_t low = layout::LowRamBytes(ram_bytes);
  map.push_back({Gpa(0), layout::kEbda.value(), E820Type::kRam});
  map.push_back({layout::kEbda, layout::kHighMemory.value() - layout::kEbda.value(),
                 E820Type::kReserved});
  if (low > layout::kHighMemory.value()) {
    map.push_back({layout::kHighMemory, low - layout::kHighMemory.value(), E820Type::kRam});
  }
  if (const uint64_t high = layout::HighRamBytes(ram_bytes); high > 0) {
    map.push_back({layout::kHoleEnd, high, E820Type::kRam});
  }
  return map;
}

absl::Status WriteBootParams(std::span<uint8_t> zero_page, const BzImage& kernel,
                             const BootParamsConfig& config) {
  if (zero_page.size() != zp::kSize) {
    return absl::InvalidArgumentError("zero page must be 4096 bytes");
  }
  if (config.e820.size() > zp::kE820Max) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%d e820 entries, boot_params holds %d", config.e820.size(), zp::kE820Max));
  }
  std::fill(zero_page.begin(), zero_page.end(), 0);
  std::memcpy(zero_page.data() + hdr::kSetupSects, kernel.setup_header.data(),
              std::min(kernel.setup_header.size(), zp::kSize - hdr::kSetupSects));

  Store<uint16_t>(zero_page, hdr::kVidMode, 0xFFFF);  // "normal" text mode
  Store<uint8_t>(zero_page, hdr::kTypeOfLoader, 0xFF);  // undefined boot loader
  // Entering at the 64-bit entry, the kernel sets up its own stack and heap;
  // keep only LOADED_HIGH and clear the flags that talk about the real-mode part.
  Store<uint8_t>(zero_page, hdr::kLoadFlags, hdr::kLoadedHigh);
  Store<uint32_t>(zero_page, hdr::kCode32Start, static_cast<uint32_t>(layout::kKernelLoad.value()));

  Store<uint32_t>(zero_page, hdr::kCmdLinePtr, static_cast<uint32_t>(config.cmdline.value()));
  Store<uint32_t>(zero_page, zp::kExtCmdLinePtr, static_cast<uint32_t>(config.cmdline.value() >> 32));
  if (config.initrd_size > 0) {
    Store<uint32_t>(zero_page, hdr::kRamdiskImage, static_cast<uint32_t>(config.initrd.value()));
    Store<uint32_t>(zero_page, zp::kExtRamdiskImage, static_cast<uint32_t>(config.initrd.value() >> 32));
    Store<uint32_t>(zero_page, hdr::kRamdiskSize, static_cast<uint32_t>(config.initrd_size));
    Store<uint32_t>(zero_page, zp::kExtRamdiskSize, static_cast<uint32_t>(config.initrd_size >> 32));
  }

  if (config.acpi_rsdp.value() != 0 && kernel.version >= 0x020E) {
    Store<uint64_t>(zero_page, zp::kAcpiRsdpAddr, config.acpi_rsdp.value());
  }
  Store<uint8_t>(zero_page, zp::kE820Entries, static_cast<uint8_t>(config.e820.size()));
  for (size_t i = 0; i < config.e820.size(); ++i) {
    const size_t at = zp::kE820Table + i * zp::kE820EntrySize;
    Store<uint64_t>(zero_page, at, config.e820[i].addr.value());
    Store<uint64_t>(zero_page, at + 8, config.e820[i].size);
    Store<uint32_t>(zero_page, at + 16, static_cast<uint32_t>(config.e820[i].type));
  }
  return absl::OkStatus();
}

}  // namespace dvm::boot
