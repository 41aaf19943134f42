#include "vmm/vcpu/kvm_backend.h"

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

void KvmBackend::Kick() {
  if (absl::Status s = vcpu_->Kick(); !s.ok()) {
    DVM_LOG_EVERY_SEC(WARNING, 1.0) << "kicking vCPU " << vcpu_->id().value() << ": " << s;
  }
}

}  // namespace dvm::vcpu
