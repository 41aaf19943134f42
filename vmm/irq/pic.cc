#include "vmm/irq/pic.h"

namespace dvm::irq {

PicPair::PicPair() {
  MutexLock lock(&mu_);
  chips_[0].elcr_mask = 0xF8;  // IRQ 0, 1, 2 are always edge
  chips_[1].elcr_mask = 0xDE;  // IRQ 8 and 13 too
  Reset(chips_[0]);
  Reset(chips_[1]);
}

void PicPair::SetKick(std::function<void()> kick) { kick_ = std::move(kick); }

void PicPair::Reset(Chip& c) {
  const uint8_t elcr = c.elcr, elcr_mask = c.elcr_mask;
  c = Chip{};
  c.elcr = elcr;
  c.elcr_mask = elcr_mask;
}

void PicPair::SetChipIrq(Chip& c, int irq, bool level) {
  const uint8_t mask = uint8_t(1u << irq);
  if (c.elcr & mask) {
    // Level: IRR follows the line.
    if (level) c.irr |= mask;
    else c.irr &= ~mask;
  } else if (level && !(c.last_irr & mask)) {
    c.irr |= mask;  // rising edge
  }
  if (level) c.last_irr |= mask;
  else c.last_irr &= ~mask;
}

// Priority level (0 highest) of the best bit in `mask`, 8 if none.
int PicPair::Priority(const Chip& c, uint8_t mask) {
  if (mask == 0) return 8;
  int p = 0;
  while (!(mask & (1u << ((p + c.priority_add) & 7)))) ++p;
  return p;
}

int PicPair::ChipIrq(const Chip& c, bool is_master) {
  const int p = Priority(c, c.irr & ~c.imr);
  if (p == 8) return -1;
  uint8_t in_service = c.isr;
  // Fully nested: the slave's own priorities decide among its IRQs.
  if (is_master && c.special_fully_nested) in_service &= ~(1u << 2);
  return p < Priority(c, in_service) ? (p + c.priority_add) & 7 : -1;
}

void PicPair::Ack(Chip& c, int irq) {
  const uint8_t mask = uint8_t(1u << irq);
  if (c.auto_eoi) {
    if (c.rotate_on_auto_eoi) c.priority_add = (irq + 1) & 7;
  } else {
    c.isr |= mask;
  }
  if (!(c.elcr & mask)) c.irr &= ~mask;  // edge requests are consumed
}

bool PicPair::UpdateLocked() {
  SetChipIrq(chips_[0], 2, ChipIrq(chips_[1], false) >= 0);
  const bool was = output_;
  output_ = ChipIrq(chips_[0], true) >= 0;
  return output_ && !was;
}

void PicPair::SetIrq(uint32_t irq, bool level) {
  if (irq >= 16) return;
  bool rose;
  {
    MutexLock lock(&mu_);
    SetChipIrq(chips_[irq / 8], irq % 8, level);
    rose = UpdateLocked();
  }
  if (rose && kick_) kick_();
}

bool PicPair::HasInterrupt() const {
  MutexLock lock(&mu_);
  return output_;
}

uint8_t PicPair::Acknowledge() {
  MutexLock lock(&mu_);
  Chip& m = chips_[0];
  Chip& s = chips_[1];
  uint8_t vector;
  const int irq = ChipIrq(m, true);
  if (irq < 0) {
    vector = m.base + 7;  // spurious
  } else {
    Ack(m, irq);
    if (irq == 2) {
      const int irq2 = ChipIrq(s, false);
      if (irq2 >= 0) Ack(s, irq2);
      vector = s.base + (irq2 >= 0 ? irq2 : 7);
    } else {
      vector = m.base + irq;
    }
  }
  UpdateLocked();
  return vector;
}

void PicPair::WriteChip(Chip& c, uint64_t offset, uint8_t value) {
  if (offset == 0) {
    if (value & 0x10) {  // ICW1
      Reset(c);
      c.init_state = 1;
      c.init4 = value & 1;
      c.single = value & 2;
    } else if (value & 0x08) {  // OCW3
      if (value & 0x04) c.poll = true;
      if (value & 0x02) c.read_isr = value & 1;
    } else {  // OCW2
      const int cmd = value >> 5;
      switch (cmd) {
        case 0:
        case 4:
          c.rotate_on_auto_eoi = cmd >> 2;
          break;
        case 1:  // non-specific EOI
        case 5: {  // ... and rotate
          const int p = Priority(c, c.isr);
          if (p != 8) {
            const int irq = (p + c.priority_add) & 7;
            c.isr &= ~(1u << irq);
            if (cmd == 5) c.priority_add = (irq + 1) & 7;
          }
          break;
        }
        case 3:
          c.isr &= ~(1u << (value & 7));
          break;
        case 6:
          c.priority_add = (value + 1) & 7;
          break;
        case 7:
          c.isr &= ~(1u << (value & 7));
          c.priority_add = ((value & 7) + 1) & 7;
          break;
        default:
          break;
      }
    }
    return;
  }
  switch (c.init_state) {
    case 0: c.imr = value; break;  // OCW1
    case 1:                        // ICW2
      c.base = value & 0xF8;
      c.init_state = c.single ? (c.init4 ? 3 : 0) : 2;
      break;
    case 2:  // ICW3: cascade wiring is fixed
      c.init_state = c.init4 ? 3 : 0;
      break;
    default:  // ICW4
      c.special_fully_nested = (value >> 4) & 1;
      c.auto_eoi = (value >> 1) & 1;
      c.init_state = 0;
      break;
  }
}

uint8_t PicPair::ReadChip(int which, uint64_t offset) {
  Chip& c = chips_[which];
  if (offset == 1) return c.imr;
  if (!c.poll) return c.read_isr ? c.isr : c.irr;
  // Poll command: the read acts as an INTA for this chip.
  c.poll = false;
  const int irq = ChipIrq(c, which == 0);
  if (irq < 0) return 0;
  Ack(c, irq);
  return uint8_t(0x80 | irq);
}

void PicPair::Access(int which, uint64_t offset, std::span<uint8_t> read, const uint8_t* write) {
  bool rose = false;
  {
    MutexLock lock(&mu_);
    if (which == 2) {
      Chip& c = chips_[offset & 1];
      if (write) c.elcr = *write & c.elcr_mask;
      else hw::FillAccess(read, c.elcr);
    } else if (offset < 2) {
      if (write) WriteChip(chips_[which], offset, *write);
      else hw::FillAccess(read, ReadChip(which, offset));
    } else if (!write) {
      hw::FillAccess(read, 0xFF);
    }
    rose = UpdateLocked();
  }
  if (rose && kick_) kick_();
}

void PicPair::Port::Read(uint64_t offset, std::span<uint8_t> data) {
  pair_->Access(which_, offset, data, nullptr);
}

void PicPair::Port::Write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.empty()) return;
  pair_->Access(which_, offset, {}, data.data());
}

}  // namespace dvm::irq
