#include "vmm/cluster/cluster_node.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "dvm/log.h"
#include "dvm/status.h"
#include "net/factory.h"
#include "vmm/cluster/dsm_homes.h"

namespace dvm::cluster {

ClusterNode::ClusterNode(const spec::VmSpec& spec, NodeId self, ClusterEvents events)
    : self_(self), events_(std::move(events)) {
  for (const spec::NodeSpec& node : spec.nodes) {
    if (node.id != self) peers_.push_back(node.id);
  }
}

absl::StatusOr<std::unique_ptr<ClusterNode>> ClusterNode::Create(const spec::VmSpec& spec, NodeId self,
                                                                 memory::GuestMemory* memory,
                                                                 ClusterEvents events,
                                                                 const ClusterOptions& options) {
  if (spec.FindNode(self) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("the config has no node ", self.value()));
  }
  std::unique_ptr<ClusterNode> node(new ClusterNode(spec, self, std::move(events)));
  ASSIGN_OR_RETURN(node->transport_,
                   net::MakeTransportForNode(spec, self, {.connect_deadline_ms = options.connect_deadline_ms}));
  ASSIGN_OR_RETURN(dsm::HomeMap homes, HomeMapFor(spec));
  // Node 0 loaded the kernel and initrd before this. With NUMA homes it
  // loaded them into its own slice, so every page starts on its home and a
  // node's first touch of its own memory stays local (measured in the lab:
  // Linux on 2+2 vCPUs reached init in 126 s this way against 210 s with
  // every page starting on node 0). Otherwise every page starts on node 0.
  dsm::ProtocolOptions protocol;
  if (spec.dsm.home != spec::HomePolicy::kNuma) protocol.initial_owner = kDeviceNode;
  dsm::EngineOptions engine_options{.self = self,
                                    .homes = std::move(homes),
                                    .protocol = protocol,
                                    .fault_threads = options.fault_threads};
  ClusterNode* raw = node.get();
  ASSIGN_OR_RETURN(node->engine_,
                   dsm::Engine::Create(std::move(engine_options), memory, node->transport_.get(),
                                       [raw](const absl::Status& s) {
                                         raw->events_.on_failure(absl::StrCat("guest memory: ", s.message()));
                                       }));
  node->apic_link_ = std::make_unique<ApicLink>(node->transport_.get(), node->peers_, kDeviceNode);
  node->forwarder_ = std::make_unique<IoForwarder>(node->transport_.get(), kDeviceNode);
  return node;
}

ClusterNode::~ClusterNode() { Stop(); }

void ClusterNode::ServeIo(IoServer::Executor execute) {
  io_server_ = std::make_unique<IoServer>(transport_.get(), std::move(execute));
}

absl::Status ClusterNode::Start() {
  net::Callbacks callbacks{
      .on_message = [this](const net::Received& m) { OnMessage(m); },
      .on_peer_down = [this](NodeId peer, const absl::Status& why) { OnPeerDown(peer, why); },
  };
  RETURN_IF_ERROR(transport_->Start(std::move(callbacks)));
  return engine_->Start();
}

void ClusterNode::OnMessage(const net::Received& m) {
  switch (m.channel) {
    case dsm::kDsmChannel:
      engine_->OnMessage(m);
      return;
    case kApicChannel:
      apic_link_->OnMessage(m);
      return;
    case kIoChannel:
      if (m.type == kIoRequest && io_server_ != nullptr) {
        io_server_->OnRequest(m);
      } else if (m.type == kIoReply) {
        forwarder_->OnReply(m);
      } else {
        bad_control_.fetch_add(1, std::memory_order_relaxed);
      }
      return;
    case kControlChannel:
      OnControl(m);
      return;
    default:
      bad_control_.fetch_add(1, std::memory_order_relaxed);
      DVM_LOG_EVERY_SEC(WARNING, 1.0) << "dropped a message on unknown channel " << m.channel << " from node "
                                      << m.from.value();
  }
}

