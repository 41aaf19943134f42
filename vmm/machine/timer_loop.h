// The node's one timer thread. Device models own no threads: each reports
// its next deadline, and this loop calls Tick() when it passes. A model whose
// deadline moved earlier (a LAPIC timer write) is noticed through Poke().
#ifndef DVM_VMM_MACHINE_TIMER_LOOP_H_
#define DVM_VMM_MACHINE_TIMER_LOOP_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "dvm/mutex.h"
#include "vmm/hw/clock.h"

namespace dvm::machine {

struct TimedDevice {
  std::function<std::optional<uint64_t>()> next_deadline_ns;
  std::function<void()> tick;
};

class TimerLoop {
 public:
  explicit TimerLoop(const hw::Clock* clock) : clock_(clock) {}
  ~TimerLoop() { Stop(); }

  // Before Start() only.
  void Add(TimedDevice device) { devices_.push_back(std::move(device)); }
  void Start();
  void Stop();
  // A deadline may have moved: look again.
  void Poke();

 private:
  void Loop();

  const hw::Clock* const clock_;
  std::vector<TimedDevice> devices_;
  Mutex mu_;
  CondVar cv_;
  bool poked_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace dvm::machine

#endif  // DVM_VMM_MACHINE_TIMER_LOOP_H_
