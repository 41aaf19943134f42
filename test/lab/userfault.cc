#include "test/lab/userfault.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "dvm/log.h"
#include "dvm/status.h"
#include "dvm/types.h"

namespace dvm::lab {

int64_t MonotonicNanos() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * int64_t{1000000000} + ts.tv_nsec;
}

absl::StatusOr<Userfault> Userfault::Open(uint64_t features) {
  UniqueFd fd(static_cast<int>(::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK)));
  if (!fd.valid()) return ErrnoStatus("userfaultfd");
  // Ask for nothing first to learn what the kernel offers: a UFFDIO_API that
  // asks for too much fails, and the fd can take UFFDIO_API only once.
  UniqueFd probe(static_cast<int>(::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK)));
  if (!probe.valid()) return ErrnoStatus("userfaultfd");
  uffdio_api api = {.api = UFFD_API, .features = 0};
  if (::ioctl(probe.get(), UFFDIO_API, &api) < 0) return ErrnoStatus("ioctl UFFDIO_API");
  const uint64_t available = api.features;
  if ((available & features) != features) {
    return absl::FailedPreconditionError(
        absl::StrCat("userfaultfd: kernel offers features 0x", absl::Hex(available),
                     ", test needs 0x", absl::Hex(features)));
  }
  api = {.api = UFFD_API, .features = features};
  if (::ioctl(fd.get(), UFFDIO_API, &api) < 0) return ErrnoStatus("ioctl UFFDIO_API");
  return Userfault(std::move(fd), available);
}

absl::Status Userfault::Register(void* address, size_t length, uint64_t modes) {
  uffdio_register reg = {
      .range = {.start = reinterpret_cast<uint64_t>(address), .len = length}, .mode = modes};
  if (::ioctl(fd(), UFFDIO_REGISTER, &reg) < 0) return ErrnoStatus("ioctl UFFDIO_REGISTER");
  return absl::OkStatus();
}

absl::Status Userfault::Copy(void* address, const void* source, size_t length,
                             bool write_protect) {
  uffdio_copy copy = {.dst = reinterpret_cast<uint64_t>(address),
                      .src = reinterpret_cast<uint64_t>(source),
                      .len = length,
                      .mode = write_protect ? UFFDIO_COPY_MODE_WP : 0};
  if (::ioctl(fd(), UFFDIO_COPY, &copy) < 0 && errno != EEXIST) {
    return ErrnoStatus("ioctl UFFDIO_COPY");
  }
  return absl::OkStatus();
}

absl::Status Userfault::Continue(void* address, size_t length) {
  uffdio_continue cont = {.range = {.start = reinterpret_cast<uint64_t>(address), .len = length}};
  if (::ioctl(fd(), UFFDIO_CONTINUE, &cont) < 0 && errno != EEXIST) {
    return ErrnoStatus("ioctl UFFDIO_CONTINUE");
  }
  return absl::OkStatus();
}

absl::Status Userfault::WriteProtect(void* address, size_t length, bool protect) {
  uffdio_writeprotect wp = {.range = {.start = reinterpret_cast<uint64_t>(address), .len = length},
                            .mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0};
  if (::ioctl(fd(), UFFDIO_WRITEPROTECT, &wp) < 0) return ErrnoStatus("ioctl UFFDIO_WRITEPROTECT");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<FaultServer>> FaultServer::Start(Userfault* uffd,
                                                                Handler handler) {
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC));
  if (!stop.valid()) return ErrnoStatus("eventfd");
  std::unique_ptr<FaultServer> server(new FaultServer(uffd, std::move(handler), std::move(stop)));
  server->thread_ = std::thread([s = server.get()] { s->Serve(); });
  return server;
}

FaultServer::FaultServer(Userfault* uffd, Handler handler, UniqueFd stop)
    : uffd_(uffd), handler_(std::move(handler)), stop_(std::move(stop)) {}

FaultServer::~FaultServer() {
  const uint64_t one = 1;
  if (::write(stop_.get(), &one, sizeof(one)) < 0) {
    DVM_CHECK(false) << "eventfd write failed";
  }
  thread_.join();
}

std::vector<Fault> FaultServer::faults() const {
  MutexLock lock(&mu_);
  return faults_;
}

absl::Status FaultServer::status() const {
  MutexLock lock(&mu_);
  return status_;
}

// After a failed handler: resolve the fault somehow, so the faulting vCPU
// thread (uninterruptible inside KVM_RUN) wakes and the test fails on its
// checks instead of hanging until the lab's time limit.
void FaultServer::Unblock(const Fault& fault) {
  void* page = reinterpret_cast<void*>(fault.address);
  if (fault.wp) {
    (void)uffd_->WriteProtect(page, kPageSize, false);
  } else if (fault.minor) {
    (void)uffd_->Continue(page, kPageSize);
  } else {
    static const uint8_t kZeros[kPageSize] = {};
    (void)uffd_->Copy(page, kZeros, kPageSize, false);
  }
}

void FaultServer::Serve() {
  pollfd fds[2] = {{.fd = uffd_->fd(), .events = POLLIN}, {.fd = stop_.get(), .events = POLLIN}};
  while (true) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      MutexLock lock(&mu_);
      status_.Update(ErrnoStatus("poll userfaultfd"));
      return;
    }
    if (fds[1].revents != 0) return;
    uffd_msg msg;
    const ssize_t n = ::read(uffd_->fd(), &msg, sizeof(msg));
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n != sizeof(msg) || msg.event != UFFD_EVENT_PAGEFAULT) {
      MutexLock lock(&mu_);
      status_.Update(n < 0 ? ErrnoStatus("read userfaultfd")
                           : absl::InternalError(absl::StrCat("unexpected uffd event ", msg.event)));
      continue;
    }
    const uint64_t flags = msg.arg.pagefault.flags;
    Fault fault = {.address = AlignDown(msg.arg.pagefault.address, kPageSize),
                   .write = (flags & UFFD_PAGEFAULT_FLAG_WRITE) != 0,
                   .wp = (flags & UFFD_PAGEFAULT_FLAG_WP) != 0,
                   .minor = (flags & UFFD_PAGEFAULT_FLAG_MINOR) != 0};
    // Record before resolving: the resolve wakes the vCPU, and the test may
    // look at faults() as soon as the vCPU exits.
    size_t index;
    {
      MutexLock lock(&mu_);
      index = faults_.size();
      faults_.push_back(fault);
    }
    absl::Status handled = handler_(fault);
    if (!handled.ok()) Unblock(fault);
    MutexLock lock(&mu_);
    faults_[index].resolved_ns = MonotonicNanos();
    status_.Update(handled);
  }
}

}  // namespace dvm::lab
