// litmus NPROC [ITERATIONS [INCREMENTS]]: checks that guest memory stays
// x86-TSO across vCPUs, and so across dvm nodes, whose DSM moves guest RAM
// page by page. Every shared variable sits on its own 4 KiB page, so each is
// its own coherence unit, and threads are pinned to CPUs chosen to cross nodes
// (vCPUs 0-1 may share a node, 2-3 the other, or each be a node of its own).
//
// Classic litmus tests run ITERATIONS times each (default 300) and count their
// outcomes; x86-TSO forbids one outcome in each:
//   MP         T0: x=1; y=1            T1: r1=y; r2=x           forbidden r1=1 r2=0
//   SB+mfence  T0: x=1; mfence; r1=y   T1: y=1; mfence; r2=x    forbidden r1=0 r2=0
//   SB         as above without mfence: r1=0 r2=0 is allowed (store buffers),
//              only reported
//   IRIW       T0: x=1  T1: y=1  T2: r1=x; r2=y  T3: r3=y; r4=x
//                                                 forbidden r1=1 r2=0 r3=1 r4=0
//   2+2W       T0: x=1; y=2            T1: y=1; x=2             forbidden x=1 y=1 at the end
// Then NPROC threads do INCREMENTS (default 2000) each on a shared counter,
// once with lock-prefixed adds and once with plain adds under an xchg
// spinlock; both totals must be exact.
//
// The defaults are small because in the lab a cross-node page transfer may
// cost ~1 ms and an iteration needs several. Prints one DVM-GUEST line per test
// and "DVM-GUEST: litmus all ok" or "DVM-GUEST: litmus FAILED"; exits 0 only
// when all passed.
#define _GNU_SOURCE
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define kPageSize 4096
#define kMaxThreads 64
#define kSpinTimeoutSeconds 20
#define kBarrierSpins 2000

// One shared variable per page: the aligned attribute also pads it to 4 KiB.
typedef struct {
  long value;
} __attribute__((aligned(kPageSize))) Page;

// A thread's loaded values; on the thread's own page so that recording them
// does not move pages the test is about.
typedef struct {
  long r[2];
} __attribute__((aligned(kPageSize))) ResultPage;

typedef struct {
  long count;
  int sense;  // an int: waiters sleep on it with futex(2)
} __attribute__((aligned(kPageSize))) BarrierPage;

static Page x, y;  // the litmus variables
static ResultPage results[4];
static BarrierPage barrier;
static int barrier_threads;
static Page counter;        // lock-prefixed adds
static Page lock;           // test-and-set spinlock ...
static Page plain_counter;  // ... guarding this counter's plain adds

static const char* test_name = "";  // for the timeout message
static int iterations = 300, increments = 2000;

static double Now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// Relaxed atomics compile to plain x86 movs; the compiler barriers keep the
// compiler from reordering, merging or dropping them, so the CPU (and dvm)
// see exactly the accesses the test lists, in program order.
static inline void Store(Page* p, long value) {
  __atomic_store_n(&p->value, value, __ATOMIC_RELAXED);
  asm volatile("" ::: "memory");
}

static inline long Load(Page* p) {
  long value = __atomic_load_n(&p->value, __ATOMIC_RELAXED);
  asm volatile("" ::: "memory");
  return value;
}

static inline void Mfence(void) { asm volatile("mfence" ::: "memory"); }

// Spins until *p == want. Yields now and then, since native runs may have more
// threads than CPUs, and gives up after kSpinTimeoutSeconds so that a lost
// store in dvm shows up as a failure instead of a hung guest.
static void SpinUntil(long* p, long want, const char* what) {
  double deadline = 0;
  for (unsigned long spins = 1; __atomic_load_n(p, __ATOMIC_ACQUIRE) != want; ++spins) {
    asm volatile("pause");
    if (spins % 256 == 0) sched_yield();
    if (spins % 4096 != 0) continue;
    double now = Now();  // not every spin: reading the clock may cost more than a spin
    if (deadline == 0) {
      deadline = now + kSpinTimeoutSeconds;
    } else if (now > deadline) {
      printf("DVM-GUEST: litmus %s TIMEOUT: a thread waited over %d s for the %s\n", test_name,
             kSpinTimeoutSeconds, what);
      printf("DVM-GUEST: litmus FAILED\n");
      fflush(stdout);
      _exit(1);
    }
  }
}

