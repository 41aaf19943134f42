// Forwarded I/O: a vCPU on a node without the devices sends its PIO or MMIO
// access to the device node (node 0) and waits for the answer.
//
//   vCPU thread ──IoForwarder::Forward──> kIoRequest ──> IoServer (node 0)
//        blocks until kIoReply  <────────────────────────  worker thread runs
//                                                          the device model
//
// Why the server runs requests on its own thread, not the transport's: a
// device model may touch guest RAM (a virtio ring), and that access can wait
// on the DSM, whose messages arrive on the transport thread. Running the device
// there would wait on itself. A vCPU blocked in Forward does not hold up the
// DSM either: its node's engine serves pages on its own threads.
#ifndef DVM_VMM_CLUSTER_IO_FORWARDING_H_
#define DVM_VMM_CLUSTER_IO_FORWARDING_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "dvm/mutex.h"
#include "net/transport.h"
#include "vmm/cluster/node_messages.h"

namespace dvm::cluster {

class IoForwarder {
 public:
  IoForwarder(net::Transport* transport, NodeId device_node)
      : transport_(transport), device_node_(device_node) {}

  // Sends one access (data.size() of 1, 2, 4 or 8 bytes) and blocks until the
  // device node answers; a read's bytes land in `data`. Fails, naming the
  // node, if it is or goes down.
  absl::Status Forward(VcpuId vcpu, IoSpace space, uint64_t address, std::span<uint8_t> data,
                       bool is_write);

  // Route kIoChannel / kIoReply messages from the device node here.
  void OnReply(const net::Received& message);
  void OnPeerDown(NodeId node);

  uint64_t forwarded() const { return forwarded_.load(std::memory_order_relaxed); }
  uint64_t bad_replies() const { return bad_replies_.load(std::memory_order_relaxed); }

 private:
  struct Pending {
    bool done = false;
    std::array<uint8_t, 8> data{};
  };

  net::Transport* const transport_;
  const NodeId device_node_;
  Mutex mu_;
  CondVar cv_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, Pending> pending_ ABSL_GUARDED_BY(mu_);
  bool device_node_down_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<uint64_t> forwarded_{0};
  std::atomic<uint64_t> bad_replies_{0};
};

class IoServer {
 public:
  // Performs one access on this node's devices; for a read, fills `data`.
  using Executor =
      std::function<void(VcpuId vcpu, IoSpace space, uint64_t address, std::span<uint8_t> data,
                         bool is_write)>;

  IoServer(net::Transport* transport, Executor execute);
  ~IoServer();  // stops the worker
  IoServer(const IoServer&) = delete;
  IoServer& operator=(const IoServer&) = delete;

  // Route kIoChannel / kIoRequest messages here (any thread).
  void OnRequest(const net::Received& message);

  uint64_t served() const { return served_.load(std::memory_order_relaxed); }
  uint64_t bad_requests() const { return bad_requests_.load(std::memory_order_relaxed); }

 private:
  struct Job {
    NodeId from;
    IoRequest request;
  };
  void Work();

  net::Transport* const transport_;
  const Executor execute_;
  Mutex mu_;
  CondVar cv_;
  std::deque<Job> jobs_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<uint64_t> served_{0};
  std::atomic<uint64_t> bad_requests_{0};
  std::thread worker_;  // last: starts after everything it uses
};

}  // namespace dvm::cluster

#endif  // DVM_VMM_CLUSTER_IO_FORWARDING_H_
