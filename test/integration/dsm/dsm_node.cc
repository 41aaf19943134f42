// dsm_node: one node of the memory-only DSM harness. N of these processes
// share one region through the DSM engine over TCP or DPDK; each runs the
// named workloads with host threads standing in for vCPUs.
//
//   dsm_node --self=N --nodes=0=host:port,... --key=FILE [--transport=tcp|dpdk]
//            [--dpdk_arg=...] --workload=counter,litmus,stamps,bounce|all
//            [--threads=2] [--iters=200]
//
// Exit: 0 every workload passed; 1 a workload found a coherence violation;
// 2 bad flags or setup; 3 a peer died (the report names it and the pages lost).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "dsm/engine.h"
#include "dvm/mutex.h"
#include "dvm/status.h"
#include "test/integration/dsm/workloads.h"
#include "test/integration/net/transport_factory.h"
#include "vmm/memory/guest_memory.h"

namespace dvm::dsm_harness {
namespace {

constexpr uint16_t kControlChannel = 2;  // kDsmChannel is 1
constexpr uint16_t kDone = 1;            // "my threads are done with the region"
constexpr auto kShutdownTimeout = std::chrono::seconds(60);

struct Options {
  net::Flags net;
  std::vector<const Workload*> workloads;
  uint32_t threads = 2;
  uint64_t iters = 200;
};

// What the node's threads tell the main thread: a peer died, the engine
// failed, the workloads finished, or peers said they are done.
class Supervisor {
 public:
  void EngineError(const absl::Status& s) {
    MutexLock lock(&mu_);
    errors_.push_back(std::string(s.message()));
    cv_.NotifyAll();
  }
  // A peer that said it was done may leave.
  bool LeftAfterDone(NodeId peer) {
    MutexLock lock(&mu_);
    return done_peers_.contains(peer.value());
  }
  // Called after the engine handled the death, so that the pages it reported
  // lost are in the report the main thread prints.
  void PeerDied(NodeId peer, const absl::Status& why) {
    MutexLock lock(&mu_);
    deaths_.push_back(absl::StrCat("node ", peer.value(), " died: ", why.message()));
    cv_.NotifyAll();
  }
  void PeerDone(NodeId peer) {
    MutexLock lock(&mu_);
    done_peers_.insert(peer.value());
    cv_.NotifyAll();
  }
  void WorkloadsFinished() {
    MutexLock lock(&mu_);
    finished_ = true;
    cv_.NotifyAll();
  }
  // Waits until the workloads finish or something fails; true if they finished.
  bool WaitForWorkloads() {
    MutexLock lock(&mu_);
    cv_.Wait(&mu_, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return finished_ || !deaths_.empty() || !errors_.empty();
    });
    return deaths_.empty() && errors_.empty();
  }
  bool WaitForPeersDone(size_t peers) {
    MutexLock lock(&mu_);
    return cv_.WaitFor(&mu_, kShutdownTimeout, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return done_peers_.size() == peers || !deaths_.empty() || !errors_.empty();
    }) && deaths_.empty() && errors_.empty();
  }
  std::string Report() {
    MutexLock lock(&mu_);
    // Pages lost with a dead peer are reported just before its death is:
    // give the death a moment to arrive, so the report names the node.
    cv_.WaitFor(&mu_, std::chrono::seconds(1),
                [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !deaths_.empty(); });
    std::vector<std::string> lines = deaths_;
    if (errors_.empty() && !deaths_.empty()) lines.push_back("no pages were lost");
    for (const std::string& e : errors_) lines.push_back(e);
    return absl::StrJoin(lines, "\n  ");
  }

