// Reliable, ordered, exactly-once delivery of messages to one peer over a
// path that may lose, duplicate, reorder or delay frames (DPDK, the lossy
// loopback). Pure: no clocks, threads or sockets. The driver passes the time in,
// hands received (already authenticated) frames to OnFrame(), and transmits
// what Pump() emits.
//
//   sender                                   receiver
//   Enqueue(msg) -> fragments seq s..s+k
//   Pump: data frames (within window) ---->  OnFrame: in order -> reassemble -> deliver
//                                            out of order -> buffer (within window)
//                                            duplicate -> drop, ack again
//         <---- ack = next expected seq, sack = bitmap of buffered seqs beyond it
//   OnFrame(ack): free acked frames;
//   a hole reported by sack -> resend it once at once (fast retransmit);
//   unacked after rto -> resend.
//   Nothing to send for keepalive_ns -> an ack frame, so the peer knows we live.
//
// Every data frame also carries the current ack (piggybacking), so a busy
// two-way link sends few pure acks. Sequence numbers are 64-bit and never wrap.
#ifndef DVM_NET_RELIABLE_LINK_H_
#define DVM_NET_RELIABLE_LINK_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <span>
#include <vector>

#include "absl/functional/function_ref.h"
#include "net/wire.h"

namespace dvm::net {

struct LinkOptions {
  size_t max_fragment = 1400;  // payload bytes per data frame (from the path MTU)
  uint32_t window = 256;       // data frames in flight, and receive buffer size
  // Retransmission timeout: starts at rto_ns, then follows the measured round
  // trip (RFC 6298: srtt + 4 * rttvar) within [min_rto_ns, max_rto_ns], and
  // doubles after each timeout until an ack makes progress. A fixed short RTO
  // retransmitted whole windows whenever a poller was descheduled.
  // The floor is high for a LAN because pollers on a shared 2-core machine
  // get descheduled for milliseconds; tests lower it.
  uint64_t rto_ns = 10'000'000;
  uint64_t min_rto_ns = 5'000'000;
  uint64_t max_rto_ns = 200'000'000;
  uint64_t keepalive_ns = 10'000'000;
  uint64_t dead_after_ns = 1'000'000'000;
};

// A frame the driver must transmit (it adds addresses, session, counter, MAC).
struct LinkFrame {
  FrameKind kind;
  uint8_t flags;
  uint64_t seq;
  uint64_t ack;
  uint64_t sack;
  std::span<const uint8_t> payload;
  bool retransmit;
};

class ReliableLink {
 public:
  enum class RxResult {
    kAccepted,     // new data (delivered or buffered) or a control frame
    kDuplicate,    // data already received: dropped, will be acked again
    kOutOfWindow,  // data too far ahead: dropped
    kBadMessage,   // reassembled bytes were not a message, or too long: dropped
  };

  ReliableLink(const LinkOptions& options, uint64_t now_ns);

  // Splits an encoded message (wire.h) into fragments and queues them.
  void Enqueue(std::span<const uint8_t> message);

  // Handles one authenticated frame from the peer. Complete messages are passed
  // to `deliver`, in order, as encoded bytes valid during the call.
  RxResult OnFrame(const FrameHeader& h, std::span<const uint8_t> payload, uint64_t now_ns,
                   absl::FunctionRef<void(std::span<const uint8_t>)> deliver);

  // Emits up to `max_frames` frames: retransmissions due, new data within the
  // window, then an ack if one is owed or the keepalive is due. Returns the
  // number emitted.
  size_t Pump(uint64_t now_ns, size_t max_frames, absl::FunctionRef<void(const LinkFrame&)> emit);

  // True once nothing was heard from the peer for dead_after_ns.
  bool PeerSilent(uint64_t now_ns) const { return now_ns - last_heard_ns_ > options_.dead_after_ns; }

  // Data frames queued or in flight, not yet acked.
  size_t unacked_frames() const { return tx_.size(); }
  uint64_t retransmits() const { return retransmits_; }
  uint64_t rto_ns() const { return rto_ns_; }

 private:
  struct TxFrame {
    uint64_t seq;
    uint8_t flags;
    std::vector<uint8_t> payload;
    uint64_t last_sent_ns = 0;
    bool sent = false;
    bool sacked = false;
    bool resend_now = false;  // fast retransmit requested by a sack
    bool fast_done = false;   // fast retransmit already used for this frame
    bool retransmitted = false;  // its ack says nothing about the round trip (Karn)
  };
  struct RxFrame {
    uint8_t flags;
    std::vector<uint8_t> payload;
  };

  void HandleAck(uint64_t ack, uint64_t sack, uint64_t now_ns);
  void SampleRtt(uint64_t rtt_ns);
  RxResult AcceptInOrder(uint8_t flags, std::span<const uint8_t> payload,
                         absl::FunctionRef<void(std::span<const uint8_t>)> deliver);
  uint64_t SackBits() const;
  void EmitData(TxFrame& f, uint64_t now_ns, bool retransmit,
                absl::FunctionRef<void(const LinkFrame&)> emit);

  LinkOptions options_;

  // Sender.
  uint64_t next_seq_ = 0;     // seq of the next fragment to create
  std::deque<TxFrame> tx_;    // unacked fragments, oldest first (tx_[0].seq == base)
  uint64_t retransmits_ = 0;
  uint64_t rto_ns_;
  uint64_t srtt_ns_ = 0;
  uint64_t rttvar_ns_ = 0;

  // Receiver.
  uint64_t expected_ = 0;                // every seq < expected_ was delivered
  std::map<uint64_t, RxFrame> ooo_;      // received beyond expected_, within the window
  std::vector<uint8_t> reassembly_;      // fragments of the message being received
  bool reassembly_broken_ = false;       // drop fragments until the next message starts
  bool ack_owed_ = false;

  uint64_t last_heard_ns_;
  uint64_t last_emit_ns_;
};

}  // namespace dvm::net

#endif  // DVM_NET_RELIABLE_LINK_H_
