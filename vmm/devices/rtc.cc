#include "vmm/devices/rtc.h"

#include <algorithm>

#include "dvm/types.h"

namespace dvm::devices {
namespace {

enum : uint8_t {
  kSeconds = 0x00, kMinutes = 0x02, kHours = 0x04, kWeekday = 0x06, kDay = 0x07,
  kMonth = 0x08, kYear = 0x09, kRegA = 0x0A, kRegB = 0x0B, kRegC = 0x0C, kRegD = 0x0D,
  kCentury = 0x32,
};
constexpr uint8_t kRegBSet = 0x80, kRegBBinary = 0x04, kRegB24h = 0x02;

bool IsTimeRegister(uint8_t i) {
  return i == kSeconds || i == kMinutes || i == kHours || i == kWeekday || i == kDay ||
         i == kMonth || i == kYear || i == kCentury;
}

}  // namespace

// Howard Hinnant's civil-calendar algorithms (public domain description).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* year, unsigned* month, unsigned* day) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *day = doy - (153 * mp + 2) / 5 + 1;
  *month = mp < 10 ? mp + 3 : mp - 9;
  *year = static_cast<int64_t>(yoe) + era * 400 + (*month <= 2);
}

Rtc::Rtc(const hw::Clock* clock, const RtcConfig& config) : clock_(clock) {
  MutexLock lock(&mu_);
  base_unix_ = config.unix_seconds;
  base_ns_ = clock_->NowNs();
  cmos_[kRegA] = 0x26;  // 32.768 kHz base, 1024 Hz rate
  cmos_[kRegB] = kRegB24h;
  cmos_[kRegD] = 0x80;  // valid RAM and time
  // NVRAM, in the layout PC firmware (and SeaBIOS) uses.
  cmos_[0x14] = 0x02;  // equipment: FPU present
  cmos_[0x15] = 0x80;  // base memory: 640 KiB
  cmos_[0x16] = 0x02;
  const uint64_t ext_kib = std::min<uint64_t>(
      config.ram_bytes > kMiB ? (std::min(config.ram_bytes, 64 * kMiB) - kMiB) / kKiB : 0, 0xFC00);
  cmos_[0x17] = cmos_[0x30] = static_cast<uint8_t>(ext_kib);
  cmos_[0x18] = cmos_[0x31] = static_cast<uint8_t>(ext_kib >> 8);
  const uint64_t low = std::min<uint64_t>(config.ram_bytes, 0xC0000000);
  const uint64_t above_16m = low > 16 * kMiB ? std::min<uint64_t>((low - 16 * kMiB) >> 16, 0xFFFF) : 0;
  cmos_[0x34] = static_cast<uint8_t>(above_16m);
  cmos_[0x35] = static_cast<uint8_t>(above_16m >> 8);
  const uint64_t above_4g = config.ram_bytes > low ? (config.ram_bytes - low) >> 16 : 0;
  cmos_[0x5B] = static_cast<uint8_t>(above_4g);
  cmos_[0x5C] = static_cast<uint8_t>(above_4g >> 8);
  cmos_[0x5D] = static_cast<uint8_t>(above_4g >> 16);
  cmos_[0x5F] = static_cast<uint8_t>(config.vcpu_count - 1);
  unsigned sum = 0;
  for (int i = 0x10; i <= 0x2D; ++i) sum += cmos_[i];
  cmos_[0x2E] = static_cast<uint8_t>(sum >> 8);
  cmos_[0x2F] = static_cast<uint8_t>(sum);
  StoreTime(base_unix_);
}

bool Rtc::Frozen() const { return cmos_[kRegB] & kRegBSet; }

uint8_t Rtc::Encode(unsigned v) const {
  return (cmos_[kRegB] & kRegBBinary) ? static_cast<uint8_t>(v)
                                       : static_cast<uint8_t>(((v / 10) << 4) | (v % 10));
}

unsigned Rtc::Decode(uint8_t v) const {
  return (cmos_[kRegB] & kRegBBinary) ? v : (v >> 4) * 10 + (v & 0xF);
}

