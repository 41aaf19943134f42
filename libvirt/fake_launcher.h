// A VmLauncher for tests: VMs that "run" until the test ends them.
#ifndef DVM_LIBVIRT_FAKE_LAUNCHER_H_
#define DVM_LIBVIRT_FAKE_LAUNCHER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

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
    const void* handle = nullptr;  // the RunningVm of this run
  };

  class Handle final : public RunningVm {
   public:
    Handle(FakeLauncher* launcher, std::string name) : launcher_(launcher), name_(std::move(name)) {}
    ~Handle() override {
      MutexLock lock(&launcher_->mu_);
      // A handle of an earlier run must not take a newer run of the name with it.
      if (auto it = launcher_->vms_.find(name_); it != launcher_->vms_.end() && it->second.handle == this) {
        launcher_->vms_.erase(it);
      }
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
    // Like the real one: the VM's exit is reported before this returns.
    absl::Status Destroy(std::chrono::milliseconds) override {
      std::function<void(VmExit)> on_exit;
      std::function<void()> hook;
      {
        MutexLock lock(&launcher_->mu_);
        Vm& vm = launcher_->vms_[name_];
        ++vm.destroys;
        on_exit = vm.on_exit;
        hook = launcher_->on_destroy_;
      }
      if (on_exit) on_exit(VmExit{kShutoffDestroyed, "the VM was stopped"});
      if (hook) hook();
      return absl::OkStatus();
    }
    uint64_t CpuTimeNs() const override { return 12345; }

   private:
    FakeLauncher* launcher_;
    std::string name_;
  };

  absl::StatusOr<std::unique_ptr<RunningVm>> Launch(const DomainDef& def) override {
    std::function<void()> hook;
    {
      MutexLock lock(&mu_);
      hook = on_launch_;
    }
    if (hook) hook();  // e.g. a VM that takes its time to come up
    MutexLock lock(&mu_);
    ++launches_;
    if (fail_next_) {
      fail_next_ = false;
      return VirError(ErrorCode::kOperationFailed, "dvm run exited with status 2: no /dev/kvm");
    }
    return NewHandle(def.spec.name);
  }

  absl::StatusOr<std::unique_ptr<RunningVm>> Adopt(const DomainDef& def) override {
    MutexLock lock(&mu_);
    if (!survivors_.contains(def.spec.name)) return absl::NotFoundError("not running");
    return NewHandle(def.spec.name);
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
  // Runs at the start of every Launch, on the launching thread.
  void OnLaunch(std::function<void()> hook) {
    MutexLock lock(&mu_);
    on_launch_ = std::move(hook);
  }
  // Runs in every Destroy after the exit was reported, before it returns.
  void OnDestroy(std::function<void()> hook) {
    MutexLock lock(&mu_);
    on_destroy_ = std::move(hook);
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
  std::unique_ptr<RunningVm> NewHandle(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto handle = std::make_unique<Handle>(this, name);
    vms_[name] = Vm{.handle = handle.get()};
    return handle;
  }

  Mutex mu_;
  std::map<std::string, Vm> vms_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, bool> survivors_ ABSL_GUARDED_BY(mu_);
  bool fail_next_ ABSL_GUARDED_BY(mu_) = false;
  int launches_ ABSL_GUARDED_BY(mu_) = 0;
  std::function<void()> on_launch_ ABSL_GUARDED_BY(mu_);
  std::function<void()> on_destroy_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dvm::libvirt

#endif  // DVM_LIBVIRT_FAKE_LAUNCHER_H_
