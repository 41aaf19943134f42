// A deterministic cluster simulator for dsm::Protocol. One thread drives N
// nodes; every source of nondeterminism (which processor acts, which message
// is delivered next, when a node dies) comes from one seeded PRNG, so a seed
// replays exactly.
//
// Each node holds simulated memory: per page a mapping (none, read-only,
// writable) and a 64-bit value, changed only by executing the protocol's
// actions. Processors issue reads, writes and pins; a fault goes to the
// protocol and the access is performed when the Wake action runs. Messages
// travel through the real wire codec, one FIFO per ordered pair of nodes,
// with random delays (any non-empty pair may deliver next).
//
// Checked after every step (a failure stops the run and keeps the trace):
//   - single writer or multiple readers per page across live nodes;
//   - every mapped copy equals the latest write (so every read returns the
//     latest write in the simulation's global order: sequential consistency);
//   - the protocol's page state agrees with the mapping the actions built;
//   - pins hold: no other node writes a pinned page until it is unpinned;
//   - no bad-message errors, errors only after a death and naming the dead;
//   - bounded progress: no operation waits more than a step bound, and at the
//     end every operation has completed (or failed after a death) with the
//     network drained.
#ifndef DVM_TEST_SIM_CLUSTER_H_
#define DVM_TEST_SIM_CLUSTER_H_

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "dsm/protocol.h"

namespace dvm::sim {

struct Op {
  enum Kind : uint8_t { kRead, kWrite, kPinRead, kPinWrite };
  Kind kind = kRead;
  uint32_t page = 0;
  uint64_t value = 0;  // for scripted writes; random writes stamp a unique value
};

struct SimConfig {
  uint64_t seed = 1;
  uint32_t nodes = 2;
  uint32_t procs_per_node = 2;
  uint32_t pages = 4;
  uint32_t ops_per_proc = 20;  // random mode only
  uint32_t pin_percent = 5;    // share of random ops that are pins
  uint32_t kills = 0;          // nodes to kill, each at a random step (< nodes)
  bool random_homes = true;    // random home per page (else interleave by page)
  bool random_initial_owner = true;
  // dsm::ProtocolOptions::inject_early_grant_bug (on in a bug-injected build).
  bool inject_bug = dsm::kInjectProtocolBugByDefault;
  bool trace = false;               // keep a readable trace of every step
  uint64_t progress_bound = 20000;  // max steps an operation may wait (seen: < 1000)
  // Scripted mode: when non-empty, processor i of node i runs programs[i]
  // (one processor per node) and random ops are not generated.
  std::vector<std::vector<Op>> programs;
  // Scripted mode: reads done to completion before the programs start, as
  // (node, page), to spread copies around first.
  std::vector<std::pair<uint32_t, uint32_t>> warmup_reads;
};

struct SimResult {
  bool ok = true;
  std::string violation;           // first failed check
  std::vector<std::string> trace;  // when config.trace
  uint64_t steps = 0;
  uint64_t ops_done = 0;
  uint64_t ops_failed = 0;      // failed after a node death, as allowed
  uint64_t max_wait_steps = 0;  // longest any operation waited
  uint64_t messages = 0;
  dsm::ProtocolStats protocol;  // summed over nodes: shows which races were hit
  // Scripted mode: values returned by each processor's reads, in program order.
  std::vector<std::vector<uint64_t>> reads;
  std::vector<uint64_t> final_values;  // latest write per page
};

SimResult RunSimulation(const SimConfig& config);

// Picks a random configuration for schedule number `index` of a sweep seeded
// with `seed`: 2..max_nodes nodes, 1..3 processors each, 1..6 pages, pins,
// and a node death in about one schedule in eight.
SimConfig RandomConfig(uint64_t seed, uint64_t index, uint32_t max_nodes);

// One line describing a config, enough to rerun it.
std::string Describe(const SimConfig& config);

// How many runs a test should do: `full`, divided by DVM_SIM_DIVISOR when set.
// The sanitizer builds set it (test/sim/CMakeLists.txt): they are 5-20x
// slower, and their job is memory and race errors, which fewer runs find too.
int ScaledRuns(int full);

}  // namespace dvm::sim

#endif  // DVM_TEST_SIM_CLUSTER_H_
