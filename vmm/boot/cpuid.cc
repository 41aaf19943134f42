#include "vmm/boot/cpuid.h"

#include <bit>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "vmm/layout/layout.h"

namespace dvm::boot {
namespace {

// Bits needed to hold ids 0..count-1 (the topology "shift").
uint32_t IdBits(uint32_t count) { return count <= 1 ? 0 : std::bit_width(count - 1); }

}  // namespace

absl::StatusOr<std::vector<CpuidEntry>> AdjustCpuid(const std::vector<CpuidEntry>& supported,
                                                    uint32_t vcpu_index, uint32_t vcpu_count,
                                                    CpuPackages packages) {
  if (vcpu_count == 0 || vcpu_count > 254 || vcpu_index >= vcpu_count) {
    return absl::InvalidArgumentError(
        absl::StrFormat("vCPU %d of %d does not fit xAPIC ids", vcpu_index, vcpu_count));
  }
  bool has_leaf0 = false, has_leaf1 = false;
  const uint32_t apic_id = vcpu_index;
  // Logical processors per package, and the APIC id bits that number them.
  const uint32_t per_package = packages == CpuPackages::kOne ? vcpu_count : 1;
  const uint32_t core_bits = IdBits(per_package);
  std::vector<CpuidEntry> out;
  out.reserve(supported.size());
  for (CpuidEntry e : supported) {
    switch (e.function) {
      case 0:
        has_leaf0 = true;
        break;
      case 1:
        has_leaf1 = true;
        // EBX: APIC id [31:24], logical processors per package [23:16], CLFLUSH line in 8 bytes.
        e.ebx = (apic_id << 24) | ((per_package & 0xFF) << 16) | (8u << 8) | (e.ebx & 0xFF);
        e.ecx &= ~(cpuid_bits::kEcxX2Apic | cpuid_bits::kEcxTscDeadline);
        e.ecx |= cpuid_bits::kEcxHypervisor;
        e.edx |= cpuid_bits::kEdxApic;
        if (per_package > 1) e.edx |= cpuid_bits::kEdxHtt;
        else e.edx &= ~cpuid_bits::kEdxHtt;
        break;
      case 4:
        // Intel deterministic cache parameters: cores per package - 1 in [31:26];
        // threads sharing this cache in [25:14]: level 3 is shared by all.
        if ((e.eax & 0x1F) != 0) {
          const uint32_t level = (e.eax >> 5) & 7;
          const uint32_t sharing = level >= 3 ? (1u << core_bits) - 1 : 0;
          e.eax = (e.eax & 0x3FFF) | (sharing << 14) | (((1u << core_bits) - 1) << 26);
        }
        break;
      case 0xB:
      case 0x1F: {
        // Extended topology: level 0 = SMT (1 thread), level 1 = core.
        e.edx = apic_id;
        if (e.index == 0) {
          e.eax = 0;
          e.ebx = 1;
          e.ecx = (1u << 8) | e.index;
        } else if (e.index == 1) {
          e.eax = core_bits;
          e.ebx = per_package;
          e.ecx = (2u << 8) | e.index;
        } else {
          e.eax = e.ebx = 0;
          e.ecx = e.index;
        }
        break;
      }
      case kKvmCpuidFeatures:
        e.eax &= cpuid_bits::kKvmAllowed;
        e.edx = 0;  // hints (realtime) do not hold across hosts
        break;
      case 0x80000008:
        // AMD: cores per package - 1 in [7:0], APIC id bits for the core in [15:12].
        e.ecx = (e.ecx & ~0xF0FFu) | (core_bits << 12) | ((per_package - 1) & 0xFF);
        break;
      case 0x8000001D:
        // AMD cache topology: logical processors sharing the cache - 1 in [25:14].
        if ((e.eax & 0x1F) != 0) {
          const uint32_t level = (e.eax >> 5) & 7;
          const uint32_t sharing = level >= 3 ? (1u << core_bits) - 1 : 0;
          e.eax = (e.eax & ~(0xFFFu << 14)) | (sharing << 14);
        }
        break;
      case 0x8000001E:
        // AMD: extended APIC id, core id, node id; one thread per core.
        e.eax = apic_id;
        e.ebx = apic_id & 0xFF;
        e.ecx = 0;
        break;
      default:
        break;
    }
    out.push_back(e);
  }
  if (!has_leaf0 || !has_leaf1) {
    return absl::InvalidArgumentError("supported CPUID list lacks leaf 0 or 1");
  }
  return out;
}

std::vector<MsrEntry> BootMsrs(uint32_t vcpu_index) {
  uint64_t apic_base = layout::kLapic.value() | msr::kApicBaseEnable;
  if (vcpu_index == 0) apic_base |= msr::kApicBaseBsp;
  return {
      {msr::kIa32SysenterCs, 0},  {msr::kIa32SysenterEsp, 0}, {msr::kIa32SysenterEip, 0},
      {msr::kStar, 0},            {msr::kLstar, 0},           {msr::kCstar, 0},
      {msr::kSyscallMask, 0},     {msr::kKernelGsBase, 0},
      {msr::kIa32MiscEnable, msr::kMiscEnableFastString},
      {msr::kMtrrDefType, msr::kMtrrEnableWriteBack},
      {msr::kIa32ApicBase, apic_base},
  };
}

}  // namespace dvm::boot
