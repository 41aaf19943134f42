#include "vmm/irq/apic_bus.h"

#include "dvm/log.h"

namespace dvm::irq {

void ApicBus::Attach(Lapic* lapic) {
  MutexLock lock(&mu_);
  lapics_.push_back(lapic);
}

uint64_t ApicBus::undeliverable() const {
  MutexLock lock(&mu_);
  return undeliverable_;
}

void ApicBus::Send(const ApicMessage& message) {
  std::vector<Lapic*> targets;
  {
    MutexLock lock(&mu_);
    for (Lapic* lapic : lapics_) {
      const ApicAddressing addr = lapic->addressing();
      const bool self = addr.id == message.source_id;
      bool match = false;
      switch (message.shorthand) {
        case Shorthand::kNone: match = MatchesDestination(addr, message.dest_mode, message.dest); break;
        case Shorthand::kSelf: match = self; break;
        case Shorthand::kAllIncludingSelf: match = true; break;
        case Shorthand::kAllExcludingSelf: match = !self; break;
      }
      if (match) targets.push_back(lapic);
    }
    if (targets.empty()) {
      ++undeliverable_;
    } else if (message.mode == DeliveryMode::kLowestPriority && targets.size() > 1) {
      // Any target is architecturally allowed; rotate to spread the load.
      Lapic* chosen = targets[next_lowest_++ % targets.size()];
      targets = {chosen};
    }
  }
  if (targets.empty()) {
    DVM_LOG_EVERY_SEC(WARNING, 1.0) << "APIC message vector " << int{message.vector}
                                    << " dest " << int{message.dest} << " matched no LAPIC";
  }
  // Deliver outside our lock: a LAPIC may call back (kick) into the VMM.
  for (Lapic* lapic : targets) lapic->Deliver(message);
}

}  // namespace dvm::irq
