#include "vmm/cluster/dsm_homes.h"

#include "gtest/gtest.h"
#include "vmm/layout/layout.h"

namespace dvm::cluster {
namespace {

constexpr uint64_t kGiB = uint64_t{1} << 30;

spec::VmSpec TwoNodes(uint64_t memory) {
  spec::VmSpec s;
  s.memory_bytes = memory;
  s.nodes.resize(2);
  s.nodes[0].id = NodeId(0);
  s.nodes[1].id = NodeId(1);
  return s;
}

TEST(DsmHomesTest, RamOffsetsSkipTheHole) {
  const uint64_t ram = 5 * kGiB;  // 3 GiB low, 2 GiB above 4 GiB
  EXPECT_EQ(RamOffsetOf(Gpa(0x1000), ram), 0x1000u);
  EXPECT_EQ(RamOffsetOf(Gpa(3 * kGiB - 1), ram), 3 * kGiB - 1);
  EXPECT_EQ(RamOffsetOf(layout::kLapic, ram), std::nullopt);
  EXPECT_EQ(RamOffsetOf(Gpa(4 * kGiB), ram), 3 * kGiB);
  EXPECT_EQ(RamOffsetOf(Gpa(6 * kGiB - 1), ram), 5 * kGiB - 1);
  EXPECT_EQ(RamOffsetOf(Gpa(6 * kGiB), ram), std::nullopt);
  EXPECT_EQ(RamOffsetOf(Gpa(2 * kGiB), 1 * kGiB), std::nullopt);
}

TEST(DsmHomesTest, InterleaveAlternatesPages) {
  spec::VmSpec s = TwoNodes(kGiB);
  s.dsm.home = spec::HomePolicy::kInterleave;
  auto homes = HomeMapFor(s);
  ASSERT_TRUE(homes.ok()) << homes.status();
  EXPECT_EQ(homes->HomeOf(Gfn(0)), NodeId(0));
  EXPECT_EQ(homes->HomeOf(Gfn(1)), NodeId(1));
  EXPECT_EQ(homes->HomeOf(Gfn(2)), NodeId(0));
}

TEST(DsmHomesTest, RangesAreRamOffsets) {
  spec::VmSpec s = TwoNodes(5 * kGiB);
  s.dsm.home = spec::HomePolicy::kRange;
  // Node 0: the first 2 GiB of RAM. Node 1: the rest, including the RAM the
  // guest sees above 4 GiB (offsets 3-5 GiB).
  s.dsm.ranges = {{Gpa(0), 2 * kGiB, NodeId(0)}, {Gpa(2 * kGiB), 3 * kGiB, NodeId(1)}};
  auto homes = HomeMapFor(s);
  ASSERT_TRUE(homes.ok()) << homes.status();
  auto page = [](uint64_t offset) { return Gfn(offset / kPageSize); };
  EXPECT_EQ(homes->HomeOf(page(2 * kGiB - kPageSize)), NodeId(0));
  EXPECT_EQ(homes->HomeOf(page(2 * kGiB)), NodeId(1));
  EXPECT_EQ(homes->HomeOf(page(*RamOffsetOf(Gpa(4 * kGiB), 5 * kGiB))), NodeId(1));
  EXPECT_EQ(homes->HomeOf(page(5 * kGiB - kPageSize)), NodeId(1));
}

TEST(DsmHomesTest, NumaGivesEachNodeOneSlice) {
  auto homes = HomeMapFor(TwoNodes(kGiB));  // "numa" is the default
  ASSERT_TRUE(homes.ok()) << homes.status();
  EXPECT_EQ(homes->HomeOf(Gfn(0)), NodeId(0));
  EXPECT_EQ(homes->HomeOf(Gfn(kGiB / 2 / kPageSize - 1)), NodeId(0));
  EXPECT_EQ(homes->HomeOf(Gfn(kGiB / 2 / kPageSize)), NodeId(1));
  EXPECT_EQ(homes->HomeOf(Gfn(kGiB / kPageSize - 1)), NodeId(1));
}

}  // namespace
}  // namespace dvm::cluster
