#include "vmm/devices/serial.h"

namespace dvm::devices {
namespace {

enum : uint64_t { kData = 0, kIer = 1, kIir = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6, kScr = 7 };

constexpr uint8_t kIerRdi = 0x01, kIerThri = 0x02, kIerRlsi = 0x04, kIerMsi = 0x08;
constexpr uint8_t kLcrDlab = 0x80;
constexpr uint8_t kMcrLoop = 0x10;
constexpr uint8_t kLsrDataReady = 0x01, kLsrOverrun = 0x02, kLsrThre = 0x20, kLsrTemt = 0x40;
constexpr uint8_t kFcrEnable = 0x01, kFcrClearRx = 0x02;
constexpr size_t kLoopbackFifo = 16;

}  // namespace

Serial::Serial(ByteSink* out, hw::IrqLine* irq) : out_(out), irq_(irq) {
  MutexLock lock(&mu_);
  UpdateMsr();
  msr_ &= 0xF0;  // no deltas at power-on
}

uint8_t Serial::ModemStatus() const {
  if (mcr_ & kMcrLoop) {
    // Loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
    return static_cast<uint8_t>(((mcr_ & 0x02) << 3) | ((mcr_ & 0x01) << 5) |
                                ((mcr_ & 0x04) << 4) | ((mcr_ & 0x08) << 4));
  }
  return 0xB0;  // a connected terminal: DCD, DSR, CTS
}

void Serial::UpdateMsr() {
  const uint8_t now = ModemStatus();
  const uint8_t changed = (now ^ msr_) & 0xF0;
  uint8_t delta = msr_ & 0x0F;
  delta |= (changed & 0x10) ? 0x01 : 0;  // DCTS
  delta |= (changed & 0x20) ? 0x02 : 0;  // DDSR
  delta |= ((changed & 0x40) && !(now & 0x40)) ? 0x04 : 0;  // TERI: trailing edge
  delta |= (changed & 0x80) ? 0x08 : 0;  // DDCD
  msr_ = now | delta;
}

uint8_t Serial::Iir() const {
  const uint8_t fifo = (fcr_ & kFcrEnable) ? 0xC0 : 0;
  if ((ier_ & kIerRlsi) && overrun_) return fifo | 0x06;
  if ((ier_ & kIerRdi) && !rx_.empty()) return fifo | 0x04;
  if ((ier_ & kIerThri) && thre_pending_) return fifo | 0x02;
  if ((ier_ & kIerMsi) && (msr_ & 0x0F)) return fifo | 0x00;
  return fifo | 0x01;  // nothing pending
}

void Serial::UpdateIrq() {
  // Unlike a PC's board, OUT2 does not gate the line (QEMU does the same):
  // the guest gets interrupts whether or not it set OUT2.
  const bool level = (Iir() & 0x01) == 0;
  if (level != irq_level_ && irq_ != nullptr) irq_->SetLevel(level);
  irq_level_ = level;
}

uint8_t Serial::ReadReg(uint64_t reg) {
  switch (reg) {
    case kData:
      if (lcr_ & kLcrDlab) return dll_;
      if (rx_.empty()) return 0;
      {
        const uint8_t b = rx_.front();
        rx_.pop_front();
        return b;
      }
    case kIer: return (lcr_ & kLcrDlab) ? dlm_ : ier_;
    case kIir: {
      const uint8_t iir = Iir();
      if ((iir & 0x0F) == 0x02) thre_pending_ = false;  // reading the THRE source clears it
      return iir;
    }
    case kLcr: return lcr_;
    case kMcr: return mcr_;
    case kLsr: {
      const uint8_t lsr = kLsrThre | kLsrTemt | (rx_.empty() ? 0 : kLsrDataReady) |
                          (overrun_ ? kLsrOverrun : 0);
      overrun_ = false;
      return lsr;
    }
    case kMsr: {
      const uint8_t msr = msr_;
      msr_ &= 0xF0;
      return msr;
    }
    default: return scr_;
  }
}

void Serial::WriteReg(uint64_t reg, uint8_t value) {
  switch (reg) {
    case kData:
      if (lcr_ & kLcrDlab) {
        dll_ = value;
        break;
      }
      if (mcr_ & kMcrLoop) {
        if (rx_.size() < kLoopbackFifo) rx_.push_back(value);
        else overrun_ = true;
      } else if (out_ != nullptr) {
        out_->Put(value);
      }
      thre_pending_ = true;  // transmitted at once: THR is empty again
      break;
    case kIer:
      if (lcr_ & kLcrDlab) {
        dlm_ = value;
        break;
      }
      // Enabling THRI with an empty THR raises THRE at once; Linux relies on it.
      if ((value & kIerThri) && !(ier_ & kIerThri)) thre_pending_ = true;
      ier_ = value & 0x0F;
      break;
    case kIir:  // FCR
      fcr_ = value & 0xC9;
      if (value & kFcrClearRx) rx_.clear();
      break;
    case kLcr: lcr_ = value; break;
    case kMcr:
      mcr_ = value & 0x1F;
      UpdateMsr();
      break;
    case kLsr:
    case kMsr: break;  // read-only (factory test only)
    default: scr_ = value; break;
  }
}

void Serial::Read(uint64_t offset, std::span<uint8_t> data) {
  MutexLock lock(&mu_);
  hw::FillAccess(data, offset < kPorts ? ReadReg(offset) : 0xFF);
  UpdateIrq();
}

void Serial::Write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.empty() || offset >= kPorts) return;
  MutexLock lock(&mu_);
  WriteReg(offset, data[0]);
  UpdateIrq();
}

size_t Serial::Receive(std::span<const uint8_t> bytes) {
  MutexLock lock(&mu_);
  if (mcr_ & kMcrLoop) return 0;  // the line is disconnected in loopback
  const size_t n = std::min(bytes.size(), kRxCapacity - rx_.size());
  rx_.insert(rx_.end(), bytes.begin(), bytes.begin() + n);
  UpdateIrq();
  return n;
}

}  // namespace dvm::devices
