// dsm::Engine: the coherence protocol (protocol.h) running on real memory.
//
//   userfaultfd faults ──> FaultSource threads ─┐
//   transport messages ──> transport thread ────┼─> Protocol::Handle under one
//   Pin()/Unpin() from device threads ──────────┘   lock; actions run at once
//
// Whoever brings an event runs the protocol and executes its actions on the
// spot, under the engine's lock: a page that arrives is installed by the
// transport thread straight from the receive buffer, and a request leaves from
// the fault thread that read the fault. No hand-off between threads on the
// fault path, which is latency-bound. Actions are short (an ioctl, a pread, a
// queued send), so the lock is held briefly.
//
// Page numbers are RAM page indices (see local_pages.h). Messages travel on
// transport channel kDsmChannel; the node routes that channel's messages and
// peer-down reports here.
//
// Failures: a peer's malformed message is dropped and counted. A failure that
// loses guest data or blocks an access for good (a page lost with a dead node,
// a dead home, a userfaultfd error) goes to the ErrorHandler; the faulting
// thread stays blocked, never sees stale or zero data, and the node is
// expected to stop.
#ifndef DVM_DSM_ENGINE_H_
#define DVM_DSM_ENGINE_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dsm/fault_source.h"
#include "dsm/latency_histogram.h"
#include "dsm/local_pages.h"
#include "dsm/protocol.h"
#include "dvm/mutex.h"
#include "net/transport.h"
#include "vmm/memory/guest_memory.h"
#include "vmm/memory/userfaultfd.h"

namespace dvm::dsm {

inline constexpr uint16_t kDsmChannel = 1;

// What a fault turned out to need, judged by the page's state when the
// engine took the fault.
enum class OpKind : uint8_t {
  kReadMiss,   // Invalid, read
  kWriteMiss,  // Invalid, write
  kUpgrade,    // Shared, write
  kJoined,     // a request for the page was already in flight
  kHit,        // already resolved when the engine took it (a race, or a first touch)
};
inline constexpr size_t kNumOpKinds = 5;
const char* OpKindName(OpKind kind);

// The engine's own steps, timed to show where a fault's time goes: the page
// operations (each may make KVM flush the vCPUs' TLBs), handing a message to
// the transport, and how long one event held the engine's lock.
enum class EngineStep : uint8_t {
  kInstall,        // UFFDIO_COPY of a received page (or zeros)
  kMakeWritable,   // UFFDIO_WRITEPROTECT off
  kWriteProtect,   // UFFDIO_WRITEPROTECT on
  kDrop,           // PUNCH_HOLE
  kReadForSend,    // pread of the page to send
  kSend,           // Transport::Send
  kLockHeld,       // one event's protocol step and actions
};
inline constexpr size_t kNumEngineSteps = 7;
const char* EngineStepName(EngineStep step);

struct EngineStats {
  std::array<uint64_t, kNumOpKinds> faults{};
  std::array<LatencyHistogram, kNumOpKinds> latency;  // fault taken -> thread woken, ns
  std::array<LatencyHistogram, kNumEngineSteps> steps;  // ns per step
  uint64_t installs = 0;
  uint64_t materialized = 0;  // holes filled with zeros on first touch
  uint64_t made_writable = 0;
  uint64_t write_protected = 0;
  uint64_t drops = 0;
  uint64_t messages_sent = 0;
  uint64_t messages_received = 0;
  uint64_t bad_messages = 0;  // malformed, or naming a page outside RAM
  uint64_t send_failures = 0;  // to a peer already down
  uint64_t pins = 0;
  uint64_t failed_accesses = 0;
  ProtocolStats protocol;
};

struct EngineOptions {
  NodeId self;
  HomeMap homes;
  ProtocolOptions protocol;
  int fault_threads = 1;
};

class Engine {
 public:
  // Called under the engine's lock: it must not call back into the engine.
  using ErrorHandler = std::function<void(const absl::Status&)>;

