// Command-line flags of the transport test tools (net_peer, bench/transport)
// and the transport they ask for.
#ifndef DVM_TEST_INTEGRATION_NET_TRANSPORT_FACTORY_H_
#define DVM_TEST_INTEGRATION_NET_TRANSPORT_FACTORY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "net/auth.h"
#include "net/transport.h"

namespace dvm::net {

struct Flags {
  NodeId self;
  NodeId peer;  // the other node (two-node tools)
  std::vector<PeerAddress> nodes;
  std::string key_file;
  std::string transport = "tcp";
  uint64_t count = 100'000;
  bool expect_down = false;
  std::vector<std::string> dpdk_args;  // --dpdk_arg=... repeated
  double loss = 0;                     // --loss: injected frame loss on DPDK transmit
  bool poll = false;                   // --poll: the caller drives Poll(), no I/O thread
  uint32_t mtu = 0;                    // --mtu: DPDK assume_mtu
};

// --self=N --nodes=0=host:port,1=host:port --key=FILE [--transport=tcp|dpdk]
// [--count=N] [--expect_down] [--dpdk_arg=ARG ...] [--loss=0.01] [--poll] [--mtu=N]
// Flags it does not know are an error unless `rest` collects them.
absl::StatusOr<Flags> ParseFlags(int argc, char** argv,
                                 std::vector<std::string>* rest = nullptr);

absl::StatusOr<std::unique_ptr<Transport>> MakeTransport(const Flags& flags,
                                                         const ClusterKey& key);

}  // namespace dvm::net

#endif  // DVM_TEST_INTEGRATION_NET_TRANSPORT_FACTORY_H_
