// Starting and stopping a domain's VM. The registry talks to the narrow
// VmLauncher/RunningVm interfaces; ProcessLauncher runs each VM as a child
// `dvm run CONFIG --control SOCKET` and talks to its control socket
// (vmm/control); tests use a fake.
#ifndef DVM_LIBVIRT_VM_LAUNCHER_H_
#define DVM_LIBVIRT_VM_LAUNCHER_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "libvirt/domain_xml.h"

namespace dvm::libvirt {

// How a VM ended, as libvirt's VIR_DOMAIN_SHUTOFF_* reason plus a sentence.
struct VmExit {
  int32_t reason = 0;
  std::string detail;
};

class RunningVm {
 public:
  virtual ~RunningVm() = default;  // stops watching; the VM keeps running
  // Calls `on_exit` once, from another thread, when the VM has ended.
  virtual void Watch(std::function<void(VmExit)> on_exit) = 0;
  // Asks the guest to shut down (ACPI power button); returns at once.
  virtual absl::Status Shutdown() = 0;
  // Stops the VM and returns once it has ended (killing it if it does not
  // stop within `grace`).
  virtual absl::Status Destroy(std::chrono::milliseconds grace) = 0;
  virtual uint64_t CpuTimeNs() const = 0;
};

class VmLauncher {
 public:
  virtual ~VmLauncher() = default;
  // Starts the domain's VM and returns once it runs, or fails with why not.
  virtual absl::StatusOr<std::unique_ptr<RunningVm>> Launch(const DomainDef& def) = 0;
  // A VM of this domain that is already running (e.g. started before dvmd
  // restarted), or NotFound.
  virtual absl::StatusOr<std::unique_ptr<RunningVm>> Adopt(const DomainDef& def) = 0;
};

struct ProcessLauncherOptions {
  std::string dvm_binary;  // the `dvm` command
  std::string run_dir;     // per VM: NAME.toml, NAME.sock
  std::string log_dir;     // per VM: NAME.log (dvm run's output and the console)
  std::chrono::milliseconds start_timeout{60'000};  // until the control socket answers
  uint64_t max_log_bytes = 16 << 20;  // then NAME.log moves to NAME.log.old (console_log.h)
};

class ProcessLauncher final : public VmLauncher {
 public:
  explicit ProcessLauncher(ProcessLauncherOptions options) : options_(std::move(options)) {}
  absl::StatusOr<std::unique_ptr<RunningVm>> Launch(const DomainDef& def) override;
  absl::StatusOr<std::unique_ptr<RunningVm>> Adopt(const DomainDef& def) override;

  std::string ControlPath(const std::string& name) const { return options_.run_dir + "/" + name + ".sock"; }
  std::string LogPath(const std::string& name) const { return options_.log_dir + "/" + name + ".log"; }

 private:
  ProcessLauncherOptions options_;
};

// The shut-off reason from `dvm run`'s end report (CONTROL.end: "poweroff
// DETAIL", "exit-port DETAIL", "stopped ...", "reset ...", "triple-fault ...",
// "failed ..."). Not from the exit status: the guest chooses the status it
// writes to the exit port.
VmExit ExitOfReport(absl::string_view report);
// For a `dvm run` that left no report: it ended before the machine ran, or
// was killed.
VmExit ExitOfStatus(int wait_status);

}  // namespace dvm::libvirt

#endif  // DVM_LIBVIRT_VM_LAUNCHER_H_
