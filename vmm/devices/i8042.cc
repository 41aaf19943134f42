#include "vmm/devices/i8042.h"

#include <utility>

#include "dvm/log.h"

namespace dvm::devices {
namespace {

constexpr uint8_t kStatusOutputFull = 0x01;
constexpr uint8_t kStatusSystem = 0x04;
constexpr uint8_t kStatusCommand = 0x08;
constexpr uint8_t kStatusUnlocked = 0x10;
constexpr uint8_t kCtrKbdIrq = 0x01;
constexpr uint8_t kCtrKbdDisabled = 0x10;
constexpr uint8_t kCtrAuxDisabled = 0x20;
constexpr size_t kMaxQueue = 16;
constexpr uint8_t kAck = 0xFA;

}  // namespace

I8042::I8042(hw::IrqLine* kbd_irq, hw::PowerControl* power) : irq_(kbd_irq), power_(power) {}

uint8_t I8042::Status() const {
  return (out_.empty() ? 0 : kStatusOutputFull) | kStatusSystem | kStatusUnlocked |
         (last_was_command_ ? kStatusCommand : 0);
}

void I8042::Queue(uint8_t byte) {
  if (out_.size() < kMaxQueue) out_.push_back(byte);
}

void I8042::UpdateIrq() {
  const bool level = !out_.empty() && (ctr_ & kCtrKbdIrq);
  if (level != irq_level_ && irq_ != nullptr) irq_->SetLevel(level);
  irq_level_ = level;
}

uint8_t I8042::ReadData() {
  if (out_.empty()) return 0;
  const uint8_t b = out_.front();
  out_.pop_front();
  return b;
}

bool I8042::WriteCommand(uint8_t cmd) {
  pending_command_ = 0;
  switch (cmd) {
    case 0x20: Queue(ctr_); break;               // read command byte
    case 0x60:                                   // write command byte
    case 0xD1:                                   // write output port
    case 0xD2:                                   // write keyboard output buffer
    case 0xD3:                                   // write AUX output buffer
    case 0xD4:                                   // write to AUX device
      pending_command_ = cmd;
      break;
    case 0xA7: ctr_ |= kCtrAuxDisabled; break;
    case 0xA8: ctr_ &= ~kCtrAuxDisabled; break;
    case 0xA9: Queue(0xFF); break;               // AUX interface test: no AUX port
    case 0xAA: Queue(0x55); break;               // controller self-test passed
    case 0xAB: Queue(0x00); break;               // keyboard interface test passed
    case 0xAD: ctr_ |= kCtrKbdDisabled; break;
    case 0xAE: ctr_ &= ~kCtrKbdDisabled; break;
    case 0xD0: Queue(0x03); break;               // output port: A20 on, not in reset
    default:
      // 0xF0-0xFF pulse output lines for 6 us; bit 0 clear pulses reset.
      if (cmd >= 0xF0) return (cmd & 1) == 0;
      DVM_LOG_EVERY_SEC(INFO, 10.0) << "i8042: ignoring command 0x" << std::hex << int{cmd};
      break;
  }
  return false;
}

bool I8042::WriteData(uint8_t value) {
  const uint8_t cmd = std::exchange(pending_command_, 0);
  switch (cmd) {
    case 0x60: ctr_ = value; return false;
    case 0xD1: return (value & 1) == 0;  // output port bit 0 is the reset line
    case 0xD2: Queue(value); return false;
    case 0xD3:
    case 0xD4: return false;  // no AUX device listens
    default: break;
  }
  // A byte for the keyboard itself.
  switch (value) {
    case 0xFF:  // reset: ack, then self-test passed
      Queue(kAck);
      Queue(0xAA);
      break;
    case 0xF2:  // identify: MF2 keyboard
      Queue(kAck);
      Queue(0xAB);
      Queue(0x83);
      break;
    case 0xEE: Queue(0xEE); break;  // echo
    default: Queue(kAck); break;    // LEDs, rates, scan sets and their arguments
  }
  return false;
}

void I8042::Port::Read(uint64_t offset, std::span<uint8_t> data) {
  MutexLock lock(&c_->mu_);
  hw::FillAccess(data, command_ ? c_->Status() : c_->ReadData());
  c_->UpdateIrq();
}

void I8042::Port::Write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.empty()) return;
  bool reset;
  {
    MutexLock lock(&c_->mu_);
    c_->last_was_command_ = command_;
    reset = command_ ? c_->WriteCommand(data[0]) : c_->WriteData(data[0]);
    c_->UpdateIrq();
  }
  if (reset) {
    DVM_LOG(INFO) << "guest pulsed the i8042 reset line";
    if (c_->power_ != nullptr) c_->power_->RequestReset();
  }
}

}  // namespace dvm::devices
