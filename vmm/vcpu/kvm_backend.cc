#include "vmm/vcpu/kvm_backend.h"

#include "absl/strings/str_format.h"
#include "dvm/log.h"
#include "dvm/status.h"

namespace dvm::vcpu {

absl::StatusOr<KvmBackend> KvmBackend::Create(kvm::Vcpu* vcpu, size_t run_size) {
  ASSIGN_OR_RETURN(kvm_regs regs, vcpu->GetRegs());
  ASSIGN_OR_RETURN(kvm_sregs sregs, vcpu->GetSregs());
  return KvmBackend(vcpu, run_size, regs, sregs);
}

absl::Status KvmBackend::ResetForInit() {
  RETURN_IF_ERROR(vcpu_->SetSregs(reset_sregs_));
  return vcpu_->SetRegs(reset_regs_);
}

absl::Status KvmBackend::StartAt(uint8_t sipi_vector) {
  // A SIPI starts the processor in real mode at vector * 4 KiB: CS selector
  // vector << 8, base vector << 12, IP 0.
  kvm_sregs sregs = reset_sregs_;
  sregs.cs.selector = static_cast<uint16_t>(sipi_vector) << 8;
  sregs.cs.base = static_cast<uint64_t>(sipi_vector) << 12;
  RETURN_IF_ERROR(vcpu_->SetSregs(sregs));
  kvm_regs regs = reset_regs_;
  regs.rip = 0;
  return vcpu_->SetRegs(regs);
}

void KvmBackend::Kick(bool interrupt_guest) {
  if (!interrupt_guest) {
    __atomic_store_n(&vcpu_->run()->immediate_exit, 1, __ATOMIC_SEQ_CST);
    return;
  }
  if (absl::Status s = vcpu_->Kick(); !s.ok()) {
    DVM_LOG_EVERY_SEC(WARNING, 1.0) << "kicking vCPU " << vcpu_->id().value() << ": " << s;
  }
}

}  // namespace dvm::vcpu

namespace dvm::vcpu {

std::string KvmBackend::DescribeState() {
  absl::StatusOr<kvm_regs> regs = vcpu_->GetRegs();
  absl::StatusOr<kvm_sregs> sregs = vcpu_->GetSregs();
  absl::StatusOr<kvm_vcpu_events> events = vcpu_->GetVcpuEvents();
  if (!regs.ok() || !sregs.ok() || !events.ok()) return "(registers unavailable)";
  return absl::StrFormat(
      "rip=%#llx rsp=%#llx rflags=%#llx cs=%#x cr0=%#llx cr2=%#llx cr3=%#llx cr4=%#llx efer=%#llx "
      "idt=%#llx/%#x exception(injected=%u nr=%u error=%#x) interrupt(injected=%u nr=%u) nmi(injected=%u "
      "pending=%u masked=%u)",
      regs->rip, regs->rsp, regs->rflags, sregs->cs.selector, sregs->cr0, sregs->cr2, sregs->cr3, sregs->cr4,
      sregs->efer, sregs->idt.base, sregs->idt.limit, events->exception.injected, events->exception.nr,
      events->exception.error_code, events->interrupt.injected, events->interrupt.nr, events->nmi.injected,
      events->nmi.pending, events->nmi.masked);
}

}  // namespace dvm::vcpu
