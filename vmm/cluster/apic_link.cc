#include "vmm/cluster/apic_link.h"

#include "dvm/log.h"

namespace dvm::cluster {

void ApicLink::Forward(NodeId node, const irq::ApicMessage& message) {
  // A peer that is down cannot take it; its death stops the VM anyway.
  if (transport_->Send(node, kApicChannel, kApicDeliver, EncodeApicMessage(message)).ok()) {
    sent_.fetch_add(1, std::memory_order_relaxed);
  }
}

void ApicLink::BroadcastEoi(uint8_t vector) {
  const uint8_t body[kApicEoiBytes] = {vector};
  if (transport_->Send(device_node_, kApicChannel, kApicEoi, body).ok()) {
    sent_.fetch_add(1, std::memory_order_relaxed);
  }
}

void ApicLink::Announce(const irq::ApicAddressing& addressing) {
  auto body = EncodeApicAddressing(addressing);
  for (NodeId peer : peers_) {
    transport_->Send(peer, kApicChannel, kApicAddressing, body).IgnoreError();
  }
}

void ApicLink::OnMessage(const net::Received& message) {
  if (message.type == kApicDeliver) {
    if (absl::StatusOr<irq::ApicMessage> m = DecodeApicMessage(message.body); m.ok()) {
      received_.fetch_add(1, std::memory_order_relaxed);
      bus_->DeliverFromRemote(*m);
      return;
    }
  } else if (message.type == kApicEoi) {
    if (message.body.size() == kApicEoiBytes && ioapic_ != nullptr) {
      received_.fetch_add(1, std::memory_order_relaxed);
      ioapic_->BroadcastEoi(message.body[0]);
      return;
    }
  } else if (message.type == kApicAddressing) {
    if (absl::StatusOr<irq::ApicAddressing> a = DecodeApicAddressing(message.body); a.ok()) {
      bus_->UpdateRemoteVcpu(message.from, *a);
      return;
    }
  }
  bad_.fetch_add(1, std::memory_order_relaxed);
  DVM_LOG_EVERY_SEC(WARNING, 1.0) << "dropped a malformed APIC message from node "
                                  << message.from.value();
}

}  // namespace dvm::cluster
