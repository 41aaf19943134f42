// A 16550A UART: the guest's console on COM1. Transmitted bytes go to a
// ByteSink at once (the transmitter is always empty); received bytes are
// queued by the VMM's input side with Receive(). THRE, RDA, line-status and
// modem-status interrupts drive an IrqLine. Enough for Linux's 8250 driver
// to detect a 16550A (scratch, loopback and FIFO probes) and run the console.
#ifndef DVM_VMM_DEVICES_SERIAL_H_
#define DVM_VMM_DEVICES_SERIAL_H_

#include <cstdint>
#include <deque>
#include <span>

#include "dvm/mutex.h"
#include "vmm/hw/device.h"
#include "vmm/hw/irq_line.h"

namespace dvm::devices {

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual void Put(uint8_t byte) = 0;
};

class Serial final : public hw::Device {
 public:
  static constexpr uint64_t kPorts = 8;
  static constexpr size_t kRxCapacity = 4096;  // host-side buffering beyond the 16-byte FIFO

  Serial(ByteSink* out, hw::IrqLine* irq);

  void Read(uint64_t offset, std::span<uint8_t> data) override;
  void Write(uint64_t offset, std::span<const uint8_t> data) override;

  // Input from the host side; returns how many bytes were taken (the rest
  // should be offered again later).
  size_t Receive(std::span<const uint8_t> bytes);

 private:
  uint8_t ReadReg(uint64_t reg) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WriteReg(uint64_t reg, uint8_t value) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint8_t Iir() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint8_t ModemStatus() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UpdateMsr() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UpdateIrq() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ByteSink* const out_;
  hw::IrqLine* const irq_;
  Mutex mu_;
  std::deque<uint8_t> rx_ ABSL_GUARDED_BY(mu_);
  uint8_t ier_ ABSL_GUARDED_BY(mu_) = 0;
  uint8_t lcr_ ABSL_GUARDED_BY(mu_) = 0x03;
  uint8_t mcr_ ABSL_GUARDED_BY(mu_) = 0x08;
  uint8_t fcr_ ABSL_GUARDED_BY(mu_) = 0;
  uint8_t scr_ ABSL_GUARDED_BY(mu_) = 0;
  uint8_t dll_ ABSL_GUARDED_BY(mu_) = 0x0C;  // 9600 baud
  uint8_t dlm_ ABSL_GUARDED_BY(mu_) = 0;
  uint8_t msr_ ABSL_GUARDED_BY(mu_) = 0;     // with delta bits
  bool overrun_ ABSL_GUARDED_BY(mu_) = false;
  bool thre_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool irq_level_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace dvm::devices

#endif  // DVM_VMM_DEVICES_SERIAL_H_
