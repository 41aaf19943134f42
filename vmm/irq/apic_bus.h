// The APIC bus of one node: delivers APIC messages (IPIs, IOAPIC interrupts)
// to the LAPICs attached here and forwards to other nodes what targets their
// vCPUs. It does destination matching, shorthands and lowest-priority
// arbitration, which prefers a local LAPIC: a device interrupt that any vCPU
// may take should not cross the network when a local vCPU can take it.
//
// Remote vCPUs are known by their addressing (APIC id, LDR, DFR), which the
// VMM keeps current from Lapic::SetAddressingListener on their node. A
// message reaches each remote node at most once; the node delivers it with
// DeliverFromRemote, which never forwards again. A lowest-priority message
// that only remote vCPUs match is sent as fixed, physical, to the one chosen.
#ifndef DVM_VMM_IRQ_APIC_BUS_H_
#define DVM_VMM_IRQ_APIC_BUS_H_

#include <cstdint>
#include <vector>

#include "dvm/mutex.h"
#include "dvm/types.h"
#include "vmm/irq/apic_message.h"
#include "vmm/irq/lapic.h"

namespace dvm::irq {

class RemoteApicSink {
 public:
  virtual ~RemoteApicSink() = default;
  virtual void Forward(NodeId node, const ApicMessage& message) = 0;
};

class ApicBus final : public ApicMessageSink {
 public:
  explicit ApicBus(RemoteApicSink* remote = nullptr) : remote_(remote) {}

  void Attach(Lapic* lapic);
  void Detach(Lapic* lapic);  // e.g. its vCPU migrates away

  // The table of vCPUs that run on other nodes.
  void UpdateRemoteVcpu(NodeId node, const ApicAddressing& addressing);
  void RemoveRemoteVcpu(uint8_t apic_id);

  // A message from a LAPIC or the IOAPIC of this node.
  void Send(const ApicMessage& message) override;
  // A message another node forwarded: local LAPICs only.
  void DeliverFromRemote(const ApicMessage& message);

  uint64_t undeliverable() const;  // messages that matched nobody
  uint64_t forwarded() const;      // messages handed to the remote sink

 private:
  struct RemoteVcpu {
    NodeId node;
    ApicAddressing addressing;
  };
  void Route(const ApicMessage& message, bool allow_remote);

  RemoteApicSink* const remote_;
  mutable Mutex mu_;
  std::vector<Lapic*> lapics_ ABSL_GUARDED_BY(mu_);
  std::vector<RemoteVcpu> remote_vcpus_ ABSL_GUARDED_BY(mu_);
  size_t next_lowest_ ABSL_GUARDED_BY(mu_) = 0;  // round-robin for lowest priority
  uint64_t undeliverable_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t forwarded_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace dvm::irq

#endif  // DVM_VMM_IRQ_APIC_BUS_H_
