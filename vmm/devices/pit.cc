#include "vmm/devices/pit.h"

#include <algorithm>
#include <utility>

#include "dvm/log.h"

namespace dvm::devices {
namespace {

bool Periodic(uint8_t mode) { return mode == 2 || mode == 3; }

// Periodic IRQ 0 at most every 200 us (as KVM's PIT), so a guest cannot make
// the timer loop spin with a tiny reload value.
constexpr uint64_t kMinPeriodNs = 200'000;

}  // namespace

Pit::Pit(const hw::Clock* clock, hw::IrqLine* irq0) : clock_(clock), irq0_(irq0) {
  MutexLock lock(&mu_);
  ch_[2].gate = false;  // port 0x61 bit 0 starts clear
}

uint64_t Pit::ElapsedTicks(const Channel& c, uint64_t now) const {
  if (!c.counting) return c.paused_ticks;
  return c.paused_ticks + hw::NsToTicks(now - c.start_ns, kPitHz);
}

uint16_t Pit::Count(const Channel& c, uint64_t now) const {
  const uint64_t t = ElapsedTicks(c, now);
  if (Periodic(c.mode)) return static_cast<uint16_t>(c.reload - t % c.reload);
  // One-shot modes keep counting down through zero, wrapping at 16 bits.
  return static_cast<uint16_t>((c.reload - t) & 0xFFFF);
}

bool Pit::Output(const Channel& c, uint64_t now) const {
  if (!c.counting && c.paused_ticks == 0) return c.mode != 0 && c.mode != 1;
  const uint64_t t = ElapsedTicks(c, now);
  switch (c.mode) {
    case 0:
    case 1: return t >= c.reload;
    case 2: return t % c.reload != c.reload - 1;
    case 3: return t % c.reload < (c.reload + 1) / 2;
    default: return t != c.reload;  // 4, 5: one low tick at terminal count
  }
}

void Pit::ArmIrq(Channel& c) {
  c.irq_deadline_ns.reset();
  if (!c.counting) return;
  if (Periodic(c.mode)) {
    const uint64_t period = std::max(hw::TicksToNs(c.reload, kPitHz), kMinPeriodNs);
    c.irq_deadline_ns = c.start_ns + (c.irq_periods + 1) * period;
  } else if (c.irq_periods == 0) {
    c.irq_deadline_ns = c.start_ns + hw::TicksToNs(c.reload, kPitHz);
  }
}

void Pit::Load(Channel& c, uint32_t value, uint64_t now) {
  c.reload = value == 0 ? 65536 : value;
  c.paused_ticks = 0;
  c.irq_periods = 0;
  c.start_ns = now;
  c.counting = c.gate;
  if (&c == &ch_[0]) ArmIrq(c);
}

void Pit::WriteControl(uint8_t value, uint64_t now) {
  const int sel = value >> 6;
  if (sel == 3) {  // read-back: bit 5 = don't latch count, bit 4 = don't latch status
    for (int i = 0; i < 3; ++i) {
      if (!(value & (2 << i))) continue;
      Channel& c = ch_[i];
      if (!(value & 0x20) && !c.latched_count) c.latched_count = Count(c, now);
      if (!(value & 0x10) && !c.latched_status) {
        c.latched_status = uint8_t((Output(c, now) << 7) | (c.rw << 4) | (c.mode << 1) | c.bcd);
      }
    }
    return;
  }
  Channel& c = ch_[sel];
  const int rw = (value >> 4) & 3;
  if (rw == 0) {  // counter latch command
    if (!c.latched_count) {
      c.latched_count = Count(c, now);
      c.latched_msb_next = false;
    }
    return;
  }
  c.rw = static_cast<uint8_t>(rw);
  c.mode = (value >> 1) & 7;
  if (c.mode > 5) c.mode -= 4;  // 6 and 7 alias 2 and 3
  c.bcd = value & 1;
  if (c.bcd) {
    DVM_LOG_EVERY_SEC(WARNING, 60.0) << "PIT: BCD counting not emulated";
  }
  // A control word stops the counter until a new count arrives.
  c.counting = false;
  c.paused_ticks = 0;
  c.write_msb_next = c.read_msb_next = false;
  c.latched_count.reset();
  c.latched_status.reset();
  c.irq_deadline_ns.reset();
}

void Pit::WriteCounter(int ch, uint8_t value, uint64_t now) {
  Channel& c = ch_[ch];
  switch (c.rw) {
    case 1: Load(c, value, now); break;
    case 2: Load(c, uint32_t{value} << 8, now); break;
    default:
      if (!c.write_msb_next) {
        c.write_lsb = value;
        c.write_msb_next = true;
      } else {
        c.write_msb_next = false;
        Load(c, c.write_lsb | (uint32_t{value} << 8), now);
      }
  }
}

uint8_t Pit::ReadCounter(int ch, uint64_t now) {
  Channel& c = ch_[ch];
  if (c.latched_status) return *std::exchange(c.latched_status, std::nullopt);
  uint16_t count;
  bool msb;
  if (c.latched_count) {
    count = *c.latched_count;
    msb = c.rw == 2 || (c.rw == 3 && c.latched_msb_next);
    if (c.rw == 3 && !c.latched_msb_next) c.latched_msb_next = true;
    else c.latched_count.reset();
  } else {
    count = Count(c, now);
    msb = c.rw == 2 || (c.rw == 3 && c.read_msb_next);
    if (c.rw == 3) c.read_msb_next = !c.read_msb_next;
  }
  return static_cast<uint8_t>(msb ? count >> 8 : count);
}

void Pit::SetGate2(bool gate, uint64_t now) {
  Channel& c = ch_[2];
  if (gate == c.gate) return;
  c.gate = gate;
  if (!gate) {
    if (c.counting) c.paused_ticks = ElapsedTicks(c, now);
    c.counting = false;
    return;
  }
  // Rising gate: modes 1, 2, 3, 5 restart from the reload value; 0 and 4 resume.
  if (c.mode != 0 && c.mode != 4) c.paused_ticks = 0;
  c.start_ns = now;
  c.counting = true;
}

std::optional<uint64_t> Pit::NextDeadlineNs() const {
  MutexLock lock(&mu_);
  return ch_[0].irq_deadline_ns;
}

void Pit::Tick() {
  bool fire = false;
  {
    MutexLock lock(&mu_);
    Channel& c = ch_[0];
    const uint64_t now = clock_->NowNs();
    if (!c.irq_deadline_ns || now < *c.irq_deadline_ns) return;
    fire = true;
    // Missed periods coalesce: the guest keeps time by its clocksource, not ticks.
    c.irq_periods =
        Periodic(c.mode)
            ? (now - c.start_ns) / std::max(hw::TicksToNs(c.reload, kPitHz), kMinPeriodNs)
            : 1;
    ArmIrq(c);
  }
  if (fire && irq0_ != nullptr) irq0_->Pulse();
}

void Pit::Ports::Read(uint64_t offset, std::span<uint8_t> data) {
  uint8_t v = 0xFF;  // the control port is write-only
  if (offset < 3) {
    MutexLock lock(&pit_->mu_);
    v = pit_->ReadCounter(static_cast<int>(offset), pit_->clock_->NowNs());
  }
  hw::FillAccess(data, v);
}

void Pit::Ports::Write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.empty() || offset > 3) return;
  MutexLock lock(&pit_->mu_);
  const uint64_t now = pit_->clock_->NowNs();
  if (offset == 3) pit_->WriteControl(data[0], now);
  else pit_->WriteCounter(static_cast<int>(offset), data[0], now);
}

void Pit::Port61::Read(uint64_t offset, std::span<uint8_t> data) {
  MutexLock lock(&pit_->mu_);
  const uint64_t now = pit_->clock_->NowNs();
  // Bit 4 is the DRAM refresh toggle (every ~15 us); some delay loops poll it.
  const bool refresh = (now / 15085) & 1;
  const bool out2 = pit_->Output(pit_->ch_[2], now);
  hw::FillAccess(data, (pit_->port61_bits_ & 3) | (refresh << 4) | (out2 << 5));
}

void Pit::Port61::Write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.empty()) return;
  MutexLock lock(&pit_->mu_);
  pit_->port61_bits_ = data[0] & 3;
  pit_->SetGate2(data[0] & 1, pit_->clock_->NowNs());
}

}  // namespace dvm::devices
