#include "vmm/irq/apic_bus.h"

#include <algorithm>
#include <utility>

#include "dvm/log.h"

namespace dvm::irq {
namespace {

bool Targets(const ApicMessage& m, const ApicAddressing& addr) {
  const bool self = addr.id == m.source_id;
  switch (m.shorthand) {
    case Shorthand::kNone: return MatchesDestination(addr, m.dest_mode, m.dest);
    case Shorthand::kSelf: return self;
    case Shorthand::kAllIncludingSelf: return true;
    case Shorthand::kAllExcludingSelf: return !self;
  }
  return false;
}

}  // namespace

void ApicBus::Attach(Lapic* lapic) {
  MutexLock lock(&mu_);
  lapics_.push_back(lapic);
}

void ApicBus::Detach(Lapic* lapic) {
  MutexLock lock(&mu_);
  lapics_.erase(std::remove(lapics_.begin(), lapics_.end(), lapic), lapics_.end());
}

void ApicBus::UpdateRemoteVcpu(NodeId node, const ApicAddressing& addressing) {
  MutexLock lock(&mu_);
  for (auto& r : remote_vcpus_) {
    if (r.addressing.id == addressing.id) {
      r = {node, addressing};
      return;
    }
  }
  remote_vcpus_.push_back({node, addressing});
}

void ApicBus::RemoveRemoteVcpu(uint8_t apic_id) {
  MutexLock lock(&mu_);
  std::erase_if(remote_vcpus_, [&](const RemoteVcpu& r) { return r.addressing.id == apic_id; });
}

uint64_t ApicBus::undeliverable() const {
  MutexLock lock(&mu_);
  return undeliverable_;
}

uint64_t ApicBus::forwarded() const {
  MutexLock lock(&mu_);
  return forwarded_;
}

void ApicBus::Send(const ApicMessage& message) { Route(message, /*allow_remote=*/true); }
void ApicBus::DeliverFromRemote(const ApicMessage& message) { Route(message, false); }

void ApicBus::Route(const ApicMessage& message, bool allow_remote) {
  std::vector<Lapic*> local;
  std::vector<std::pair<NodeId, ApicMessage>> out;
  {
    MutexLock lock(&mu_);
    for (Lapic* lapic : lapics_) {
      if (Targets(message, lapic->addressing())) local.push_back(lapic);
    }
    std::vector<const RemoteVcpu*> remote;
    if (allow_remote && remote_ != nullptr) {
      for (const auto& r : remote_vcpus_) {
        if (Targets(message, r.addressing)) remote.push_back(&r);
      }
    }
    if (message.mode == DeliveryMode::kLowestPriority && !local.empty()) {
      // Any target is architecturally allowed; a local one saves a network trip.
      local = {local[next_lowest_++ % local.size()]};
    } else if (message.mode == DeliveryMode::kLowestPriority && !remote.empty()) {
      const RemoteVcpu* chosen = remote[next_lowest_++ % remote.size()];
      ApicMessage m = message;
      m.mode = DeliveryMode::kFixed;
      m.dest_mode = DestMode::kPhysical;
      m.shorthand = Shorthand::kNone;
      m.dest = chosen->addressing.id;
      out.emplace_back(chosen->node, m);
    } else {
      for (const RemoteVcpu* r : remote) {
        const bool seen = std::any_of(out.begin(), out.end(),
                                      [&](const auto& o) { return o.first == r->node; });
        if (!seen) out.emplace_back(r->node, message);
      }
    }
    if (local.empty() && out.empty()) ++undeliverable_;
    forwarded_ += out.size();
  }
  if (local.empty() && out.empty()) {
    DVM_LOG_EVERY_SEC(WARNING, 1.0) << "APIC message vector " << int{message.vector}
                                    << " dest " << int{message.dest} << " matched no LAPIC";
  }
  // Deliver outside our lock: a LAPIC may call back (kick) into the VMM.
  for (Lapic* lapic : local) lapic->Deliver(message);
  for (const auto& [node, m] : out) remote_->Forward(node, m);
}

}  // namespace dvm::irq
