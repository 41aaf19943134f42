// Adjusting what KVM_GET_SUPPORTED_CPUID offers into what one vCPU of a dvm
// guest sees. Pure: takes and returns plain entries (the KVM layer converts
// to and from kvm_cpuid_entry2).
#ifndef DVM_VMM_BOOT_CPUID_H_
#define DVM_VMM_BOOT_CPUID_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace dvm::boot {

struct CpuidEntry {
  uint32_t function = 0;
  uint32_t index = 0;
  uint32_t flags = 0;  // KVM_CPUID_FLAG_SIGNIFCANT_INDEX (1) etc., passed through
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
  bool operator==(const CpuidEntry&) const = default;
};

inline constexpr uint32_t kCpuidFlagSignificantIndex = 1;

// CPUID.1 and KVM leaf bits dvm touches.
namespace cpuid_bits {
inline constexpr uint32_t kEcxX2Apic = 1u << 21;
inline constexpr uint32_t kEcxTscDeadline = 1u << 24;
inline constexpr uint32_t kEcxHypervisor = 1u << 31;
inline constexpr uint32_t kEdxApic = 1u << 9;
inline constexpr uint32_t kEdxHtt = 1u << 28;
// 0x40000001.eax: the paravirt features that work without KVM's in-kernel
// LAPIC. PV EOI, PV IPIs, PV unhalt and async-PF interrupts all need it;
// steal time and PV TLB flush would make KVM write guest pages behind the DSM.
inline constexpr uint32_t kKvmClockSource = 1u << 0;
inline constexpr uint32_t kKvmNopIoDelay = 1u << 1;
inline constexpr uint32_t kKvmClockSource2 = 1u << 3;
inline constexpr uint32_t kKvmClockStable = 1u << 24;
inline constexpr uint32_t kKvmAllowed = kKvmClockSource | kKvmNopIoDelay | kKvmClockSource2 |
                                        kKvmClockStable;
}  // namespace cpuid_bits

inline constexpr uint32_t kKvmCpuidSignature = 0x40000000;
inline constexpr uint32_t kKvmCpuidFeatures = 0x40000001;

// How the vCPUs are grouped into sockets (packages); one thread per core.
enum class CpuPackages {
  kOne,      // one socket of vcpu_count cores sharing the last-level cache
  kPerVcpu,  // a socket per vCPU: no two vCPUs share a core or a cache. A VM
             // spread over nodes uses this, so that no cache or core sibling
             // crosses the NUMA nodes the ACPI tables describe (Linux warns
             // and ignores such siblings), whatever the placement.
};

// The CPUID table for vCPU `vcpu_index` of `vcpu_count` (APIC id = index).
// Sets the hypervisor bit, the APIC id and topology in every leaf that
// reports them, removes x2APIC and TSC-deadline (we emulate neither) and
// filters the KVM feature leaf. Fails if `supported` lacks leaf 0 or 1, or
// the ids don't fit xAPIC.
absl::StatusOr<std::vector<CpuidEntry>> AdjustCpuid(const std::vector<CpuidEntry>& supported,
                                                    uint32_t vcpu_index, uint32_t vcpu_count,
                                                    CpuPackages packages = CpuPackages::kOne);

struct MsrEntry {
  uint32_t index = 0;
  uint64_t data = 0;
};

namespace msr {
inline constexpr uint32_t kIa32Tsc = 0x10;
inline constexpr uint32_t kIa32ApicBase = 0x1B;
inline constexpr uint32_t kIa32SysenterCs = 0x174;
inline constexpr uint32_t kIa32SysenterEsp = 0x175;
inline constexpr uint32_t kIa32SysenterEip = 0x176;
inline constexpr uint32_t kIa32MiscEnable = 0x1A0;
inline constexpr uint32_t kMtrrDefType = 0x2FF;
inline constexpr uint32_t kStar = 0xC0000081;
inline constexpr uint32_t kLstar = 0xC0000082;
inline constexpr uint32_t kCstar = 0xC0000083;
inline constexpr uint32_t kSyscallMask = 0xC0000084;
inline constexpr uint32_t kKernelGsBase = 0xC0000102;
inline constexpr uint64_t kApicBaseBsp = 1ull << 8;
inline constexpr uint64_t kApicBaseEnable = 1ull << 11;
inline constexpr uint64_t kMiscEnableFastString = 1ull << 0;
inline constexpr uint64_t kMtrrEnableWriteBack = (1ull << 11) | 6;
}  // namespace msr

// MSRs to set on every vCPU before its first run. The APIC base MSR is set
// too: KVM keeps it even without an in-kernel LAPIC, and Linux reads it to
// find its LAPIC and learn whether it is the BSP. TSC is left alone: KVM
// synchronizes vCPUs whose TSC is written close together only in-kernel; the
// cross-node TSC offset is a separate problem (DESIGN.md "Time").
std::vector<MsrEntry> BootMsrs(uint32_t vcpu_index);

}  // namespace dvm::boot

#endif  // DVM_VMM_BOOT_CPUID_H_
