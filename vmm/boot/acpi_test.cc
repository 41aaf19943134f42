#include "vmm/boot/acpi.h"

#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "vmm/boot/bytes.h"
#include "vmm/layout/layout.h"

namespace dvm::boot {
namespace {

class AcpiTest : public ::testing::Test {
 protected:
  void Build(uint32_t vcpus, std::vector<AcpiNumaNode> numa = {}) {
    auto blob = BuildAcpiTables({.vcpu_count = vcpus, .numa = std::move(numa)}, layout::kAcpiTables);
    ASSERT_TRUE(blob.ok()) << blob.status();
    blob_ = std::move(*blob);
  }
  std::span<const uint8_t> At(uint64_t gpa) {
    return std::span<const uint8_t>(blob_.bytes).subspan(gpa - layout::kAcpiTables.value());
  }
  // A table by address, checked for signature, length and checksum.
  std::span<const uint8_t> Table(uint64_t gpa, const char* sig) {
    auto t = At(gpa);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(t.data()), 4), sig);
    const uint32_t len = Load<uint32_t>(t, 4);
    EXPECT_LE(len, t.size());
    t = t.first(len);
    EXPECT_EQ(AcpiChecksum(t), 0) << sig;
    return t;
  }
  AcpiBlob blob_;
};

TEST_F(AcpiTest, RsdpXsdtAndChecksums) {
  Build(4);
  EXPECT_EQ(blob_.rsdp, layout::kAcpiRsdp);
  EXPECT_GE(blob_.rsdp.value(), 0xE0000u);
  EXPECT_LT(blob_.rsdp.value() + 36, 0x100000u);
  auto rsdp = At(blob_.rsdp.value()).first(36);
  EXPECT_EQ(std::memcmp(rsdp.data(), "RSD PTR ", 8), 0);
  EXPECT_EQ(AcpiChecksum(rsdp.first(20)), 0);
  EXPECT_EQ(AcpiChecksum(rsdp), 0);
  EXPECT_EQ(rsdp[15], 2);
  auto xsdt = Table(Load<uint64_t>(rsdp, 24), "XSDT");
  ASSERT_EQ(xsdt.size(), 36u + 16u);
  auto rsdt = Table(Load<uint32_t>(rsdp, 16), "RSDT");
  EXPECT_EQ(Load<uint32_t>(rsdt, 36), Load<uint64_t>(xsdt, 36));
  Table(Load<uint64_t>(xsdt, 36), "FACP");
  Table(Load<uint64_t>(xsdt, 44), "APIC");
}

TEST_F(AcpiTest, FadtDescribesPowerOffAndReset) {
  Build(1);
  auto rsdp = At(blob_.rsdp.value());
  auto xsdt = Table(Load<uint64_t>(rsdp, 24), "XSDT");
  auto fadt = Table(Load<uint64_t>(xsdt, 36), "FACP");
  EXPECT_EQ(fadt.size(), 244u);
  EXPECT_EQ(Load<uint16_t>(fadt, 46), 9);        // SCI
  EXPECT_EQ(Load<uint32_t>(fadt, 48), 0u);       // no SMI_CMD
  EXPECT_EQ(Load<uint32_t>(fadt, 64), 0x604u);   // PM1a_CNT
  EXPECT_EQ(Load<uint64_t>(fadt, 172 + 4), 0x604u);
  EXPECT_EQ(Load<uint64_t>(fadt, 116 + 4), 0x64u);  // reset register
  EXPECT_EQ(fadt[128], 0xFE);
  auto dsdt = Table(Load<uint64_t>(fadt, 140), "DSDT");
  EXPECT_EQ(Load<uint32_t>(fadt, 40), Load<uint64_t>(fadt, 140));
  const std::string aml(reinterpret_cast<const char*>(dsdt.data()) + 36, dsdt.size() - 36);
  EXPECT_NE(aml.find("_S5_"), std::string::npos);
  auto facs = At(Load<uint64_t>(fadt, 132));
  EXPECT_EQ(std::memcmp(facs.data(), "FACS", 4), 0);
  EXPECT_EQ(Load<uint64_t>(fadt, 132) % 64, 0u);
}

TEST_F(AcpiTest, MadtListsEveryVcpuAndTheIoapic) {
  Build(7);
  auto rsdp = At(blob_.rsdp.value());
  auto xsdt = Table(Load<uint64_t>(rsdp, 24), "XSDT");
  auto madt = Table(Load<uint64_t>(xsdt, 44), "APIC");
  EXPECT_EQ(Load<uint32_t>(madt, 36), 0xFEE00000u);
  int lapics = 0, ioapics = 0, overrides = 0;
  for (size_t off = 44; off < madt.size(); off += madt[off + 1]) {
    ASSERT_GT(madt[off + 1], 0);
    switch (madt[off]) {
      case 0:
        EXPECT_EQ(madt[off + 3], lapics);  // APIC id
        EXPECT_EQ(madt[off + 4] & 1, 1);
        ++lapics;
        break;
      case 1:
        EXPECT_EQ(Load<uint32_t>(madt, off + 4), 0xFEC00000u);
        ++ioapics;
        break;
      case 2: ++overrides; break;
      default: break;
    }
  }
  EXPECT_EQ(lapics, 7);
  EXPECT_EQ(ioapics, 1);
  EXPECT_EQ(overrides, 2);
}

