// The ACPI fixed-hardware registers the FADT points at (layout::kAcpiPmPort):
// PM1a event (status, enable), PM1a control, and the 3.58 MHz PM timer.
// Writing SLP_TYP=5 with SLP_EN powers the machine off; the VMM can press
// the power button to ask the guest for a clean shutdown.
#ifndef DVM_VMM_DEVICES_ACPI_PM_H_
#define DVM_VMM_DEVICES_ACPI_PM_H_

#include <cstdint>
#include <span>

#include "dvm/mutex.h"
#include "vmm/hw/clock.h"
#include "vmm/hw/device.h"
#include "vmm/hw/irq_line.h"
#include "vmm/hw/power.h"

namespace dvm::devices {

inline constexpr uint64_t kAcpiPmTimerHz = 3579545;
inline constexpr uint16_t kPm1PwrBtnStatus = 1u << 8;
inline constexpr uint16_t kPm1WakeStatus = 1u << 15;
inline constexpr uint16_t kPm1SciEnable = 1u << 0;
inline constexpr uint16_t kPm1SleepEnable = 1u << 13;

class AcpiPm final : public hw::Device {
 public:
  // Register offsets from the port base.
  static constexpr uint64_t kStatus = 0;
  static constexpr uint64_t kEnable = 2;
  static constexpr uint64_t kControl = 4;
  static constexpr uint64_t kTimer = 8;
  static constexpr uint64_t kSize = 12;

  AcpiPm(const hw::Clock* clock, hw::IrqLine* sci, hw::PowerControl* power, uint8_t s5_type);

  void Read(uint64_t offset, std::span<uint8_t> data) override;
  void Write(uint64_t offset, std::span<const uint8_t> data) override;

  void PressPowerButton();

 private:
  uint8_t ReadByte(uint64_t offset) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UpdateSci() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const hw::Clock* const clock_;
  hw::IrqLine* const sci_;
  hw::PowerControl* const power_;
  const uint8_t s5_type_;
  mutable Mutex mu_;
  uint16_t status_ ABSL_GUARDED_BY(mu_) = 0;
  uint16_t enable_ ABSL_GUARDED_BY(mu_) = 0;
  uint16_t control_ ABSL_GUARDED_BY(mu_) = kPm1SciEnable;  // always in ACPI mode
  bool sci_level_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace dvm::devices

#endif  // DVM_VMM_DEVICES_ACPI_PM_H_
