// One node's machine: a KVM VM with guest RAM, the vCPUs this node runs,
// their user-space LAPICs, and (on node 0) the IOAPIC, PIC and PC devices.
//
// Threads: one per vCPU (vcpu::Runner), one timer loop, one console reader,
// and the caller of Run(), which waits for the guest to end and then stops
// the rest. The guest ends by ACPI power-off (status 0), the debug exit port
// (the status written), a reset or triple fault (status 1: dvm does not
// reboot), a vCPU failure (1), or Stop() (e.g. Ctrl-C).
#ifndef DVM_VMM_MACHINE_MACHINE_H_
#define DVM_VMM_MACHINE_MACHINE_H_

#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dvm/mutex.h"
#include "vmm/spec/vm_spec.h"

namespace dvm::machine {

enum class EndReason { kPowerOff, kExitPort, kReset, kTripleFault, kFailed, kStopped };

struct MachineEnd {
  EndReason reason = EndReason::kStopped;
  int exit_status = 0;  // what `dvm run` exits with
  std::string detail;
};

struct MachineOptions {
  int console_out_fd = STDOUT_FILENO;  // -1: discard guest console output
  int console_in_fd = STDIN_FILENO;    // -1: no console input
  std::string kvm_device = "/dev/kvm";
};

class Machine {
 public:
  // Builds the whole machine and loads the kernel. Errors: InvalidArgument or
  // ResourceExhausted for a kernel, initrd or memory size that cannot boot
  // (a bad input); FailedPrecondition when KVM is missing (with the lab hint);
  // others for host failures.
  static absl::StatusOr<std::unique_ptr<Machine>> Create(const spec::VmSpec& spec,
                                                         const MachineOptions& options);
  ~Machine();

  // Runs the guest until it ends; call once.
  MachineEnd Run();
  // Ends the run from any thread.
  void Stop(const std::string& why);
  // Devices and vCPUs report how the guest ended; the first report wins.
  void End(EndReason reason, int exit_status, std::string detail);

  // Exits, injections and unclaimed accesses, per vCPU, as text.
  std::string StatsText() const;

  struct Parts;  // everything the machine owns (machine.cc)

 private:
  Machine();

  std::unique_ptr<Parts> parts_;
  Mutex mu_;
  CondVar cv_;
  std::optional<MachineEnd> end_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dvm::machine

#endif  // DVM_VMM_MACHINE_MACHINE_H_
