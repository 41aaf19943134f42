#include "net/transport.h"

namespace dvm::net {

PeerCounters AtomicPeerCounters::Snapshot() const {
  PeerCounters c;
  c.msgs_sent = msgs_sent.load(std::memory_order_relaxed);
  c.msgs_received = msgs_received.load(std::memory_order_relaxed);
  c.bytes_sent = bytes_sent.load(std::memory_order_relaxed);
  c.bytes_received = bytes_received.load(std::memory_order_relaxed);
  c.retransmits = retransmits.load(std::memory_order_relaxed);
  c.drops = drops.load(std::memory_order_relaxed);
  c.auth_failures = auth_failures.load(std::memory_order_relaxed);
  return c;
}

}  // namespace dvm::net
