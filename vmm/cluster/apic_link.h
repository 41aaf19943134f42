// Interrupts between nodes: the transport end of irq::ApicBus's remote
// forwarding. An IPI or device interrupt aimed at vCPUs on another node leaves
// as kApicDeliver and is delivered there with ApicBus::DeliverFromRemote
// (which never forwards again). A vCPU's APIC addressing (ID, LDR, DFR) is
// announced to every peer as kApicAddressing, so each node's bus knows which
// node a logical, lowest-priority or broadcast message concerns.
//
// The EOI of a level-triggered interrupt on a node without the IOAPIC leaves
// as kApicEoi for the device node, whose IOAPIC clears the pin's remote IRR.
//
// Ordering: the transport keeps per-peer order, so INIT then SIPI from one
// node arrive in that order.
#ifndef DVM_VMM_CLUSTER_APIC_LINK_H_
#define DVM_VMM_CLUSTER_APIC_LINK_H_

#include <atomic>
#include <vector>

#include "net/transport.h"
#include "vmm/cluster/node_messages.h"
#include "vmm/irq/apic_bus.h"

namespace dvm::cluster {

class ApicLink final : public irq::RemoteApicSink, public irq::EoiSink {
 public:
  // `peers`: every other node of the VM; `device_node` holds the IOAPIC.
  // Attach the local bus (and on the device node the IOAPIC) before the
  // transport starts delivering.
  ApicLink(net::Transport* transport, std::vector<NodeId> peers, NodeId device_node)
      : transport_(transport), peers_(std::move(peers)), device_node_(device_node) {}
  void Attach(irq::ApicBus* bus) { bus_ = bus; }
  void AttachIoapic(irq::EoiSink* ioapic) { ioapic_ = ioapic; }

  void Forward(NodeId node, const irq::ApicMessage& message) override;
  // The local LAPICs' EOI sink on a node without the IOAPIC.
  void BroadcastEoi(uint8_t vector) override;
  // Install as each local Lapic's addressing listener.
  void Announce(const irq::ApicAddressing& addressing);
  // Route kApicChannel messages here.
  void OnMessage(const net::Received& message);

  uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }
  uint64_t received() const { return received_.load(std::memory_order_relaxed); }
  uint64_t bad_messages() const { return bad_.load(std::memory_order_relaxed); }

 private:
  net::Transport* const transport_;
  const std::vector<NodeId> peers_;
  const NodeId device_node_;
  irq::ApicBus* bus_ = nullptr;
  irq::EoiSink* ioapic_ = nullptr;
  std::atomic<uint64_t> sent_{0}, received_{0}, bad_{0};
};

}  // namespace dvm::cluster

#endif  // DVM_VMM_CLUSTER_APIC_LINK_H_
