// The two cascaded 8259A PICs of a PC (master at 0x20, slave at 0xA0 on the
// master's IRQ 2) and the ELCR edge/level register at 0x4D0. Linux uses them
// briefly at boot (and to check the timer), then masks them for the IOAPIC.
// The vCPU loop asks HasInterrupt() when the BSP's LAPIC AcceptsExtInt(), and
// injects Acknowledge()'s vector.
//
// Not emulated: special mask mode, buffered mode, 8080 (MCS-80) mode.
#ifndef DVM_VMM_IRQ_PIC_H_
#define DVM_VMM_IRQ_PIC_H_

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>

#include "dvm/mutex.h"
#include "vmm/hw/device.h"

namespace dvm::irq {

class PicPair {
 public:
  PicPair();

  // Port devices: command/data for each chip (2 ports each) and the ELCR pair.
  hw::Device& master() { return master_port_; }
  hw::Device& slave() { return slave_port_; }
  hw::Device& elcr() { return elcr_port_; }

  // ISA IRQ line 0-15 changed level. Other numbers are ignored.
  void SetIrq(uint32_t irq, bool level);
  // Called when INTR rises, so the VMM can kick the BSP.
  void SetKick(std::function<void()> kick);

  bool HasInterrupt() const;
  // The INTA cycle: the vector to inject (a spurious IRQ 7/15 vector if the
  // request went away).
  uint8_t Acknowledge();

 private:
  struct Chip {
    uint8_t irr = 0, imr = 0, isr = 0, elcr = 0, elcr_mask = 0;
    uint8_t last_irr = 0;  // input levels, for edge detection
    uint8_t base = 0, priority_add = 0, init_state = 0;
    bool init4 = false, single = false, auto_eoi = false, rotate_on_auto_eoi = false;
    bool read_isr = false, poll = false, special_fully_nested = false;
  };
  class Port final : public hw::Device {
   public:
    Port(PicPair* pair, int which) : pair_(pair), which_(which) {}
    void Read(uint64_t offset, std::span<uint8_t> data) override;
    void Write(uint64_t offset, std::span<const uint8_t> data) override;

   private:
    PicPair* pair_;
    int which_;  // 0 master, 1 slave, 2 ELCR
  };

  static void SetChipIrq(Chip& c, int irq, bool level);
  static int Priority(const Chip& c, uint8_t mask);
  static int ChipIrq(const Chip& c, bool is_master);
  static void Ack(Chip& c, int irq);
  static void Reset(Chip& c);
  static void WriteChip(Chip& c, uint64_t offset, uint8_t value);
  uint8_t ReadChip(int which, uint64_t offset) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Re-evaluates the cascade; returns true if INTR just rose.
  bool UpdateLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Access(int which, uint64_t offset, std::span<uint8_t> read, const uint8_t* write);

  mutable Mutex mu_;
  std::array<Chip, 2> chips_ ABSL_GUARDED_BY(mu_);
  bool output_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> kick_;
  Port master_port_{this, 0}, slave_port_{this, 1}, elcr_port_{this, 2};
};

}  // namespace dvm::irq

#endif  // DVM_VMM_IRQ_PIC_H_
