#include "test/integration/dsm/workloads.h"

#include <sched.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <random>

#include "absl/strings/str_cat.h"

namespace dvm::dsm_harness {
namespace {

constexpr uint64_t kWords = 4096 / 8;
constexpr uint64_t kBarrierPage = 0;
constexpr uint64_t kCounterPages[2] = {1, 2};
constexpr uint64_t kBouncePage = 3;
constexpr uint64_t kOwnPageBase = 16;
constexpr uint64_t kLitmusBase = 8;  // + 8 * pair
constexpr uint64_t kStampBase = 64;
constexpr uint64_t kStampPages = 8;
constexpr uint64_t kStampCountBase = 128;  // + node

uint64_t* Word(const Context& ctx, uint64_t page, uint64_t word = 0) {
  return reinterpret_cast<uint64_t*>(ctx.base + page * 4096) + word;
}
uint64_t Load(const uint64_t* p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
void Store(uint64_t* p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }

// Waiting threads must leave the CPU to the engine and transport threads:
// the machine may have fewer cores than threads.
void Backoff(uint32_t* spins) {
  if (++*spins < 32) {
    __builtin_ia32_pause();
  } else if (*spins < 256) {
    sched_yield();
  } else {
    usleep(50);
  }
}

// A local increment takes nanoseconds and a page transfer tens of
// microseconds: without a pause one node would finish before the others ask
// for the page even once.
void LetOthersIn() { usleep(20); }

std::vector<std::string> Counter(const Context& ctx, uint32_t thread, Barrier& barrier,
                                 std::string* summary) {
  barrier.Wait(thread);  // start together, so that the nodes contend
  for (uint64_t i = 0; i < ctx.iters; ++i) {
    for (uint64_t page : kCounterPages) __atomic_fetch_add(Word(ctx, page), 1, __ATOMIC_SEQ_CST);
    LetOthersIn();
  }
  barrier.Wait(thread);
  std::vector<std::string> failures;
  uint64_t want = uint64_t{ctx.nodes} * ctx.threads * ctx.iters;
  if (thread == 0) {
    for (uint64_t page : kCounterPages) {
      uint64_t got = Load(Word(ctx, page));
      if (got != want) failures.push_back(absl::StrCat("counter on page ", page, " is ", got, ", want ", want));
    }
    *summary = absl::StrCat("counter: ", want, " increments on each of 2 pages");
  }
  barrier.Wait(thread);
  return failures;
}

// Message passing and store buffering between the nodes of each pair (2p,
// 2p+1), round after round, with fresh values each round. Sequential
// consistency forbids MP's (flag new, data old) and SB's (both reads old).
std::vector<std::string> Litmus(const Context& ctx, uint32_t thread, Barrier& barrier,
                                std::string* summary) {
  std::vector<std::string> failures;
  const uint32_t pair = ctx.node / 2;
  const bool active = thread == 0 && (ctx.node ^ 1) < ctx.nodes;
  const bool writer = ctx.node % 2 == 0;
  const uint64_t base = kLitmusBase + 8 * pair;
  uint64_t *data = Word(ctx, base), *flag = Word(ctx, base + 1), *x = Word(ctx, base + 2),
           *y = Word(ctx, base + 3), *r1_slot = Word(ctx, base + 4);
  uint64_t mp_flag_new = 0, sb_r2_old = 0, sb_r1_old = 0;
  for (uint64_t k = 1; k <= ctx.iters; ++k) {
    barrier.Wait(thread);
    uint64_t r2 = 0;
    if (active && writer) {
      Store(data, k);
      Store(flag, k);
      Store(x, k);
      Store(r1_slot, Load(y));
    } else if (active) {
      uint64_t f = Load(flag);
      uint64_t d = Load(data);
      if (f == k) ++mp_flag_new;
      if (f == k && d < k && failures.size() < 10) {
        failures.push_back(absl::StrCat("MP round ", k, ": flag new, data ", d));
      }
      Store(y, k);
      r2 = Load(x);
    }
    barrier.Wait(thread);
    if (active && !writer) {
      uint64_t r1 = Load(r1_slot);
      if (r1 < k) ++sb_r1_old;
      if (r2 < k) ++sb_r2_old;
      if (r1 < k && r2 < k && failures.size() < 10) {
        failures.push_back(absl::StrCat("SB round ", k, ": both reads old"));
      }
    }
  }
  if (active && !writer) {
    *summary = absl::StrCat("litmus pair ", pair, ": ", ctx.iters, " rounds; MP saw the new flag ",
                            mp_flag_new, " times; SB r1 old ", sb_r1_old, ", r2 old ", sb_r2_old);
  }
  return failures;
}

// Page p's payload word w at version v: any word from another version or a
// half-copied page shows.
uint64_t Stamp(uint64_t version, uint64_t word) {
  return version == 0 ? 0 : version * 0x9E3779B97F4A7C15ull ^ word;
}

struct StampPage {
  uint64_t* lock;
  uint64_t* seq;  // 2 * version, odd while a writer is at work
  uint64_t* payload;
};

StampPage StampAt(const Context& ctx, uint64_t i) {
  uint64_t* w = Word(ctx, kStampBase + i);
  return {w, w + 1, w + 2};
}

void WriteStamp(const StampPage& p) {
  uint32_t spins = 0;
  uint64_t expected = 0;
  while (!__atomic_compare_exchange_n(p.lock, &expected, 1, false, __ATOMIC_ACQUIRE,
                                      __ATOMIC_RELAXED)) {
    expected = 0;
    Backoff(&spins);
  }
  uint64_t s = Load(p.seq);
  Store(p.seq, s + 1);
  for (uint64_t w = 0; w < kWords - 2; ++w) {
    __atomic_store_n(p.payload + w, Stamp(s / 2 + 1, w), __ATOMIC_RELAXED);
  }
  Store(p.seq, s + 2);
  __atomic_store_n(p.lock, 0, __ATOMIC_RELEASE);
}

// Returns the version read, or an error in *failure.
uint64_t ReadStamp(const StampPage& p, std::string* failure) {
  std::array<uint64_t, kWords - 2> copy;
  uint32_t spins = 0;
  for (;;) {
    uint64_t s1 = Load(p.seq);
    if (s1 % 2 == 1) {
      Backoff(&spins);
      continue;
    }
    for (uint64_t w = 0; w < copy.size(); ++w) copy[w] = __atomic_load_n(p.payload + w, __ATOMIC_RELAXED);
    if (Load(p.seq) != s1) continue;
    for (uint64_t w = 0; w < copy.size(); ++w) {
      if (copy[w] != Stamp(s1 / 2, w)) {
        *failure = absl::StrCat("torn page: version ", s1 / 2, " but word ", w, " is ", copy[w]);
        break;
      }
    }
    return s1 / 2;
  }
}

// Random stamped reads and writes of a few pages by every thread: no reader
// sees a torn page or a version older than one it saw before, and in the end
// each page's version is the number of writes all nodes made to it.
std::vector<std::string> Stamps(const Context& ctx, uint32_t thread, Barrier& barrier,
                                std::string* summary) {
  std::vector<std::string> failures;
  std::mt19937_64 rng(ctx.node * 1000 + thread);
  std::array<uint64_t, kStampPages> seen{}, writes{};
  barrier.Wait(thread);
  for (uint64_t i = 0; i < ctx.iters && failures.size() < 10; ++i) {
    uint64_t r = rng();
    uint64_t page = r % kStampPages;
    StampPage p = StampAt(ctx, page);
    if ((r >> 32) % 3 == 0) {
      WriteStamp(p);
      ++writes[page];
      continue;
    }
    std::string failure;
    uint64_t v = ReadStamp(p, &failure);
    if (!failure.empty()) failures.push_back(absl::StrCat("page ", kStampBase + page, ": ", failure));
    if (v < seen[page]) {
      failures.push_back(absl::StrCat("stale read of page ", kStampBase + page, ": version ", v,
                                      " after ", seen[page]));
    }
    seen[page] = std::max(seen[page], v);
  }
  for (uint64_t page = 0; page < kStampPages; ++page) {
    __atomic_fetch_add(Word(ctx, kStampCountBase + ctx.node, page), writes[page], __ATOMIC_SEQ_CST);
  }
  barrier.Wait(thread);
  if (thread == 0 && ctx.node == 0) {
    uint64_t total = 0;
    for (uint64_t page = 0; page < kStampPages; ++page) {
      uint64_t want = 0;
      for (uint32_t n = 0; n < ctx.nodes; ++n) want += Load(Word(ctx, kStampCountBase + n, page));
      std::string failure;
      uint64_t v = ReadStamp(StampAt(ctx, page), &failure);
      if (!failure.empty()) failures.push_back(failure);
      if (v != want) {
        failures.push_back(absl::StrCat("page ", kStampBase + page, " is at version ", v, " after ",
                                        want, " writes: a write was lost"));
      }
      total += want;
    }
    *summary = absl::StrCat("stamps: ", total, " page writes and the rest reads over ",
                            kStampPages, " pages, all intact");
  }
  barrier.Wait(thread);
  return failures;
}

// One page written by every thread of every node, each its own word, with a
// plain load and store (no atomic RMW): a lost or stale copy loses counts.
std::vector<std::string> Bounce(const Context& ctx, uint32_t thread, Barrier& barrier,
                                std::string* summary) {
  std::vector<std::string> failures;
  if (thread == 0) {
    Store(Word(ctx, kOwnPageBase + ctx.node), ctx.node + 1);
    std::printf("node %u: own page written\n", ctx.node);  // the kill test waits for this
    std::fflush(stdout);
  }
  uint64_t* mine = Word(ctx, kBouncePage, ctx.node * ctx.threads + thread);
  barrier.Wait(thread);
  for (uint64_t i = 0; i < ctx.iters; ++i) {
    uint64_t v = __atomic_load_n(mine, __ATOMIC_RELAXED);
    __atomic_store_n(mine, v + 1, __ATOMIC_RELAXED);
    LetOthersIn();
  }
  barrier.Wait(thread);
  if (thread == 0 && ctx.node == 0) {
    for (uint64_t w = 0; w < uint64_t{ctx.nodes} * ctx.threads; ++w) {
      uint64_t got = Load(Word(ctx, kBouncePage, w));
      if (got != ctx.iters) {
        failures.push_back(absl::StrCat("bounce word ", w, " is ", got, ", want ", ctx.iters));
      }
    }
    for (uint32_t n = 0; n < ctx.nodes; ++n) {
      if (Load(Word(ctx, kOwnPageBase + n)) != n + 1) {
        failures.push_back(absl::StrCat("node ", n, "'s own page lost its write"));
      }
    }
    *summary = absl::StrCat("bounce: ", ctx.nodes * ctx.threads, " writers x ", ctx.iters,
                            " plain increments of one page");
  }
  barrier.Wait(thread);
  return failures;
}

}  // namespace

Barrier::Barrier(const Context& ctx)
    : arrivals_(Word(ctx, kBarrierPage)),
      participants_(uint64_t{ctx.nodes} * ctx.threads),
      generations_(ctx.threads, 0) {}

void Barrier::Wait(uint32_t thread) {
  uint64_t generation = ++generations_[thread];
  __atomic_fetch_add(arrivals_, 1, __ATOMIC_SEQ_CST);
  uint32_t spins = 0;
  while (Load(arrivals_) < generation * participants_) Backoff(&spins);
}

const std::vector<Workload>& AllWorkloads() {
  static const std::vector<Workload> kAll = {
      {"counter", Counter}, {"litmus", Litmus}, {"stamps", Stamps}, {"bounce", Bounce}};
  return kAll;
}

}  // namespace dvm::dsm_harness