// Sense-reversing barrier for barrier_threads threads: the last to arrive
// resets the count, flips the sense and wakes the others. A waiter spins a
// little, then sleeps on a futex: on a distributed VM in the lab, four vCPUs
// spinning on one page starve each other of both the lab's two CPUs and the
// page (a barrier took over 20 s), and the litmus bodies, not the barrier,
// are what must run on every CPU at once. *sense is the caller's own,
// starting at 0.
static void BarrierWait(int* sense) {
  *sense = !*sense;
  if (__atomic_add_fetch(&barrier.count, 1, __ATOMIC_ACQ_REL) == barrier_threads) {
    __atomic_store_n(&barrier.count, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&barrier.sense, *sense, __ATOMIC_RELEASE);
    syscall(SYS_futex, &barrier.sense, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
    return;
  }
  for (int spins = 0; spins < kBarrierSpins; ++spins) {
    if (__atomic_load_n(&barrier.sense, __ATOMIC_ACQUIRE) == *sense) return;
    asm volatile("pause");
  }
  const double deadline = Now() + kSpinTimeoutSeconds;
  const struct timespec slice = {1, 0};  // wake now and then to check the deadline
  while (__atomic_load_n(&barrier.sense, __ATOMIC_ACQUIRE) != *sense) {
    // Sleeps only while the sense is still the old one, so no wake is lost.
    syscall(SYS_futex, &barrier.sense, FUTEX_WAIT_PRIVATE, !*sense, &slice, NULL, 0);
    if (Now() > deadline) {
      printf("DVM-GUEST: litmus %s TIMEOUT: a thread waited over %d s for the barrier\n", test_name,
             kSpinTimeoutSeconds);
      printf("DVM-GUEST: litmus FAILED\n");
      fflush(stdout);
      _exit(1);
    }
  }
}

static void Pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0)
    printf("DVM-GUEST: litmus %s note: cannot pin a thread to cpu %d, it runs unpinned\n",
           test_name, cpu);
}

typedef struct {
  int index;
  int cpu;
} Worker;

// Runs fn on n threads, thread i pinned to cpus[i]; returns the seconds taken.
static double RunThreads(int n, const int* cpus, void* (*fn)(void*)) {
  pthread_t ids[kMaxThreads];
  Worker workers[kMaxThreads];
  barrier.count = 0;
  barrier.sense = 0;
  barrier_threads = n;
  double start = Now();
  for (int i = 0; i < n; ++i) {
    workers[i] = (Worker){i, cpus[i]};
    if (pthread_create(&ids[i], NULL, fn, &workers[i]) != 0) {
      printf("DVM-GUEST: litmus %s: pthread_create failed\nDVM-GUEST: litmus FAILED\n", test_name);
      exit(1);
    }
  }
  for (int i = 0; i < n; ++i) pthread_join(ids[i], NULL);
  return Now() - start;
}

// Formats cpus as "0,3" into out.
static const char* CpuList(int n, const int* cpus, char* out, size_t size) {
  size_t used = 0;
  out[0] = '\0';
  for (int i = 0; i < n && used < size; ++i)
    used += snprintf(out + used, size - used, i ? ",%d" : "%d", cpus[i]);
  return out;
}

// ---- Litmus tests ----

typedef struct {
  const char* name;
  int threads;
  void (*body)(int thread, long* r);  // one thread's part; r: its result slots
  long (*outcome)(void);  // after an iteration: one decimal digit per value observed
  const char* values;     // what the digits are, e.g. "r1r2"
  long watched;           // the outcome x86-TSO forbids (or, if allowed, the relaxed one)
  int allowed;            // 1: the watched outcome is legal and only reported
} Litmus;

static void MpBody(int thread, long* r) {
  if (thread == 0) {
    Store(&x, 1);
    Store(&y, 1);
  } else {
    r[0] = Load(&y);
    r[1] = Load(&x);
  }
}
static long MpOutcome(void) { return results[1].r[0] * 10 + results[1].r[1]; }

