// What a vCPU exit means: a plain function from the kvm_run page to an action,
// so every exit kind is unit-tested with made-up exits, without KVM.
#ifndef DVM_VMM_VCPU_EXIT_HANDLER_H_
#define DVM_VMM_VCPU_EXIT_HANDLER_H_

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "dvm/types.h"

namespace dvm::vcpu {

// Where a vCPU's port and MMIO accesses go. A read fills `data`; a write
// carries it. Devices accept any port or address: unclaimed reads give
// all-ones, unclaimed writes are dropped (counted by the implementation).
class VcpuIo {
 public:
  virtual ~VcpuIo() = default;
  virtual void Pio(uint16_t port, std::span<uint8_t> data, bool is_write) = 0;
  virtual void Mmio(Gpa address, std::span<uint8_t> data, bool is_write) = 0;
};

enum class ExitAction {
  kContinue,         // handled; enter the guest again
  kHalt,             // the guest executed HLT: wait for an interrupt
  kInterruptWindow,  // the guest can take an interrupt now
  kInterrupted,      // a kick or signal: look at the mailbox
  kShutdown,         // triple fault: the machine resets, which dvm treats as the end
  kSystemEvent,      // KVM reported a shutdown/reset/crash event
  kFailed,           // KVM could not run the guest: see detail
};

struct ExitResult {
  ExitAction action = ExitAction::kContinue;
  std::string detail;  // for kFailed and kSystemEvent: what happened, for the user
};

// Handles one exit of a vCPU whose kvm_run page is `run` (of `run_size` bytes,
// as mmap'ed). Port and MMIO exits are carried out through `io` here.
ExitResult HandleExit(kvm_run& run, size_t run_size, VcpuIo& io);

// A name for an exit reason, for messages ("KVM_EXIT_IO").
const char* ExitReasonName(uint32_t reason);

}  // namespace dvm::vcpu

#endif  // DVM_VMM_VCPU_EXIT_HANDLER_H_
