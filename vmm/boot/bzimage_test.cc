#include "vmm/boot/bzimage.h"

#include <cstdlib>
#include <cstring>
#include <fstream>

#include "gtest/gtest.h"
#include "dvm/types.h"
#include "vmm/boot/linux_loader.h"
#include "vmm/boot/test_bzimage.h"

namespace dvm::boot {
namespace {

using testing::MakeBzImage;

template <typename T>
void Put(std::vector<uint8_t>& image, size_t off, T v) {
  std::memcpy(image.data() + off, &v, sizeof(v));
}

TEST(BzImageTest, ParsesValidHeader) {
  auto file = MakeBzImage(1000);
  auto image = ParseBzImage(file);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->version, 0x020F);
  EXPECT_EQ(image->protected_mode.size(), 1000u);
  EXPECT_EQ(image->protected_mode.data(), file.data() + 5 * 512);
  EXPECT_EQ(image->setup_header.size(), 0x26Cu - 0x1F1u);
  EXPECT_EQ(image->cmdline_size, 2047u);
  EXPECT_EQ(image->initrd_addr_max, 0x7FFFFFFFu);
  EXPECT_TRUE(image->relocatable);
}

TEST(BzImageTest, SetupSectsZeroMeansFour) {
  auto file = MakeBzImage(1000);
  Put(file, hdr::kSetupSects, uint8_t{0});
  auto image = ParseBzImage(file);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->protected_mode.size(), 1000u);
}

TEST(BzImageTest, RejectsMissingMagic) {
  auto file = MakeBzImage();
  Put(file, hdr::kMagic, uint32_t{0x464C457F});  // an ELF file, say
  auto image = ParseBzImage(file);
  EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(image.status().message().find("HdrS"), std::string::npos) << image.status();
}

TEST(BzImageTest, RejectsOldProtocol) {
  auto file = MakeBzImage();
  Put(file, hdr::kVersion, uint16_t{0x0205});
  auto image = ParseBzImage(file);
  EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(image.status().message().find("2.05"), std::string::npos) << image.status();
}

TEST(BzImageTest, Rejects32BitKernel) {
  auto file = MakeBzImage();
  Put(file, hdr::kXLoadFlags, uint16_t{0});
  auto image = ParseBzImage(file);
  EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(image.status().message().find("XLF_KERNEL_64"), std::string::npos) << image.status();
}

TEST(BzImageTest, RejectsTruncatedFiles) {
  auto file = MakeBzImage();
  EXPECT_FALSE(ParseBzImage(std::span(file).first(0x100)).ok());
  EXPECT_FALSE(ParseBzImage(std::span(file).first(5 * 512)).ok());  // no payload at all
  Put(file, hdr::kSetupSects, uint8_t{200});  // setup claims more than the file
  EXPECT_FALSE(ParseBzImage(file).ok());
  EXPECT_FALSE(ParseBzImage({}).ok());
}

TEST(BzImageTest, RejectsZImage) {
  auto file = MakeBzImage();
  Put(file, hdr::kLoadFlags, uint8_t{0});
  EXPECT_EQ(ParseBzImage(file).status().code(), absl::StatusCode::kInvalidArgument);
}

// Parses Debian's kernel when DVM_TEST_VMLINUZ names one, e.g. from
// `apt-get download linux-image-6.1.0-*-amd64` and dpkg-deb -x.
TEST(BzImageTest, ParsesRealVmlinuzIfPresent) {
  const char* path = std::getenv("DVM_TEST_VMLINUZ");
  if (path == nullptr || *path == 0) GTEST_SKIP() << "DVM_TEST_VMLINUZ not set";
  std::ifstream in(path, std::ios::binary);
  if (!in) GTEST_SKIP() << "cannot open " << path;
  in.seekg(0, std::ios::end);
  std::vector<uint8_t> file(static_cast<size_t>(in.tellg()));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(file.data()), static_cast<std::streamsize>(file.size()));
  auto image = ParseBzImage(file);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_GE(image->version, 0x020C);
  EXPECT_TRUE(image->xloadflags & hdr::kXlfKernel64);
  EXPECT_GT(image->init_size, image->protected_mode.size());
  EXPECT_TRUE(image->relocatable);

  // And it loads: not into 64 MiB (it decompresses above 16 MiB into
  // init_size bytes), but into 256 MiB with a command line and an initrd.
  std::vector<uint8_t> ram(64 * kMiB);
  LinuxBootConfig config{.kernel = file, .cmdline = "console=ttyS0", .ram_bytes = ram.size()};
  auto small = LoadLinux(ram, config);
  EXPECT_EQ(small.status().code(), absl::StatusCode::kResourceExhausted) << small.status();
  ram.assign(256 * kMiB, 0);
  std::vector<uint8_t> initrd(3 * kMiB, 0x5A);
  config.ram_bytes = ram.size();
  config.initrd = initrd;
  auto loaded = LoadLinux(ram, config);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->bsp.rip, 0x100200u);
  EXPECT_GE(loaded->initrd.value(), loaded->kernel_end.value());
  EXPECT_EQ(0, std::memcmp(ram.data() + 0x100000, image->protected_mode.data(), 4096));
}

}  // namespace
}  // namespace dvm::boot
