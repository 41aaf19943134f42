// How a device asks the VMM to power off or reset the machine (ACPI S5,
// i8042 reset pulse). The vCPU loop checks the latch after each exit.
#ifndef DVM_VMM_HW_POWER_H_
#define DVM_VMM_HW_POWER_H_

#include <atomic>

namespace dvm::hw {

enum class PowerRequest { kNone = 0, kPowerOff = 1, kReset = 2 };

class PowerControl {
 public:
  virtual ~PowerControl() = default;
  virtual void RequestPowerOff() = 0;
  virtual void RequestReset() = 0;
};

// Remembers the first request; later ones do not override it.
class PowerLatch final : public PowerControl {
 public:
  void RequestPowerOff() override { Set(PowerRequest::kPowerOff); }
  void RequestReset() override { Set(PowerRequest::kReset); }
  PowerRequest pending() const { return state_.load(std::memory_order_acquire); }

 private:
  void Set(PowerRequest r) {
    PowerRequest none = PowerRequest::kNone;
    state_.compare_exchange_strong(none, r, std::memory_order_acq_rel);
  }
  std::atomic<PowerRequest> state_{PowerRequest::kNone};
};

}  // namespace dvm::hw

#endif  // DVM_VMM_HW_POWER_H_
