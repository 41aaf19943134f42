#include "vmm/machine/timer_loop.h"

#include <algorithm>
#include <chrono>

#include "dvm/thread_name.h"

namespace dvm::machine {
namespace {
// With nothing armed, look again now and then anyway: cheap insurance.
constexpr uint64_t kIdleWaitNs = 100'000'000;
}  // namespace

void TimerLoop::Start() { thread_ = std::thread([this] {
    SetThreadName("timers");
    Loop();
  }); }

void TimerLoop::Stop() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
    cv_.NotifyAll();
  }
  if (thread_.joinable()) thread_.join();
}

void TimerLoop::Poke() {
  MutexLock lock(&mu_);
  poked_ = true;
  cv_.NotifyAll();
}

void TimerLoop::Loop() {
  while (true) {
    uint64_t now = clock_->NowNs();
    uint64_t next = now + kIdleWaitNs;
    for (TimedDevice& device : devices_) {
      std::optional<uint64_t> deadline = device.next_deadline_ns();
      if (deadline && *deadline <= now) {
        device.tick();
        deadline = device.next_deadline_ns();  // periodic timers re-arm
      }
      if (deadline) next = std::min(next, std::max(*deadline, now));
    }
    MutexLock lock(&mu_);
    if (stop_) return;
    if (!poked_ && next > now) {
      cv_.WaitFor(&mu_, std::chrono::nanoseconds(next - now),
                  [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return poked_ || stop_; });
    }
    poked_ = false;
    if (stop_) return;
  }
}

}  // namespace dvm::machine
