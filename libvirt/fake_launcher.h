// A VmLauncher for tests: VMs that "run" until the test ends them.
#ifndef DVM_LIBVIRT_FAKE_LAUNCHER_H_
#define DVM_LIBVIRT_FAKE_LAUNCHER_H_

#include <map>
#include <memory>
#include <string>
#include <thread>

#include "dvm/mutex.h"
#include "libvirt/vir_error.h"
#include "libvirt/vm_launcher.h"

namespace dvm::libvirt {

class FakeLauncher final : public VmLauncher {
 public:
  struct Vm {
    std::function<void(VmExit)> on_exit;
    int shutdowns = 0;
    int destroys = 0;
  };

  class Handle final : public RunningVm {
   public:
    Handle(FakeLauncher* launcher, std::string name) : launcher_(launcher), name_(std::move(name)) {}
    ~Handle() override {
      MutexLock lock(&launcher_->mu_);
      launcher_->vms_.erase(name_);
    }
    void Watch(std::function<void(VmExit)> on_exit) override {
      MutexLock lock(&launcher_->mu_);
      launcher_->vms_[name_].on_exit = std::move(on_exit);
    }
    absl::Status Shutdown() override {
      MutexLock lock(&launcher_->mu_);
      ++launcher_->vms_[name_].shutdowns;
      return absl::OkStatus();
    }
    absl::Status Destroy(std::chrono::milliseconds) override {
      MutexLock lock(&launcher_->mu_);
      ++launcher_->vms_[name_].destroys;
      return absl::OkStatus();
    }
    uint64_t CpuTimeNs() const override { return 12345; }

   private:
    FakeLauncher* launcher_;
    std::string name_;
  };

  absl::StatusOr<std::unique_ptr<RunningVm>> Launch(const DomainDef& def) override {
    std::chrono::milliseconds delay;
    {
      MutexLock lock(&mu_);
      delay = launch_delay_;
    }
    std::this_thread::sleep_for(delay);  // a VM that takes its time to come up
    MutexLock lock(&mu_);
    ++launches_;
    if (fail_next_) {
      fail_next_ = false;
      return VirError(ErrorCode::kOperationFailed, "dvm run exited with status 2: no /dev/kvm");
    }
    vms_[def.spec.name] = Vm{};
    return std::unique_ptr<RunningVm>(new Handle(this, def.spec.name));
  }

  absl::StatusOr<std::unique_ptr<RunningVm>> Adopt(const DomainDef& def) override {
    MutexLock lock(&mu_);
    if (!survivors_.contains(def.spec.name)) return absl::NotFoundError("not running");
    vms_[def.spec.name] = Vm{};
    return std::unique_ptr<RunningVm>(new Handle(this, def.spec.name));
  }

  // The VM of `name` ends this way (as its watcher thread would report it).
  void End(const std::string& name, VmExit exit) {
    std::function<void(VmExit)> on_exit;
    {
      MutexLock lock(&mu_);
      on_exit = vms_[name].on_exit;
    }
    if (on_exit) on_exit(exit);
  }
  bool Running(const std::string& name) {
    MutexLock lock(&mu_);
    return vms_.contains(name);
  }
  Vm Get(const std::string& name) {
    MutexLock lock(&mu_);
    return vms_[name];
  }
  void FailNextLaunch() {
    MutexLock lock(&mu_);
    fail_next_ = true;
  }
  void SetLaunchDelay(std::chrono::milliseconds delay) {
    MutexLock lock(&mu_);
    launch_delay_ = delay;
  }
  void AddSurvivor(const std::string& name) {
    MutexLock lock(&mu_);
    survivors_[name] = true;
  }
  int launches() {
    MutexLock lock(&mu_);
    return launches_;
  }

 private:
  Mutex mu_;
  std::map<std::string, Vm> vms_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, bool> survivors_ ABSL_GUARDED_BY(mu_);
  bool fail_next_ ABSL_GUARDED_BY(mu_) = false;
  int launches_ ABSL_GUARDED_BY(mu_) = 0;
  std::chrono::milliseconds launch_delay_ ABSL_GUARDED_BY(mu_){0};
};

}  // namespace dvm::libvirt

#endif  // DVM_LIBVIRT_FAKE_LAUNCHER_H_
