// Builds the transport a node of a VM uses, from the validated VmSpec: its
// [[node]] list (ids, addresses, DPDK EAL arguments), the cluster key file and
// dsm.transport (tcp or dpdk).
#ifndef DVM_NET_FACTORY_H_
#define DVM_NET_FACTORY_H_

#include <memory>

#include "absl/status/statusor.h"
#include "net/transport.h"
#include "vmm/spec/vm_spec.h"

namespace dvm::net {

struct FactoryOptions {
  uint64_t connect_deadline_ms = 10'000;
  bool own_thread = true;  // false: the caller drives Poll()
};

absl::StatusOr<std::unique_ptr<Transport>> MakeTransportForNode(
    const spec::VmSpec& spec, NodeId self, const FactoryOptions& options = {});

}  // namespace dvm::net

#endif  // DVM_NET_FACTORY_H_
