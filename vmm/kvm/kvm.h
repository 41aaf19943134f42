// A thin RAII layer over the KVM API: the system fd (/dev/kvm), a VM, its
// vCPUs. Every call returns absl::Status naming the ioctl and errno; nothing
// here decides policy (that is the VMM's job above it).
//
// dvm runs with the interrupt controllers in user space, so this layer has no
// KVM_CREATE_IRQCHIP: interrupts go in with Vcpu::Interrupt (KVM_INTERRUPT)
// when the guest can take them (kvm_run::ready_for_interrupt_injection,
// request_interrupt_window).
//
//   ASSIGN_OR_RETURN(kvm::Kvm kvm, kvm::Kvm::Open());
//   ASSIGN_OR_RETURN(kvm::Vm vm, kvm.CreateVm());
//   RETURN_IF_ERROR(vm.SetMemoryRegion({.slot = 0, .gpa = Gpa(0), .size = n, .hva = Hva(p)}));
//   ASSIGN_OR_RETURN(kvm::Vcpu vcpu, vm.CreateVcpu(VcpuId(0)));
//   RETURN_IF_ERROR(vcpu.Run());  // then look at vcpu.run()->exit_reason
#ifndef DVM_VMM_KVM_KVM_H_
#define DVM_VMM_KVM_KVM_H_

#include <linux/kvm.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dvm/types.h"
#include "dvm/unique_fd.h"
#include "vmm/kvm/vm.h"

namespace dvm::kvm {

inline constexpr char kDefaultDevice[] = "/dev/kvm";

// The text added to "cannot open /dev/kvm" errors: where KVM can be had here.
inline constexpr char kNoKvmHint[] =
    "this machine has no usable KVM; run KVM code in the lab: "
    "scripts/lab run -- CMD... (or scripts/lab shell), see DESIGN.md \"The lab\"";

class Kvm {
 public:
  // Opens the KVM device and checks the API version. A missing device gives a
  // FailedPrecondition error whose message says how to use the lab.
  static absl::StatusOr<Kvm> Open(const std::string& device = kDefaultDevice);

  Kvm(Kvm&&) = default;
  Kvm& operator=(Kvm&&) = default;

  int fd() const { return fd_.get(); }

  // KVM_CHECK_EXTENSION on the system fd: 0 if absent, else the capability's value.
  absl::StatusOr<int> CheckExtension(int capability) const;
  // Size of the per-vCPU kvm_run mapping (KVM_GET_VCPU_MMAP_SIZE).
  absl::StatusOr<size_t> VcpuMmapSize() const;
  // What KVM can expose to a guest (KVM_GET_SUPPORTED_CPUID); the VMM trims
  // it and hands it to Vcpu::SetCpuid.
  absl::StatusOr<std::vector<kvm_cpuid_entry2>> GetSupportedCpuid() const;
  // MSRs that Vcpu::GetMsrs can save (KVM_GET_MSR_INDEX_LIST), for migration.
  absl::StatusOr<std::vector<uint32_t>> GetMsrIndexList() const;

  // KVM_CREATE_VM (default machine type).
  absl::StatusOr<Vm> CreateVm() const;

 private:
  explicit Kvm(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace dvm::kvm

#endif  // DVM_VMM_KVM_KVM_H_
