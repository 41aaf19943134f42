// The i8042 keyboard controller, as much as a headless guest needs: the
// controller self-tests and command byte that Linux's probe uses, a keyboard
// that acknowledges commands (no key presses), no AUX port, and the reset line
// (command 0xFE on port 0x64, or the output port's bit 0) as a reset request.
#ifndef DVM_VMM_DEVICES_I8042_H_
#define DVM_VMM_DEVICES_I8042_H_

#include <cstdint>
#include <deque>
#include <span>

#include "dvm/mutex.h"
#include "vmm/hw/device.h"
#include "vmm/hw/irq_line.h"
#include "vmm/hw/power.h"

namespace dvm::devices {

class I8042 {
 public:
  I8042(hw::IrqLine* kbd_irq, hw::PowerControl* power);

  hw::Device& data() { return data_port_; }        // port 0x60
  hw::Device& command() { return command_port_; }  // port 0x64

 private:
  class Port final : public hw::Device {
   public:
    Port(I8042* c, bool command) : c_(c), command_(command) {}
    void Read(uint64_t offset, std::span<uint8_t> data) override;
    void Write(uint64_t offset, std::span<const uint8_t> data) override;

   private:
    I8042* c_;
    bool command_;
  };

  uint8_t Status() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint8_t ReadData() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool WriteCommand(uint8_t cmd) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);  // true: reset
  bool WriteData(uint8_t value) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Queue(uint8_t byte) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UpdateIrq() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  hw::IrqLine* const irq_;
  hw::PowerControl* const power_;
  Mutex mu_;
  std::deque<uint8_t> out_ ABSL_GUARDED_BY(mu_);
  uint8_t ctr_ ABSL_GUARDED_BY(mu_) = 0x61;  // kbd IRQ on, AUX disabled, translate
  uint8_t pending_command_ ABSL_GUARDED_BY(mu_) = 0;  // awaiting its data byte
  bool last_was_command_ ABSL_GUARDED_BY(mu_) = false;
  bool irq_level_ ABSL_GUARDED_BY(mu_) = false;
  Port data_port_{this, false};
  Port command_port_{this, true};
};

}  // namespace dvm::devices

#endif  // DVM_VMM_DEVICES_I8042_H_
