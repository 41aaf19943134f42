#include "bench/dsm/dpdk_pair.h"

#include <unistd.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "dvm/status.h"
#include "net/auth.h"
#ifdef DVM_HAVE_DPDK
#include "net/dpdk_transport.h"
#endif

namespace dvm::dsm::bench {

bool HaveDpdk() {
#ifdef DVM_HAVE_DPDK
  return true;
#else
  return false;
#endif
}

std::vector<std::string> MemifEalArgs(const std::string& tag, int pairs) {
  std::vector<std::string> args = {"--no-huge", "-m", "1024", "--no-pci", "--log-level=error",
                                   // Not pinned: EAL pins the initializing thread, and
                                   // every thread made later inherits its CPU set.
                                   "--lcores=0@(0-1)", "--file-prefix=" + tag};
  for (int p = 0; p < pairs; ++p) {
    std::string socket = absl::StrCat("/tmp/", tag, "-", p, ".memif");
    unlink(socket.c_str());
    for (int side = 0; side < 2; ++side) {
      args.push_back(absl::StrCat("--vdev=net_memif", 2 * p + side,
                                  side == 0 ? ",role=server" : ",role=client",
                                  ",bsize=9216,socket=", socket));
    }
  }
  return args;
}

TransportMaker DpdkMemifPair(std::vector<std::string> eal_args, int first_port) {
  return [eal_args, first_port](NodeId self) -> absl::StatusOr<std::unique_ptr<net::Transport>> {
#ifdef DVM_HAVE_DPDK
    ASSIGN_OR_RETURN(net::ClusterKey key,
                     net::ClusterKey::FromBytes(std::vector<uint8_t>(32, 0x5a)));
    net::DpdkOptions options;
    options.self = self;
    options.nodes = {NodeId(0), NodeId(1)};
    options.eal_args = eal_args;
    options.port_id = first_port + static_cast<int>(self.value());
    options.assume_mtu = 9000;
    ASSIGN_OR_RETURN(std::unique_ptr<net::DpdkTransport> t,
                     net::DpdkTransport::Create(options, key));
    return std::unique_ptr<net::Transport>(std::move(t));
#else
    (void)self;
    (void)eal_args;
    (void)first_port;
    return absl::UnavailableError("dvm was built without DPDK (libdpdk-dev)");
#endif
  };
}

}  // namespace dvm::dsm::bench
