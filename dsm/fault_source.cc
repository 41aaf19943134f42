#include "dsm/fault_source.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include "dvm/status.h"
#include "dvm/thread_name.h"

namespace dvm::dsm {

FaultSource::FaultSource(memory::Userfaultfd* uffd, Handler handler, ErrorHandler on_error)
    : uffd_(uffd), handler_(std::move(handler)), on_error_(std::move(on_error)) {}

absl::Status FaultSource::Start(int threads) {
  stop_ = UniqueFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_.valid()) return ErrnoStatus("eventfd");
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] {
    SetThreadName("dsm-fault");
    Loop();
  });
  return absl::OkStatus();
}

void FaultSource::Stop() {
  if (threads_.empty()) return;
  uint64_t one = 1;
  if (write(stop_.get(), &one, sizeof(one)) != sizeof(one)) {
    // An eventfd write only fails on counter overflow; the threads still see
    // it readable.
  }
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void FaultSource::Loop() {
  std::array<memory::Fault, 32> faults;
  for (;;) {
    std::array<pollfd, 2> fds = {pollfd{uffd_->fd(), POLLIN, 0}, pollfd{stop_.get(), POLLIN, 0}};
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      on_error_(ErrnoStatus("poll userfaultfd"));
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) {
      on_error_(absl::InternalError("userfaultfd reported an error or hangup"));
      return;
    }
    absl::StatusOr<size_t> n = uffd_->ReadFaults(faults);
    if (!n.ok()) {
      on_error_(n.status());
      return;
    }
    if (*n > 0) handler_(std::span<const memory::Fault>(faults.data(), *n));
  }
}

}  // namespace dvm::dsm
