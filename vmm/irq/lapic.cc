#include "vmm/irq/lapic.h"

#include <algorithm>
#include <bit>
#include <utility>

#include "dvm/log.h"
#include "vmm/layout/layout.h"

namespace dvm::irq {
namespace {

constexpr uint64_t kApicBaseBsp = 1ull << 8;
constexpr uint64_t kApicBaseEnable = 1ull << 11;
constexpr uint32_t kEsrSendIllegalVector = 1u << 5;
constexpr uint32_t kEsrReceiveIllegalVector = 1u << 6;
constexpr uint32_t kIcrDeliveryPending = 1u << 12;
constexpr uint32_t kLvtExtIntUnmasked = 0x700;
// A guest could program a periodic timer of a few ns and keep the VMM's
// timer loop spinning; like KVM (min_timer_period_us), interrupts come at
// most this often. The counter the guest reads still runs architecturally.
constexpr uint64_t kMinPeriodicNs = 200'000;

enum LvtIndex { kTimer, kThermal, kPerf, kLint0, kLint1, kError, kCmci };

// Which LVT a register offset names, and which of its bits the guest may set.
std::optional<std::pair<LvtIndex, uint32_t>> LvtFor(uint32_t reg) {
  switch (reg) {
    case apic_reg::kLvtTimer: return std::pair{kTimer, 0x300FFu};  // no TSC-deadline mode
    case apic_reg::kLvtThermal: return std::pair{kThermal, 0x107FFu};
    case apic_reg::kLvtPerf: return std::pair{kPerf, 0x107FFu};
    case apic_reg::kLvtLint0: return std::pair{kLint0, 0x1A7FFu};
    case apic_reg::kLvtLint1: return std::pair{kLint1, 0x1A7FFu};
    case apic_reg::kLvtError: return std::pair{kError, 0x100FFu};
    case apic_reg::kLvtCmci: return std::pair{kCmci, 0x107FFu};
    default: return std::nullopt;
  }
}

// Highest set bit in a 256-bit register file, or -1.
int Highest(const std::array<uint32_t, 8>& bits) {
  for (int i = 7; i >= 0; --i) {
    if (bits[i] != 0) return i * 32 + 31 - std::countl_zero(bits[i]);
  }
  return -1;
}
bool TestBit(const std::array<uint32_t, 8>& bits, uint8_t v) { return bits[v / 32] >> (v % 32) & 1; }
void SetBit(std::array<uint32_t, 8>& bits, uint8_t v) { bits[v / 32] |= 1u << (v % 32); }
void ClearBit(std::array<uint32_t, 8>& bits, uint8_t v) { bits[v / 32] &= ~(1u << (v % 32)); }

}  // namespace

struct Lapic::Effects {
  std::optional<ApicMessage> ipi;
  std::optional<uint8_t> eoi;
  std::optional<ApicAddressing> addressing;  // changed
  bool kick = false;
};

Lapic::Lapic(uint8_t apic_id, bool bsp, const hw::Clock* clock, ApicMessageSink* ipi_sink,
             EoiSink* eoi_sink)
    : clock_(clock), ipi_sink_(ipi_sink), eoi_sink_(eoi_sink) {
  MutexLock lock(&mu_);
  id_ = apic_id;
  apic_base_ = layout::kLapic.value() | kApicBaseEnable | (bsp ? kApicBaseBsp : 0);
  ResetLocked();
}

void Lapic::SetKick(std::function<void()> kick) { kick_ = std::move(kick); }

void Lapic::SetAddressingListener(std::function<void(const ApicAddressing&)> listener) {
  addressing_listener_ = std::move(listener);
}

void Lapic::ResetLocked() {
  tpr_ = ldr_ = esr_ = esr_pending_ = icr_low_ = icr_high_ = 0;
  dfr_ = 0xFFFFFFFF;
  svr_ = 0xFF;
  isr_ = {};
  tmr_ = {};
  irr_ = {};
  lvt_.fill(kLvtMasked);
  // Like firmware leaving the BSP in virtual-wire mode: the PIC reaches it.
  if (apic_base_ & kApicBaseBsp) lvt_[kLint0] = kLvtExtIntUnmasked;
  timer_initial_ = timer_divide_ = 0;
  timer_tick_ns_ = 2;
  timer_deadline_ns_.reset();
  nmi_pending_ = init_pending_ = false;
  sipi_vector_.reset();
}

bool Lapic::HardwareEnabled() const { return apic_base_ & kApicBaseEnable; }
bool Lapic::SoftwareEnabled() const { return svr_ & kSvrEnabled; }

uint32_t Lapic::Ppr() const {
  const int isrv = std::max(Highest(isr_), 0);
  return (tpr_ & 0xF0) >= (uint32_t(isrv) & 0xF0) ? (tpr_ & 0xFF) : (uint32_t(isrv) & 0xF0);
}

int Lapic::HighestPendingLocked() const {
  if (!HardwareEnabled() || !SoftwareEnabled()) return -1;
  const int v = Highest(irr_);
  if (v < 0 || (uint32_t(v) & 0xF0) <= (Ppr() & 0xF0)) return -1;
  return v;
}

void Lapic::Read(uint64_t offset, std::span<uint8_t> data) {
  uint32_t value = 0;
  const uint64_t sub = offset & 0xF;
  if (offset < layout::kLapicSize && sub < 4) {
    MutexLock lock(&mu_);
    value = ReadRegister(static_cast<uint32_t>(offset & ~0xFull)) >> (sub * 8);
  }
  hw::FillAccess(data, value);
}

void Lapic::Write(uint64_t offset, std::span<const uint8_t> data) {
  // Registers are 32 bits wide at 16-byte strides; other accesses are
  // undefined on hardware and ignored here.
  if (offset >= layout::kLapicSize || (offset & 0xF) != 0 || data.size() != 4) {
    DVM_LOG_EVERY_SEC(WARNING, 1.0) << "LAPIC: ignoring " << data.size() << "-byte write at 0x"
                                    << std::hex << offset;
    return;
  }
  Effects fx;
  {
    MutexLock lock(&mu_);
    WriteRegister(static_cast<uint32_t>(offset), static_cast<uint32_t>(hw::AccessValue(data)), fx);
  }
  Emit(fx);
}

void Lapic::Emit(const Effects& fx) {
  if (fx.ipi && ipi_sink_ != nullptr) ipi_sink_->Send(*fx.ipi);
  if (fx.eoi && eoi_sink_ != nullptr) eoi_sink_->BroadcastEoi(*fx.eoi);
  if (fx.addressing && addressing_listener_) addressing_listener_(*fx.addressing);
  if (fx.kick && kick_) kick_();
}

uint32_t Lapic::ReadRegister(uint32_t reg) const {
  if (reg >= apic_reg::kIsr && reg < apic_reg::kIsr + 0x80) return isr_[(reg - apic_reg::kIsr) / 16];
  if (reg >= apic_reg::kTmr && reg < apic_reg::kTmr + 0x80) return tmr_[(reg - apic_reg::kTmr) / 16];
  if (reg >= apic_reg::kIrr && reg < apic_reg::kIrr + 0x80) return irr_[(reg - apic_reg::kIrr) / 16];
  if (auto lvt = LvtFor(reg)) return lvt_[lvt->first];
  switch (reg) {
    case apic_reg::kId: return uint32_t{id_} << 24;
    case apic_reg::kVersion: return kLapicVersion;
    case apic_reg::kTpr: return tpr_;
    case apic_reg::kPpr: return Ppr();
    case apic_reg::kLdr: return ldr_;
    case apic_reg::kDfr: return dfr_;
    case apic_reg::kSvr: return svr_;
    case apic_reg::kEsr: return esr_;
    case apic_reg::kIcrLow: return icr_low_;
    case apic_reg::kIcrHigh: return icr_high_;
    case apic_reg::kTimerInitial: return timer_initial_;
    case apic_reg::kTimerCurrent: return CurrentCount();
    case apic_reg::kTimerDivide: return timer_divide_;
    default: return 0;  // APR, RRD, EOI and reserved read as zero
  }
}

void Lapic::WriteRegister(uint32_t reg, uint32_t value, Effects& fx) {
  if (auto lvt = LvtFor(reg)) {
    uint32_t v = value & lvt->second;
    if (!SoftwareEnabled()) v |= kLvtMasked;  // masks stay set while disabled
    lvt_[lvt->first] = v;
    return;
  }
  switch (reg) {
    case apic_reg::kId:
      id_ = static_cast<uint8_t>(value >> 24);
      fx.addressing = ApicAddressing{id_, ldr_, dfr_};
      break;
    case apic_reg::kTpr:
      tpr_ = value & 0xFF;
      break;
    case apic_reg::kEoi: {
      const int v = Highest(isr_);
      if (v < 0) break;
      ClearBit(isr_, static_cast<uint8_t>(v));
      if (TestBit(tmr_, static_cast<uint8_t>(v))) fx.eoi = static_cast<uint8_t>(v);
      break;
    }
    case apic_reg::kLdr:
      ldr_ = value & 0xFF000000;
      fx.addressing = ApicAddressing{id_, ldr_, dfr_};
      break;
    case apic_reg::kDfr:
      dfr_ = value | 0x0FFFFFFF;
      fx.addressing = ApicAddressing{id_, ldr_, dfr_};
      break;
    case apic_reg::kSvr:
      svr_ = value & 0x1FF;  // no focus checking, no EOI-broadcast suppression
      if (!SoftwareEnabled()) {
        for (auto& l : lvt_) l |= kLvtMasked;
      }
      break;
    case apic_reg::kEsr:
      esr_ = esr_pending_;
      esr_pending_ = 0;
      break;
    case apic_reg::kIcrHigh:
      icr_high_ = value & 0xFF000000;
      break;
    case apic_reg::kIcrLow:
      icr_low_ = value & ~kIcrDeliveryPending & 0x000CDFFF;  // delivered at once: never pending
      SendIcr(fx);
      break;
    case apic_reg::kTimerInitial:
      timer_initial_ = value;
      StartTimer();
      break;
    case apic_reg::kTimerDivide:
      timer_divide_ = value & 0xB;
      break;
    default:
      break;  // read-only or reserved
  }
}

void Lapic::SendIcr(Effects& fx) {
  ApicMessage m;
  m.vector = static_cast<uint8_t>(icr_low_);
  const uint32_t mode = (icr_low_ >> 8) & 7;
  m.dest_mode = static_cast<DestMode>((icr_low_ >> 11) & 1);
  m.level = (icr_low_ >> 14) & 1;
  m.trigger = static_cast<TriggerMode>((icr_low_ >> 15) & 1);
  m.shorthand = static_cast<Shorthand>((icr_low_ >> 18) & 3);
  m.dest = static_cast<uint8_t>(icr_high_ >> 24);
  m.source_id = id_;
  switch (mode) {
    case 0:
    case 1:
      if (m.vector < 16) return SignalError(kEsrSendIllegalVector, fx);
      m.mode = mode == 0 ? DeliveryMode::kFixed : DeliveryMode::kLowestPriority;
      break;
    case 4: m.mode = DeliveryMode::kNmi; break;
    case 5:
      // INIT level de-assert only synchronized arbitration ids on old CPUs.
      if (!m.level && m.trigger == TriggerMode::kLevel) return;
      m.mode = DeliveryMode::kInit;
      break;
    case 6: m.mode = DeliveryMode::kStartup; break;
    default:
      DVM_LOG_EVERY_SEC(WARNING, 1.0) << "LAPIC " << int{id_} << ": unsupported IPI mode " << mode;
      return;  // SMI, ExtINT and reserved modes are not sent
  }
  fx.ipi = m;
}

void Lapic::SignalError(uint32_t bit, Effects& fx) {
  esr_pending_ |= bit;
  if (!(lvt_[kError] & kLvtMasked)) AcceptFixed(static_cast<uint8_t>(lvt_[kError]), false, fx);
}

void Lapic::AcceptFixed(uint8_t vector, bool level, Effects& fx) {
  if (vector < 16) {
    // Guard against recursion: an illegal error vector must not signal again.
    esr_pending_ |= kEsrReceiveIllegalVector;
    return;
  }
  SetBit(irr_, vector);
  if (level) SetBit(tmr_, vector);
  else ClearBit(tmr_, vector);
  fx.kick = true;
}

void Lapic::Deliver(const ApicMessage& message) {
  Effects fx;
  {
    MutexLock lock(&mu_);
    if (!HardwareEnabled()) return;
    switch (message.mode) {
      case DeliveryMode::kFixed:
      case DeliveryMode::kLowestPriority:
        if (!SoftwareEnabled()) return;  // dropped, as KVM does
        if (message.vector < 16) {
          SignalError(kEsrReceiveIllegalVector, fx);
        } else {
          AcceptFixed(message.vector, message.trigger == TriggerMode::kLevel, fx);
        }
        break;
      case DeliveryMode::kNmi:
        nmi_pending_ = fx.kick = true;
        break;
      case DeliveryMode::kInit:
        if (!message.level) return;
        ResetLocked();  // INIT resets everything but the id and the base MSR
        init_pending_ = fx.kick = true;
        break;
      case DeliveryMode::kStartup:
        sipi_vector_ = message.vector;
        fx.kick = true;
        break;
      case DeliveryMode::kSmi:
      case DeliveryMode::kExtInt:
        return;
    }
  }
  Emit(fx);
}

std::optional<uint8_t> Lapic::PendingVector() const {
  MutexLock lock(&mu_);
  const int v = HighestPendingLocked();
  if (v < 0) return std::nullopt;
  return static_cast<uint8_t>(v);
}

std::optional<uint8_t> Lapic::AcknowledgeInterrupt() {
  MutexLock lock(&mu_);
  const int v = HighestPendingLocked();
  if (v < 0) return std::nullopt;
  ClearBit(irr_, static_cast<uint8_t>(v));
  SetBit(isr_, static_cast<uint8_t>(v));
  return static_cast<uint8_t>(v);
}

bool Lapic::TakeNmi() {
  MutexLock lock(&mu_);
  return std::exchange(nmi_pending_, false);
}

bool Lapic::TakeInit() {
  MutexLock lock(&mu_);
  return std::exchange(init_pending_, false);
}

std::optional<uint8_t> Lapic::TakeStartup() {
  MutexLock lock(&mu_);
  return std::exchange(sipi_vector_, std::nullopt);
}

bool Lapic::AcceptsExtInt() const {
  MutexLock lock(&mu_);
  if (!HardwareEnabled()) return true;
  return (lvt_[kLint0] & (kLvtMasked | 0x700)) == kLvtExtIntUnmasked;
}

uint64_t Lapic::apic_base() const {
  MutexLock lock(&mu_);
  return apic_base_;
}

void Lapic::SetApicBase(uint64_t value) {
  MutexLock lock(&mu_);
  const uint64_t base = value & 0xFFFFF000;
  if (base != layout::kLapic.value()) {
    DVM_LOG_EVERY_SEC(WARNING, 1.0) << "LAPIC " << int{id_} << ": relocation to 0x" << std::hex
                                    << base << " not supported; MMIO stays at the default";
  }
  const bool was_enabled = HardwareEnabled();
  apic_base_ = base | (value & kApicBaseEnable) | (apic_base_ & kApicBaseBsp);
  if (was_enabled != HardwareEnabled()) ResetLocked();
}

ApicAddressing Lapic::addressing() const {
  MutexLock lock(&mu_);
  return {id_, ldr_, dfr_};
}

uint8_t Lapic::id() const {
  MutexLock lock(&mu_);
  return id_;
}

LapicState Lapic::Save() const {
  MutexLock lock(&mu_);
  const uint64_t now = clock_->NowNs();
  LapicState s;
  s.id = id_;
  s.apic_base = apic_base_;
  s.tpr = tpr_;
  s.ldr = ldr_;
  s.dfr = dfr_;
  s.svr = svr_;
  s.isr = isr_;
  s.tmr = tmr_;
  s.irr = irr_;
  s.esr = esr_;
  s.esr_pending = esr_pending_;
  s.icr_low = icr_low_;
  s.icr_high = icr_high_;
  s.lvt = lvt_;
  s.timer_initial = timer_initial_;
  s.timer_divide = timer_divide_;
  s.timer_tick_ns = timer_tick_ns_;
  s.timer_elapsed_ns = now - timer_start_ns_;
  if (timer_deadline_ns_) {
    s.timer_remaining_ns = *timer_deadline_ns_ > now ? *timer_deadline_ns_ - now : 0;
  }
  s.nmi_pending = nmi_pending_;
  s.init_pending = init_pending_;
  s.sipi_vector = sipi_vector_;
  return s;
}

absl::Status Lapic::Restore(const LapicState& s) {
  if (s.timer_tick_ns == 0 || s.timer_tick_ns > 128 || !std::has_single_bit(s.timer_tick_ns)) {
    return absl::InvalidArgumentError("LAPIC state: timer divider is not a power of two <= 128");
  }
  if ((s.apic_base & 0xFFF) & ~uint64_t{0x900} || s.timer_divide & ~0xBu || s.svr > 0x1FF ||
      s.tpr > 0xFF || (s.ldr & 0x00FFFFFF) || (s.icr_high & 0x00FFFFFF)) {
    return absl::InvalidArgumentError("LAPIC state: reserved bits set");
  }
  if (s.timer_remaining_ns && s.timer_initial == 0) {
    return absl::InvalidArgumentError("LAPIC state: timer armed with a zero count");
  }
  {
    MutexLock lock(&mu_);
    const uint64_t now = clock_->NowNs();
    id_ = s.id;
    apic_base_ = s.apic_base;
    tpr_ = s.tpr;
    ldr_ = s.ldr;
    dfr_ = s.dfr | 0x0FFFFFFF;
    svr_ = s.svr;
    isr_ = s.isr;
    tmr_ = s.tmr;
    irr_ = s.irr;
    esr_ = s.esr;
    esr_pending_ = s.esr_pending;
    icr_low_ = s.icr_low;
    icr_high_ = s.icr_high;
    lvt_ = s.lvt;
    timer_initial_ = s.timer_initial;
    timer_divide_ = s.timer_divide;
    timer_tick_ns_ = s.timer_tick_ns;
    timer_start_ns_ = now - std::min(s.timer_elapsed_ns, now);
    timer_deadline_ns_.reset();
    if (s.timer_remaining_ns) timer_deadline_ns_ = now + *s.timer_remaining_ns;
    nmi_pending_ = s.nmi_pending;
    init_pending_ = s.init_pending;
    sipi_vector_ = s.sipi_vector;
  }
  Effects fx;
  fx.addressing = ApicAddressing{s.id, s.ldr, s.dfr | 0x0FFFFFFF};
  Emit(fx);
  return absl::OkStatus();
}

// --- timer -----------------------------------------------------------------

uint64_t Lapic::TimerPeriodNs() const { return uint64_t{timer_initial_} * timer_tick_ns_; }

void Lapic::StartTimer() {
  // Divide configuration bits 3,1,0: 0b111 is divide by 1, else 2 << value.
  const uint32_t code = ((timer_divide_ & 8) >> 1) | (timer_divide_ & 3);
  const uint64_t divisor = uint64_t{1} << ((code + 1) & 7);
  timer_tick_ns_ = hw::TicksToNs(divisor, kApicBusHz);
  timer_start_ns_ = clock_->NowNs();
  if (timer_initial_ == 0) {
    timer_deadline_ns_.reset();
  } else if (PeriodicLocked()) {
    timer_deadline_ns_ = timer_start_ns_ + std::max(TimerPeriodNs(), kMinPeriodicNs);
  } else {
    timer_deadline_ns_ = timer_start_ns_ + TimerPeriodNs();
  }
}

uint32_t Lapic::CurrentCount() const {
  if (timer_initial_ == 0) return 0;
  const uint64_t elapsed = (clock_->NowNs() - timer_start_ns_) / timer_tick_ns_;
  const bool periodic = PeriodicLocked();
  if (periodic) return timer_initial_ - static_cast<uint32_t>(elapsed % timer_initial_);
  if (!timer_deadline_ns_ || elapsed >= timer_initial_) return 0;
  return timer_initial_ - static_cast<uint32_t>(elapsed);
}

std::optional<uint64_t> Lapic::NextDeadlineNs() const {
  MutexLock lock(&mu_);
  return EffectiveDeadlineLocked();
}

bool Lapic::PeriodicLocked() const { return ((lvt_[kTimer] >> 17) & 3) == 1; }

std::optional<uint64_t> Lapic::EffectiveDeadlineLocked() const {
  if (!timer_deadline_ns_ || !halted_ || halted_tick_limit_ns_ == 0 || !PeriodicLocked()) {
    return timer_deadline_ns_;
  }
  return std::max(*timer_deadline_ns_, last_timer_fire_ns_ + halted_tick_limit_ns_);
}

void Lapic::SetHaltedTickLimit(uint64_t ns, std::function<void()> on_earlier) {
  MutexLock lock(&mu_);
  halted_tick_limit_ns_ = ns;
  timer_earlier_ = std::move(on_earlier);
}

void Lapic::SetHalted(bool halted) {
  bool earlier = false;
  {
    MutexLock lock(&mu_);
    if (halted_ == halted) return;
    const std::optional<uint64_t> before = EffectiveDeadlineLocked();
    halted_ = halted;
    const std::optional<uint64_t> after = EffectiveDeadlineLocked();
    earlier = after && before && *after < *before;
  }
  if (earlier && timer_earlier_) timer_earlier_();
}

bool Lapic::TickLocked(Effects& fx) {
  const uint64_t now = clock_->NowNs();
  const std::optional<uint64_t> due = EffectiveDeadlineLocked();
  if (!due || now < *due) return false;
  last_timer_fire_ns_ = now;
  if (!(lvt_[kTimer] & kLvtMasked)) AcceptFixed(static_cast<uint8_t>(lvt_[kTimer]), false, fx);
  if (PeriodicLocked()) {
    // Periodic: next period after now; missed periods coalesce into one interrupt.
    const uint64_t period = std::max(TimerPeriodNs(), kMinPeriodicNs);
    const uint64_t missed = (now - *timer_deadline_ns_) / period;
    timer_deadline_ns_ = *timer_deadline_ns_ + (missed + 1) * period;
  } else {
    timer_deadline_ns_.reset();
  }
  return true;
}

void Lapic::Tick() {
  Effects fx;
  {
    MutexLock lock(&mu_);
    TickLocked(fx);
  }
  Emit(fx);
}

}  // namespace dvm::irq
