// An ISA interrupt wire as a PC routes it: to the PIC input and to the IOAPIC
// pin (IRQ 0 arrives on pin 2, as the MADT's override says). The guest picks
// which controller it listens to; both see every edge.
#ifndef DVM_VMM_IRQ_ISA_IRQ_H_
#define DVM_VMM_IRQ_ISA_IRQ_H_

#include <cstdint>

#include "vmm/hw/irq_line.h"
#include "vmm/irq/ioapic.h"
#include "vmm/irq/pic.h"
#include "vmm/layout/layout.h"

namespace dvm::irq {

class IsaIrqLine final : public hw::IrqLine {
 public:
  IsaIrqLine(uint8_t irq, PicPair* pic, Ioapic* ioapic) : irq_(irq), pic_(pic), ioapic_(ioapic) {}
  void SetLevel(bool high) override {
    if (pic_ != nullptr) pic_->SetIrq(irq_, high);
    if (ioapic_ != nullptr) ioapic_->SetPin(layout::IsaIrqToGsi(irq_), high);
  }

 private:
  uint8_t irq_;
  PicPair* pic_;
  Ioapic* ioapic_;
};

}  // namespace dvm::irq

#endif  // DVM_VMM_IRQ_ISA_IRQ_H_
