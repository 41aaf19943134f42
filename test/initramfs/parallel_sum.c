// parallel_sum N: N threads each sum a disjoint slice of 1..kCount and add it
// to a shared total with a lock-prefixed atomic; the total must be exact.
// Prints a DVM-GUEST marker and exits non-zero on a wrong result.
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define kCount 20000000ull

static uint64_t total;
static int threads;

static void* Work(void* arg) {
  uint64_t index = (uint64_t)(uintptr_t)arg;
  uint64_t begin = kCount * index / threads + 1, end = kCount * (index + 1) / threads;
  uint64_t sum = 0;
  for (uint64_t i = begin; i <= end; ++i) sum += i;
  __atomic_fetch_add(&total, sum, __ATOMIC_SEQ_CST);
  return NULL;
}

int main(int argc, char** argv) {
  threads = argc > 1 ? atoi(argv[1]) : 4;
  if (threads < 1 || threads > 256) threads = 4;
  pthread_t ids[256];
  for (int i = 0; i < threads; ++i) pthread_create(&ids[i], NULL, Work, (void*)(uintptr_t)i);
  for (int i = 0; i < threads; ++i) pthread_join(ids[i], NULL);
  uint64_t want = kCount * (kCount + 1) / 2;
  int ok = total == want;
  printf("DVM-GUEST: parallel_sum threads=%d total=%llu %s\n", threads, (unsigned long long)total,
         ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
