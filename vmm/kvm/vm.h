// One KVM VM: memory slots and vCPU creation. Made by Kvm::CreateVm.
#ifndef DVM_VMM_KVM_VM_H_
#define DVM_VMM_KVM_VM_H_

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dvm/types.h"
#include "dvm/unique_fd.h"
#include "vmm/kvm/vcpu.h"

namespace dvm::kvm {

// One KVM_SET_USER_MEMORY_REGION: guest-physical [gpa, gpa+size) is backed by
// host memory at hva. size 0 deletes the slot.
struct MemorySlot {
  uint32_t slot = 0;
  Gpa gpa;
  uint64_t size = 0;
  Hva hva;
  uint32_t flags = 0;  // KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY
};

class Vm {
 public:
  Vm(Vm&&) = default;
  Vm& operator=(Vm&&) = default;

  int fd() const { return fd_.get(); }

  absl::Status SetMemoryRegion(const MemorySlot& slot);
  // KVM_CHECK_EXTENSION on the VM fd (some capabilities are per VM).
  absl::StatusOr<int> CheckExtension(int capability) const;
  // Three pages of guest-physical space KVM needs on Intel for real mode
  // (KVM_SET_TSS_ADDR); harmless on AMD. Must not overlap RAM or MMIO.
  absl::Status SetTssAddr(Gpa gpa);
  // One page for the EPT identity map on Intel (KVM_SET_IDENTITY_MAP_ADDR).
  absl::Status SetIdentityMapAddr(Gpa gpa);
  // The VM's kvmclock base (KVM_GET/SET_CLOCK): saved and restored with the
  // VM so guest time does not jump across a migration.
  absl::StatusOr<kvm_clock_data> GetClock() const;
  absl::Status SetClock(const kvm_clock_data& clock);
  // KVM_CREATE_VCPU and its kvm_run mapping. The id is the vCPU's APIC ID.
  absl::StatusOr<Vcpu> CreateVcpu(VcpuId id);

 private:
  friend class Kvm;
  Vm(UniqueFd fd, size_t run_size) : fd_(std::move(fd)), run_size_(run_size) {}

  UniqueFd fd_;
  size_t run_size_;  // KVM_GET_VCPU_MMAP_SIZE
};

}  // namespace dvm::kvm

#endif  // DVM_VMM_KVM_VM_H_
