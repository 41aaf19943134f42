#include "net/datagram_core.h"

#include <sodium.h>

#include "absl/strings/str_cat.h"
#include "dvm/log.h"

namespace dvm::net {

DatagramCore::DatagramCore(NodeId self, const std::vector<NodeId>& peers, const ClusterKey& key,
                           const LinkOptions& link_options, uint64_t now_ns)
    : self_(self), key_(key) {
  randombytes_buf(&session_, sizeof(session_));
  for (NodeId id : peers) {
    if (id == self) continue;
    peers_.push_back(std::make_unique<Peer>(id, link_options, now_ns));
  }
}

DatagramCore::Peer* DatagramCore::Find(NodeId id) const {
  for (const auto& p : peers_) {
    if (p->id == id) return p.get();
  }
  return nullptr;
}

absl::Status DatagramCore::Send(NodeId to, uint16_t channel, uint16_t type,
                                std::span<const uint8_t> body, const uint8_t* page) {
  Peer* p = Find(to);
  if (p == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown node ", to.value()));
  if (body.size() > kMaxBodyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("message body of ", body.size(),
                                                   " bytes exceeds ", kMaxBodyBytes));
  }
  if (p->down.load(std::memory_order_acquire)) {
    return absl::UnavailableError(absl::StrCat("node ", to.value(), " is down"));
  }
  std::vector<uint8_t> msg;
  msg.reserve(EncodedMessageSize(body.size(), page != nullptr));
  AppendMessage(channel, type, body, page, &msg);
  p->counters.msgs_sent.fetch_add(1, std::memory_order_relaxed);
  MutexLock lock(&p->outbox_mu);
  p->outbox.push_back(std::move(msg));
  return absl::OkStatus();
}

void DatagramCore::MarkDown(Peer& p, const absl::Status& why) {
  if (p.down.exchange(true)) return;
  DVM_LOG(WARNING) << "node " << self_.value() << ": peer " << p.id.value()
                   << " down: " << why.message();
  if (callbacks_.on_peer_down) callbacks_.on_peer_down(p.id, why);
}

std::optional<NodeId> DatagramCore::OnWireFrame(std::span<const uint8_t> bytes, uint64_t now_ns) {
  absl::StatusOr<FrameView> frame = DecodeFrame(bytes);
  if (!frame.ok()) {
    unknown_.drops.fetch_add(1, std::memory_order_relaxed);
    DVM_LOG_EVERY_SEC(WARNING, 1.0) << "dropped frame: " << frame.status().message();
    return std::nullopt;
  }
  const FrameHeader& h = frame->header;
  Peer* p = h.dst == self_.value() ? Find(NodeId(h.src)) : nullptr;
  if (p == nullptr) {
    unknown_.drops.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  if (!key_.Verify(h, bytes.first(kFrameHeaderSize), frame->payload)) {
    p->counters.auth_failures.fetch_add(1, std::memory_order_relaxed);
    DVM_LOG_EVERY_SEC(WARNING, 1.0) << "frame from node " << h.src << " failed authentication";
    return std::nullopt;
  }
  if (p->down.load(std::memory_order_relaxed)) {
    p->counters.drops.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  if (!p->heard.load(std::memory_order_relaxed)) {
    p->session = h.session;
    p->heard.store(true, std::memory_order_release);
  } else if (h.session != p->session) {
    // The peer restarted: its sequence numbers began again and whatever was in
    // flight is lost, so the old peer is gone for the layers above.
    p->counters.drops.fetch_add(1, std::memory_order_relaxed);
    MarkDown(*p, absl::UnavailableError(absl::StrCat("node ", h.src, " restarted")));
    return std::nullopt;
  }
  if (h.kind == FrameKind::kBye) {
    MarkDown(*p, absl::UnavailableError(absl::StrCat("node ", h.src, " left")));
    return std::nullopt;
  }
  if (h.kind == FrameKind::kHello) return p->id;  // only TCP uses it; harmless here
  p->counters.bytes_received.fetch_add(bytes.size(), std::memory_order_relaxed);
  ReliableLink::RxResult r = p->link.OnFrame(
      h, frame->payload, now_ns, [&](std::span<const uint8_t> msg_bytes) {
        absl::StatusOr<MessageView> m = DecodeMessage(msg_bytes);
        if (!m.ok()) {
          p->counters.drops.fetch_add(1, std::memory_order_relaxed);
          DVM_LOG_EVERY_SEC(WARNING, 1.0)
              << "bad message from node " << h.src << ": " << m.status().message();
          return;
        }
        p->counters.msgs_received.fetch_add(1, std::memory_order_relaxed);
        if (callbacks_.on_message) {
          callbacks_.on_message(Received{p->id, m->channel, m->type, m->body, m->page});
        }
      });
  if (r != ReliableLink::RxResult::kAccepted) {
    p->counters.drops.fetch_add(1, std::memory_order_relaxed);
  }
  return p->id;
}

void DatagramCore::EmitFrame(Peer& p, const LinkFrame& f, TxFn tx) {
  FrameHeader h;
  h.kind = f.kind;
  h.flags = f.flags;
  h.src = self_.value();
  h.dst = p.id.value();
  h.session = session_;
  h.counter = ++counter_;
  h.seq = f.seq;
  h.ack = f.ack;
  h.sack = f.sack;
  h.payload_len = static_cast<uint32_t>(f.payload.size());
  uint8_t header[kFrameHeaderSize];
  key_.SignAndEncode(&h, f.payload, std::span<uint8_t, kFrameHeaderSize>(header));
  if (f.retransmit) p.counters.retransmits.fetch_add(1, std::memory_order_relaxed);
  p.counters.bytes_sent.fetch_add(kFrameHeaderSize + f.payload.size(), std::memory_order_relaxed);
  tx(p.id, header, f.payload);
}

bool DatagramCore::Pump(uint64_t now_ns, size_t max_frames, TxFn tx) {
  bool did = false;
  for (auto& pp : peers_) {
    Peer& p = *pp;
    if (p.down.load(std::memory_order_relaxed)) continue;
    std::vector<std::vector<uint8_t>> out;
    {
      MutexLock lock(&p.outbox_mu);
      out.swap(p.outbox);
    }
    for (const auto& m : out) p.link.Enqueue(m);
    if (p.link.Pump(now_ns, max_frames, [&](const LinkFrame& f) { EmitFrame(p, f, tx); }) > 0) {
      did = true;
    }
    if (p.heard.load(std::memory_order_relaxed) && p.link.PeerSilent(now_ns)) {
      MarkDown(p, absl::DeadlineExceededError(
                      absl::StrCat("nothing heard from node ", p.id.value(), " in time")));
      did = true;
    }
  }
  return did;
}

void DatagramCore::SayBye(TxFn tx) {
  for (auto& p : peers_) {
    if (p->down.load(std::memory_order_relaxed)) continue;
    EmitFrame(*p, LinkFrame{FrameKind::kBye, 0, 0, 0, 0, {}, false}, tx);
  }
}

bool DatagramCore::AllAcked() {
  for (auto& p : peers_) {
    if (p->down.load(std::memory_order_relaxed)) continue;
    if (p->link.unacked_frames() > 0) return false;
    MutexLock lock(&p->outbox_mu);
    if (!p->outbox.empty()) return false;
  }
  return true;
}

bool DatagramCore::AllPeersHeard() const {
  for (const auto& p : peers_) {
    if (!p->heard.load(std::memory_order_acquire)) return false;
  }
  return true;
}

std::vector<NodeId> DatagramCore::UnheardPeers() const {
  std::vector<NodeId> out;
  for (const auto& p : peers_) {
    if (!p->heard.load(std::memory_order_acquire)) out.push_back(p->id);
  }
  return out;
}

bool DatagramCore::PeerDown(NodeId peer) const {
  Peer* p = Find(peer);
  return p != nullptr && p->down.load(std::memory_order_acquire);
}

PeerCounters DatagramCore::counters(NodeId peer) const {
  Peer* p = Find(peer);
  return p == nullptr ? PeerCounters{} : p->counters.Snapshot();
}

}  // namespace dvm::net
