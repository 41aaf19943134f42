#include "net/reliable_link.h"

#include <algorithm>
#include <bit>

#include "dvm/log.h"

namespace dvm::net {

ReliableLink::ReliableLink(const LinkOptions& options, uint64_t now_ns)
    : options_(options), rto_ns_(options.rto_ns), last_heard_ns_(now_ns), last_emit_ns_(now_ns) {
  DVM_CHECK(options_.max_fragment > 0);
  DVM_CHECK(options_.window > 0);
}

void ReliableLink::Enqueue(std::span<const uint8_t> message) {
  size_t off = 0;
  do {
    size_t n = std::min(options_.max_fragment, message.size() - off);
    TxFrame f;
    f.seq = next_seq_++;
    f.flags = off + n == message.size() ? kFrameLastFragment : 0;
    f.payload.assign(message.begin() + off, message.begin() + off + n);
    tx_.push_back(std::move(f));
    off += n;
  } while (off < message.size());
}

uint64_t ReliableLink::SackBits() const {
  uint64_t bits = 0;
  for (auto it = ooo_.upper_bound(expected_); it != ooo_.end(); ++it) {
    uint64_t i = it->first - expected_ - 1;
    if (i >= 64) break;
    bits |= uint64_t{1} << i;
  }
  return bits;
}

void ReliableLink::SampleRtt(uint64_t rtt_ns) {
  if (srtt_ns_ == 0) {
    srtt_ns_ = rtt_ns;
    rttvar_ns_ = rtt_ns / 2;
  } else {
    uint64_t err = rtt_ns > srtt_ns_ ? rtt_ns - srtt_ns_ : srtt_ns_ - rtt_ns;
    rttvar_ns_ = (3 * rttvar_ns_ + err) / 4;
    srtt_ns_ = (7 * srtt_ns_ + rtt_ns) / 8;
  }
}

void ReliableLink::HandleAck(uint64_t ack, uint64_t sack, uint64_t now_ns) {
  if (ack > next_seq_) return;  // acks what we never sent: ignore rather than trust
  bool progress = false;
  bool sample = false;
  uint64_t sent_ns = 0;
  while (!tx_.empty() && tx_.front().seq < ack) {
    // The newest frame this ack covers dates the round trip, unless it was
    // sent more than once (then the ack could be for either copy: Karn).
    sample = tx_.front().sent && !tx_.front().retransmitted;
    sent_ns = tx_.front().last_sent_ns;
    tx_.pop_front();
    progress = true;
  }
  if (sample && now_ns >= sent_ns) SampleRtt(now_ns - sent_ns);
  if (progress) {
    rto_ns_ = srtt_ns_ == 0 ? options_.rto_ns : srtt_ns_ + 4 * rttvar_ns_;
    rto_ns_ = std::clamp(rto_ns_, options_.min_rto_ns, options_.max_rto_ns);
  }
  if (sack == 0 || tx_.empty()) return;
  // tx_ is contiguous in seq from tx_[0].seq; index = seq - base.
  uint64_t base = tx_.front().seq;
  for (int i = 0; i < 64; ++i) {
    if ((sack & (uint64_t{1} << i)) == 0) continue;
    uint64_t seq = ack + 1 + i;
    if (seq < base || seq - base >= tx_.size()) continue;
    tx_[seq - base].sacked = true;
  }
  // The peer holds frames beyond a hole: resend each hole below the highest
  // sacked seq at once, once (later losses of it are left to the timer).
  uint64_t highest = ack + 1 + static_cast<uint64_t>(63 - std::countl_zero(sack));
  for (TxFrame& f : tx_) {
    if (f.seq >= highest) break;
    if (f.sent && !f.sacked && !f.fast_done) {
      f.resend_now = true;
      f.fast_done = true;
    }
  }
}

ReliableLink::RxResult ReliableLink::AcceptInOrder(
    uint8_t flags, std::span<const uint8_t> payload,
    absl::FunctionRef<void(std::span<const uint8_t>)> deliver) {
  ++expected_;
  RxResult result = RxResult::kAccepted;
  if (!reassembly_broken_ && reassembly_.size() + payload.size() > kMaxMessageBytes) {
    reassembly_broken_ = true;
    reassembly_.clear();
  }
  if (reassembly_broken_) {
    result = RxResult::kBadMessage;
  } else {
    reassembly_.insert(reassembly_.end(), payload.begin(), payload.end());
  }
  if (flags & kFrameLastFragment) {
    if (!reassembly_broken_) deliver(reassembly_);
    reassembly_.clear();
    reassembly_broken_ = false;
  }
  return result;
}

ReliableLink::RxResult ReliableLink::OnFrame(
    const FrameHeader& h, std::span<const uint8_t> payload, uint64_t now_ns,
    absl::FunctionRef<void(std::span<const uint8_t>)> deliver) {
  last_heard_ns_ = now_ns;
  HandleAck(h.ack, h.sack, now_ns);
  if (h.kind != FrameKind::kData) return RxResult::kAccepted;

  ack_owed_ = true;
  if (h.seq < expected_ || ooo_.contains(h.seq)) return RxResult::kDuplicate;
  if (h.seq - expected_ >= options_.window) return RxResult::kOutOfWindow;
  if (h.seq > expected_) {
    ooo_.emplace(h.seq, RxFrame{h.flags, std::vector<uint8_t>(payload.begin(), payload.end())});
    return RxResult::kAccepted;
  }
  RxResult result = AcceptInOrder(h.flags, payload, deliver);
  // Drain buffered frames that are now in order.
  for (auto it = ooo_.begin(); it != ooo_.end() && it->first == expected_;
       it = ooo_.erase(it)) {
    if (AcceptInOrder(it->second.flags, it->second.payload, deliver) != RxResult::kAccepted) {
      result = RxResult::kBadMessage;
    }
  }
  return result;
}

void ReliableLink::EmitData(TxFrame& f, uint64_t now_ns, bool retransmit,
                            absl::FunctionRef<void(const LinkFrame&)> emit) {
  f.sent = true;
  f.resend_now = false;
  f.last_sent_ns = now_ns;
  if (retransmit) {
    ++retransmits_;
    f.retransmitted = true;
  }
  emit(LinkFrame{FrameKind::kData, f.flags, f.seq, expected_, SackBits(), f.payload, retransmit});
  ack_owed_ = false;
  last_emit_ns_ = now_ns;
}

size_t ReliableLink::Pump(uint64_t now_ns, size_t max_frames,
                          absl::FunctionRef<void(const LinkFrame&)> emit) {
  size_t n = 0;
  size_t limit = std::min<size_t>(tx_.size(), options_.window);
  // Retransmissions first: they unblock the peer's in-order delivery.
  bool timed_out = false;
  for (size_t i = 0; i < limit && n < max_frames; ++i) {
    TxFrame& f = tx_[i];
    if (!f.sent) break;  // frames after this one were never sent either
    if (f.sacked) continue;
    bool expired = now_ns - f.last_sent_ns >= rto_ns_;
    if (f.resend_now || expired) {
      timed_out |= expired && !f.resend_now;
      EmitData(f, now_ns, /*retransmit=*/true, emit);
      ++n;
    }
  }
  if (timed_out) rto_ns_ = std::min(rto_ns_ * 2, options_.max_rto_ns);
  for (size_t i = 0; i < limit && n < max_frames; ++i) {
    TxFrame& f = tx_[i];
    if (f.sent) continue;
    EmitData(f, now_ns, /*retransmit=*/false, emit);
    ++n;
  }
  if (n < max_frames && (ack_owed_ || now_ns - last_emit_ns_ >= options_.keepalive_ns)) {
    emit(LinkFrame{FrameKind::kAck, 0, 0, expected_, SackBits(), {}, false});
    ack_owed_ = false;
    last_emit_ns_ = now_ns;
    ++n;
  }
  return n;
}

}  // namespace dvm::net