void ClusterNode::OnControl(const net::Received& m) {
  if (m.type == kClockSync && m.from == kDeviceNode) {
    if (absl::StatusOr<ClockSync> clock = DecodeClockSync(m.body); clock.ok()) {
      MutexLock lock(&mu_);
      clock_ = *clock;
      cv_.NotifyAll();
      return;
    }
  } else if (m.type == kVmEnded) {
    if (absl::StatusOr<VmEnded> end = DecodeVmEnded(m.body); end.ok()) {
      events_.on_peer_end(*end);
      return;
    }
  } else if (m.type == kNodeLeft && m.body.empty()) {
    MutexLock lock(&mu_);
    left_.insert(m.from.value());
    cv_.NotifyAll();
    return;
  } else if (m.type == kStatsRequest) {
    if (absl::StatusOr<uint64_t> id = DecodeStatsRequest(m.body); id.ok()) {
      AnswerStats(m.from, *id);
      return;
    }
  } else if (m.type == kStatsReply) {
    if (absl::StatusOr<StatsReply> reply = DecodeStatsReply(m.body, m.page); reply.ok()) {
      TakeStatsReply(m.from, std::move(*reply));
      return;
    }
  }
  bad_control_.fetch_add(1, std::memory_order_relaxed);
  DVM_LOG_EVERY_SEC(WARNING, 1.0) << "dropped a malformed control message (type " << m.type << ") from node "
                                  << m.from.value();
}

void ClusterNode::OnPeerDown(NodeId peer, const absl::Status& why) {
  {
    MutexLock lock(&mu_);
    down_.insert(peer.value());
    cv_.NotifyAll();
    // A peer that left needs nothing from us and holds nothing we need.
    if (left_.contains(peer.value())) return;
  }
  // The death first: the VM's end names it, and the pages the engine then
  // reports lost with the peer add nothing a user needs.
  events_.on_failure(absl::StrCat("node ", peer.value(), " died: ", why.message()));
  engine_->OnPeerDown(peer);
  forwarder_->OnPeerDown(peer);
}

void ClusterNode::Broadcast(uint16_t type, std::span<const uint8_t> body) {
  // A peer that is down cannot take it; its death is reported on its own.
  for (NodeId peer : peers_) transport_->Send(peer, kControlChannel, type, body).IgnoreError();
  transport_->Flush();
}

void ClusterNode::SendClock(const ClockSync& clock) { Broadcast(kClockSync, EncodeClockSync(clock)); }

absl::StatusOr<ClockSync> ClusterNode::WaitForClock(std::chrono::seconds timeout) {
  MutexLock lock(&mu_);
  cv_.WaitFor(&mu_, timeout, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return clock_.has_value() || down_.contains(kDeviceNode.value());
  });
  if (clock_) return *clock_;
  return absl::UnavailableError(absl::StrCat("node ", kDeviceNode.value(), " did not send its clock within ",
                                             timeout.count(), " s"));
}

void ClusterNode::AnnounceEnd(const VmEnded& end) { Broadcast(kVmEnded, EncodeVmEnded(end)); }

bool ClusterNode::Leave(std::chrono::seconds timeout) {
  Broadcast(kNodeLeft, {});
  MutexLock lock(&mu_);
  return cv_.WaitFor(&mu_, timeout, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (NodeId peer : peers_) {
      if (!left_.contains(peer.value()) && !down_.contains(peer.value())) return false;
    }
    return true;
  });
}

void ClusterNode::Stop() {
  {
    MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  transport_->Stop();
  io_server_.reset();
  engine_->Stop();
}

namespace {

// Appends `text` and the '\n' it may lack, so the next section starts a line.
void AppendLines(std::string* out, std::string_view text) {
  out->append(text);
  if (!text.empty() && text.back() != '\n') out->push_back('\n');
}

}  // namespace

std::string ClusterNode::LocalStats() const {
  return events_.local_stats ? events_.local_stats() : StatsText();
}

void ClusterNode::AnswerStats(NodeId to, uint64_t id) {
  // On the transport's thread: formatting the text takes microseconds.
  EncodedStatsReply reply = EncodeStatsReply({.id = id, .text = LocalStats()});
  // A peer that went down meanwhile is reported on its own.
  transport_->Send(to, kControlChannel, kStatsReply, reply.body, reply.page.data()).IgnoreError();
}

void ClusterNode::TakeStatsReply(NodeId from, StatsReply reply) {
  MutexLock lock(&mu_);
  // An answer after its gathering gave up is late, not wrong: dropped quietly.
  if (stats_id_ == 0 || reply.id != stats_id_) return;
  stats_replies_[from.value()] = std::move(reply.text);
  cv_.NotifyAll();
}

std::string ClusterNode::GatherStats(std::chrono::milliseconds timeout) {
  MutexLock gather(&gather_mu_);
  uint64_t id = 0;
  {
    MutexLock lock(&mu_);
    id = stats_id_ = ++last_stats_id_;
    stats_replies_.clear();
  }
  std::map<uint32_t, std::string> unsent;  // peers the request could not reach, and why
  for (NodeId peer : peers_) {
    if (absl::Status s = transport_->Send(peer, kControlChannel, kStatsRequest, EncodeStatsRequest(id)); !s.ok()) {
      unsent[peer.value()] = std::string(s.message());
    }
  }
  transport_->Flush();
  std::string out = absl::StrFormat("--- node %u ---\n", self_.value());
  AppendLines(&out, LocalStats());
  MutexLock lock(&mu_);
  cv_.WaitFor(&mu_, timeout, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (NodeId peer : peers_) {
      const uint32_t p = peer.value();
      if (!stats_replies_.contains(p) && !down_.contains(p) && !unsent.contains(p)) return false;
    }
    return true;
  });
  for (NodeId peer : peers_) {
    const uint32_t p = peer.value();
    absl::StrAppendFormat(&out, "--- node %u ---\n", p);
    if (auto it = stats_replies_.find(p); it != stats_replies_.end()) {
      AppendLines(&out, it->second);
    } else if (down_.contains(p)) {
      absl::StrAppendFormat(&out, "node %u: gone (its link is down)\n", p);
    } else if (auto why = unsent.find(p); why != unsent.end()) {
      absl::StrAppendFormat(&out, "node %u: cannot be asked: %s\n", p, why->second);
    } else {
      absl::StrAppendFormat(&out, "node %u: no answer within %d ms\n", p, timeout.count());
    }
  }
  stats_id_ = 0;
  stats_replies_.clear();
  return out;
}