static void SbFenceBody(int thread, long* r) {
  Store(thread == 0 ? &x : &y, 1);
  Mfence();  // drains the store buffer: without it r1=r2=0 is legal
  r[0] = Load(thread == 0 ? &y : &x);
}
static void SbBody(int thread, long* r) {
  Store(thread == 0 ? &x : &y, 1);
  r[0] = Load(thread == 0 ? &y : &x);
}
static long SbOutcome(void) { return results[0].r[0] * 10 + results[1].r[0]; }

static void IriwBody(int thread, long* r) {
  switch (thread) {
    case 0: Store(&x, 1); break;
    case 1: Store(&y, 1); break;
    case 2: r[0] = Load(&x); r[1] = Load(&y); break;
    case 3: r[0] = Load(&y); r[1] = Load(&x); break;
  }
}
static long IriwOutcome(void) {
  return results[2].r[0] * 1000 + results[2].r[1] * 100 + results[3].r[0] * 10 + results[3].r[1];
}

static void TwoTwoWBody(int thread, long* r) {
  (void)r;
  if (thread == 0) {
    Store(&x, 1);
    Store(&y, 2);
  } else {
    Store(&y, 1);
    Store(&x, 2);
  }
}
static long TwoTwoWOutcome(void) { return Load(&x) * 10 + Load(&y); }

static const Litmus kLitmus[] = {
    {"MP", 2, MpBody, MpOutcome, "r1r2", 10, 0},
    {"SB+mfence", 2, SbFenceBody, SbOutcome, "r1r2", 0, 0},
    {"SB", 2, SbBody, SbOutcome, "r1r2", 0, 1},
    {"IRIW", 4, IriwBody, IriwOutcome, "r1r2r3r4", 1010, 0},
    {"2+2W", 2, TwoTwoWBody, TwoTwoWOutcome, "xy", 11, 0},
};

static const Litmus* litmus;  // the one running
static long counts[10000];    // per outcome (at most 4 digits)

static void* LitmusThread(void* arg) {
  const Worker* w = arg;
  Pin(w->cpu);
  int sense = 0;
  for (int i = 0; i < iterations; ++i) {
    BarrierWait(&sense);  // start together, after thread 0's reset below
    litmus->body(w->index, results[w->index].r);
    BarrierWait(&sense);  // all stores and results of this iteration are in
    if (w->index == 0) {
      ++counts[litmus->outcome()];
      Store(&x, 0);
      Store(&y, 0);
    }
  }
  return NULL;
}

// Returns 1 when the forbidden outcome never showed up.
static int RunLitmus(const Litmus* test, const int* cpus) {
  litmus = test;
  test_name = test->name;
  memset(counts, 0, sizeof counts);
  Store(&x, 0);
  Store(&y, 0);
  double seconds = RunThreads(test->threads, cpus, LitmusThread);

  // Observed outcomes, e.g. "r1r2 00=3 01=150 11=147".
  int digits = (int)strlen(test->values) / 2;
  char seen[512], cpu_list[64];
  size_t used = (size_t)snprintf(seen, sizeof seen, "%s", test->values);
  for (long o = 0; o < 10000 && used < sizeof seen; ++o)
    if (counts[o]) used += snprintf(seen + used, sizeof seen - used, " %0*ld=%ld", digits, o, counts[o]);
  long hits = counts[test->watched];
  int ok = test->allowed || hits == 0;
  printf("DVM-GUEST: litmus %s iterations=%d forbidden=%ld %s (cpus=%s; %s", test->name,
         iterations, test->allowed ? 0 : hits, ok ? "ok" : "FAILED",
         CpuList(test->threads, cpus, cpu_list, sizeof cpu_list), seen);
  if (test->allowed) printf("; relaxed %0*ld=%ld, allowed on x86", digits, test->watched, hits);
  printf(") %.2f s\n", seconds);
  return ok;
}

// ---- Exact totals ----

static void* AtomicAddThread(void* arg) {
  const Worker* w = arg;
  Pin(w->cpu);
  int sense = 0;
  BarrierWait(&sense);  // start together so the adds contend
  for (int k = 0; k < increments; ++k) __atomic_fetch_add(&counter.value, 1, __ATOMIC_SEQ_CST);
  return NULL;
}

