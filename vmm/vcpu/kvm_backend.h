// Backend over a real KVM vCPU.
#ifndef DVM_VMM_VCPU_KVM_BACKEND_H_
#define DVM_VMM_VCPU_KVM_BACKEND_H_

#include "absl/status/statusor.h"
#include "vmm/kvm/vcpu.h"
#include "vmm/vcpu/backend.h"

namespace dvm::vcpu {

class KvmBackend final : public Backend {
 public:
  // Records the vCPU's power-on registers (KVM creates it in that state), to
  // return to on INIT.
  static absl::StatusOr<KvmBackend> Create(kvm::Vcpu* vcpu, size_t run_size);

  absl::Status Run() override { return vcpu_->Run(); }
  kvm_run* run() override { return vcpu_->run(); }
  size_t run_size() const override { return run_size_; }
  absl::Status Interrupt(uint8_t vector) override { return vcpu_->Interrupt(vector); }
  absl::Status Nmi() override { return vcpu_->Nmi(); }
  absl::Status ResetForInit() override;
  absl::Status StartAt(uint8_t sipi_vector) override;
  void BindToCurrentThread() override { vcpu_->BindToCurrentThread(); }
  void Kick(bool interrupt_guest) override;
  std::string DescribeState() override;

 private:
  KvmBackend(kvm::Vcpu* vcpu, size_t run_size, const kvm_regs& regs, const kvm_sregs& sregs)
      : vcpu_(vcpu), run_size_(run_size), reset_regs_(regs), reset_sregs_(sregs) {}

  kvm::Vcpu* vcpu_;
  size_t run_size_;
  kvm_regs reset_regs_;
  kvm_sregs reset_sregs_;
};

}  // namespace dvm::vcpu

#endif  // DVM_VMM_VCPU_KVM_BACKEND_H_
