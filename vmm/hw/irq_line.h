// An interrupt wire from a device to an interrupt controller. Devices drive a
// level; edge-triggered consumers see the rising edge. The VMM wires a line
// to the PIC and IOAPIC pins (irq/isa_irq.h), or to a message to node 0.
#ifndef DVM_VMM_HW_IRQ_LINE_H_
#define DVM_VMM_HW_IRQ_LINE_H_

namespace dvm::hw {

class IrqLine {
 public:
  virtual ~IrqLine() = default;
  virtual void SetLevel(bool high) = 0;
  void Pulse() {
    SetLevel(true);
    SetLevel(false);
  }
};

// For tests: remembers the level and counts rising edges.
class FakeIrqLine final : public IrqLine {
 public:
  void SetLevel(bool high) override {
    if (high && !level_) ++rising_edges_;
    level_ = high;
  }
  bool level() const { return level_; }
  int rising_edges() const { return rising_edges_; }

 private:
  bool level_ = false;
  int rising_edges_ = 0;
};

}  // namespace dvm::hw

#endif  // DVM_VMM_HW_IRQ_LINE_H_