  // Registers `memory->mapped()` with a new userfaultfd. `memory` and
  // `transport` must outlive the engine; the transport is started by the
  // caller, who routes kDsmChannel messages to OnMessage.
  static absl::StatusOr<std::unique_ptr<Engine>> Create(EngineOptions options,
                                                        memory::GuestMemory* memory,
                                                        net::Transport* transport,
                                                        ErrorHandler on_error);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Starts taking faults. Messages are handled from creation on.
  absl::Status Start();
  // Stops taking faults (see FaultSource::Stop about blocked threads) and
  // fails pending pins.
  void Stop();

  void OnMessage(const net::Received& message);
  // `node` is gone and the transport will deliver nothing more from it.
  void OnPeerDown(NodeId node);

  // Holds the page for a device model: after Pin returns OK the page stays
  // readable (kRead) or writable (kWrite) on this node until Unpin. Blocks.
  absl::Status Pin(Gfn gfn, Access access);
  void Unpin(Gfn gfn, Access access);

  EngineStats stats() const;
  // The pages that faulted most (misses and upgrades, not hits), most first:
  // the ones bouncing between nodes, e.g. written by vCPUs on two of them.
  std::vector<std::pair<Gfn, uint64_t>> HottestPages(size_t count) const;
  PageState StateOf(Gfn gfn) const;
  const LocalPages& pages() const { return pages_; }

 private:
  struct Waiter {
    Gfn gfn;
    bool pin = false;
    bool missing = false;  // a MISSING fault (else WP)
    OpKind kind = OpKind::kHit;
    uint64_t start_ns = 0;
  };

  Engine(EngineOptions options, memory::GuestMemory* memory, memory::Userfaultfd uffd,
         net::Transport* transport, ErrorHandler on_error);

  void OnFaults(std::span<const memory::Fault> faults);
  // Runs the protocol on one event and executes its actions. `page` is the
  // page that came with the message being handled, if any.
  void HandleLocked(const Event& event, std::span<const uint8_t> page)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ExecuteLocked(const Action& action, std::span<const uint8_t> page)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs one page operation, timing it as `step`, and checks its status.
  template <typename Op>
  void TimedLocked(EngineStep step, const char* what, Gfn gfn, Op op) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues a message, with a copy of the page taken now if it carries one.
  void SendLocked(const SendAction& send) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Hands the queued messages to the transport, in order.
  void FlushOutboxLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WakeLocked(const WakeAction& wake) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReportLocked(const ErrorAction& error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A page operation failed: the node can no longer keep its memory coherent.
  void CheckLocked(const absl::Status& status, const char* what, Gfn gfn)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  OpKind KindOf(Gfn gfn, Access access) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  memory::GuestMemory* memory_;
  memory::Userfaultfd uffd_;
  LocalPages pages_;
  net::Transport* transport_;
  ErrorHandler on_error_;
  int fault_threads_;

  mutable Mutex mu_;
  CondVar pin_cv_;
  Protocol protocol_ ABSL_GUARDED_BY(mu_);
  std::vector<Action> actions_ ABSL_GUARDED_BY(mu_);
  // Pages installed or made writable by the actions being executed: their
  // faulting threads were woken by that, no UFFDIO_WAKE needed.
  std::vector<Gfn> woken_ ABSL_GUARDED_BY(mu_);
  // Messages of the event being handled. The protocol's actions run in
  // order, and a message may only reach its peer once all of them ran: a
  // home grants a write and then drops its own copy, and the writer must not
  // write while that copy is still readable here. So they leave at the end.
  struct Outgoing {
    NodeId to;
    std::array<uint8_t, kHeaderSize> header;
    bool has_page = false;
  };
  std::vector<Outgoing> outbox_ ABSL_GUARDED_BY(mu_);
  std::vector<std::vector<uint8_t>> outbox_pages_ ABSL_GUARDED_BY(mu_);  // [i] for outbox_[i]; kept for reuse
  uint64_t next_token_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, Waiter> waiters_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, bool> pin_results_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  EngineStats stats_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, uint64_t> misses_by_page_ ABSL_GUARDED_BY(mu_);

  // Last: its threads call OnFaults, so they must stop before the rest goes.
  std::unique_ptr<FaultSource> faults_;
};

}  // namespace dvm::dsm

#endif  // DVM_DSM_ENGINE_H_
