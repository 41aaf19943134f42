#include "vmm/boot/linux_loader.h"

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "vmm/boot/boot_params.h"
#include "vmm/boot/bytes.h"
#include "vmm/boot/test_bzimage.h"
#include "vmm/layout/layout.h"

namespace dvm::boot {
namespace {

using testing::MakeBzImage;

class LinuxLoaderTest : public ::testing::Test {
 protected:
  // 64 MiB with the default synthetic kernel (runs at 16 MiB, needs 1 MiB).
  std::vector<uint8_t> ram_ = std::vector<uint8_t>(64 * kMiB);
  std::vector<uint8_t> kernel_ = MakeBzImage(8192);
};

TEST_F(LinuxLoaderTest, LoadsKernelCmdlineInitrdAndBootParams) {
  std::vector<uint8_t> initrd(3 * kPageSize + 5, 0xAB);
  LinuxBootConfig config{.kernel = kernel_, .initrd = initrd, .cmdline = "console=ttyS0",
                         .ram_bytes = ram_.size()};
  auto result = LoadLinux(ram_, config);
  ASSERT_TRUE(result.ok()) << result.status();

  // Payload at 1 MiB, entered at +0x200 with rsi = boot_params.
  EXPECT_EQ(0, std::memcmp(ram_.data() + 0x100000, kernel_.data() + 5 * 512, 8192));
  EXPECT_EQ(result->bsp.rip, 0x100200u);
  EXPECT_EQ(result->bsp.rsi, layout::kBootParams.value());
  EXPECT_EQ(std::string(reinterpret_cast<char*>(ram_.data() + layout::kCmdline.value())),
            "console=ttyS0");

  // initrd at the top of RAM, page aligned, recorded in boot_params.
  std::span<const uint8_t> zp(ram_.data() + layout::kBootParams.value(), zp::kSize);
  const uint32_t initrd_at = Load<uint32_t>(zp, hdr::kRamdiskImage);
  EXPECT_EQ(initrd_at, result->initrd.value());
  EXPECT_EQ(initrd_at % kPageSize, 0u);
  EXPECT_LE(initrd_at + initrd.size(), ram_.size());
  EXPECT_GT(initrd_at + initrd.size(), ram_.size() - kPageSize);
  EXPECT_EQ(Load<uint32_t>(zp, hdr::kRamdiskSize), initrd.size());
  EXPECT_EQ(ram_[initrd_at], 0xAB);
  EXPECT_EQ(Load<uint32_t>(zp, hdr::kCmdLinePtr), layout::kCmdline.value());
  EXPECT_EQ(Load<uint32_t>(zp, hdr::kMagic), hdr::kMagicValue);  // header copied
  EXPECT_EQ(Load<uint8_t>(zp, hdr::kTypeOfLoader), 0xFF);
  EXPECT_EQ(Load<uint8_t>(zp, zp::kE820Entries), 3);
  EXPECT_EQ(Load<uint64_t>(zp, zp::kAcpiRsdpAddr), 0u);  // not asked for
}

TEST_F(LinuxLoaderTest, PassesRsdpAddress) {
  LinuxBootConfig config{.kernel = kernel_, .cmdline = "", .ram_bytes = ram_.size(),
                         .acpi_rsdp = layout::kAcpiRsdp};
  ASSERT_TRUE(LoadLinux(ram_, config).ok());
  std::span<const uint8_t> zp(ram_.data() + layout::kBootParams.value(), zp::kSize);
  EXPECT_EQ(Load<uint64_t>(zp, zp::kAcpiRsdpAddr), layout::kAcpiRsdp.value());
}

TEST_F(LinuxLoaderTest, E820SplitsAroundTheHole) {
  const uint64_t ram = 4 * kGiB;
  auto map = BuildE820(ram);
  ASSERT_EQ(map.size(), 4u);
  EXPECT_EQ(map[0], (E820Entry{Gpa(0), 0x9FC00, E820Type::kRam}));
  EXPECT_EQ(map[1], (E820Entry{Gpa(0x9FC00), 0x100000 - 0x9FC00, E820Type::kReserved}));
  EXPECT_EQ(map[2], (E820Entry{Gpa(0x100000), 3 * kGiB - kMiB, E820Type::kRam}));
  EXPECT_EQ(map[3], (E820Entry{Gpa(4 * kGiB), 1 * kGiB, E820Type::kRam}));
  EXPECT_EQ(BuildE820(512 * kMiB).size(), 3u);
}

TEST_F(LinuxLoaderTest, WritesIdentityPageTablesAndGdt) {
  LinuxBootConfig config{.kernel = kernel_, .cmdline = "", .ram_bytes = ram_.size()};
  auto result = LoadLinux(ram_, config);
  ASSERT_TRUE(result.ok()) << result.status();
  std::span<const uint8_t> mem(ram_);
  EXPECT_EQ(result->bsp.cr3, layout::kPml4.value());
  EXPECT_EQ(Load<uint64_t>(mem, layout::kPml4.value()), layout::kPdpt.value() | 3);
  // Walk a few addresses through the tables: each maps to itself.
  for (uint64_t addr : {uint64_t{0}, uint64_t{0x100000}, uint64_t{0x3FFFFFFF}, 3 * kGiB + 5,
                        4 * kGiB - 1}) {
    const uint64_t pdpte = Load<uint64_t>(mem, layout::kPdpt.value() + ((addr >> 30) & 511) * 8);
    ASSERT_TRUE(pdpte & 1) << addr;
    const uint64_t pde = Load<uint64_t>(mem, (pdpte & ~0xFFFull) + ((addr >> 21) & 511) * 8);
    ASSERT_EQ(pde & 0x81, 0x81u) << addr;  // present, 2 MiB
    EXPECT_EQ((pde & ~0x1FFFFFull) | (addr & 0x1FFFFF), addr);
  }
  const uint64_t code = Load<uint64_t>(mem, layout::kGdt.value() + kBootCsSelector);
  const uint64_t data = Load<uint64_t>(mem, layout::kGdt.value() + kBootDsSelector);
  EXPECT_EQ(code, 0x00AF9B000000FFFFull);  // flat 64-bit code, execute/read
  EXPECT_EQ(data, 0x00CF93000000FFFFull);  // flat data, read/write
  EXPECT_EQ(result->bsp.efer & (kEferLme | kEferLma), kEferLme | kEferLma);
  EXPECT_TRUE(result->bsp.cr0 & kCr0Pg);
  EXPECT_TRUE(result->bsp.cr4 & kCr4Pae);
  EXPECT_EQ(result->bsp.cs.selector, 0x10);
  EXPECT_TRUE(result->bsp.cs.l);
  EXPECT_EQ(result->bsp.ds.selector, 0x18);
  EXPECT_EQ(result->bsp.rflags & (1u << 9), 0u);  // interrupts off
}

TEST_F(LinuxLoaderTest, RejectsMemoryTooSmallForKernel) {
  auto big = MakeBzImage(4096, /*init_size=*/60 * kMiB);  // runs at 16 MiB: needs 76 MiB
  LinuxBootConfig config{.kernel = big, .cmdline = "", .ram_bytes = ram_.size()};
  auto result = LoadLinux(ram_, config);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(result.status().message().find("too small for the kernel"), std::string::npos)
      << result.status();
}

TEST_F(LinuxLoaderTest, RejectsInitrdTooLarge) {
  std::vector<uint8_t> initrd(48 * kMiB);  // kernel occupies up to 17 MiB of 64
  LinuxBootConfig config{.kernel = kernel_, .initrd = initrd, .cmdline = "", .ram_bytes = ram_.size()};
  auto result = LoadLinux(ram_, config);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(result.status().message().find("initrd"), std::string::npos) << result.status();
}

TEST_F(LinuxLoaderTest, RespectsInitrdAddrMax) {
  auto kernel = MakeBzImage();
  const uint32_t max = 32 * kMiB - 1;
  std::memcpy(kernel.data() + hdr::kInitrdAddrMax, &max, sizeof(max));
  std::vector<uint8_t> initrd(kMiB);
  LinuxBootConfig config{.kernel = kernel, .initrd = initrd, .cmdline = "", .ram_bytes = ram_.size()};
  auto result = LoadLinux(ram_, config);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_LE(result->initrd.value() + initrd.size(), 32 * kMiB);
  std::vector<uint8_t> huge(16 * kMiB);  // 17..32 MiB is only 15 MiB
  config.initrd = huge;
  EXPECT_EQ(LoadLinux(ram_, config).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(LinuxLoaderTest, KeepsEverythingBelowTheLoadLimit) {
  // RAM is 64 MiB; node 0's NUMA slice ends at 24 MiB.
  std::vector<uint8_t> initrd(kMiB, 0xCD);
  LinuxBootConfig config{.kernel = kernel_, .initrd = initrd, .cmdline = "", .ram_bytes = ram_.size(),
                         .load_limit = 24 * kMiB};
  auto result = LoadLinux(ram_, config);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_LE(result->initrd.value() + initrd.size(), 24 * kMiB);
  EXPECT_GT(result->initrd.value() + initrd.size(), 24 * kMiB - kPageSize);
  EXPECT_EQ(ram_[result->initrd.value()], 0xCD);
  for (uint64_t i = 24 * kMiB; i < ram_.size(); i += kPageSize) ASSERT_EQ(ram_[i], 0) << i;

  std::vector<uint8_t> big(8 * kMiB);  // 17..24 MiB has 7 MiB free
  config.initrd = big;
  auto too_big = LoadLinux(ram_, config);
  EXPECT_EQ(too_big.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(too_big.status().message().find("node 0's NUMA slice"), std::string::npos) << too_big.status();

  config.initrd = {};
  config.load_limit = 16 * kMiB;  // the kernel runs at 16 MiB: no room
  auto no_kernel = LoadLinux(ram_, config);
  EXPECT_EQ(no_kernel.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(no_kernel.status().message().find("node 0's NUMA slice"), std::string::npos) << no_kernel.status();
}

TEST_F(LinuxLoaderTest, RejectsLongCmdlineAndBadSpans) {
  std::string cmdline(2048, 'x');
  LinuxBootConfig config{.kernel = kernel_, .cmdline = cmdline, .ram_bytes = ram_.size()};
  EXPECT_EQ(LoadLinux(ram_, config).status().code(), absl::StatusCode::kInvalidArgument);
  config.cmdline = "";
  config.ram_bytes = 128 * kMiB;  // span does not match
  EXPECT_EQ(LoadLinux(ram_, config).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<uint8_t> not_a_kernel(100000, 0x90);
  config = {.kernel = not_a_kernel, .cmdline = "", .ram_bytes = ram_.size()};
  EXPECT_EQ(LoadLinux(ram_, config).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dvm::boot
