#include "dsm/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace dvm::dsm {

// Values below 2^kSubBits get a bucket each; above, bucket = (exponent, the
// kSubBits bits after the leading one).
int LatencyHistogram::BucketOf(uint64_t ns) {
  if (ns < (uint64_t{1} << kSubBits)) return static_cast<int>(ns);
  int exponent = 63 - std::countl_zero(ns);
  int sub = static_cast<int>((ns >> (exponent - kSubBits)) & ((1 << kSubBits) - 1));
  return ((exponent - kSubBits + 1) << kSubBits) + sub;
}

uint64_t LatencyHistogram::UpperEdge(int bucket) {
  if (bucket < (1 << kSubBits)) return static_cast<uint64_t>(bucket);
  int exponent = (bucket >> kSubBits) + kSubBits - 1;
  uint64_t sub = static_cast<uint64_t>(bucket & ((1 << kSubBits) - 1));
  uint64_t step = uint64_t{1} << (exponent - kSubBits);
  return (uint64_t{1} << exponent) + (sub + 1) * step - 1;
}

void LatencyHistogram::Record(uint64_t ns) {
  ++buckets_[static_cast<size_t>(BucketOf(ns))];
  ++count_;
  max_ = std::max(max_, ns);
}

uint64_t LatencyHistogram::Percentile(double fraction) const {
  if (count_ == 0) return 0;
  auto rank = static_cast<uint64_t>(std::ceil(fraction * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += buckets_[static_cast<size_t>(b)];
    if (seen >= rank) return std::min(UpperEdge(b), max_);
  }
  return max_;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
}

}  // namespace dvm::dsm
