// Classic litmus tests across nodes. Sequential consistency forbids one
// outcome of each; it must never appear, while the allowed outcomes should
// (else the schedules are too tame to prove anything).
#include <functional>
#include <map>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "test/sim/cluster.h"

namespace dvm::sim {
namespace {

const int kRuns = ScaledRuns(100000);
constexpr uint32_t kX = 0;
constexpr uint32_t kY = 1;

Op W(uint32_t page, uint64_t v) { return {Op::kWrite, page, v}; }
Op R(uint32_t page) { return {Op::kRead, page, 0}; }

std::string Outcome(const SimResult& r, bool finals) {
  std::vector<std::string> parts;
  for (const auto& reads : r.reads) parts.push_back(absl::StrJoin(reads, ","));
  std::string s = absl::StrJoin(parts, " | ");
  if (finals) absl::StrAppend(&s, " final ", absl::StrJoin(r.final_values, ","));
  return s;
}

// Runs `programs` (thread i on node i) under many random schedules, homes,
// initial owners and pre-spread copies. Returns outcome -> count.
std::map<std::string, int> RunLitmus(uint64_t seed, const std::vector<std::vector<Op>>& programs,
                                     const std::function<bool(const SimResult&)>& forbidden,
                                     bool finals = false) {
  std::map<std::string, int> seen;
  std::mt19937_64 rng(seed);
  for (int i = 0; i < kRuns; ++i) {
    SimConfig c;
    c.seed = rng();
    c.nodes = static_cast<uint32_t>(programs.size() + rng() % 3);
    c.pages = 2;
    c.programs = programs;
    for (uint64_t w = rng() % 5; w > 0; --w) {
      c.warmup_reads.emplace_back(static_cast<uint32_t>(rng() % c.nodes),
                                  static_cast<uint32_t>(rng() % 2));
    }
    SimResult r = RunSimulation(c);
    if (!r.ok || forbidden(r)) {
      c.trace = true;
      SimResult t = RunSimulation(c);
      ADD_FAILURE() << "run " << i << " " << Describe(c) << ": "
                    << (r.ok ? "forbidden outcome " + Outcome(r, finals) : r.violation) << "\n"
                    << absl::StrJoin(t.trace, "\n");
      return seen;
    }
    ++seen[Outcome(r, finals)];
  }
  for (const auto& [outcome, count] : seen) std::cout << "  " << outcome << ": " << count << "\n";
  return seen;
}

TEST(LitmusTest, MessagePassing) {
  auto seen = RunLitmus(1, {{W(kX, 1), W(kY, 1)}, {R(kY), R(kX)}}, [](const SimResult& r) {
    return r.reads[1][0] == 1 && r.reads[1][1] == 0;  // saw the flag, not the data
  });
  EXPECT_GE(seen.size(), 3u) << "expected 0,0 / 0,1 / 1,1 to all occur";
}

TEST(LitmusTest, StoreBuffering) {
  auto seen = RunLitmus(2, {{W(kX, 1), R(kY)}, {W(kY, 1), R(kX)}}, [](const SimResult& r) {
    return r.reads[0][0] == 0 && r.reads[1][0] == 0;  // both reads missed both writes
  });
  EXPECT_GE(seen.size(), 3u);
}

TEST(LitmusTest, LoadBuffering) {
  auto seen = RunLitmus(3, {{R(kX), W(kY, 1)}, {R(kY), W(kX, 1)}}, [](const SimResult& r) {
    return r.reads[0][0] == 1 && r.reads[1][0] == 1;  // each read saw the other's later write
  });
  EXPECT_GE(seen.size(), 3u);
}

TEST(LitmusTest, IndependentReadsOfIndependentWrites) {
  auto seen = RunLitmus(4, {{W(kX, 1)}, {W(kY, 1)}, {R(kX), R(kY)}, {R(kY), R(kX)}},
                        [](const SimResult& r) {
                          // The readers disagree on the order of the two writes.
                          return r.reads[2] == std::vector<uint64_t>{1, 0} &&
                                 r.reads[3] == std::vector<uint64_t>{1, 0};
                        });
  EXPECT_GE(seen.size(), 8u);
}

TEST(LitmusTest, TwoPlusTwoWrites) {
  auto seen = RunLitmus(
      5, {{W(kX, 1), W(kY, 2)}, {W(kY, 1), W(kX, 2)}},
      [](const SimResult& r) {
        // Each thread's first write landed last: a cycle.
        return r.final_values[kX] == 1 && r.final_values[kY] == 1;
      },
      /*finals=*/true);
  EXPECT_GE(seen.size(), 3u);
}

}  // namespace
}  // namespace dvm::sim
