// Unix-socket helpers shared by dvmd's RPC server, the per-VM control socket
// and their clients, so the path checks and time limits are the same everywhere.
#ifndef DVM_UNIX_SOCKET_H_
#define DVM_UNIX_SOCKET_H_

#include <sys/types.h>
#include <sys/un.h>

#include <chrono>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dvm/unique_fd.h"

namespace dvm {

using SteadyTime = std::chrono::steady_clock::time_point;

// The address of `path`; InvalidArgument when it is empty or does not fit
// sun_path (107 bytes), instead of being cut short.
absl::StatusOr<sockaddr_un> UnixAddress(absl::string_view path);

// Connects to the stream socket at `path` without waiting past `deadline`: a
// plain connect() blocks for as long as the server's listen backlog is full.
// The descriptor returned is non-blocking and close-on-exec. Errors:
// Unavailable when nothing listens, DeadlineExceeded when the backlog stayed full.
absl::StatusOr<UniqueFd> ConnectUnix(absl::string_view path, SteadyTime deadline);

// True if a server answers on `path` (a full backlog counts as answering).
bool SomeoneListens(absl::string_view path);

// The pid of the process that created the listening socket `fd` is connected
// to (SO_PEERCRED), or -1.
pid_t PeerPid(int fd);

// Writes all of `data`. On a socket without SIGPIPE; on a non-blocking
// descriptor waits with poll() until `deadline` (DeadlineExceeded after it).
absl::Status WriteAll(int fd, absl::string_view data, SteadyTime deadline = SteadyTime::max());

}  // namespace dvm

#endif  // DVM_UNIX_SOCKET_H_
