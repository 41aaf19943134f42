// net::Transport: reliable, ordered, authenticated messages between the nodes
// of one cluster. One interface, three stacks: TCP (Boost.Asio), DPDK, and an
// in-process loopback with fault injection for tests.
//
// A message is (channel, type, up to kMaxBodyBytes opaque bytes, optional 4 KiB
// page). Per peer, messages arrive in the order sent, exactly once, or the
// peer is reported down (after which nothing more arrives from it).
//
// Threads: Send() may be called from any thread, including from inside the
// message handler. Handlers run either on the transport's own thread or, when
// the transport is driven by the caller, inside Poll(); never concurrently with
// each other for one transport.
#ifndef DVM_NET_TRANSPORT_H_
#define DVM_NET_TRANSPORT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "dvm/types.h"
#include "net/wire.h"

namespace dvm::net {

// One node as the transport sees it (VmSpec's [[node]] list maps onto this).
struct PeerAddress {
  NodeId id;
  std::string host;
  uint16_t port = 0;
};

// A message handed to the receive handler. The spans are valid only during the
// call; copy what must outlive it.
struct Received {
  NodeId from;
  uint16_t channel = 0;
  uint16_t type = 0;
  std::span<const uint8_t> body;
  const uint8_t* page = nullptr;  // kPageSize bytes, or nullptr
};

struct Callbacks {
  std::function<void(const Received&)> on_message;
  // Called once per peer that goes away (closed, killed, silent too long, or
  // sent garbage that breaks its stream). The status says why.
  std::function<void(NodeId, const absl::Status&)> on_peer_down;
};

// Counters per peer. Frames that cannot be attributed to a known peer are
// counted on the receiving transport's `unknown` counters.
struct PeerCounters {
  uint64_t msgs_sent = 0;
  uint64_t msgs_received = 0;
  uint64_t bytes_sent = 0;      // wire bytes, headers included
  uint64_t bytes_received = 0;  // wire bytes of accepted frames
  uint64_t retransmits = 0;     // frames sent again (DPDK, loopback)
  uint64_t drops = 0;           // malformed, duplicate or unexpected frames dropped
  uint64_t auth_failures = 0;   // frames whose MAC did not verify
};

// Lock-free counters a transport updates and a stats reader snapshots.
struct AtomicPeerCounters {
  std::atomic<uint64_t> msgs_sent{0}, msgs_received{0}, bytes_sent{0}, bytes_received{0},
      retransmits{0}, drops{0}, auth_failures{0};
  PeerCounters Snapshot() const;
};

class Transport {
 public:
  virtual ~Transport() = default;

  virtual NodeId self() const = 0;

  // Connects to every peer and starts delivering to `callbacks`. Returns an
  // error naming the peer if one is unreachable by the configured deadline.
  [[nodiscard]] virtual absl::Status Start(Callbacks callbacks) = 0;

  // Queues one message for `to`. Checks the caller's arguments (unknown peer,
  // body too large) and fails with Unavailable once the peer is down. Queued
  // messages leave in batches: on the next Flush(), Poll(), or when the
  // transport's own thread picks them up.
  [[nodiscard]] virtual absl::Status Send(NodeId to, uint16_t channel, uint16_t type,
                                          std::span<const uint8_t> body,
                                          const uint8_t* page = nullptr) = 0;

  // Pushes queued messages toward the wire now.
  virtual void Flush() = 0;

  // Does one round of work (receive, deliver, send, retransmit, timers) on the
  // calling thread. Returns whether anything was done, so an idle caller can
  // back off. Only for transports configured to be driven by the caller.
  virtual bool Poll() = 0;

  // Says goodbye to the peers and stops; no callbacks run after it returns.
  virtual void Stop() = 0;

  virtual PeerCounters counters(NodeId peer) const = 0;
  // Frames from unknown or unauthenticated sources.
  virtual PeerCounters unknown_counters() const = 0;
};

}  // namespace dvm::net

#endif  // DVM_NET_TRANSPORT_H_
