#include "dsm/latency_histogram.h"

#include "gtest/gtest.h"

namespace dvm::dsm {
namespace {

TEST(LatencyHistogramTest, EmptyReportsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.Percentile(0.5), 0u);
  EXPECT_EQ(h.count(), 0u);
}

TEST(LatencyHistogramTest, PercentilesWithinAnEighth) {
  LatencyHistogram h;
  for (uint64_t v = 1; v <= 1000; ++v) h.Record(v * 1000);  // 1 us .. 1 ms
  EXPECT_EQ(h.count(), 1000u);
  uint64_t median = h.Percentile(0.5);
  EXPECT_GE(median, 500'000u);
  EXPECT_LE(median, 500'000u * 9 / 8);
  uint64_t p99 = h.Percentile(0.99);
  EXPECT_GE(p99, 990'000u);
  EXPECT_LE(p99, 1'000'000u);  // clamped to the maximum seen
  EXPECT_EQ(h.Percentile(1.0), 1'000'000u);
}

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  LatencyHistogram h;
  h.Record(0);
  h.Record(3);
  h.Record(7);
  EXPECT_EQ(h.Percentile(0.34), 3u);
  EXPECT_EQ(h.Percentile(1.0), 7u);
}

TEST(LatencyHistogramTest, MergeAddsCounts) {
  LatencyHistogram a, b;
  a.Record(100);
  b.Record(1'000'000);
  a.Merge(b);
  EXPECT_EQ(a.count(), 2u);
  EXPECT_EQ(a.max(), 1'000'000u);
}

}  // namespace
}  // namespace dvm::dsm
