#include "vmm/boot/linux_loader.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "dvm/status.h"
#include "vmm/boot/boot_params.h"
#include "vmm/boot/bzimage.h"
#include "vmm/layout/layout.h"

namespace dvm::boot {

absl::StatusOr<LinuxBootResult> LoadLinux(std::span<uint8_t> low_ram,
                                          const LinuxBootConfig& config) {
  if (low_ram.size() != layout::LowRamBytes(config.ram_bytes)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "low RAM span is %d bytes, expected %d for %d bytes of RAM", low_ram.size(),
        layout::LowRamBytes(config.ram_bytes), config.ram_bytes));
  }
  ASSIGN_OR_RETURN(const BzImage kernel, ParseBzImage(config.kernel));
  const uint64_t load_end =
      config.load_limit == 0 ? low_ram.size() : std::min<uint64_t>(config.load_limit, low_ram.size());

  // The kernel is copied to 1 MiB, but decompresses into [pref_address,
  // pref_address + init_size) when it is above the load address.
  const uint64_t load = layout::kKernelLoad.value();
  const uint64_t run = std::max(load, kernel.pref_address);
  const uint64_t kernel_end =
      std::max(load + kernel.protected_mode.size(), run + uint64_t{kernel.init_size});
  if (kernel_end > load_end) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "guest RAM too small for the kernel: it needs %d MiB %s, have %d MiB", AlignUp(kernel_end, kMiB) / kMiB,
        load_end < low_ram.size() ? "in node 0's NUMA slice" : "below the 32-bit hole", load_end / kMiB));
  }

  const size_t cmdline_max =
      std::min<size_t>(kernel.cmdline_size, layout::kCmdlineMax - 1);
  if (config.cmdline.size() > cmdline_max) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "kernel command line is %d bytes; this kernel accepts at most %d", config.cmdline.size(),
        cmdline_max));
  }

  Gpa initrd_addr(0);
  if (!config.initrd.empty()) {
    // The initrd goes as high as allowed, page aligned, above the kernel.
    const uint64_t limit = std::min<uint64_t>(load_end, uint64_t{kernel.initrd_addr_max} + 1);
    const uint64_t room = limit > kernel_end ? limit - kernel_end : 0;
    if (config.initrd.size() > room) {
      return absl::ResourceExhaustedError(absl::StrFormat(
          "initrd of %d bytes does not fit: %d bytes free between the kernel end (0x%x) and "
          "min(%s, initrd_addr_max 0x%x)",
          config.initrd.size(), room, kernel_end,
          load_end < low_ram.size() ? "the end of node 0's NUMA slice" : "RAM end", kernel.initrd_addr_max));
    }
    initrd_addr = Gpa(AlignDown(limit - config.initrd.size(), kPageSize));
    if (initrd_addr.value() < kernel_end) {
      return absl::ResourceExhaustedError("initrd does not fit page-aligned above the kernel");
    }
    std::memcpy(low_ram.data() + initrd_addr.value(), config.initrd.data(), config.initrd.size());
  }

  std::memcpy(low_ram.data() + load, kernel.protected_mode.data(), kernel.protected_mode.size());
  uint8_t* cmdline = low_ram.data() + layout::kCmdline.value();
  std::memcpy(cmdline, config.cmdline.data(), config.cmdline.size());
  cmdline[config.cmdline.size()] = 0;

  BootParamsConfig params{.cmdline = layout::kCmdline,
                          .initrd = initrd_addr,
                          .initrd_size = config.initrd.size(),
                          .e820 = BuildE820(config.ram_bytes),
                          .acpi_rsdp = config.acpi_rsdp};
  RETURN_IF_ERROR(WriteBootParams(low_ram.subspan(layout::kBootParams.value(), zp::kSize), kernel,
                                  params));
  RETURN_IF_ERROR(WriteLongModeTables(low_ram));

  LinuxBootResult result;
  result.bsp = LongModeState();
  result.bsp.rip = load + hdr::kEntry64Offset;
  result.bsp.rsi = layout::kBootParams.value();
  result.bsp.rsp = layout::kBootStackTop.value();
  result.kernel_end = Gpa(kernel_end);
  result.initrd = initrd_addr;
  return result;
}

}  // namespace dvm::boot
