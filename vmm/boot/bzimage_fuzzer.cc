// Feeds arbitrary bytes to the bzImage parser and, when it accepts them, to
// the loader: neither may read outside the file or write outside guest RAM.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "dvm/types.h"
#include "vmm/boot/bzimage.h"
#include "vmm/boot/linux_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> file(data, size);
  if (!dvm::boot::ParseBzImage(file).ok()) return 0;
  static std::vector<uint8_t> ram(24 * dvm::kMiB);
  dvm::boot::LinuxBootConfig config{.kernel = file, .initrd = file.first(size / 2),
                                    .cmdline = "console=ttyS0", .ram_bytes = ram.size()};
  (void)dvm::boot::LoadLinux(ram, config);
  return 0;
}
