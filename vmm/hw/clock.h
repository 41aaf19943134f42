// Time as device models see it. Models never read the host clock or own
// threads: they ask a Clock for "now" and report their next deadline, and the
// VMM's event loop (or a test) decides when to call them again.
#ifndef DVM_VMM_HW_CLOCK_H_
#define DVM_VMM_HW_CLOCK_H_

#include <cstdint>
#include <ctime>

namespace dvm::hw {

inline constexpr uint64_t kNsPerSec = 1'000'000'000;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual uint64_t NowNs() const = 0;  // monotonic, arbitrary epoch
};

class MonotonicClock final : public Clock {
 public:
  uint64_t NowNs() const override {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * kNsPerSec + uint64_t(ts.tv_nsec);
  }
};

// For tests: time moves only when told to.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(uint64_t start_ns = 1'000'000) : now_ns_(start_ns) {}
  uint64_t NowNs() const override { return now_ns_; }
  void Advance(uint64_t ns) { now_ns_ += ns; }
  void Set(uint64_t ns) { now_ns_ = ns; }

 private:
  uint64_t now_ns_;
};

// Converts ticks of a `hz` counter to ns and back without overflow for
// any realistic uptime (128-bit intermediate).
constexpr uint64_t TicksToNs(uint64_t ticks, uint64_t hz) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(ticks) * kNsPerSec) / hz);
}
constexpr uint64_t NsToTicks(uint64_t ns, uint64_t hz) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(ns) * hz) / kNsPerSec);
}

}  // namespace dvm::hw

#endif  // DVM_VMM_HW_CLOCK_H_
