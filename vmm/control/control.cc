#include "vmm/control/control.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "dvm/log.h"
#include "dvm/status.h"
#include "dvm/thread_name.h"
#include "dvm/unix_socket.h"

namespace dvm::control {
namespace {

using Clock = std::chrono::steady_clock;

// A client connection gets this long in all (reading its lines, taking the
// replies): the server serves one client at a time, so a stuck client holds
// up the others at most this long.
constexpr std::chrono::milliseconds kClientTime{1000};
// The time the handler takes (stats wait up to a second for other nodes) is
// not the client's: it is added to the client's time, up to this much per
// connection, so that a client that sends many requests at once cannot hold
// the server much longer either.
constexpr std::chrono::milliseconds kHandlerTime{3000};

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Reads up to '\n' (not included), a line of at most `max_bytes`. False on
// EOF, error, overlong line or timeout.
bool ReadLine(int fd, Clock::time_point deadline, size_t max_bytes, std::string* line, std::string* buffer) {
  while (true) {
    if (size_t nl = buffer->find('\n'); nl != std::string::npos) {
      if (nl > max_bytes) return false;
      *line = buffer->substr(0, nl);
      buffer->erase(0, nl + 1);
      return true;
    }
    if (buffer->size() > max_bytes) return false;
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, RemainingMs(deadline));
    if (ready <= 0) return false;
    char chunk[4096];
    const ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n <= 0) return false;
    buffer->append(chunk, static_cast<size_t>(n));
  }
}

bool Printable(char c) { return c >= 0x20 && c < 0x7f; }

// The last line of a reply that did not fit.
constexpr absl::string_view kCutNote = "(the rest is cut: a control reply holds at most 4096 lines, 512 KiB)";

}  // namespace

std::string FormatStatusReply(const VmStatus& s) {
  return absl::StrCat("ok state=", s.state, " name=", s.name, " vcpus=", s.vcpus, " nodes=", s.nodes, " pid=", s.pid);
}

absl::StatusOr<VmStatus> ParseStatusReply(absl::string_view reply) {
  if (absl::StartsWith(reply, "error ")) return absl::FailedPreconditionError(reply.substr(6));
  std::vector<absl::string_view> words = absl::StrSplit(reply, ' ', absl::SkipEmpty());
  if (words.empty() || words[0] != "ok") return absl::InvalidArgumentError(absl::StrCat("bad status reply: ", reply));
  VmStatus s;
  bool have_pid = false;
  for (size_t i = 1; i < words.size(); ++i) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(words[i], absl::MaxSplits('=', 1));
    if (kv.first == "state") {
      s.state = std::string(kv.second);
    } else if (kv.first == "name") {
      s.name = std::string(kv.second);
    } else if (kv.first == "vcpus") {
      if (!absl::SimpleAtoi(kv.second, &s.vcpus)) return absl::InvalidArgumentError("bad vcpus in status reply");
    } else if (kv.first == "nodes") {
      if (!absl::SimpleAtoi(kv.second, &s.nodes)) return absl::InvalidArgumentError("bad nodes in status reply");
    } else if (kv.first == "pid") {
      if (!absl::SimpleAtoi(kv.second, &s.pid)) return absl::InvalidArgumentError("bad pid in status reply");
      have_pid = true;
    }  // later versions may add keys
  }
  if (!have_pid || s.name.empty()) return absl::InvalidArgumentError(absl::StrCat("incomplete status reply: ", reply));
  return s;
}

std::string FormatLinesReply(absl::string_view text) {
  if (text.empty()) return "ok 0";
  if (text.back() == '\n') text.remove_suffix(1);
  std::string body;  // "\nLINE" per line: as many bytes as the client's text
  size_t count = 0;
  bool cut = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = line.substr(0, kMaxReplyLineBytes);  // longer lines lose their end
    // Room for this line and for the note that would follow a cut.
    if (count + 2 > kMaxReplyLines || body.size() + line.size() + kCutNote.size() + 2 > kMaxReplyBytes) {
      cut = true;
      break;
    }
    body += '\n';
    for (char c : line) body += Printable(c) ? c : '?';
    ++count;
  }
  if (cut) {
    absl::StrAppend(&body, "\n", kCutNote);
    ++count;
  }
  return absl::StrCat("ok ", count, body);
}

