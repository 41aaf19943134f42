// The narrow view of a KVM vCPU that the run loop needs. KvmBackend adapts
// kvm::Vcpu; tests drive the loop with a scripted fake.
#ifndef DVM_VMM_VCPU_BACKEND_H_
#define DVM_VMM_VCPU_BACKEND_H_

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace dvm::vcpu {

class Backend {
 public:
  virtual ~Backend() = default;
  // KVM_RUN once; OK when the vCPU exited to user space (run()->exit_reason).
  virtual absl::Status Run() = 0;
  virtual kvm_run* run() = 0;
  virtual size_t run_size() const = 0;
  virtual absl::Status Interrupt(uint8_t vector) = 0;
  virtual absl::Status Nmi() = 0;
  // INIT: back to the power-on state. SIPI: real mode at vector << 12.
  virtual absl::Status ResetForInit() = 0;
  virtual absl::Status StartAt(uint8_t sipi_vector) = 0;
  // Called on the vCPU's own thread before the first Run().
  virtual void BindToCurrentThread() = 0;
  // From any thread: make the current or next Run() return soon. With
  // `interrupt_guest` false only the next KVM_RUN returns at once (no signal),
  // enough when the vCPU thread is not inside KVM_RUN.
  virtual void Kick(bool interrupt_guest = true) = 0;
  // The registers that explain a crash (rip, control registers, pending
  // events), for the message when the guest dies. Own thread only.
  virtual std::string DescribeState() = 0;
};

}  // namespace dvm::vcpu

#endif  // DVM_VMM_VCPU_BACKEND_H_