 private:
  Mutex mu_;
  CondVar cv_;
  std::vector<std::string> deaths_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> errors_ ABSL_GUARDED_BY(mu_);
  std::set<uint32_t> done_peers_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

absl::StatusOr<Options> ParseOptions(int argc, char** argv) {
  std::vector<std::string> rest;
  Options o;
  ASSIGN_OR_RETURN(o.net, net::ParseFlags(argc, argv, &rest));
  for (const std::string& a : rest) {
    if (a.starts_with("--workload=")) {
      std::string list = a.substr(11);
      for (const Workload& w : AllWorkloads()) {
        for (absl::string_view name : absl::StrSplit(list, ',')) {
          if (name == w.name || name == "all") o.workloads.push_back(&w);
        }
      }
      if (o.workloads.empty()) return absl::InvalidArgumentError("unknown --workload " + list);
    } else if (a.starts_with("--threads=")) {
      if (!absl::SimpleAtoi(a.substr(10), &o.threads) || o.threads == 0 || o.threads > 8) {
        return absl::InvalidArgumentError("--threads must be 1..8");
      }
    } else if (a.starts_with("--iters=")) {
      if (!absl::SimpleAtoi(a.substr(8), &o.iters)) return absl::InvalidArgumentError("bad --iters");
    } else {
      return absl::InvalidArgumentError("unknown flag " + a);
    }
  }
  if (o.workloads.empty()) return absl::InvalidArgumentError("--workload is required");
  if (o.net.nodes.size() < 2 || o.net.nodes.size() > 16) {
    return absl::InvalidArgumentError("--nodes must list 2..16 nodes");
  }
  return o;
}

// Runs the workloads on `threads` threads; returns every failure found.
std::vector<std::string> RunWorkloads(const Options& o, uint8_t* region) {
  Context ctx{region, o.net.self.value(), static_cast<uint32_t>(o.net.nodes.size()), o.threads,
              o.iters};
  Barrier barrier(ctx);
  std::vector<std::vector<std::string>> failures(o.threads);
  std::vector<std::thread> threads;
  for (uint32_t t = 0; t < o.threads; ++t) {
    threads.emplace_back([&, t] {
      for (const Workload* w : o.workloads) {
        std::string summary;
        for (std::string& f : w->run(ctx, t, barrier, &summary)) {
          failures[t].push_back(absl::StrCat(w->name, ": ", f));
        }
        if (!summary.empty()) std::printf("node %u: %s\n", ctx.node, summary.c_str());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<std::string> all;
  for (auto& f : failures) all.insert(all.end(), f.begin(), f.end());
  return all;
}

int Run(const Options& o) {
  const uint32_t self = o.net.self.value();
  auto fail = [&](int code, const std::string& what) {
    std::fprintf(stderr, "dsm_node %u: %s\n", self, what.c_str());
    std::fflush(stdout);
    std::fflush(stderr);
    // Threads may be blocked for good in a fault on a lost page: leave
    // without joining them.
    std::_Exit(code);
    return code;
  };
  auto key = net::ClusterKey::FromFile(o.net.key_file);
  if (!key.ok()) return fail(2, std::string(key.status().message()));
  auto transport = net::MakeTransport(o.net, *key);
  if (!transport.ok()) return fail(2, std::string(transport.status().message()));
  auto memory = memory::GuestMemory::Create(kRegionPages * kPageSize, "dvm-dsm-harness");
  if (!memory.ok()) return fail(2, std::string(memory.status().message()));
  auto homes = dsm::HomeMap::Create(static_cast<uint32_t>(o.net.nodes.size()), kPageSize);
  if (!homes.ok()) return fail(2, std::string(homes.status().message()));

  Supervisor supervisor;
  auto engine = dsm::Engine::Create({.self = o.net.self, .homes = *homes}, &*memory,
                                    transport->get(),
                                    [&](const absl::Status& s) { supervisor.EngineError(s); });
  if (!engine.ok()) return fail(2, std::string(engine.status().message()));
  dsm::Engine& dsm = **engine;

  net::Callbacks callbacks{
      .on_message =
          [&](const net::Received& r) {
            if (r.channel == dsm::kDsmChannel) {
              dsm.OnMessage(r);
            } else if (r.channel == kControlChannel && r.type == kDone) {
              supervisor.PeerDone(r.from);
            }
          },
      .on_peer_down =
          [&](NodeId peer, const absl::Status& why) {
            if (supervisor.LeftAfterDone(peer)) return;
            dsm.OnPeerDown(peer);
            supervisor.PeerDied(peer, why);
          },
  };
  if (absl::Status s = (*transport)->Start(std::move(callbacks)); !s.ok()) {
    return fail(2, std::string(s.message()));
  }
  if (absl::Status s = dsm.Start(); !s.ok()) return fail(2, std::string(s.message()));

  std::vector<std::string> failures;
  std::thread workers([&] {
    failures = RunWorkloads(o, memory->mapped());
    supervisor.WorkloadsFinished();
  });
  if (!supervisor.WaitForWorkloads()) {
    workers.detach();
    return fail(3, "stopping:\n  " + supervisor.Report());
  }
  workers.join();
  // Stay until every peer is done too: they may still need pages we hold.
  for (const net::PeerAddress& peer : o.net.nodes) {
    if (peer.id != o.net.self) {
      (*transport)->Send(peer.id, kControlChannel, kDone, {}).IgnoreError();
    }
  }
  if (!supervisor.WaitForPeersDone(o.net.nodes.size() - 1)) {
    return fail(3, "stopping while waiting for the peers to finish:\n  " + supervisor.Report());
  }
  dsm::EngineStats stats = dsm.stats();
  std::printf("node %u: %lu faults (%lu read miss, %lu write miss, %lu upgrade), %lu messages sent\n",
              self, stats.faults[0] + stats.faults[1] + stats.faults[2] + stats.faults[3] +
                        stats.faults[4],
              stats.faults[0], stats.faults[1], stats.faults[2], stats.messages_sent);
  (*transport)->Stop();
  dsm.Stop();
  if (!failures.empty()) return fail(1, "FAILED:\n  " + absl::StrJoin(failures, "\n  "));
  std::printf("node %u: PASS\n", self);
  return 0;
}

}  // namespace
}  // namespace dvm::dsm_harness

int main(int argc, char** argv) {
  auto options = dvm::dsm_harness::ParseOptions(argc, argv);
  if (!options.ok()) {
    std::fprintf(stderr, "dsm_node: %s\n", std::string(options.status().message()).c_str());
    return 2;
  }
  return dvm::dsm_harness::Run(*options);
}