absl::StatusOr<size_t> ParseLinesHeader(absl::string_view header) {
  if (absl::StartsWith(header, "error ")) return absl::FailedPreconditionError(header.substr(6));
  uint64_t lines = 0;
  if (!absl::StartsWith(header, "ok ") || !absl::SimpleAtoi(header.substr(3), &lines)) {
    return absl::InvalidArgumentError(absl::StrCat("bad reply header '", header.substr(0, 64), "'"));
  }
  if (lines > kMaxReplyLines) {
    return absl::InvalidArgumentError(
        absl::StrCat("the reply announces ", lines, " lines; the limit is ", kMaxReplyLines));
  }
  return static_cast<size_t>(lines);
}

absl::Status AppendReplyLine(absl::string_view line, std::string* text) {
  if (line.size() > kMaxReplyLineBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("a reply line of ", line.size(), " bytes; the limit is ", kMaxReplyLineBytes));
  }
  for (char c : line) {
    // The text goes to a terminal.
    if (!Printable(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("an unprintable byte (", static_cast<int>(static_cast<uint8_t>(c)), ") in the reply"));
    }
  }
  if (text->size() + line.size() + 1 > kMaxReplyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("the reply is longer than ", kMaxReplyBytes, " bytes"));
  }
  absl::StrAppend(text, line, "\n");
  return absl::OkStatus();
}

absl::StatusOr<std::string> ParseLinesReply(absl::string_view reply) {
  size_t nl = reply.find('\n');
  ASSIGN_OR_RETURN(size_t lines, ParseLinesHeader(reply.substr(0, nl)));
  reply = nl == absl::string_view::npos ? absl::string_view() : reply.substr(nl + 1);
  std::string text;
  for (size_t i = 0; i < lines; ++i) {
    if (reply.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("the reply ends after ", i, " of ", lines, " lines"));
    }
    nl = reply.find('\n');
    RETURN_IF_ERROR(AppendReplyLine(reply.substr(0, nl), &text));
    reply = nl == absl::string_view::npos ? absl::string_view() : reply.substr(nl + 1);
  }
  if (!reply.empty()) return absl::InvalidArgumentError("the reply has more lines than it announces");
  return text;
}

std::string HandleRequest(absl::string_view request, Handler& handler) {
  if (!request.empty() && request.back() == '\r') request.remove_suffix(1);
  absl::Status result;
  if (request == "status") return FormatStatusReply(handler.Status());
  if (request == "stats") {
    absl::StatusOr<std::string> text = handler.Stats();
    return text.ok() ? FormatLinesReply(*text) : absl::StrCat("error ", text.status().message());
  }
  if (request == "shutdown") {
    result = handler.Shutdown();
  } else if (request == "destroy") {
    result = handler.Destroy();
  } else {
    return absl::StrCat("error unknown request '", request.substr(0, 64), "' (status, stats, shutdown, destroy)");
  }
  return result.ok() ? "ok" : absl::StrCat("error ", result.message());
}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const std::string& path, Handler* handler) {
  ASSIGN_OR_RETURN(sockaddr_un addr, UnixAddress(path));
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return absl::AlreadyExistsError(absl::StrCat(path, " exists and is not a socket"));
    if (Call(path, "status", std::chrono::milliseconds(500)).ok()) {
      return absl::AlreadyExistsError(absl::StrCat("another VM answers on ", path));
    }
    ::unlink(path.c_str());  // stale: its VM is gone
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoStatus("socket");
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return ErrnoStatus(absl::StrCat("bind ", path));
  }
  // Only the owner may connect: the socket can stop the VM. (Not umask: it is
  // process-wide and other threads may be creating files.)
  if (::chmod(path.c_str(), 0600) != 0) return ErrnoStatus(absl::StrCat("chmod ", path));
  if (::listen(fd.get(), 8) != 0) return ErrnoStatus(absl::StrCat("listen ", path));
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC));
  if (!stop) return ErrnoStatus("eventfd");
  return std::unique_ptr<Server>(new Server(path, std::move(fd), std::move(stop), handler));
}

Server::Server(std::string path, UniqueFd listen_fd, UniqueFd stop_fd, Handler* handler)
    : path_(std::move(path)), listen_fd_(std::move(listen_fd)), stop_fd_(std::move(stop_fd)), handler_(handler) {
  thread_ = std::thread([this] {
    SetThreadName("control");
    Loop();
  });
}

Server::~Server() {
  const uint64_t one = 1;
  (void)!::write(stop_fd_.get(), &one, sizeof(one));
  thread_.join();
  ::unlink(path_.c_str());
}

