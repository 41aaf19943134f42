// A fixed-size latency histogram: log2 buckets split into 8 linear steps, so
// any recorded value is reported within 12.5 %. Cheap to record (no
// allocation), cheap to copy; not thread-safe (the engine records under its
// lock and hands out copies).
#ifndef DVM_DSM_LATENCY_HISTOGRAM_H_
#define DVM_DSM_LATENCY_HISTOGRAM_H_

#include <array>
#include <cstdint>

namespace dvm::dsm {

class LatencyHistogram {
 public:
  void Record(uint64_t ns);
  uint64_t count() const { return count_; }
  // The value below which `fraction` (0..1) of the samples lie, rounded up to
  // its bucket's upper edge; 0 when empty.
  uint64_t Percentile(double fraction) const;
  uint64_t max() const { return max_; }
  void Merge(const LatencyHistogram& other);

 private:
  static constexpr int kSubBits = 3;  // 8 steps per power of two
  static constexpr int kBuckets = 64 << kSubBits;
  static int BucketOf(uint64_t ns);
  static uint64_t UpperEdge(int bucket);

  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
  uint64_t max_ = 0;
};

}  // namespace dvm::dsm

#endif  // DVM_DSM_LATENCY_HISTOGRAM_H_