int64_t Rtc::NowUnixLocked() const {
  return base_unix_ + static_cast<int64_t>((clock_->NowNs() - base_ns_) / hw::kNsPerSec);
}

int64_t Rtc::NowUnixSeconds() const {
  MutexLock lock(&mu_);
  return Frozen() ? LoadTime() : NowUnixLocked();
}

void Rtc::StoreTime(int64_t t) {
  const int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  const int64_t secs = t - days * 86400;
  int64_t year;
  unsigned month, day;
  CivilFromDays(days, &year, &month, &day);
  const unsigned hour = static_cast<unsigned>(secs / 3600);
  cmos_[kSeconds] = Encode(static_cast<unsigned>(secs % 60));
  cmos_[kMinutes] = Encode(static_cast<unsigned>(secs / 60 % 60));
  if (cmos_[kRegB] & kRegB24h) {
    cmos_[kHours] = Encode(hour);
  } else {
    cmos_[kHours] = static_cast<uint8_t>(Encode(hour % 12 == 0 ? 12 : hour % 12) | (hour >= 12 ? 0x80 : 0));
  }
  cmos_[kWeekday] = Encode(static_cast<unsigned>((days % 7 + 11) % 7 + 1));  // 1 = Sunday
  cmos_[kDay] = Encode(day);
  cmos_[kMonth] = Encode(month);
  cmos_[kYear] = Encode(static_cast<unsigned>(((year % 100) + 100) % 100));
  cmos_[kCentury] = Encode(static_cast<unsigned>(std::clamp<int64_t>(year / 100, 0, 99)));
}

int64_t Rtc::LoadTime() const {
  unsigned hour;
  if (cmos_[kRegB] & kRegB24h) {
    hour = Decode(cmos_[kHours]);
  } else {
    hour = Decode(cmos_[kHours] & 0x7F) % 12 + ((cmos_[kHours] & 0x80) ? 12 : 0);
  }
  const int64_t year = Decode(cmos_[kCentury]) * 100 + Decode(cmos_[kYear]);
  const unsigned month = std::clamp(Decode(cmos_[kMonth]), 1u, 12u);
  const unsigned day = std::clamp(Decode(cmos_[kDay]), 1u, 31u);
  return DaysFromCivil(year, month, day) * 86400 + hour * 3600 + Decode(cmos_[kMinutes]) * 60 +
         Decode(cmos_[kSeconds]);
}

void Rtc::Read(uint64_t offset, std::span<uint8_t> data) {
  MutexLock lock(&mu_);
  uint8_t v = 0xFF;
  if (offset == 0) {
    v = index_;
  } else if (offset == 1) {
    if (IsTimeRegister(index_) && !Frozen()) StoreTime(NowUnixLocked());
    v = index_ == kRegC ? 0 : cmos_[index_];
  }
  hw::FillAccess(data, v);
}

void Rtc::Write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.empty()) return;
  MutexLock lock(&mu_);
  const uint8_t v = data[0];
  if (offset == 0) {
    index_ = v & 0x7F;  // bit 7 is the NMI mask, which only matters on hardware
    return;
  }
  if (offset != 1) return;
  switch (index_) {
    case kRegA: cmos_[kRegA] = v & 0x7F; break;  // UIP is read-only
    case kRegB: {
      // Keep the time across a format change, and apply a new time when SET clears.
      const int64_t now = Frozen() ? LoadTime() : NowUnixLocked();
      cmos_[kRegB] = v;
      if (!Frozen()) {
        base_unix_ = now;
        base_ns_ = clock_->NowNs();
      }
      StoreTime(now);
      break;
    }
    case kRegC:
    case kRegD: break;  // read-only
    default:
      if (IsTimeRegister(index_)) {
        if (!Frozen()) StoreTime(NowUnixLocked());
        cmos_[index_] = v;
        if (!Frozen()) {
          base_unix_ = LoadTime();
          base_ns_ = clock_->NowNs();
        }
      } else {
        cmos_[index_] = v;
      }
  }
}

uint8_t Rtc::cmos(uint8_t index) const {
  MutexLock lock(&mu_);
  return cmos_[index & 0x7F];
}

}  // namespace dvm::devices
