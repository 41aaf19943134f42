// Random schedules of the DSM protocol in the cluster simulator, and proof
// that the checks catch a real protocol bug.
#include <chrono>

#include "gtest/gtest.h"
#include "test/sim/cluster.h"

namespace dvm::sim {
namespace {

constexpr uint64_t kSweepSeed = 20261125;

// Reruns a failing schedule with tracing and prints how to reproduce it.
std::string Explain(const SimConfig& config, uint64_t sweep_seed, uint64_t index,
                    uint32_t max_nodes) {
  SimConfig traced = config;
  traced.trace = true;
  SimResult r = RunSimulation(traced);
  std::string out = "schedule " + std::to_string(index) + ": " + Describe(config) +
                    "\nreplay: dvm_sim --replay=" + std::to_string(index) +
                    " --sweep-seed=" + std::to_string(sweep_seed) +
                    " --max-nodes=" + std::to_string(max_nodes) +
                    (config.inject_bug ? " --bug" : "") + "\n" + r.violation + "\n";
  size_t from = r.trace.size() > 300 ? r.trace.size() - 300 : 0;
  for (size_t i = from; i < r.trace.size(); ++i) out += r.trace[i] + "\n";
  return out;
}

// 10,000 schedules over 2..16 nodes, in 20 chunks so a failure names its chunk.
class RandomSchedules : public testing::TestWithParam<int> {};

TEST_P(RandomSchedules, NoViolations) {
  const int kPerChunk = ScaledRuns(500);
  uint64_t steps = 0, kills = 0, deferred = 0, queued = 0;
  for (int i = 0; i < kPerChunk; ++i) {
    const uint64_t index = uint64_t(GetParam()) * kPerChunk + i;
    SimConfig config = RandomConfig(kSweepSeed, index, 16);
    SimResult r = RunSimulation(config);
    ASSERT_TRUE(r.ok) << Explain(config, kSweepSeed, index, 16);
    steps += r.steps;
    kills += config.kills;
    deferred += r.protocol.deferred;
    queued += r.protocol.queued_at_home;
  }
  EXPECT_GT(steps, static_cast<uint64_t>(kPerChunk) * 50) << "schedules too short to mean anything";
  EXPECT_GT(kills, 0u);
  // The crossing races (deferred messages) and contention at the home happen.
  EXPECT_GT(deferred, 0u);
  EXPECT_GT(queued, 0u);
}

INSTANTIATE_TEST_SUITE_P(Chunks, RandomSchedules, testing::Range(0, 20));

TEST(SimTest, SameSeedSameTrace) {
  SimConfig config = RandomConfig(kSweepSeed, 7, 8);
  config.trace = true;
  SimResult a = RunSimulation(config);
  SimResult b = RunSimulation(config);
  ASSERT_TRUE(a.ok) << a.violation;
  EXPECT_EQ(a.trace, b.trace);
  EXPECT_GT(a.trace.size(), 10u);
}

TEST(SimTest, NodeDeathKeepsSurvivorsConsistent) {
  int failures_seen = 0;
  uint64_t lost = 0, resends = 0, supplier_dead = 0;
  for (uint64_t i = 0; i < 1000; ++i) {
    SimConfig config = RandomConfig(kSweepSeed + 1, i, 8);
    config.kills = 1;
    SimResult r = RunSimulation(config);
    ASSERT_TRUE(r.ok) << Explain(config, kSweepSeed + 1, i, 8) << "(with the kill forced on)";
    failures_seen += r.ops_failed > 0;
    lost += r.protocol.pages_lost;
    resends += r.protocol.data_resends;
    supplier_dead += r.protocol.supplier_dead;
  }
  EXPECT_GT(failures_seen, 0) << "no schedule ever touched a lost page; the test is too gentle";
  EXPECT_GT(lost, 0u);
  EXPECT_GT(resends, 0u) << "DataResend never exercised";
  EXPECT_GT(supplier_dead, 0u) << "SupplierDead never exercised";
  std::cout << "1000 schedules with a death: " << lost << " pages lost, " << resends << " resends, "
            << supplier_dead << " supplier-dead warnings\n";
}

TEST(SimTest, SixtyFourNodes) {
  for (uint64_t i = 0; i < 50; ++i) {
    SimConfig config = RandomConfig(kSweepSeed + 4, i, 64);
    config.nodes = 64;  // every bit of the sharer mask in use
    SimResult r = RunSimulation(config);
    ASSERT_TRUE(r.ok) << r.violation << " in " << Describe(config);
  }
}

TEST(SimTest, SeveralDeaths) {
  for (uint64_t i = 0; i < 1000; ++i) {
    SimConfig config = RandomConfig(kSweepSeed + 3, i, 16);
    config.kills = 3;  // fewer when there are not enough nodes to spare
    SimResult r = RunSimulation(config);
    ASSERT_TRUE(r.ok) << Explain(config, kSweepSeed + 3, i, 16) << "(with --kills=3)";
  }
}

// The injected bug (the home grants a write before the last InvAck) must be
// caught, and the failing schedule must replay identically.
TEST(SimTest, CatchesEarlyGrantBug) {
  int caught = 0;
  int first = -1;
  for (int i = 0; i < 2000 && caught < 5; ++i) {
    SimConfig config = RandomConfig(kSweepSeed + 2, i, 8);
    config.inject_bug = true;
    SimResult r = RunSimulation(config);
    if (r.ok) continue;
    if (first < 0) first = i;
    ++caught;
    SimResult again = RunSimulation(config);
    EXPECT_EQ(again.violation, r.violation) << "a failing seed must reproduce exactly";
  }
  EXPECT_GE(caught, 5) << "the simulator missed a known protocol bug";
  EXPECT_LT(first, 200) << "the bug takes too long to find";
  if (first >= 0) {
    SimConfig config = RandomConfig(kSweepSeed + 2, first, 8);
    config.inject_bug = true;
    std::cout << "injected bug caught at schedule " << first << ":\n"
              << RunSimulation(config).violation << "\n";
  }
}

}  // namespace
}  // namespace dvm::sim
