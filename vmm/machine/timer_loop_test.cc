#include "vmm/machine/timer_loop.h"

#include <atomic>
#include <chrono>
#include <thread>

#include "gtest/gtest.h"

namespace dvm::machine {
namespace {

TEST(TimerLoopTest, TicksWhenDeadlinePassesAndNoticesPokes) {
  hw::MonotonicClock clock;
  std::atomic<uint64_t> deadline{0};  // 0 = disarmed
  std::atomic<int> ticks{0};
  TimerLoop loop(&clock);
  loop.Add({[&]() -> std::optional<uint64_t> {
              uint64_t d = deadline.load();
              return d == 0 ? std::nullopt : std::optional<uint64_t>(d);
            },
            [&] {
              if (deadline.load() != 0 && deadline.load() <= clock.NowNs()) {
                deadline = 0;
                ++ticks;
              }
            }});
  loop.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(ticks.load(), 0);
  // Armed 5 ms ahead while the loop sleeps with nothing armed; Poke() makes it
  // look again (its idle wait alone would also get there, only later).
  deadline = clock.NowNs() + 5'000'000;
  loop.Poke();
  for (int i = 0; i < 500 && ticks.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(ticks.load(), 1);
  loop.Stop();
}

}  // namespace
}  // namespace dvm::machine