static void* SpinlockThread(void* arg) {
  const Worker* w = arg;
  Pin(w->cpu);
  int sense = 0;
  BarrierWait(&sense);
  for (int k = 0; k < increments; ++k) {
    // Test-and-set with xchg; wait on plain loads so waiters do not keep
    // pulling the page away from the holder.
    while (__atomic_exchange_n(&lock.value, 1, __ATOMIC_ACQUIRE) != 0)
      SpinUntil(&lock.value, 0, "spinlock");
    plain_counter.value = plain_counter.value + 1;  // plain load and store: only the lock makes it exact
    // A plain mov: TSO keeps it after the counter's store, which is all an
    // x86 spinlock release relies on.
    __atomic_store_n(&lock.value, 0, __ATOMIC_RELEASE);
  }
  return NULL;
}

static int RunTotal(const char* name, Page* total, void* (*fn)(void*), int threads,
                    const int* cpus) {
  test_name = name;
  total->value = 0;
  double seconds = RunThreads(threads, cpus, fn);
  long want = (long)threads * increments, got = total->value;
  long lost = want > got ? want - got : got - want;  // "forbidden": increments lost or extra
  char cpu_list[256];
  printf("DVM-GUEST: litmus %s iterations=%d forbidden=%ld %s (threads=%d cpus=%s total=%ld want=%ld) %.2f s\n",
         name, increments, lost, lost == 0 ? "ok" : "FAILED", threads,
         CpuList(threads, cpus, cpu_list, sizeof cpu_list), got, want, seconds);
  return lost == 0;
}

static int Arg(int argc, char** argv, int i, int fallback, int max) {
  int value = argc > i ? atoi(argv[i]) : fallback;
  return value >= 1 && value <= max ? value : fallback;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);  // keep lines whole and in order on the console
  int nproc = Arg(argc, argv, 1, (int)sysconf(_SC_NPROCESSORS_ONLN), kMaxThreads);
  iterations = Arg(argc, argv, 2, iterations, 10000000);
  increments = Arg(argc, argv, 3, increments, 100000000);

  // The CPUs to use: the first nproc this process may run on.
  cpu_set_t allowed;
  int cpus[kMaxThreads], ncpus = 0;
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0)
    for (int c = 0; c < CPU_SETSIZE && ncpus < nproc; ++c)
      if (CPU_ISSET(c, &allowed)) cpus[ncpus++] = c;
  if (ncpus == 0) cpus[ncpus++] = 0;
  char cpu_list[256];
  printf("DVM-GUEST: litmus start threads=%d cpus=%s iterations=%d increments=%d\n", nproc,
         CpuList(ncpus, cpus, cpu_list, sizeof cpu_list), iterations, increments);
  if (ncpus < nproc) printf("DVM-GUEST: litmus note: only %d of %d CPUs usable, threads share CPUs\n", ncpus, nproc);
  if (ncpus < 4) printf("DVM-GUEST: litmus note: %d CPU(s), IRIW's 4 threads share CPUs\n", ncpus);

  // 2 threads: the first and the last CPU, likely on different nodes.
  int pair[2] = {cpus[0], cpus[ncpus - 1]};
  // 4 threads (IRIW): each writer with the reader that reads its variable
  // first, writers on different halves of the CPUs (hence nodes): with 4 CPUs
  // x=1 and r1=x on 0,1, y=1 and r3=y on 2,3. That is the placement where a
  // DSM that lets a node see its own stores early would break IRIW.
  static const int kIriwSlot[4] = {0, 2, 1, 3};
  int quad[4];
  for (int i = 0; i < 4; ++i) quad[i] = cpus[kIriwSlot[i] * ncpus / 4];
  // Exact totals: nproc threads, round-robin over the CPUs.
  int spread[kMaxThreads];
  for (int i = 0; i < nproc; ++i) spread[i] = cpus[i % ncpus];

  int ok = 1;
  for (size_t i = 0; i < sizeof kLitmus / sizeof kLitmus[0]; ++i)
    ok &= RunLitmus(&kLitmus[i], kLitmus[i].threads == 4 ? quad : pair);
  ok &= RunTotal("atomic_add", &counter, AtomicAddThread, nproc, spread);
  ok &= RunTotal("spinlock", &plain_counter, SpinlockThread, nproc, spread);
  printf("DVM-GUEST: litmus %s\n", ok ? "all ok" : "FAILED");
  return ok ? 0 : 1;
}