void Server::Loop() {
  while (true) {
    pollfd fds[2] = {{listen_fd_.get(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      DVM_LOG(ERROR) << "control socket " << path_ << ": poll: " << std::strerror(errno);
      return;
    }
    if (fds[1].revents != 0) return;
    UniqueFd client(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client) continue;
    // A reply that cannot be sent in time is dropped with the client.
    timeval send_timeout{0, static_cast<suseconds_t>(kClientTime.count() * 1000)};
    ::setsockopt(client.get(), SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof(send_timeout));
    Serve(client.get());
  }
}

void Server::Serve(int fd) {
  std::string buffer;
  std::string line;
  Clock::time_point deadline = Clock::now() + kClientTime;
  Clock::duration handler_budget = kHandlerTime;
  // Checked before each request too: requests sent all at once are read
  // from the buffer without waiting.
  while (RemainingMs(deadline) > 0 && ReadLine(fd, deadline, kMaxLineBytes, &line, &buffer)) {
    const Clock::time_point start = Clock::now();
    std::string reply = HandleRequest(line, *handler_);
    const Clock::duration extra = std::min<Clock::duration>(Clock::now() - start, handler_budget);
    handler_budget -= extra;
    deadline += extra;
    if (!WriteAll(fd, reply + "\n", deadline).ok()) return;
  }
}

namespace {

// One request on an open connection.
absl::StatusOr<std::string> Exchange(int fd, const std::string& path, absl::string_view request,
                                     Clock::time_point deadline) {
  if (absl::Status s = WriteAll(fd, absl::StrCat(request, "\n"), deadline); !s.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot send to ", path, ": ", s.message()));
  }
  std::string buffer;
  std::string line;
  if (!ReadLine(fd, deadline, kMaxLineBytes, &line, &buffer)) {
    return RemainingMs(deadline) == 0 ? absl::DeadlineExceededError(absl::StrCat("no reply from ", path))
                                      : absl::UnavailableError(absl::StrCat(path, " closed without a reply"));
  }
  return line;
}

// Sends `request`, then reads the "ok N" header and N lines, checking every
// bound before it reads on.
absl::StatusOr<std::string> ExchangeLines(int fd, const std::string& path, absl::string_view request,
                                          Clock::time_point deadline) {
  if (absl::Status s = WriteAll(fd, absl::StrCat(request, "\n"), deadline); !s.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot send to ", path, ": ", s.message()));
  }
  std::string buffer;
  std::string line;
  size_t lines = 0;
  std::string text;
  for (size_t i = 0; i <= lines; ++i) {
    const size_t max_bytes = i == 0 ? kMaxLineBytes : kMaxReplyLineBytes;
    if (!ReadLine(fd, deadline, max_bytes, &line, &buffer)) {
      if (RemainingMs(deadline) == 0) return absl::DeadlineExceededError(absl::StrCat("no whole reply from ", path));
      if (buffer.size() > max_bytes || buffer.find('\n') != std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat(path, " sent a reply line over ", max_bytes, " bytes"));
      }
      return absl::UnavailableError(i == 0 ? absl::StrCat(path, " closed without a reply")
                                           : absl::StrCat(path, " closed after ", i - 1, " of ", lines, " lines"));
    }
    if (i == 0) {
      ASSIGN_OR_RETURN(lines, ParseLinesHeader(line));
    } else {
      RETURN_IF_ERROR(AppendReplyLine(line, &text));
    }
  }
  return text;
}

absl::StatusOr<UniqueFd> Connect(const std::string& path, Clock::time_point deadline) {
  absl::StatusOr<UniqueFd> fd = ConnectUnix(path, deadline);
  if (absl::IsUnavailable(fd.status())) {
    return absl::UnavailableError(absl::StrCat("no VM answers on ", path, ": ", fd.status().message()));
  }
  return fd;
}

}  // namespace

absl::StatusOr<std::string> Call(const std::string& path, absl::string_view request,
                                 std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  ASSIGN_OR_RETURN(UniqueFd fd, Connect(path, deadline));
  return Exchange(fd.get(), path, request, deadline);
}

absl::StatusOr<std::string> CallForLines(const std::string& path, absl::string_view request,
                                         std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  ASSIGN_OR_RETURN(UniqueFd fd, Connect(path, deadline));
  return ExchangeLines(fd.get(), path, request, deadline);
}

absl::StatusOr<VmStatus> QueryStatus(const std::string& path, std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  ASSIGN_OR_RETURN(UniqueFd fd, Connect(path, deadline));
  ASSIGN_OR_RETURN(std::string reply, Exchange(fd.get(), path, "status", deadline));
  ASSIGN_OR_RETURN(VmStatus status, ParseStatusReply(reply));
  // The kernel says who serves the socket; the reply only claims it.
  if (const pid_t peer = PeerPid(fd.get()); peer != status.pid) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is served by process ", peer, ", but its status reply says pid ", status.pid));
  }
  return status;
}

}  // namespace dvm::control
