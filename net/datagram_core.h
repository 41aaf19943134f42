// The part of a datagram transport (DPDK, loopback) that does not touch the
// wire: per-peer ReliableLinks, frame authentication and decoding, counters,
// peer-down detection. A driver feeds it received frame bytes and transmits the
// frames it emits.
//
// Threads: Send() from any thread (it only appends to a per-peer outbox under
// a small lock). Everything else runs on the one thread that drives the
// transport (its poller), and the message handler is called there directly,
// so a handler may call Send().
#ifndef DVM_NET_DATAGRAM_CORE_H_
#define DVM_NET_DATAGRAM_CORE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "dvm/mutex.h"
#include "dvm/types.h"
#include "net/auth.h"
#include "net/reliable_link.h"
#include "net/transport.h"

namespace dvm::net {

class DatagramCore {
 public:
  // Transmits one frame: header (kFrameHeaderSize bytes, signed) then payload.
  using TxFn = absl::FunctionRef<void(NodeId to, std::span<const uint8_t> header,
                                      std::span<const uint8_t> payload)>;

  DatagramCore(NodeId self, const std::vector<NodeId>& peers, const ClusterKey& key,
               const LinkOptions& link_options, uint64_t now_ns);

  NodeId self() const { return self_; }
  void SetCallbacks(Callbacks callbacks) { callbacks_ = std::move(callbacks); }

  // Thread-safe.
  absl::Status Send(NodeId to, uint16_t channel, uint16_t type, std::span<const uint8_t> body,
                    const uint8_t* page);

  // Handles one frame as received from the wire; bad frames are dropped and
  // counted. May call on_message. Returns the sender if the frame came from a
  // live peer and authenticated (drivers learn addresses only from those).
  std::optional<NodeId> OnWireFrame(std::span<const uint8_t> bytes, uint64_t now_ns);

  // Moves queued messages into the links, emits due frames through `tx`, and
  // reports silent peers down. Returns whether anything was done.
  bool Pump(uint64_t now_ns, size_t max_frames, TxFn tx);

  // Sends a Bye to every live peer (best effort, not retransmitted).
  void SayBye(TxFn tx);

  // True when every message queued so far was acked by its (live) peer.
  // Poller thread only.
  bool AllAcked();

  // True once an authenticated frame from every peer has arrived.
  bool AllPeersHeard() const;
  // The first peer not heard from yet, if any (for start-up errors).
  std::vector<NodeId> UnheardPeers() const;
  bool PeerDown(NodeId peer) const;

  PeerCounters counters(NodeId peer) const;
  PeerCounters unknown_counters() const { return unknown_.Snapshot(); }

 private:
  struct Peer {
    Peer(NodeId id, const LinkOptions& o, uint64_t now) : id(id), link(o, now) {}
    NodeId id;
    ReliableLink link;          // poller thread only
    uint64_t session = 0;       // the peer's, learned from its first frame
    std::atomic<bool> heard{false};
    std::atomic<bool> down{false};
    AtomicPeerCounters counters;
    Mutex outbox_mu;
    std::vector<std::vector<uint8_t>> outbox ABSL_GUARDED_BY(outbox_mu);
  };

  Peer* Find(NodeId id) const;
  void MarkDown(Peer& p, const absl::Status& why);
  void EmitFrame(Peer& p, const LinkFrame& f, TxFn tx);

  NodeId self_;
  ClusterKey key_;
  uint64_t session_;
  uint64_t counter_ = 0;  // poller thread only
  std::vector<std::unique_ptr<Peer>> peers_;
  Callbacks callbacks_;
  AtomicPeerCounters unknown_;
};

}  // namespace dvm::net

#endif  // DVM_NET_DATAGRAM_CORE_H_
