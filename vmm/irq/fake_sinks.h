// Test fakes for the interrupt-controller interfaces.
#ifndef DVM_VMM_IRQ_FAKE_SINKS_H_
#define DVM_VMM_IRQ_FAKE_SINKS_H_

#include <vector>

#include "vmm/irq/apic_message.h"

namespace dvm::irq {

class RecordingApicSink final : public ApicMessageSink {
 public:
  void Send(const ApicMessage& m) override { messages.push_back(m); }
  std::vector<ApicMessage> messages;
};

class RecordingEoiSink final : public EoiSink {
 public:
  void BroadcastEoi(uint8_t vector) override { vectors.push_back(vector); }
  std::vector<uint8_t> vectors;
};

}  // namespace dvm::irq

#endif  // DVM_VMM_IRQ_FAKE_SINKS_H_
