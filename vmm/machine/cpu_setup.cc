#include "vmm/machine/cpu_setup.h"

#include "dvm/status.h"

namespace dvm::machine {

kvm_segment ToKvmSegment(const boot::Segment& s) {
  kvm_segment k{};
  k.base = s.base;
  k.limit = s.limit;
  k.selector = s.selector;
  k.type = s.type;
  k.present = s.present;
  k.dpl = s.dpl;
  k.db = s.db;
  k.s = s.s;
  k.l = s.l;
  k.g = s.g;
  k.unusable = s.unusable;
  return k;
}

void ApplyBootState(const boot::BootCpuState& state, kvm_regs& regs, kvm_sregs& sregs) {
  regs = kvm_regs{};
  regs.rip = state.rip;
  regs.rsp = state.rsp;
  regs.rsi = state.rsi;
  regs.rflags = state.rflags;
  sregs.cr0 = state.cr0;
  sregs.cr3 = state.cr3;
  sregs.cr4 = state.cr4;
  sregs.efer = state.efer;
  sregs.cs = ToKvmSegment(state.cs);
  sregs.ds = ToKvmSegment(state.ds);
  sregs.es = ToKvmSegment(state.es);
  sregs.fs = ToKvmSegment(state.fs);
  sregs.gs = ToKvmSegment(state.gs);
  sregs.ss = ToKvmSegment(state.ss);
  sregs.tr = ToKvmSegment(state.tr);
  sregs.ldt = ToKvmSegment(state.ldt);
  sregs.gdt.base = state.gdt_base;
  sregs.gdt.limit = state.gdt_limit;
  sregs.idt.base = state.idt_base;
  sregs.idt.limit = state.idt_limit;
}

std::vector<boot::CpuidEntry> FromKvmCpuid(const std::vector<kvm_cpuid_entry2>& entries) {
  std::vector<boot::CpuidEntry> out;
  out.reserve(entries.size());
  for (const kvm_cpuid_entry2& e : entries) {
    out.push_back({e.function, e.index, e.flags, e.eax, e.ebx, e.ecx, e.edx});
  }
  return out;
}

std::vector<kvm_cpuid_entry2> ToKvmCpuid(const std::vector<boot::CpuidEntry>& entries) {
  std::vector<kvm_cpuid_entry2> out;
  out.reserve(entries.size());
  for (const boot::CpuidEntry& e : entries) {
    kvm_cpuid_entry2 k{};
    k.function = e.function;
    k.index = e.index;
    k.flags = e.flags;
    k.eax = e.eax;
    k.ebx = e.ebx;
    k.ecx = e.ecx;
    k.edx = e.edx;
    out.push_back(k);
  }
  return out;
}

absl::Status SetupVcpu(kvm::Vcpu& vcpu, const std::vector<kvm_cpuid_entry2>& supported, uint32_t index,
                       uint32_t count, boot::CpuPackages packages) {
  ASSIGN_OR_RETURN(std::vector<boot::CpuidEntry> cpuid,
                   boot::AdjustCpuid(FromKvmCpuid(supported), index, count, packages));
  RETURN_IF_ERROR(vcpu.SetCpuid(ToKvmCpuid(cpuid)));
  std::vector<kvm_msr_entry> msrs;
  for (const boot::MsrEntry& m : boot::BootMsrs(index)) {
    kvm_msr_entry k{};
    k.index = m.index;
    k.data = m.data;
    msrs.push_back(k);
  }
  return vcpu.SetMsrs(msrs);
}

absl::Status SetBootState(kvm::Vcpu& vcpu, const boot::BootCpuState& state) {
  ASSIGN_OR_RETURN(kvm_sregs sregs, vcpu.GetSregs());
  kvm_regs regs;
  ApplyBootState(state, regs, sregs);
  RETURN_IF_ERROR(vcpu.SetSregs(sregs));
  return vcpu.SetRegs(regs);
}

}  // namespace dvm::machine
