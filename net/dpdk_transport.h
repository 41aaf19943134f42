// The kernel-bypass stack: raw Ethernet frames on one DPDK port, with our own
// EtherType, made reliable by the same DatagramCore/ReliableLink that the
// lossy loopback tests exercise (sequence numbers, acks, retransmission, a
// send window, and fragmentation of a page into frames that fit the port MTU;
// jumbo frames where the port accepts them).
//
// Addressing: frames go to the broadcast MAC until a peer's MAC is learned
// from its own (authenticated) frames, then unicast. Point-to-point links
// (memif, a veth pair) need nothing else.
//
// EAL: rte_eal_init runs once per process (a second call fails even after
// cleanup), with the arguments of the first transport created; a second
// transport in the same process must name another port. Tested setups need no
// NIC and no hugepages: `--no-huge -m 512 --no-pci -l CORE --file-prefix UNIQUE`
// plus `--vdev=net_memif0,role=server|client,socket=PATH` between two
// processes, or `--vdev=net_af_packet0,iface=IF,framesz=...` on a veth pair.
//
// Threads: with own_thread one poller thread runs receive, timers and
// transmit, and the handlers; it yields (then sleeps briefly) when a poll finds
// nothing, so two nodes can share two cores. Otherwise the caller drives Poll().
// Send() is thread-safe.
#ifndef DVM_NET_DPDK_TRANSPORT_H_
#define DVM_NET_DPDK_TRANSPORT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "net/auth.h"
#include "net/reliable_link.h"
#include "net/transport.h"

namespace dvm::net {

// An EtherType from the IEEE "local experimental" range.
inline constexpr uint16_t kDvmEtherType = 0x88b5;

struct DpdkOptions {
  NodeId self;
  std::vector<NodeId> nodes;           // every node, self included
  std::vector<std::string> eal_args;   // without argv[0]
  int port_id = -1;                    // -1: the first available port
  uint32_t desired_mtu = 9000;         // jumbo if the port takes it, else its current MTU
  // Use this MTU without asking the port. For drivers whose ethdev MTU is not
  // the real limit: net_af_packet reports 1518 but carries what the kernel
  // interface MTU and its framesz allow; net_memif has no MTU call but chains
  // descriptors for frames bigger than its buffers.
  uint32_t assume_mtu = 0;
  uint64_t connect_deadline_ms = 10'000;
  LinkOptions link;                    // max_fragment is derived from the MTU
  double tx_loss = 0;                  // tests: drop this fraction of frames before transmit
  bool own_thread = true;
};

class DpdkTransport : public Transport {
 public:
  static absl::StatusOr<std::unique_ptr<DpdkTransport>> Create(DpdkOptions options,
                                                               const ClusterKey& key);
  ~DpdkTransport() override;

  NodeId self() const override;
  absl::Status Start(Callbacks callbacks) override;
  absl::Status Send(NodeId to, uint16_t channel, uint16_t type, std::span<const uint8_t> body,
                    const uint8_t* page) override;
  void Flush() override;
  bool Poll() override;
  void Stop() override;
  PeerCounters counters(NodeId peer) const override;
  PeerCounters unknown_counters() const override;

  // The MTU in use and the payload bytes per frame it allows.
  uint32_t mtu() const;

  class Impl;

 private:
  explicit DpdkTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dvm::net

#endif  // DVM_NET_DPDK_TRANSPORT_H_
