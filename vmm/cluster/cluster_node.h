// One node's membership in a distributed VM: the transport to the other
// nodes, the DSM engine over this node's copy of guest RAM, interrupts between
// nodes (ApicLink), forwarded device I/O, and the control messages with which
// the nodes start on one clock and end together.
//
// Every message arrives on the transport's thread and is routed by channel:
// DSM to the engine, APIC to the ApicLink, I/O to the IoServer (device node)
// or the IoForwarder (the others), control here.
//
// Ending: whatever ends the VM on one node (the guest powering off, a vCPU
// failure, a peer's death, a DSM failure) reaches every node as kVmEnded.
// Each node then stops its vCPUs, says kNodeLeft, and keeps serving pages and
// forwarded I/O until every peer has said the same: a vCPU elsewhere may still
// be waiting in a fault on a page this node holds.
#ifndef DVM_VMM_CLUSTER_CLUSTER_NODE_H_
#define DVM_VMM_CLUSTER_CLUSTER_NODE_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "dsm/engine.h"
#include "dvm/mutex.h"
#include "net/transport.h"
#include "vmm/cluster/apic_link.h"
#include "vmm/cluster/io_forwarding.h"
#include "vmm/cluster/node_messages.h"
#include "vmm/memory/guest_memory.h"
#include "vmm/spec/vm_spec.h"

namespace dvm::cluster {

// Node 0 loads the kernel, holds the devices and runs the bootstrap processor.
inline constexpr NodeId kDeviceNode{0};

struct ClusterEvents {
  // A peer's machine ended; this node's must end the same way.
  std::function<void(const VmEnded&)> on_peer_end;
  // The VM cannot go on: a peer died, or this node's DSM failed. The text
  // names the node and what was lost. Called from transport or engine threads,
  // possibly under the engine's lock: it must only record and wake.
  std::function<void(const std::string& detail)> on_failure;
  // This node's full statistics (the machine's, whose text includes
  // StatsText()), for `dvm stats`; unset: StatsText(). Called on the
  // transport's thread to answer a peer, and by GatherStats.
  std::function<std::string()> local_stats;
};

struct ClusterOptions {
  uint64_t connect_deadline_ms = 30'000;  // how long Start waits for every peer
  int fault_threads = 2;
};

class ClusterNode {
 public:
  // `memory` is this node's guest RAM, already loaded on the device node (its
  // pages start there). Nothing is sent or received before Start.
  static absl::StatusOr<std::unique_ptr<ClusterNode>> Create(const spec::VmSpec& spec, NodeId self,
                                                             memory::GuestMemory* memory,
                                                             ClusterEvents events,
                                                             const ClusterOptions& options = {});
  ~ClusterNode();
  ClusterNode(const ClusterNode&) = delete;
  ClusterNode& operator=(const ClusterNode&) = delete;

  NodeId self() const { return self_; }
  bool holds_devices() const { return self_ == kDeviceNode; }
  ApicLink& apic_link() { return *apic_link_; }
  IoForwarder& forwarder() { return *forwarder_; }
  // On the device node, before Start: runs the peers' forwarded accesses.
  void ServeIo(IoServer::Executor execute);

  // Connects to every peer (the error names one that does not answer in
  // time) and starts taking faults on guest RAM.
  absl::Status Start();

  // Device node: gives every peer this node's clock. Others: waits for it.
  void SendClock(const ClockSync& clock);
  absl::StatusOr<ClockSync> WaitForClock(std::chrono::seconds timeout);

  // Tells every peer that the VM ended (each ends at most once, so an echo
  // coming back is harmless).
  void AnnounceEnd(const VmEnded& end);
  // Call after this node's vCPUs stopped: says so, then waits until every
  // peer has left or gone. False if some peer did neither within `timeout`.
  bool Leave(std::chrono::seconds timeout);
  // Stops the transport (no callbacks after it returns), the I/O server and
  // the engine.
  void Stop();

  // DSM faults by kind with latency percentiles, pages and bytes moved,
  // interrupts and I/O forwarded, traffic per peer.
  std::string StatsText() const;
  dsm::EngineStats dsm_stats() const { return engine_->stats(); }
  // Every node's statistics, this node's first, each under a "--- node N ---"
  // line: asks every peer (kStatsRequest) and waits at most `timeout` for
  // their answers. A peer that does not answer in time, or is gone, is named
  // in its place. One gathering at a time; a peer's text is cut to
  // kMaxStatsText.
  std::string GatherStats(std::chrono::milliseconds timeout);

 private:
  ClusterNode(const spec::VmSpec& spec, NodeId self, ClusterEvents events);
  void OnMessage(const net::Received& message);
  void OnControl(const net::Received& message);
  void OnPeerDown(NodeId peer, const absl::Status& why);
  // Sends one control message to every peer and pushes it out.
  void Broadcast(uint16_t type, std::span<const uint8_t> body);
  std::string LocalStats() const;
  void AnswerStats(NodeId to, uint64_t id);
  void TakeStatsReply(NodeId from, StatsReply reply);

  const NodeId self_;
  std::vector<NodeId> peers_;
  ClusterEvents events_;
  std::unique_ptr<net::Transport> transport_;
  std::unique_ptr<dsm::Engine> engine_;
  std::unique_ptr<ApicLink> apic_link_;
  std::unique_ptr<IoForwarder> forwarder_;
  std::unique_ptr<IoServer> io_server_;

  Mutex mu_;
  CondVar cv_;
  std::optional<ClockSync> clock_ ABSL_GUARDED_BY(mu_);
  std::set<uint32_t> left_ ABSL_GUARDED_BY(mu_);  // peers that said kNodeLeft
  std::set<uint32_t> down_ ABSL_GUARDED_BY(mu_);  // peers the transport lost
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  Mutex gather_mu_;  // held by GatherStats: one gathering at a time
  uint64_t stats_id_ ABSL_GUARDED_BY(mu_) = 0;  // the gathering's request id; 0: none
  uint64_t last_stats_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint32_t, std::string> stats_replies_ ABSL_GUARDED_BY(mu_);  // by peer
  std::atomic<uint64_t> bad_control_{0};
};

}  // namespace dvm::cluster

#endif  // DVM_VMM_CLUSTER_CLUSTER_NODE_H_
