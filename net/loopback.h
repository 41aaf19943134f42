// An in-process network of N transport endpoints, for tests of the layers
// above (DSM, I/O router) and of the reliability layer that DPDK uses.
//
// Frames are real wire frames (encoded, signed, decoded, verified) carried by a
// fabric that can delay, reorder, duplicate, corrupt and lose them, and cut
// links (partition). Each endpoint runs the same DatagramCore + ReliableLink as
// the DPDK transport, so per-peer order and exactly-once hold under any of
// these faults, and a partition or a stopped endpoint is reported as peer down.
//
// Time comes from a clock the test may control, so runs are deterministic for
// a given seed when one thread polls every endpoint (PollAll).
#ifndef DVM_NET_LOOPBACK_H_
#define DVM_NET_LOOPBACK_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <span>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "dvm/mutex.h"
#include "dvm/types.h"
#include "net/reliable_link.h"
#include "net/transport.h"

namespace dvm::net {

struct FaultOptions {
  double loss = 0;       // probability a frame vanishes
  double duplicate = 0;  // probability a frame arrives twice
  double reorder = 0;    // probability a frame is held back by reorder_delay_ns
  double corrupt = 0;    // probability one byte of a frame is flipped
  uint64_t delay_ns = 0;  // added to every frame
  uint64_t reorder_delay_ns = 200'000;
};

struct LoopbackOptions {
  LinkOptions link{.max_fragment = kMaxFramePayload};
  FaultOptions faults;
  uint64_t seed = 1;
  std::function<uint64_t()> clock;  // nanoseconds; default: steady clock
};

class LoopbackNetwork {
 public:
  static absl::StatusOr<std::unique_ptr<LoopbackNetwork>> Create(
      const std::vector<NodeId>& nodes, std::span<const uint8_t> key, LoopbackOptions options);
  ~LoopbackNetwork();

  // The endpoint of `node`; owned by the network. Poll() it (or PollAll()).
  Transport* endpoint(NodeId node);

  void SetFaults(const FaultOptions& faults);
  // Cuts (or restores) both directions between a and b.
  void SetPartitioned(NodeId a, NodeId b, bool partitioned);
  // Delivers raw bytes to `to` as if they came off the wire (garbage tests).
  void InjectFrame(NodeId to, std::vector<uint8_t> bytes);

  // Polls every endpoint once; returns whether any did work.
  bool PollAll();
  uint64_t Now() const { return clock_(); }

  // Frames currently in the fabric (for tests that wait for quiescence).
  size_t frames_in_flight() const;

 private:
  class Endpoint;
  friend class Endpoint;
  struct Queued {
    uint64_t due_ns;
    std::vector<uint8_t> bytes;
  };

  explicit LoopbackNetwork(LoopbackOptions options);
  void Transmit(NodeId from, NodeId to, std::span<const uint8_t> header,
                std::span<const uint8_t> payload);
  std::vector<std::vector<uint8_t>> TakeDue(NodeId to, uint64_t now_ns);

  LoopbackOptions options_;
  std::function<uint64_t()> clock_;
  std::map<NodeId, std::unique_ptr<Endpoint>> endpoints_;

  mutable Mutex mu_;
  FaultOptions faults_ ABSL_GUARDED_BY(mu_);
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  std::set<std::pair<NodeId, NodeId>> cut_ ABSL_GUARDED_BY(mu_);
  std::map<NodeId, std::multimap<uint64_t, std::vector<uint8_t>>> inbox_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dvm::net

#endif  // DVM_NET_LOOPBACK_H_
