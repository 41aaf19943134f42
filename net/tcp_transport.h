// The POSIX stack: one TCP connection per pair of nodes, Boost.Asio.
//
// Setup: every node listens on its own address; a node dials each peer with a
// smaller id (retrying with backoff until the deadline) and accepts the rest.
// Each side's first frame is a signed Hello naming src and dst; a connection
// carries messages only once both Hellos verified. TCP gives order and
// exactly-once; frames are still signed (one MAC per message) and carry a
// strictly increasing counter, so a replayed or injected frame is caught.
//
// A frame that fails to decode or verify on an established connection breaks
// the stream (its length cannot be trusted): it is counted, the connection is
// closed, and the peer is reported down. Strangers that connect and fail the
// Hello are counted on unknown_counters() and closed; established peers are
// not disturbed.
//
// Threads: with own_thread (the default) one I/O thread runs the sockets and
// the handlers; otherwise the caller drives everything through Poll(). Send()
// is thread-safe: it signs the frame and, when nothing is queued before it,
// writes it to the socket itself (non-blocking); otherwise, or if the socket
// is full, it appends to the peer's batch and wakes the I/O side, which
// writes every queued frame with one gathered write.
#ifndef DVM_NET_TCP_TRANSPORT_H_
#define DVM_NET_TCP_TRANSPORT_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "net/auth.h"
#include "net/transport.h"

namespace dvm::net {

struct TcpOptions {
  NodeId self;
  std::vector<PeerAddress> nodes;  // every node, self included (its address is where we listen)
  uint64_t connect_deadline_ms = 10'000;
  uint64_t backoff_initial_ms = 10;
  uint64_t backoff_max_ms = 500;
  bool own_thread = true;
};

class TcpTransport : public Transport {
 public:
  static absl::StatusOr<std::unique_ptr<TcpTransport>> Create(TcpOptions options,
                                                              const ClusterKey& key);
  ~TcpTransport() override;

  NodeId self() const override;
  absl::Status Start(Callbacks callbacks) override;
  absl::Status Send(NodeId to, uint16_t channel, uint16_t type, std::span<const uint8_t> body,
                    const uint8_t* page) override;
  void Flush() override;
  bool Poll() override;
  void Stop() override;
  PeerCounters counters(NodeId peer) const override;
  PeerCounters unknown_counters() const override;

  class Impl;

 private:
  explicit TcpTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dvm::net

#endif  // DVM_NET_TCP_TRANSPORT_H_
