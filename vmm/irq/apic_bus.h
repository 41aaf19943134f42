// Delivers APIC messages to the LAPICs attached to it: destination matching,
// shorthands and lowest-priority arbitration. On one node this is the whole
// router; the distributed router uses MatchesDestination on its table of all
// vCPUs and forwards what is not local.
#ifndef DVM_VMM_IRQ_APIC_BUS_H_
#define DVM_VMM_IRQ_APIC_BUS_H_

#include <cstdint>
#include <vector>

#include "dvm/mutex.h"
#include "vmm/irq/apic_message.h"
#include "vmm/irq/lapic.h"

namespace dvm::irq {

class ApicBus final : public ApicMessageSink {
 public:
  void Attach(Lapic* lapic);
  void Send(const ApicMessage& message) override;
  uint64_t undeliverable() const;  // messages that matched nobody

 private:
  mutable Mutex mu_;
  std::vector<Lapic*> lapics_ ABSL_GUARDED_BY(mu_);
  size_t next_lowest_ ABSL_GUARDED_BY(mu_) = 0;  // round-robin for lowest priority
  uint64_t undeliverable_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace dvm::irq

#endif  // DVM_VMM_IRQ_APIC_BUS_H_
