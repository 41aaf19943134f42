#include "dvm/types.h"

#include <unordered_set>

#include "gtest/gtest.h"

namespace dvm {
namespace {

TEST(TypesTest, GpaGfnRoundTrip) {
  Gpa gpa(0x12345678);
  EXPECT_EQ(GfnOf(gpa).value(), 0x12345u);
  EXPECT_EQ(GpaOf(GfnOf(gpa)).value(), 0x12345000u);
  EXPECT_EQ(PageOffset(gpa), 0x678u);
}

TEST(TypesTest, StrongTypesCompareAndHash) {
  EXPECT_LT(NodeId(1), NodeId(2));
  EXPECT_EQ(VcpuId(3), VcpuId(3));
  std::unordered_set<NodeId> set{NodeId(1), NodeId(1), NodeId(4)};
  EXPECT_EQ(set.size(), 2u);
}

TEST(TypesTest, Alignment) {
  EXPECT_TRUE(IsPageAligned(0x3000));
  EXPECT_FALSE(IsPageAligned(0x3001));
  EXPECT_EQ(AlignUp(0x3001, kPageSize), 0x4000u);
  EXPECT_EQ(AlignDown(0x3fff, kPageSize), 0x3000u);
}

TEST(TypesTest, FormatSize) {
  EXPECT_EQ(FormatSize(512 * kMiB), "512 MiB");
  EXPECT_EQ(FormatSize(4 * kGiB), "4 GiB");
  EXPECT_EQ(FormatSize(12 * kKiB), "12 KiB");
  EXPECT_EQ(FormatSize(7), "7 B");
  EXPECT_EQ(FormatSize(0), "0 B");
  EXPECT_EQ(FormatSize(2048 * kGiB), "2 TiB");
  EXPECT_EQ(FormatSize(kGiB + kGiB / 2 + 5), "1.5 GiB");
}

}  // namespace
}  // namespace dvm
