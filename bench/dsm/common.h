// Small helpers shared by bench/dsm's parts: clocks, sample summaries, and
// touching memory the way a vCPU would (one load or store that the compiler
// cannot drop or merge).
#ifndef DVM_BENCH_DSM_COMMON_H_
#define DVM_BENCH_DSM_COMMON_H_

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

namespace dvm::dsm::bench {

inline uint64_t NowNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

inline uint64_t Read(const void* p) {
  return __atomic_load_n(static_cast<const uint64_t*>(p), __ATOMIC_SEQ_CST);
}
inline void Write(void* p, uint64_t v) {
  __atomic_store_n(static_cast<uint64_t*>(p), v, __ATOMIC_SEQ_CST);
}

struct Summary {
  bool ok = false;
  double median_us = 0;
  double p99_us = 0;
  size_t samples = 0;
};

// Median and p99 of samples in nanoseconds, reported in microseconds.
inline Summary Summarize(std::vector<uint64_t> ns) {
  Summary s;
  if (ns.empty()) return s;
  std::sort(ns.begin(), ns.end());
  auto at = [&](double q) {
    size_t i = std::min(ns.size() - 1, static_cast<size_t>(q * static_cast<double>(ns.size())));
    return static_cast<double>(ns[i]) / 1000.0;
  };
  s.ok = true;
  s.median_us = at(0.5);
  s.p99_us = at(0.99);
  s.samples = ns.size();
  return s;
}

}  // namespace dvm::dsm::bench

#endif  // DVM_BENCH_DSM_COMMON_H_
