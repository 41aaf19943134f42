// One vCPU's local APIC in xAPIC mode, emulated in user space.
//
// The vCPU thread reads and writes it through MMIO exits at 0xFEE00000 and asks
// it what to inject; other threads (the IPI router, the IOAPIC) deliver into
// it. ICR writes do not deliver anything: the IPI goes to an ApicMessageSink,
// which may be on another node. The timer owns no thread: NextDeadlineNs()
// says when to call Tick().
//
// Not emulated: x2APIC, TSC-deadline mode, EOI-broadcast suppression, SMI,
// thermal/perf/CMCI sources (their LVT entries are plain registers), APIC base
// relocation (the base MSR is recorded; MMIO stays at layout::kLapic).
#ifndef DVM_VMM_IRQ_LAPIC_H_
#define DVM_VMM_IRQ_LAPIC_H_

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>

#include "absl/status/status.h"
#include "dvm/mutex.h"
#include "vmm/hw/clock.h"
#include "vmm/hw/device.h"
#include "vmm/irq/apic_message.h"

namespace dvm::irq {

namespace apic_reg {
inline constexpr uint32_t kId = 0x20;
inline constexpr uint32_t kVersion = 0x30;
inline constexpr uint32_t kTpr = 0x80;
inline constexpr uint32_t kApr = 0x90;
inline constexpr uint32_t kPpr = 0xA0;
inline constexpr uint32_t kEoi = 0xB0;
inline constexpr uint32_t kRrd = 0xC0;
inline constexpr uint32_t kLdr = 0xD0;
inline constexpr uint32_t kDfr = 0xE0;
inline constexpr uint32_t kSvr = 0xF0;
inline constexpr uint32_t kIsr = 0x100;  // 8 registers, 0x10 apart
inline constexpr uint32_t kTmr = 0x180;
inline constexpr uint32_t kIrr = 0x200;
inline constexpr uint32_t kEsr = 0x280;
inline constexpr uint32_t kLvtCmci = 0x2F0;
inline constexpr uint32_t kIcrLow = 0x300;
inline constexpr uint32_t kIcrHigh = 0x310;
inline constexpr uint32_t kLvtTimer = 0x320;
inline constexpr uint32_t kLvtThermal = 0x330;
inline constexpr uint32_t kLvtPerf = 0x340;
inline constexpr uint32_t kLvtLint0 = 0x350;
inline constexpr uint32_t kLvtLint1 = 0x360;
inline constexpr uint32_t kLvtError = 0x370;
inline constexpr uint32_t kTimerInitial = 0x380;
inline constexpr uint32_t kTimerCurrent = 0x390;
inline constexpr uint32_t kTimerDivide = 0x3E0;
}  // namespace apic_reg

inline constexpr uint32_t kLapicVersion = 0x00050014;  // version 0x14, 6 LVT entries
inline constexpr uint32_t kLvtMasked = 1u << 16;
inline constexpr uint32_t kSvrEnabled = 1u << 8;
inline constexpr uint64_t kApicBusHz = 1'000'000'000;  // timer input, as KVM's (1 ns/tick)

// Everything a LAPIC holds, for vCPU migration. Timer progress is relative
// (elapsed/remaining ns), so it survives a move to a host with another clock.
struct LapicState {
  uint8_t id = 0;
  uint64_t apic_base = 0;
  uint32_t tpr = 0, ldr = 0, dfr = 0xFFFFFFFF, svr = 0xFF;
  std::array<uint32_t, 8> isr{}, tmr{}, irr{};
  uint32_t esr = 0, esr_pending = 0, icr_low = 0, icr_high = 0;
  std::array<uint32_t, 7> lvt{};
  uint32_t timer_initial = 0, timer_divide = 0;
  uint64_t timer_tick_ns = 2;
  uint64_t timer_elapsed_ns = 0;             // since the count was (re)started
  std::optional<uint64_t> timer_remaining_ns;  // until the next expiry, if armed
  bool nmi_pending = false, init_pending = false;
  std::optional<uint8_t> sipi_vector;
  bool operator==(const LapicState&) const = default;
};

class Lapic final : public hw::Device {
 public:
  Lapic(uint8_t apic_id, bool bsp, const hw::Clock* clock, ApicMessageSink* ipi_sink,
        EoiSink* eoi_sink);

  // Called whenever an interrupt, NMI, INIT or SIPI becomes pending, from
  // whichever thread delivered it: the VMM kicks the vCPU out of KVM_RUN/HLT.
  void SetKick(std::function<void()> kick);
  // Called after the guest changed this LAPIC's id, LDR or DFR (and after
  // Restore), so the VMM can tell other nodes' APIC buses.
  void SetAddressingListener(std::function<void(const ApicAddressing&)> listener);

  // xAPIC MMIO, offset within the 4 KiB page.
  void Read(uint64_t offset, std::span<uint8_t> data) override;
  void Write(uint64_t offset, std::span<const uint8_t> data) override;

  // IA32_APIC_BASE as the guest writes and reads it (KVM forwards neither
  // without an in-kernel LAPIC, so the VMM calls these from its MSR handling).
  uint64_t apic_base() const;
  void SetApicBase(uint64_t value);

  // Delivery into this LAPIC: a message the router decided is for us (fixed,
  // lowest-priority as fixed, NMI, INIT, SIPI). ExtINT goes through the PIC.
  void Deliver(const ApicMessage& message);

