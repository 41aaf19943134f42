// The MC146818 CMOS RTC at ports 0x70 (index; bit 7 masks NMI) and 0x71
// (data). The time runs from a Unix time given at start plus the Clock; the
// guest may set it (SET bit in register B, then clear). Register A's UIP bit
// never shows, since an update is instantaneous here. The NVRAM holds what
// firmware conventionally leaves there: memory sizes, century, CPU count.
// Not emulated: periodic, alarm and update-ended interrupts (IRQ 8 stays
// low; register C reads 0). Linux does not need them to boot or keep time.
#ifndef DVM_VMM_DEVICES_RTC_H_
#define DVM_VMM_DEVICES_RTC_H_

#include <array>
#include <cstdint>
#include <span>

#include "dvm/mutex.h"
#include "vmm/hw/clock.h"
#include "vmm/hw/device.h"

namespace dvm::devices {

struct RtcConfig {
  int64_t unix_seconds = 0;  // wall time when the device is created
  uint64_t ram_bytes = 0;
  uint32_t vcpu_count = 1;
};

// Days since 1970-01-01 <-> proleptic Gregorian date.
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);
void CivilFromDays(int64_t days, int64_t* year, unsigned* month, unsigned* day);

class Rtc final : public hw::Device {
 public:
  static constexpr uint64_t kPorts = 2;

  Rtc(const hw::Clock* clock, const RtcConfig& config);

  void Read(uint64_t offset, std::span<uint8_t> data) override;
  void Write(uint64_t offset, std::span<const uint8_t> data) override;

  int64_t NowUnixSeconds() const;
  uint8_t cmos(uint8_t index) const;  // raw byte, for tests

 private:
  int64_t NowUnixLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StoreTime(int64_t unix_seconds) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int64_t LoadTime() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint8_t Encode(unsigned v) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  unsigned Decode(uint8_t v) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Frozen() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const hw::Clock* const clock_;
  mutable Mutex mu_;
  std::array<uint8_t, 128> cmos_ ABSL_GUARDED_BY(mu_){};
  uint8_t index_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t base_unix_ ABSL_GUARDED_BY(mu_);
  uint64_t base_ns_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dvm::devices

#endif  // DVM_VMM_DEVICES_RTC_H_
