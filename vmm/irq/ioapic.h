// The IOAPIC (82093AA-style, version 0x11, 24 pins) at layout::kIoapic.
// Pins are driven by IrqLines; a pin that fires becomes an ApicMessage for
// the router. Level-triggered pins hold remote IRR until the LAPIC's EOI
// comes back through BroadcastEoi (or a write to the EOI register).
#ifndef DVM_VMM_IRQ_IOAPIC_H_
#define DVM_VMM_IRQ_IOAPIC_H_

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "dvm/mutex.h"
#include "vmm/hw/device.h"
#include "vmm/irq/apic_message.h"
#include "vmm/layout/layout.h"

namespace dvm::irq {

inline constexpr uint32_t kIoapicVersion = 0x11;
inline constexpr uint64_t kRedirMasked = 1ull << 16;
inline constexpr uint64_t kRedirRemoteIrr = 1ull << 14;
inline constexpr uint64_t kRedirLevel = 1ull << 15;

class Ioapic final : public hw::Device, public EoiSink {
 public:
  static constexpr uint32_t kPins = layout::kIoapicPins;
  static constexpr uint64_t kRegSel = 0x00;
  static constexpr uint64_t kWindow = 0x10;
  static constexpr uint64_t kEoi = 0x40;

  Ioapic(uint8_t id, ApicMessageSink* sink);

  void Read(uint64_t offset, std::span<uint8_t> data) override;
  void Write(uint64_t offset, std::span<const uint8_t> data) override;

  // Input pin level (true = asserted; polarity is the wire's business).
  // Pins beyond kPins are ignored and counted.
  void SetPin(uint32_t pin, bool asserted);
  void BroadcastEoi(uint8_t vector) override;

  uint64_t redirection(uint32_t pin) const;  // for tests and state save

 private:
  void MaybeDeliverLocked(uint32_t pin, std::vector<ApicMessage>& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint32_t ReadIndirect(uint32_t index) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WriteIndirect(uint32_t index, uint32_t value, std::vector<ApicMessage>& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EoiLocked(uint8_t vector, std::vector<ApicMessage>& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendAll(const std::vector<ApicMessage>& out);

  ApicMessageSink* const sink_;
  mutable Mutex mu_;
  uint32_t id_ ABSL_GUARDED_BY(mu_);
  uint32_t select_ ABSL_GUARDED_BY(mu_) = 0;
  std::array<uint64_t, kPins> redir_ ABSL_GUARDED_BY(mu_);
  std::array<bool, kPins> level_ ABSL_GUARDED_BY(mu_){};
  uint64_t bad_pin_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace dvm::irq

#endif  // DVM_VMM_IRQ_IOAPIC_H_
