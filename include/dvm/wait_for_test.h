// For tests: poll a condition another thread will make true, with a bound so
// a broken build fails instead of hanging.
#ifndef DVM_WAIT_FOR_TEST_H_
#define DVM_WAIT_FOR_TEST_H_

#include <chrono>
#include <functional>
#include <thread>

namespace dvm {

// True once `pred` holds; false if it still does not after `timeout`.
inline bool WaitFor(const std::function<bool()>& pred,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace dvm

#endif  // DVM_WAIT_FOR_TEST_H_
