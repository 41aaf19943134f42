#include "vmm/boot/cpuid.h"

#include <algorithm>

#include "gtest/gtest.h"
#include "vmm/layout/layout.h"

namespace dvm::boot {
namespace {

std::vector<CpuidEntry> Supported() {
  return {
      {0, 0, 0, 0xD, 0x68747541, 0x444D4163, 0x69746E65},
      {1, 0, 0, 0x00A00F11, 0x00020800, cpuid_bits::kEcxX2Apic | cpuid_bits::kEcxTscDeadline | 1,
       0x178BFBFF},
      {0xB, 0, kCpuidFlagSignificantIndex, 1, 1, 0x100, 0},
      {0xB, 1, kCpuidFlagSignificantIndex, 0, 0, 0x201, 0},
      {kKvmCpuidSignature, 0, 0, kKvmCpuidFeatures, 0x4B4D564B, 0x564B4D56, 0x4D},
      {kKvmCpuidFeatures, 0, 0, 0x01FFFFFF, 0, 0, 1},
      {0x80000008, 0, 0, 0x3030, 0, 0x7003, 0},
      {0x8000001D, 0, kCpuidFlagSignificantIndex, 0x121, 0, 0, 0},  // L1d
      {0x8000001D, 3, kCpuidFlagSignificantIndex, 0x163, 0, 0, 0},  // L3
  };
}

const CpuidEntry& Find(const std::vector<CpuidEntry>& v, uint32_t fn, uint32_t index = 0) {
  auto it = std::find_if(v.begin(), v.end(),
                         [&](const CpuidEntry& e) { return e.function == fn && e.index == index; });
  EXPECT_NE(it, v.end()) << fn;
  return *it;
}

TEST(CpuidTest, SetsApicIdTopologyAndHypervisorBit) {
  auto out = AdjustCpuid(Supported(), 5, 6);
  ASSERT_TRUE(out.ok()) << out.status();
  const auto& leaf1 = Find(*out, 1);
  EXPECT_EQ(leaf1.ebx >> 24, 5u);
  EXPECT_EQ((leaf1.ebx >> 16) & 0xFF, 6u);
  EXPECT_TRUE(leaf1.ecx & cpuid_bits::kEcxHypervisor);
  EXPECT_FALSE(leaf1.ecx & cpuid_bits::kEcxX2Apic);
  EXPECT_FALSE(leaf1.ecx & cpuid_bits::kEcxTscDeadline);
  EXPECT_TRUE(leaf1.edx & cpuid_bits::kEdxHtt);
  EXPECT_EQ(leaf1.ecx & 1, 1u);  // other bits kept
  EXPECT_EQ(Find(*out, 0xB, 0).edx, 5u);
  EXPECT_EQ(Find(*out, 0xB, 1).eax, 3u);  // 6 cores need 3 id bits
  EXPECT_EQ(Find(*out, 0xB, 1).ebx, 6u);
  EXPECT_EQ(Find(*out, 0x80000008).ecx & 0xFF, 5u);
  EXPECT_EQ((Find(*out, 0x80000008).ecx >> 12) & 0xF, 3u);
}

TEST(CpuidTest, APackagePerVcpuHasNoSiblings) {
  auto out = AdjustCpuid(Supported(), 5, 6, CpuPackages::kPerVcpu);
  ASSERT_TRUE(out.ok()) << out.status();
  const auto& leaf1 = Find(*out, 1);
  EXPECT_EQ(leaf1.ebx >> 24, 5u);
  EXPECT_EQ((leaf1.ebx >> 16) & 0xFF, 1u);
  EXPECT_FALSE(leaf1.edx & cpuid_bits::kEdxHtt);
  EXPECT_EQ(Find(*out, 0xB, 1).eax, 0u);  // no core id bits: the APIC id is the package
  EXPECT_EQ(Find(*out, 0xB, 1).ebx, 1u);
  EXPECT_EQ(Find(*out, 0x80000008).ecx & 0xF0FF, 0u);
  EXPECT_EQ((Find(*out, 0x8000001D, 3).eax >> 14) & 0xFFF, 0u);  // L3 not shared
  auto one = AdjustCpuid(Supported(), 5, 6);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ((Find(*one, 0x8000001D, 3).eax >> 14) & 0xFFF, 7u);  // shared by the 8 ids of the package
  EXPECT_EQ((Find(*one, 0x8000001D, 0).eax >> 14) & 0xFFF, 0u);
}

TEST(CpuidTest, KeepsKvmClockDropsIrqchipFeatures) {
  auto out = AdjustCpuid(Supported(), 0, 1);
  ASSERT_TRUE(out.ok());
  const auto& kvm = Find(*out, kKvmCpuidFeatures);
  EXPECT_TRUE(kvm.eax & cpuid_bits::kKvmClockSource2);
  EXPECT_TRUE(kvm.eax & cpuid_bits::kKvmClockStable);
  EXPECT_FALSE(kvm.eax & (1u << 6));   // PV EOI
  EXPECT_FALSE(kvm.eax & (1u << 11));  // PV send IPI
  EXPECT_EQ(Find(*out, kKvmCpuidSignature).ebx, 0x4B4D564Bu);
  EXPECT_FALSE(Find(*out, 1).edx & cpuid_bits::kEdxHtt);
}

TEST(CpuidTest, RejectsBadInput) {
  EXPECT_FALSE(AdjustCpuid(Supported(), 3, 3).ok());
  EXPECT_FALSE(AdjustCpuid(Supported(), 0, 255).ok());
  EXPECT_FALSE(AdjustCpuid({}, 0, 1).ok());
}

TEST(CpuidTest, BootMsrsMarkOnlyTheBsp) {
  auto apic_base = [](const std::vector<MsrEntry>& msrs) {
    for (const auto& m : msrs) {
      if (m.index == msr::kIa32ApicBase) return m.data;
    }
    return uint64_t{0};
  };
  EXPECT_EQ(apic_base(BootMsrs(0)), layout::kLapic.value() | 0x900);
  EXPECT_EQ(apic_base(BootMsrs(1)), layout::kLapic.value() | 0x800);
}

}  // namespace
}  // namespace dvm::boot
