// The control socket of a running VM: a unix socket per VM that `dvm run`
// serves and dvmd and the `dvm` command use to ask about and end the VM.
//
// Protocol: a client sends one request line and reads one reply line (each
// at most kMaxLineBytes, ending in '\n'); it may send more on the same
// connection. Requests:
//   status     -> "ok state=running name=NAME vcpus=N nodes=M pid=P"
//   shutdown   -> "ok": presses the ACPI power button; the guest decides
//   destroy    -> "ok": stops the VM now (the guest gets no say), `dvm run`
//                 then exits with status 130
//   stats      -> "ok N" and then N more lines: every node's statistics
//                 (node 0 asks the others; it may take about a second)
// Anything else -> "error MESSAGE". The socket is created mode 0600.
//
// A multi-line reply ("ok N" and N lines) is bounded three ways: at most
// kMaxReplyLines lines, each at most kMaxReplyLineBytes, all together at most
// kMaxReplyBytes, all printable ASCII. The server cuts its text to fit (its
// last line then says so); a client refuses a reply that breaks any bound
// and reads nothing past it, so a broken server cannot make it hold more.
#ifndef DVM_VMM_CONTROL_CONTROL_H_
#define DVM_VMM_CONTROL_CONTROL_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dvm/unique_fd.h"

namespace dvm::control {

inline constexpr size_t kMaxLineBytes = 512;
// A node's statistics are a few KiB (vmm/cluster caps each at 4 KiB), and a
// VM has at most 64 nodes.
inline constexpr size_t kMaxReplyLines = 4096;
inline constexpr size_t kMaxReplyLineBytes = 4096;
inline constexpr size_t kMaxReplyBytes = 512 * 1024;

struct VmStatus {
  std::string state = "running";
  std::string name;
  uint32_t vcpus = 0;
  uint32_t nodes = 0;
  pid_t pid = 0;
};

class Handler {
 public:
  virtual ~Handler() = default;
  virtual VmStatus Status() = 0;
  virtual absl::Status Shutdown() = 0;
  virtual absl::Status Destroy() = 0;
  // Every node's statistics as text, lines ending in '\n'.
  virtual absl::StatusOr<std::string> Stats() = 0;
};

// The pure part: one request line (without '\n') -> one reply line (without '\n').
std::string HandleRequest(absl::string_view request, Handler& handler);
std::string FormatStatusReply(const VmStatus& status);
absl::StatusOr<VmStatus> ParseStatusReply(absl::string_view reply);

// Multi-line replies (see the bounds above). Format cuts `text` to the bounds
// and replaces unprintable bytes with '?'; the result has no final '\n'.
std::string FormatLinesReply(absl::string_view text);
// The header: the number of lines that follow, or the server's error
// (FailedPrecondition with its message) or a malformed header (InvalidArgument).
absl::StatusOr<size_t> ParseLinesHeader(absl::string_view header);
// Checks one line and appends it and '\n' to `text`; an error if the line
// is too long, unprintable, or would take `text` past kMaxReplyBytes.
absl::Status AppendReplyLine(absl::string_view line, std::string* text);
// A whole reply as one string (header, lines, optional final '\n') -> text.
absl::StatusOr<std::string> ParseLinesReply(absl::string_view reply);

// Serves a socket on its own thread until destroyed; then removes the socket.
class Server {
 public:
  // Fails if `path` is too long for a unix socket, or another live server
  // answers on it (a stale socket file is replaced).
  static absl::StatusOr<std::unique_ptr<Server>> Start(const std::string& path, Handler* handler);
  ~Server();

 private:
  Server(std::string path, UniqueFd listen_fd, UniqueFd stop_fd, Handler* handler);
  void Loop();
  void Serve(int fd);

  std::string path_;
  UniqueFd listen_fd_;
  UniqueFd stop_fd_;  // eventfd: written to stop the thread
  Handler* handler_;
  std::thread thread_;
};

// Connects, sends `request`, returns the reply line (without '\n'). Errors:
// Unavailable when nothing listens on `path`, DeadlineExceeded on timeout.
absl::StatusOr<std::string> Call(const std::string& path, absl::string_view request,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(5));

// Sends `request` and reads a multi-line reply; returns its text (each line
// ending in '\n'). Errors as Call, plus FailedPrecondition for the server's
// "error ..." and InvalidArgument for a reply that breaks the bounds.
absl::StatusOr<std::string> CallForLines(const std::string& path, absl::string_view request,
                                         std::chrono::milliseconds timeout = std::chrono::seconds(5));

// Call(path, "status") parsed.
absl::StatusOr<VmStatus> QueryStatus(const std::string& path,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace dvm::control

#endif  // DVM_VMM_CONTROL_CONTROL_H_
