#include "net/factory.h"

#include "absl/strings/str_cat.h"
#include "net/auth.h"
#include "net/tcp_transport.h"
#ifdef DVM_HAVE_DPDK
#include "net/dpdk_transport.h"
#endif

namespace dvm::net {

using spec::NodeSpec;
using spec::TransportKind;
using spec::VmSpec;

absl::StatusOr<std::unique_ptr<Transport>> MakeTransportForNode(const VmSpec& spec, NodeId self,
                                                                const FactoryOptions& options) {
  const NodeSpec* me = spec.FindNode(self);
  if (me == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("node ", self.value(), " is not in the VM"));
  }
  if (spec.cluster_key_file.empty()) {
    return absl::InvalidArgumentError("a multi-node VM needs cluster_key_file");
  }
  absl::StatusOr<ClusterKey> key = ClusterKey::FromFile(spec.cluster_key_file);
  if (!key.ok()) return key.status();

  switch (spec.dsm.transport) {
    case TransportKind::kTcp: {
      TcpOptions o{.self = self,
                   .connect_deadline_ms = options.connect_deadline_ms,
                   .own_thread = options.own_thread};
      for (const NodeSpec& n : spec.nodes) {
        o.nodes.push_back(PeerAddress{n.id, n.address.host, n.address.port});
      }
      absl::StatusOr<std::unique_ptr<TcpTransport>> t = TcpTransport::Create(o, *key);
      if (!t.ok()) return t.status();
      return std::unique_ptr<Transport>(std::move(*t));
    }
    case TransportKind::kDpdk: {
#ifdef DVM_HAVE_DPDK
      DpdkOptions o{.self = self,
                    .eal_args = me->dpdk_args,
                    .connect_deadline_ms = options.connect_deadline_ms,
                    .own_thread = options.own_thread};
      for (const NodeSpec& n : spec.nodes) o.nodes.push_back(n.id);
      absl::StatusOr<std::unique_ptr<DpdkTransport>> t = DpdkTransport::Create(o, *key);
      if (!t.ok()) return t.status();
      return std::unique_ptr<Transport>(std::move(*t));
#else
      return absl::UnimplementedError("dvm was built without DPDK (libdpdk-dev)");
#endif
    }
  }
  return absl::InvalidArgumentError("unknown transport kind");
}

}  // namespace dvm::net
