#include "dvm/unix_socket.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "dvm/status.h"

namespace dvm {
namespace {

int RemainingMs(SteadyTime deadline) {
  if (deadline == SteadyTime::max()) return -1;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return left.count() > 0 ? static_cast<int>(std::min<int64_t>(left.count(), INT32_MAX)) : 0;
}

}  // namespace

absl::StatusOr<sockaddr_un> UnixAddress(absl::string_view path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("socket path '", path, "' must be 1-", sizeof(addr.sun_path) - 1, " bytes"));
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

absl::StatusOr<UniqueFd> ConnectUnix(absl::string_view path, SteadyTime deadline) {
  ASSIGN_OR_RETURN(sockaddr_un addr, UnixAddress(path));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return ErrnoStatus("socket");
  // A unix socket connects at once or fails with EAGAIN (backlog full); it
  // never says EINPROGRESS, so there is nothing to poll for: retry.
  while (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return absl::UnavailableError(absl::StrCat("nothing answers on ", path, ": ", std::strerror(errno)));
    if (RemainingMs(deadline) == 0) return absl::DeadlineExceededError(absl::StrCat(path, ": its listen backlog stays full"));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return fd;
}

bool SomeoneListens(absl::string_view path) {
  absl::StatusOr<UniqueFd> fd = ConnectUnix(path, std::chrono::steady_clock::now() + std::chrono::milliseconds(200));
  return fd.ok() || absl::IsDeadlineExceeded(fd.status());
}

pid_t PeerPid(int fd) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -1;
  return cred.pid;
}

absl::Status WriteAll(int fd, absl::string_view data, SteadyTime deadline) {
  bool socket = true;
  while (!data.empty()) {
    ssize_t n = socket ? ::send(fd, data.data(), data.size(), MSG_NOSIGNAL) : ::write(fd, data.data(), data.size());
    if (n < 0 && errno == ENOTSOCK && socket) {
      socket = false;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      const int ready = ::poll(&p, 1, RemainingMs(deadline));
      if (ready == 0) return absl::DeadlineExceededError("write: timed out");
      if (ready < 0 && errno != EINTR) return ErrnoStatus("poll");
      continue;
    }
    if (n <= 0) return ErrnoStatus("write");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace dvm
