// Puts a KVM vCPU into the state dvm boots it in: its CPUID table, the boot
// MSRs, and for the bootstrap processor the 64-bit entry state of the Linux
// boot protocol. The conversions are pure and unit-tested.
#ifndef DVM_VMM_MACHINE_CPU_SETUP_H_
#define DVM_VMM_MACHINE_CPU_SETUP_H_

#include <linux/kvm.h>

#include <vector>

#include "absl/status/status.h"
#include "vmm/boot/cpuid.h"
#include "vmm/boot/long_mode.h"
#include "vmm/kvm/vcpu.h"

namespace dvm::machine {

kvm_segment ToKvmSegment(const boot::Segment& segment);
// Fills the fields of `sregs` the boot state defines, keeping the rest (KVM's
// reset values, e.g. the APIC base and interrupt bitmap).
void ApplyBootState(const boot::BootCpuState& state, kvm_regs& regs, kvm_sregs& sregs);

std::vector<boot::CpuidEntry> FromKvmCpuid(const std::vector<kvm_cpuid_entry2>& entries);
std::vector<kvm_cpuid_entry2> ToKvmCpuid(const std::vector<boot::CpuidEntry>& entries);

// CPUID and MSRs for vCPU `index` of `count`, from what KVM supports.
absl::Status SetupVcpu(kvm::Vcpu& vcpu, const std::vector<kvm_cpuid_entry2>& supported, uint32_t index,
                       uint32_t count, boot::CpuPackages packages);
// The bootstrap processor's registers for the 64-bit Linux entry.
absl::Status SetBootState(kvm::Vcpu& vcpu, const boot::BootCpuState& state);

}  // namespace dvm::machine

#endif  // DVM_VMM_MACHINE_CPU_SETUP_H_
