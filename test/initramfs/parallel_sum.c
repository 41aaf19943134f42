// parallel_sum N [COUNT]: N threads each sum a disjoint slice of 1..COUNT
// (default 20,000,000) and add it to a shared total with a lock-prefixed
// atomic; the total must be exact. Prints a DVM-GUEST marker with the result
// and the job's wall time, and exits non-zero on a wrong result.
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

// Up to this, COUNT * (COUNT + 1) / 2 fits in 64 bits.
#define kMaxCount 4000000000ull

static uint64_t count = 20000000ull;
static uint64_t total;
static int threads;

static void* Work(void* arg) {
  uint64_t index = (uint64_t)(uintptr_t)arg;
  uint64_t begin = count * index / threads + 1, end = count * (index + 1) / threads;
  uint64_t sum = 0;
  for (uint64_t i = begin; i <= end; ++i) sum += i;
  __atomic_fetch_add(&total, sum, __ATOMIC_SEQ_CST);
  return NULL;
}

static uint64_t NowMs(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

int main(int argc, char** argv) {
  threads = argc > 1 ? atoi(argv[1]) : 4;
  if (threads < 1 || threads > 256) threads = 4;
  if (argc > 2) {
    count = strtoull(argv[2], NULL, 10);
    if (count < 1 || count > kMaxCount) count = 20000000ull;
  }
  const uint64_t start = NowMs();
  pthread_t ids[256];
  for (int i = 0; i < threads; ++i) pthread_create(&ids[i], NULL, Work, (void*)(uintptr_t)i);
  for (int i = 0; i < threads; ++i) pthread_join(ids[i], NULL);
  const uint64_t elapsed = NowMs() - start;
  uint64_t want = count * (count + 1) / 2;
  int ok = total == want;
  printf("DVM-GUEST: parallel_sum threads=%d total=%llu %s\n", threads, (unsigned long long)total,
         ok ? "ok" : "WRONG");
  printf("DVM-GUEST: parallel_sum count=%llu took %llu ms\n", (unsigned long long)count,
         (unsigned long long)elapsed);
  return ok ? 0 : 1;
}
