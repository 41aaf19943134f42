// The 8254 programmable interval timer at ports 0x40-0x43, and port 0x61
// (channel 2 gate and output) that Linux calibrates the TSC with.
//
// Counters are computed from the Clock on demand rather than ticked; only
// channel 0's interrupt needs the event loop: NextDeadlineNs() / Tick().
// Modes 0 and 4 are one-shot, 2 and 3 periodic; 1 and 5 behave as 0 and 4
// (their gate trigger only matters on channel 2, which has no interrupt).
// BCD counting is not emulated (the count is binary; the bit reads back).
#ifndef DVM_VMM_DEVICES_PIT_H_
#define DVM_VMM_DEVICES_PIT_H_

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "dvm/mutex.h"
#include "vmm/hw/clock.h"
#include "vmm/hw/device.h"
#include "vmm/hw/irq_line.h"

namespace dvm::devices {

inline constexpr uint64_t kPitHz = 1193182;

class Pit {
 public:
  Pit(const hw::Clock* clock, hw::IrqLine* irq0);

  hw::Device& ports() { return ports_; }      // 4 ports: counters 0-2, control word
  hw::Device& port61() { return port61_; }    // 1 port: system control port B

  std::optional<uint64_t> NextDeadlineNs() const;
  void Tick();  // raises IRQ 0 if channel 0's deadline has passed

 private:
  struct Channel {
    uint8_t mode = 0, rw = 3;
    bool bcd = false;
    uint32_t reload = 65536;
    bool counting = false;
    uint64_t start_ns = 0;
    uint64_t paused_ticks = 0;     // elapsed ticks kept while the gate is low
    bool gate = true;
    bool write_msb_next = false;
    uint8_t write_lsb = 0;
    bool read_msb_next = false;
    std::optional<uint16_t> latched_count;
    bool latched_msb_next = false;
    std::optional<uint8_t> latched_status;
    uint64_t irq_periods = 0;      // channel 0: interrupts already raised since start
    std::optional<uint64_t> irq_deadline_ns;
  };
  class Ports final : public hw::Device {
   public:
    explicit Ports(Pit* pit) : pit_(pit) {}
    void Read(uint64_t offset, std::span<uint8_t> data) override;
    void Write(uint64_t offset, std::span<const uint8_t> data) override;

   private:
    Pit* pit_;
  };
  class Port61 final : public hw::Device {
   public:
    explicit Port61(Pit* pit) : pit_(pit) {}
    void Read(uint64_t offset, std::span<uint8_t> data) override;
    void Write(uint64_t offset, std::span<const uint8_t> data) override;

   private:
    Pit* pit_;
  };

  uint64_t ElapsedTicks(const Channel& c, uint64_t now) const;
  uint16_t Count(const Channel& c, uint64_t now) const;
  bool Output(const Channel& c, uint64_t now) const;
  void Load(Channel& c, uint32_t value, uint64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ArmIrq(Channel& c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WriteControl(uint8_t value, uint64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WriteCounter(int ch, uint8_t value, uint64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint8_t ReadCounter(int ch, uint64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetGate2(bool gate, uint64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const hw::Clock* const clock_;
  hw::IrqLine* const irq0_;
  mutable Mutex mu_;
  std::array<Channel, 3> ch_ ABSL_GUARDED_BY(mu_);
  uint8_t port61_bits_ ABSL_GUARDED_BY(mu_) = 0;  // gate (bit 0), speaker enable (bit 1)
  Ports ports_{this};
  Port61 port61_{this};
};

}  // namespace dvm::devices

#endif  // DVM_VMM_DEVICES_PIT_H_