TEST_F(AcpiTest, OneNodeHasNoSratOrSlit) {
  Build(2, {{.apic_ids = {0, 1}, .memory = {{Gpa(0), 64 * kMiB}}}});
  auto xsdt = Table(Load<uint64_t>(At(blob_.rsdp.value()), 24), "XSDT");
  EXPECT_EQ(xsdt.size(), 36u + 16u);  // FADT and MADT only
}

TEST_F(AcpiTest, SratAndSlitDescribeTheNodes) {
  // Node 1's RAM straddles the 32-bit hole: two ranges.
  Build(4, {{.apic_ids = {0, 1}, .memory = {{Gpa(0), 2048 * kMiB}}},
            {.apic_ids = {2, 3}, .memory = {{Gpa(2048 * kMiB), 1024 * kMiB}, {Gpa(4096 * kMiB), 1024 * kMiB}}}});
  auto rsdp = At(blob_.rsdp.value());
  auto xsdt = Table(Load<uint64_t>(rsdp, 24), "XSDT");
  ASSERT_EQ(xsdt.size(), 36u + 4 * 8u);
  auto rsdt = Table(Load<uint32_t>(rsdp, 16), "RSDT");
  ASSERT_EQ(rsdt.size(), 36u + 4 * 4u);
  auto srat = Table(Load<uint64_t>(xsdt, 36 + 16), "SRAT");
  EXPECT_EQ(Load<uint32_t>(rsdt, 36 + 8), Load<uint64_t>(xsdt, 36 + 16));
  std::vector<std::pair<int, int>> cpus;            // (apic id, domain)
  std::vector<std::pair<uint64_t, int>> memory;     // (base, domain)
  uint64_t bytes = 0;
  for (size_t off = 48; off < srat.size(); off += srat[off + 1]) {
    ASSERT_GT(srat[off + 1], 0);
    if (srat[off] == 0) {
      ASSERT_EQ(srat[off + 1], 16);
      EXPECT_EQ(Load<uint32_t>(srat, off + 4) & 1, 1u);  // enabled
      cpus.emplace_back(srat[off + 3], srat[off + 2]);
    } else if (srat[off] == 1) {
      ASSERT_EQ(srat[off + 1], 40);
      EXPECT_EQ(Load<uint32_t>(srat, off + 28) & 1, 1u);
      memory.emplace_back(Load<uint64_t>(srat, off + 8), static_cast<int>(Load<uint32_t>(srat, off + 2)));
      bytes += Load<uint64_t>(srat, off + 16);
    }
  }
  EXPECT_EQ(cpus, (std::vector<std::pair<int, int>>{{0, 0}, {1, 0}, {2, 1}, {3, 1}}));
  EXPECT_EQ(memory, (std::vector<std::pair<uint64_t, int>>{{0, 0}, {2048 * kMiB, 1}, {4096 * kMiB, 1}}));
  EXPECT_EQ(bytes, 4096 * kMiB);
  auto slit = Table(Load<uint64_t>(xsdt, 36 + 24), "SLIT");
  ASSERT_EQ(Load<uint64_t>(slit, 36), 2u);
  ASSERT_EQ(slit.size(), 44u + 4u);
  EXPECT_EQ(slit[44], 10);
  EXPECT_EQ(slit[45], 100);
  EXPECT_EQ(slit[46], 100);
  EXPECT_EQ(slit[47], 10);
}

TEST_F(AcpiTest, SixtyFourNodesOf254VcpusFit) {
  std::vector<AcpiNumaNode> numa(64);
  for (uint32_t i = 0; i < 254; ++i) numa[i % 64].apic_ids.push_back(static_cast<uint8_t>(i));
  for (uint64_t n = 0; n < 64; ++n) {
    numa[n].memory = {{Gpa(n * 2 * kGiB), kGiB}, {Gpa(n * 2 * kGiB + kGiB), kGiB}};
  }
  Build(254, std::move(numa));
  EXPECT_LE(blob_.bytes.size(), layout::kAcpiTablesMax);
}

TEST_F(AcpiTest, RejectsBadArguments) {
  EXPECT_FALSE(BuildAcpiTables({.vcpu_count = 0}, layout::kAcpiTables).ok());
  EXPECT_FALSE(BuildAcpiTables({.vcpu_count = 255}, layout::kAcpiTables).ok());
  EXPECT_FALSE(BuildAcpiTables({.vcpu_count = 1}, Gpa(0xE0008)).ok());
  EXPECT_FALSE(BuildAcpiTables({.vcpu_count = 2, .numa = {{}, {}}, .remote_distance = 10}, layout::kAcpiTables).ok());
  EXPECT_TRUE(BuildAcpiTables({.vcpu_count = 254}, layout::kAcpiTables).ok());
  std::vector<uint8_t> tiny(0xE0000);
  EXPECT_FALSE(WriteAcpiTables(tiny, {.vcpu_count = 1}).ok());
  std::vector<uint8_t> ram(2 * kMiB);
  EXPECT_TRUE(WriteAcpiTables(ram, {.vcpu_count = 2}).ok());
}

}  // namespace
}  // namespace dvm::boot
