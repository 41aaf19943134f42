// Direct boot of a Linux bzImage: everything a VMM writes into guest RAM
// before the BSP's first KVM_RUN, and the BSP's register state.
#ifndef DVM_VMM_BOOT_LINUX_LOADER_H_
#define DVM_VMM_BOOT_LINUX_LOADER_H_

#include <cstdint>
#include <span>
#include <string_view>

#include "absl/status/statusor.h"
#include "dvm/types.h"
#include "vmm/boot/long_mode.h"

namespace dvm::boot {

struct LinuxBootConfig {
  std::span<const uint8_t> kernel;  // the bzImage file
  std::span<const uint8_t> initrd;  // may be empty
  std::string_view cmdline;
  uint64_t ram_bytes = 0;           // total guest RAM, for the e820 map
  // Everything the loader writes stays below this guest-physical address (0:
  // the end of low RAM). With NUMA homes that is the end of node 0's slice,
  // so that what was loaded starts on the node that holds it.
  uint64_t load_limit = 0;
  // Where the caller put the ACPI RSDP (layout::kAcpiRsdp after
  // WriteAcpiTables), passed in boot_params so the kernel need not scan; 0 =
  // let it scan.
  Gpa acpi_rsdp{0};
};

struct LinuxBootResult {
  BootCpuState bsp;   // rip at the 64-bit entry, rsi at boot_params
  Gpa kernel_end;     // end of what the kernel may use while decompressing
  Gpa initrd;         // where the initrd went (0 when none)
};

// Loads kernel, initrd, command line, boot_params, GDT and page tables into
// `low_ram`, the guest RAM below the 32-bit hole starting at GPA 0; its size
// must be layout::LowRamBytes(config.ram_bytes). Fails with InvalidArgument
// for a file that is not a usable bzImage, and with ResourceExhausted when the
// kernel, command line or initrd do not fit.
absl::StatusOr<LinuxBootResult> LoadLinux(std::span<uint8_t> low_ram,
                                          const LinuxBootConfig& config);

}  // namespace dvm::boot

#endif  // DVM_VMM_BOOT_LINUX_LOADER_H_
