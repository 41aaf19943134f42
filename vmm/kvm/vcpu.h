// One KVM vCPU: its fd, its mmap'ed kvm_run, and the state ioctls a VMM needs
// to run it, inject interrupts into it, and save/restore it for migration.
//
// Threading: Run() and the state calls belong to the vCPU's own thread. Kick()
// is the one call meant for another thread: it sets kvm_run::immediate_exit and
// signals the vCPU thread, so a KVM_RUN in progress or about to start returns
// with exit_reason KVM_EXIT_INTR. The signal must have a handler (any, even
// empty) in the process; InstallKickSignalHandler does that.
#ifndef DVM_VMM_KVM_VCPU_H_
#define DVM_VMM_KVM_VCPU_H_

#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dvm/types.h"
#include "dvm/unique_fd.h"
#include "vmm/kvm/uapi.h"

namespace dvm::kvm {

// The signal Kick() sends (SIGUSR1 unless a VMM chooses another).
inline constexpr int kDefaultKickSignal = SIGUSR1;

// Installs an empty handler for `signal` (without SA_RESTART) so it
// interrupts KVM_RUN instead of killing the process. Call once per process.
absl::Status InstallKickSignalHandler(int signal = kDefaultKickSignal);

class Vcpu {
 public:
  Vcpu(Vcpu&& other) noexcept;
  Vcpu& operator=(Vcpu&& other) noexcept;
  Vcpu(const Vcpu&) = delete;
  Vcpu& operator=(const Vcpu&) = delete;
  ~Vcpu();

  VcpuId id() const { return id_; }
  int fd() const { return fd_.get(); }
  // The shared kvm_run page: exit reason and exit data after Run(), and the
  // request_interrupt_window / ready_for_interrupt_injection handshake.
  kvm_run* run() const { return run_; }

  // KVM_RUN once. OK means the vCPU exited to user space; look at
  // run()->exit_reason. A signal or Kick() is OK too, with exit_reason set to
  // KVM_EXIT_INTR (KVM leaves it stale on immediate_exit). Clears
  // immediate_exit afterwards, so the next Run() enters the guest again.
  absl::Status Run();

  // Records the calling thread as this vCPU's thread, the target of Kick().
  void BindToCurrentThread();
  // From any thread: makes the vCPU's current or next KVM_RUN return soon.
  absl::Status Kick(int signal = kDefaultKickSignal);

  // The bytes of a KVM_EXIT_IO exit (count * size bytes inside kvm_run).
  std::span<uint8_t> IoData() const;

  absl::StatusOr<kvm_regs> GetRegs() const;
  absl::Status SetRegs(const kvm_regs& regs);
  absl::StatusOr<kvm_sregs> GetSregs() const;
  absl::Status SetSregs(const kvm_sregs& sregs);
  absl::StatusOr<kvm_fpu> GetFpu() const;
  absl::Status SetFpu(const kvm_fpu& fpu);
  // The 4 KiB legacy XSAVE area. Not struct kvm_xsave: its flexible array
  // member makes it unusable in StatusOr under clang.
  absl::StatusOr<uapi::XsaveRegion> GetXsave() const;
  absl::Status SetXsave(const uapi::XsaveRegion& xsave);
  absl::StatusOr<kvm_xcrs> GetXcrs() const;
  absl::Status SetXcrs(const kvm_xcrs& xcrs);
  // Pending exceptions, interrupts, NMIs, SMIs: the part of the state that
  // is neither registers nor memory (KVM_GET/SET_VCPU_EVENTS).
  absl::StatusOr<kvm_vcpu_events> GetVcpuEvents() const;
  absl::Status SetVcpuEvents(const kvm_vcpu_events& events);
  // RUNNABLE, HALTED, INIT_RECEIVED, SIPI_RECEIVED... (KVM_GET/SET_MP_STATE).
  absl::StatusOr<kvm_mp_state> GetMpState() const;
  absl::Status SetMpState(const kvm_mp_state& state);

  // Reads the MSRs whose indices are given; returns index/value pairs. Fails
  // if KVM returns fewer than asked (it stops at the first it cannot read).
  absl::StatusOr<std::vector<kvm_msr_entry>> GetMsrs(std::span<const uint32_t> indices) const;
  absl::Status SetMsrs(std::span<const kvm_msr_entry> msrs);
  // KVM_SET_CPUID2: what CPUID reports to the guest on this vCPU.
  absl::Status SetCpuid(std::span<const kvm_cpuid_entry2> entries);
  // KVM_INTERRUPT: injects an external interrupt vector. Only valid without an
  // in-kernel irqchip and when run()->ready_for_interrupt_injection is set.
  absl::Status Interrupt(uint8_t vector);
  // KVM_NMI.
  absl::Status Nmi();
  // Debug registers DR0-3, DR6, DR7 (KVM_GET/SET_DEBUGREGS), for migration.
  absl::StatusOr<kvm_debugregs> GetDebugRegs() const;
  absl::Status SetDebugRegs(const kvm_debugregs& regs);
  // KVM_GET/SET_TSC_KHZ.
  absl::StatusOr<uint32_t> GetTscKhz() const;
  absl::Status SetTscKhz(uint32_t khz);
  // The guest TSC's offset from the host's (KVM_VCPU_TSC_OFFSET): vCPUs of one
  // guest in several KVM VMs on one host agree on the TSC when their offsets
  // are equal.
  absl::StatusOr<int64_t> GetTscOffset() const;
  absl::Status SetTscOffset(int64_t offset);

 private:
  friend class Vm;
  Vcpu(VcpuId id, UniqueFd fd, kvm_run* run, size_t run_size)
      : id_(id), fd_(std::move(fd)), run_(run), run_size_(run_size) {}
  void Unmap();

  VcpuId id_;
  UniqueFd fd_;
  kvm_run* run_ = nullptr;
  size_t run_size_ = 0;
  // The thread in Run(); 0 until BindToCurrentThread.
  std::atomic<pthread_t> thread_{};
};

}  // namespace dvm::kvm

#endif  // DVM_VMM_KVM_VCPU_H_
