#include "dsm/home_map.h"

#include "gtest/gtest.h"

namespace dvm::dsm {
namespace {

TEST(HomeMapTest, Interleaves) {
  absl::StatusOr<HomeMap> m = HomeMap::Create(3, 2 * kPageSize);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->HomeOf(Gfn(0)), NodeId(0));
  EXPECT_EQ(m->HomeOf(Gfn(1)), NodeId(0));
  EXPECT_EQ(m->HomeOf(Gfn(2)), NodeId(1));
  EXPECT_EQ(m->HomeOf(Gfn(5)), NodeId(2));
  EXPECT_EQ(m->HomeOf(Gfn(6)), NodeId(0));
  PageRange r = m->HomeRunOf(Gfn(5));
  EXPECT_EQ(r.first, Gfn(4));
  EXPECT_EQ(r.count, 2u);
}

TEST(HomeMapTest, RangesOverrideInterleave) {
  absl::StatusOr<HomeMap> m =
      HomeMap::Create(2, kMiB, {{Gpa(16 * kPageSize), 4 * kPageSize, NodeId(1)}});
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->HomeOf(Gfn(15)), NodeId(0));
  EXPECT_EQ(m->HomeOf(Gfn(16)), NodeId(1));
  EXPECT_EQ(m->HomeOf(Gfn(19)), NodeId(1));
  EXPECT_EQ(m->HomeOf(Gfn(20)), NodeId(0));
  EXPECT_EQ(m->HomeRunOf(Gfn(17)).first, Gfn(16));
  EXPECT_EQ(m->HomeRunOf(Gfn(17)).count, 4u);
  // The interleave chunk around the range is clipped by it.
  EXPECT_EQ(m->HomeRunOf(Gfn(3)).first, Gfn(0));
  EXPECT_EQ(m->HomeRunOf(Gfn(3)).count, 16u);
  EXPECT_EQ(m->HomeRunOf(Gfn(20)).first, Gfn(20));
  EXPECT_EQ(m->HomeRunOf(Gfn(20)).count, 256u - 20);
}

TEST(HomeMapTest, RejectsBadParameters) {
  EXPECT_FALSE(HomeMap::Create(0, kPageSize).ok());
  EXPECT_FALSE(HomeMap::Create(65, kPageSize).ok());
  EXPECT_FALSE(HomeMap::Create(2, 100).ok());
  EXPECT_FALSE(HomeMap::Create(2, 0).ok());
  EXPECT_FALSE(HomeMap::Create(2, kPageSize, {{Gpa(1), kPageSize, NodeId(0)}}).ok());
  EXPECT_FALSE(HomeMap::Create(2, kPageSize, {{Gpa(0), 0, NodeId(0)}}).ok());
  EXPECT_FALSE(HomeMap::Create(2, kPageSize, {{Gpa(0), kPageSize, NodeId(2)}}).ok());
  EXPECT_FALSE(
      HomeMap::Create(2, kPageSize,
                      {{Gpa(0), 2 * kPageSize, NodeId(0)}, {Gpa(kPageSize), kPageSize, NodeId(1)}})
          .ok());
}

}  // namespace
}  // namespace dvm::dsm
