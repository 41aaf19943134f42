// dvm_sim: long simulator sweeps outside CI, and replay of one schedule.
//
//   dvm_sim --schedules=1000000 [--sweep-seed=S] [--max-nodes=16] [--start=K]
//   dvm_sim --replay=INDEX [--sweep-seed=S] [--max-nodes=16]   (prints the trace)
//   dvm_sim --bug ...                                          (inject the known bug)
//   dvm_sim --kills=K ...                  (kill K nodes in every schedule with > K nodes)
//
// Exit status 0 when every schedule passed, 1 on the first violation (with its
// trace and the command that replays it).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "test/sim/cluster.h"

namespace {

bool Flag(const char* arg, const char* name, uint64_t* value) {
  size_t n = std::strlen(name);
  if (std::strncmp(arg, name, n) != 0 || arg[n] != '=') return false;
  *value = std::strtoull(arg + n + 1, nullptr, 10);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t schedules = 10000, sweep_seed = 20261125, max_nodes = 16, start = 0, replay = 0;
  uint64_t kills = 0;  // 0: as RandomConfig picks (one death in ~1/8 of schedules)
  bool do_replay = false, bug = false;
  for (int i = 1; i < argc; ++i) {
    if (Flag(argv[i], "--schedules", &schedules) || Flag(argv[i], "--sweep-seed", &sweep_seed) ||
        Flag(argv[i], "--max-nodes", &max_nodes) || Flag(argv[i], "--start", &start) ||
        Flag(argv[i], "--kills", &kills)) {
      continue;
    }
    if (Flag(argv[i], "--replay", &replay)) {
      do_replay = true;
    } else if (std::strcmp(argv[i], "--bug") == 0) {
      bug = true;
    } else {
      std::cerr << "usage: dvm_sim [--schedules=N] [--sweep-seed=S] [--max-nodes=2..64] "
                   "[--start=K] [--replay=INDEX] [--bug] [--kills=K]\n";
      return 2;
    }
  }
  if (max_nodes < 2 || max_nodes > 64) {
    std::cerr << "--max-nodes must be 2..64\n";
    return 2;
  }
  if (do_replay) {
    start = replay;
    schedules = 1;
  }
  auto t0 = std::chrono::steady_clock::now();
  uint64_t steps = 0, messages = 0, failed_ops = 0, max_wait = 0;
  for (uint64_t i = start; i < start + schedules; ++i) {
    dvm::sim::SimConfig config =
        dvm::sim::RandomConfig(sweep_seed, i, static_cast<uint32_t>(max_nodes));
    if (bug) config.inject_bug = true;
    if (kills > 0) config.kills = static_cast<uint32_t>(kills);
    config.trace = do_replay;
    dvm::sim::SimResult r = dvm::sim::RunSimulation(config);
    if (do_replay) {
      for (const std::string& line : r.trace) std::cout << line << "\n";
    }
    if (!r.ok) {
      if (!do_replay) {
        config.trace = true;
        for (const std::string& line : dvm::sim::RunSimulation(config).trace)
          std::cout << line << "\n";
      }
      std::cout << "FAIL schedule " << i << " (" << dvm::sim::Describe(config)
                << "): " << r.violation << "\nreplay: dvm_sim --replay=" << i
                << " --sweep-seed=" << sweep_seed << " --max-nodes=" << max_nodes
                << (bug ? " --bug" : "")
                << (kills > 0 ? " --kills=" + std::to_string(kills) : "") << "\n";
      return 1;
    }
    steps += r.steps;
    messages += r.messages;
    failed_ops += r.ops_failed;
    max_wait = std::max(max_wait, r.max_wait_steps);
    if ((i - start + 1) % 100000 == 0) {
      std::cerr << (i - start + 1) << " schedules ok\n";
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "ok: " << schedules << " schedules, " << steps << " steps, " << messages
            << " messages, " << failed_ops << " ops failed after node deaths, longest wait "
            << max_wait << " steps, " << secs << " s\n";
  return 0;
}
