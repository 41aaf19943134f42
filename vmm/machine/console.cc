#include "vmm/machine/console.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <vector>

#include "dvm/thread_name.h"

namespace dvm::machine {

void FdSink::Put(uint8_t byte) {
  while (write(fd_, &byte, 1) < 0 && errno == EINTR) {
  }
}

ConsoleInput::ConsoleInput(int input_fd, devices::Serial* serial)
    : input_fd_(input_fd), serial_(serial), stop_(eventfd(0, EFD_CLOEXEC)) {}

ConsoleInput::~ConsoleInput() { Stop(); }

void ConsoleInput::Start() { thread_ = std::thread([this] {
    SetThreadName("console");
    Loop();
  }); }

void ConsoleInput::Stop() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  (void)!write(stop_.get(), &one, sizeof one);
  thread_.join();
}

void ConsoleInput::Loop() {
  std::vector<uint8_t> pending;
  bool input_open = true;
  while (true) {
    pollfd fds[2] = {{stop_.get(), POLLIN, 0}, {input_fd_, POLLIN, 0}};
    // While bytes wait for room in the UART, poll briefly instead of blocking.
    int timeout_ms = pending.empty() ? -1 : 5;
    int n = poll(fds, input_open ? 2 : 1, timeout_ms);
    if (n < 0 && errno != EINTR) return;
    if (fds[0].revents != 0) return;
    if (input_open && (fds[1].revents & (POLLIN | POLLHUP)) && pending.size() < 4096) {
      uint8_t buf[256];
      ssize_t got = read(input_fd_, buf, sizeof buf);
      if (got > 0) {
        pending.insert(pending.end(), buf, buf + got);
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        input_open = false;  // end of input: the guest keeps running
      }
    }
    if (!pending.empty()) {
      size_t taken = serial_->Receive(pending);
      pending.erase(pending.begin(), pending.begin() + static_cast<long>(taken));
    }
  }
}

}  // namespace dvm::machine
