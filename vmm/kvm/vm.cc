#include "vmm/kvm/vm.h"

#include <sys/mman.h>

#include "dvm/status.h"
#include "vmm/kvm/ioctl.h"

namespace dvm::kvm {

absl::Status Vm::SetMemoryRegion(const MemorySlot& slot) {
  kvm_userspace_memory_region region = {
      .slot = slot.slot,
      .flags = slot.flags,
      .guest_phys_addr = slot.gpa.value(),
      .memory_size = slot.size,
      .userspace_addr = slot.hva.value(),
  };
  return DVM_KVM_IOCTL(fd(), KVM_SET_USER_MEMORY_REGION, &region).status();
}

absl::StatusOr<int> Vm::CheckExtension(int capability) const {
  return DVM_KVM_IOCTL(fd(), KVM_CHECK_EXTENSION, capability);
}

absl::Status Vm::SetTssAddr(Gpa gpa) {
  return DVM_KVM_IOCTL(fd(), KVM_SET_TSS_ADDR, gpa.value()).status();
}

absl::Status Vm::SetIdentityMapAddr(Gpa gpa) {
  uint64_t addr = gpa.value();
  return DVM_KVM_IOCTL(fd(), KVM_SET_IDENTITY_MAP_ADDR, &addr).status();
}

absl::StatusOr<kvm_clock_data> Vm::GetClock() const {
  kvm_clock_data clock = {};
  RETURN_IF_ERROR(DVM_KVM_IOCTL(fd(), KVM_GET_CLOCK, &clock).status());
  return clock;
}

absl::Status Vm::SetClock(const kvm_clock_data& clock) {
  // KVM_SET_CLOCK accepts only the flags it documents; GET_CLOCK's output
  // flags (e.g. KVM_CLOCK_TSC_STABLE) are not among them.
  kvm_clock_data in = {.clock = clock.clock, .flags = clock.flags & KVM_CLOCK_REALTIME};
  in.realtime = clock.realtime;
  return DVM_KVM_IOCTL(fd(), KVM_SET_CLOCK, &in).status();
}

absl::StatusOr<Vcpu> Vm::CreateVcpu(VcpuId id) {
  ASSIGN_OR_RETURN(int vcpu_fd, DVM_KVM_IOCTL(fd(), KVM_CREATE_VCPU, id.value()));
  UniqueFd owned(vcpu_fd);
  void* run = ::mmap(nullptr, run_size_, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0);
  if (run == MAP_FAILED) return ErrnoStatus("mmap kvm_run");
  return Vcpu(id, std::move(owned), static_cast<kvm_run*>(run), run_size_);
}

}  // namespace dvm::kvm