  // --- for the vCPU loop ---------------------------------------------------
  // Highest IRR vector above the processor priority, if any.
  std::optional<uint8_t> PendingVector() const;
  // Moves the highest deliverable vector from IRR to ISR and returns it; call
  // when injecting it with KVM_INTERRUPT.
  std::optional<uint8_t> AcknowledgeInterrupt();
  bool TakeNmi();
  bool TakeInit();  // the vCPU goes to wait-for-SIPI; the LAPIC has reset itself
  std::optional<uint8_t> TakeStartup();  // SIPI vector: start at vector << 12
  // Whether the PIC's INTR reaches this CPU (LINT0 ExtINT unmasked, or APIC
  // hardware-disabled): then the loop injects the PIC's vector instead.
  bool AcceptsExtInt() const;

  // Timer: the clock time of the next expiry, or nullopt. Tick() fires any
  // expiry that is due (re-arming a periodic timer) and is cheap otherwise.
  std::optional<uint64_t> NextDeadlineNs() const;
  void Tick();

  // Halted-vCPU tick limit (0, the default, is off). While the vCPU is
  // halted, a periodic timer fires at most once per `ns`; the periods in
  // between pass as if interrupts had been masked. For a vCPU on a node other
  // than the one whose CPU keeps the guest's time: Linux runs periodic ticks
  // on every CPU until it switches to one-shot timers late in its boot, and
  // each tick of an idle CPU on another node reads the timekeeping pages
  // that CPU rewrites every tick, which costs a page transfer each way.
  // One-shot timers (and so a booted Linux's timers) are untouched.
  // `on_earlier` is called when leaving the halt brings the next expiry
  // forward, so the timer loop can look again.
  void SetHaltedTickLimit(uint64_t ns, std::function<void()> on_earlier);
  // The vCPU loop says when its vCPU halts and when it runs again.
  void SetHalted(bool halted);

  LapicState Save() const;
  // Rejects a state that could not have come from Save() (it may have
  // crossed the network): bad divider, vectors, reserved bits.
  absl::Status Restore(const LapicState& state);

  ApicAddressing addressing() const;
  uint8_t id() const;

 private:
  struct Effects;  // what to emit after the lock is dropped

  uint32_t ReadRegister(uint32_t reg) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WriteRegister(uint32_t reg, uint32_t value, Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Emit(const Effects& fx);
  void ResetLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool HardwareEnabled() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool SoftwareEnabled() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint32_t Ppr() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int HighestPendingLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AcceptFixed(uint8_t vector, bool level, Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SignalError(uint32_t bit, Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendIcr(Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartTimer() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t TimerPeriodNs() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint32_t CurrentCount() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool TickLocked(Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool PeriodicLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The next expiry that fires, after the halted-vCPU tick limit.
  std::optional<uint64_t> EffectiveDeadlineLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const hw::Clock* const clock_;
  ApicMessageSink* const ipi_sink_;
  EoiSink* const eoi_sink_;
  std::function<void()> kick_;
  std::function<void(const ApicAddressing&)> addressing_listener_;
  std::function<void()> timer_earlier_;

  mutable Mutex mu_;
  uint8_t id_ ABSL_GUARDED_BY(mu_);
  uint64_t apic_base_ ABSL_GUARDED_BY(mu_);
  uint32_t tpr_ ABSL_GUARDED_BY(mu_) = 0;
  uint32_t ldr_ ABSL_GUARDED_BY(mu_) = 0;
  uint32_t dfr_ ABSL_GUARDED_BY(mu_) = 0xFFFFFFFF;
  uint32_t svr_ ABSL_GUARDED_BY(mu_) = 0xFF;
  std::array<uint32_t, 8> isr_ ABSL_GUARDED_BY(mu_){};
  std::array<uint32_t, 8> tmr_ ABSL_GUARDED_BY(mu_){};
  std::array<uint32_t, 8> irr_ ABSL_GUARDED_BY(mu_){};
  uint32_t esr_ ABSL_GUARDED_BY(mu_) = 0;          // visible after an ESR write
  uint32_t esr_pending_ ABSL_GUARDED_BY(mu_) = 0;  // collected since
  uint32_t icr_low_ ABSL_GUARDED_BY(mu_) = 0;
  uint32_t icr_high_ ABSL_GUARDED_BY(mu_) = 0;
  // timer, thermal, perf, LINT0, LINT1, error, CMCI
  std::array<uint32_t, 7> lvt_ ABSL_GUARDED_BY(mu_){};
  uint32_t timer_initial_ ABSL_GUARDED_BY(mu_) = 0;
  uint32_t timer_divide_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t timer_tick_ns_ ABSL_GUARDED_BY(mu_) = 2;  // divider in effect since the last start
  uint64_t timer_start_ns_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<uint64_t> timer_deadline_ns_ ABSL_GUARDED_BY(mu_);
  uint64_t halted_tick_limit_ns_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t last_timer_fire_ns_ ABSL_GUARDED_BY(mu_) = 0;
  bool halted_ ABSL_GUARDED_BY(mu_) = false;
  bool nmi_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool init_pending_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<uint8_t> sipi_vector_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dvm::irq

#endif  // DVM_VMM_IRQ_LAPIC_H_