std::string ClusterNode::StatsText() const {
  dsm::EngineStats s = engine_->stats();
  std::string out = absl::StrFormat("node %u DSM faults:", self_.value());
  for (size_t k = 0; k < dsm::kNumOpKinds; ++k) {
    const dsm::LatencyHistogram& h = s.latency[k];
    absl::StrAppendFormat(&out, " %s %u", dsm::OpKindName(static_cast<dsm::OpKind>(k)), s.faults[k]);
    if (h.count() > 0) {
      absl::StrAppendFormat(&out, " (p50 %.1f us, p99 %.1f us)", h.Percentile(0.5) / 1e3, h.Percentile(0.99) / 1e3);
    }
    out += k + 1 < dsm::kNumOpKinds ? "," : "\n";
  }
  absl::StrAppendFormat(&out,
                        "node %u DSM pages: %u received (%s), %u zero-filled, %u made writable, %u write-protected, "
                        "%u dropped; %u messages sent, %u received, %u malformed\n",
                        self_.value(), s.installs, FormatSize(s.installs * kPageSize), s.materialized,
                        s.made_writable, s.write_protected, s.drops, s.messages_sent, s.messages_received,
                        s.bad_messages);
  absl::StrAppendFormat(&out, "node %u DSM steps (p50/p99 us):", self_.value());
  for (size_t k = 0; k < dsm::kNumEngineSteps; ++k) {
    const dsm::LatencyHistogram& h = s.steps[k];
    absl::StrAppendFormat(&out, " %s %u x %.1f/%.1f%s", dsm::EngineStepName(static_cast<dsm::EngineStep>(k)), h.count(),
                          h.Percentile(0.5) / 1e3, h.Percentile(0.99) / 1e3, k + 1 < dsm::kNumEngineSteps ? "," : "\n");
  }
  std::vector<std::string> hot;
  for (auto [gfn, misses] : engine_->HottestPages(6)) {
    hot.push_back(absl::StrFormat("%#x x %u", gfn.value() * kPageSize, misses));
  }
  if (!hot.empty()) {
    absl::StrAppendFormat(&out, "node %u DSM hottest pages (RAM offset x misses): %s\n", self_.value(),
                          absl::StrJoin(hot, ", "));
  }
  absl::StrAppendFormat(&out, "node %u interrupts: %u sent to other nodes, %u received; I/O: %u forwarded",
                        self_.value(), apic_link_->sent(), apic_link_->received(), forwarder_->forwarded());
  if (io_server_ != nullptr) absl::StrAppendFormat(&out, ", %u served for other nodes", io_server_->served());
  const uint64_t malformed = apic_link_->bad_messages() + forwarder_->bad_replies() +
                             (io_server_ ? io_server_->bad_requests() : 0) + bad_control_.load();
  absl::StrAppendFormat(&out, "; %u malformed messages dropped\n", malformed);
  for (NodeId peer : peers_) {
    net::PeerCounters c = transport_->counters(peer);
    absl::StrAppendFormat(&out, "node %u link to node %u: %u messages (%s) sent, %u (%s) received, %u retransmits\n",
                          self_.value(), peer.value(), c.msgs_sent, FormatSize(c.bytes_sent), c.msgs_received,
                          FormatSize(c.bytes_received), c.retransmits);
  }
  return out;
}

}  // namespace dvm::cluster
