#include "vmm/devices/acpi_pm.h"

#include "dvm/log.h"

namespace dvm::devices {

AcpiPm::AcpiPm(const hw::Clock* clock, hw::IrqLine* sci, hw::PowerControl* power, uint8_t s5_type)
    : clock_(clock), sci_(sci), power_(power), s5_type_(s5_type) {}

uint8_t AcpiPm::ReadByte(uint64_t offset) const {
  const uint32_t timer =
      static_cast<uint32_t>(hw::NsToTicks(clock_->NowNs(), kAcpiPmTimerHz));  // 32-bit (TMR_VAL_EXT)
  switch (offset) {
    case 0: return static_cast<uint8_t>(status_);
    case 1: return static_cast<uint8_t>(status_ >> 8);
    case 2: return static_cast<uint8_t>(enable_);
    case 3: return static_cast<uint8_t>(enable_ >> 8);
    case 4: return static_cast<uint8_t>(control_);
    case 5: return static_cast<uint8_t>(control_ >> 8);
    case 8:
    case 9:
    case 10:
    case 11: return static_cast<uint8_t>(timer >> ((offset - 8) * 8));
    default: return 0xFF;
  }
}

void AcpiPm::Read(uint64_t offset, std::span<uint8_t> data) {
  MutexLock lock(&mu_);
  for (size_t i = 0; i < data.size(); ++i) data[i] = ReadByte(offset + i);
}

void AcpiPm::Write(uint64_t offset, std::span<const uint8_t> data) {
  bool power_off = false;
  {
    MutexLock lock(&mu_);
    for (size_t i = 0; i < data.size(); ++i) {
      const uint64_t at = offset + i;
      const uint16_t v = data[i];
      switch (at) {
        case 0: status_ &= ~v; break;  // write one to clear
        case 1: status_ &= ~(v << 8); break;
        case 2: enable_ = (enable_ & 0xFF00) | v; break;
        case 3: enable_ = (enable_ & 0x00FF) | (v << 8); break;
        case 4: control_ = (control_ & 0xFF00) | v | kPm1SciEnable; break;
        case 5: {
          const uint16_t value = (control_ & 0x00FF) | (v << 8);
          const uint8_t sleep_type = (value >> 10) & 7;
          if ((value & kPm1SleepEnable) && sleep_type == s5_type_) power_off = true;
          control_ = value & ~kPm1SleepEnable;  // SLP_EN is write-only
          break;
        }
        default: break;  // the timer is read-only
      }
    }
    UpdateSci();
  }
  if (power_off) {
    DVM_LOG(INFO) << "guest requested ACPI S5 (power off)";
    if (power_ != nullptr) power_->RequestPowerOff();
  }
}

void AcpiPm::PressPowerButton() {
  MutexLock lock(&mu_);
  status_ |= kPm1PwrBtnStatus;
  UpdateSci();
}

void AcpiPm::UpdateSci() {
  const bool level = (status_ & enable_ & 0x0721) != 0;  // TMR, GBL, PWRBTN, SLPBTN, RTC
  if (level != sci_level_ && sci_ != nullptr) sci_->SetLevel(level);
  sci_level_ = level;
}

}  // namespace dvm::devices
