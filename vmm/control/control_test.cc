#include "vmm/control/control.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "dvm/unix_socket.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dvm::control {
namespace {

using ::testing::HasSubstr;

class FakeHandler : public Handler {
 public:
  VmStatus Status() override { return {"running", "vm1", 2, 1, pid}; }
  absl::Status Shutdown() override {
    ++shutdowns;
    return absl::OkStatus();
  }
  absl::Status Destroy() override {
    ++destroys;
    return fail_destroy ? absl::InternalError("cannot") : absl::OkStatus();
  }
  absl::StatusOr<std::string> Stats() override {
    std::this_thread::sleep_for(stats_delay);
    if (stats_text.empty()) return absl::UnavailableError("no stats here");
    return stats_text;
  }
  std::atomic<int> shutdowns{0};
  std::atomic<int> destroys{0};
  bool fail_destroy = false;
  pid_t pid = 4242;
  std::string stats_text;
  std::chrono::milliseconds stats_delay{0};
};

class ControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    handler_.pid = getpid();
    char tmpl[] = "/tmp/dvm-control-test.XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/vm.sock";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
  std::string path_;
  FakeHandler handler_;
};

TEST(ControlProtocol, RequestsMapToTheHandler) {
  FakeHandler h;
  EXPECT_EQ(HandleRequest("status", h), "ok state=running name=vm1 vcpus=2 nodes=1 pid=4242");
  EXPECT_EQ(HandleRequest("shutdown", h), "ok");
  EXPECT_EQ(HandleRequest("destroy\r", h), "ok");
  EXPECT_EQ(h.shutdowns, 1);
  EXPECT_EQ(h.destroys, 1);
  h.fail_destroy = true;
  EXPECT_EQ(HandleRequest("destroy", h), "error cannot");
  EXPECT_THAT(HandleRequest("reboot", h), HasSubstr("error unknown request 'reboot'"));
}

TEST(ControlProtocol, StatusRoundTrips) {
  VmStatus s{"running", "a.b-c", 7, 3, 99};
  auto parsed = ParseStatusReply(FormatStatusReply(s));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->name, "a.b-c");
  EXPECT_EQ(parsed->vcpus, 7u);
  EXPECT_EQ(parsed->nodes, 3u);
  EXPECT_EQ(parsed->pid, 99);
  EXPECT_FALSE(ParseStatusReply("ok name=x").ok());
  EXPECT_FALSE(ParseStatusReply("ok name=x pid=abc").ok());
  EXPECT_FALSE(ParseStatusReply("").ok());
  EXPECT_EQ(ParseStatusReply("error gone").status().message(), "gone");
}

TEST(ControlProtocol, StatsIsAMultiLineReply) {
  FakeHandler h;
  EXPECT_EQ(HandleRequest("stats", h), "error no stats here");
  h.stats_text = "node 0 DSM faults: read 3\nnode 1 DSM faults: read 4\n";
  EXPECT_EQ(HandleRequest("stats", h), "ok 2\nnode 0 DSM faults: read 3\nnode 1 DSM faults: read 4");
}

TEST(ControlProtocol, LinesReplyRoundTrips) {
  for (std::string text : std::vector<std::string>{"", "one\n", "a\n\nc d e\n"}) {
    auto back = ParseLinesReply(FormatLinesReply(text));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, text);
    back = ParseLinesReply(FormatLinesReply(text) + "\n");  // as it comes off the socket
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, text);
  }
  EXPECT_EQ(FormatLinesReply(""), "ok 0");
  EXPECT_EQ(*ParseLinesReply(FormatLinesReply("no final newline")), "no final newline\n");
  EXPECT_EQ(*ParseLinesReply(FormatLinesReply("esc \x1b[2J, tab\t\n")), "esc ?[2J, tab?\n");
}

TEST(ControlProtocol, FormatCutsTextToTheBounds) {
  std::string many_lines;
  for (int i = 0; i < 10'000; ++i) absl::StrAppend(&many_lines, "line ", i, "\n");
  std::string long_lines;
  for (int i = 0; i < 300; ++i) absl::StrAppend(&long_lines, std::string(kMaxReplyLineBytes - 1, 'x'), "\n");
  for (const std::string& text :
       std::vector<std::string>{many_lines, long_lines, std::string(3 * kMaxReplyLineBytes, 'y')}) {
    const std::string reply = FormatLinesReply(text);
    auto back = ParseLinesReply(reply);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_LE(back->size(), kMaxReplyBytes);
    EXPECT_LT(back->size(), text.size() + 1);
  }
  EXPECT_THAT(*ParseLinesReply(FormatLinesReply(many_lines)), HasSubstr("(the rest is cut"));
  EXPECT_THAT(*ParseLinesReply(FormatLinesReply(long_lines)), HasSubstr("(the rest is cut"));
  EXPECT_EQ(ParseLinesReply(FormatLinesReply(std::string(3 * kMaxReplyLineBytes, 'y')))->size(),
            kMaxReplyLineBytes + 1);
}

TEST(ControlProtocol, ParseRefusesBrokenOrOversizedReplies) {
  EXPECT_EQ(ParseLinesReply("error gone").status().message(), "gone");
  EXPECT_TRUE(absl::IsFailedPrecondition(ParseLinesReply("error gone").status()));
  for (const std::string& bad : std::vector<std::string>{"", "ok", "ok x", "ok -1", "okay 1\na", "ok 99999\na", "ok 2\na", "ok 1\na\nb",
                          "ok 1\nbell \x07", "ok 1\n\xff",
                          "ok 1\n" + std::string(kMaxReplyLineBytes + 1, 'x')}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ParseLinesReply(bad).status())) << "accepted: " << bad.substr(0, 40);
  }
  std::string too_much = absl::StrCat("ok ", kMaxReplyLines);
  for (size_t i = 0; i < kMaxReplyLines; ++i) absl::StrAppend(&too_much, "\n", std::string(200, 'z'));
  auto status = ParseLinesReply(too_much).status();
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("longer than"));
}

TEST_F(ControlTest, ServesCallsOverTheSocket) {
  handler_.pid = getpid();
  auto server = Server::Start(path_, &handler_);
  ASSERT_TRUE(server.ok()) << server.status();
  auto status = QueryStatus(path_);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->pid, getpid());
  auto reply = Call(path_, "shutdown");
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(*reply, "ok");
  EXPECT_EQ(handler_.shutdowns, 1);
  server->reset();
  EXPECT_FALSE(std::filesystem::exists(path_)) << "the socket is removed on stop";
  EXPECT_TRUE(absl::IsUnavailable(Call(path_, "status").status()));
}

TEST_F(ControlTest, ServesStatsEvenWhenTheyTakeLongerThanAClientMay) {
  for (int i = 0; i < 200; ++i) absl::StrAppend(&handler_.stats_text, "node ", i % 4, " line ", i, "\n");
  handler_.stats_delay = std::chrono::milliseconds(1500);  // more than the server's 1 s per client
  auto server = Server::Start(path_, &handler_);
  ASSERT_TRUE(server.ok());
  auto text = CallForLines(path_, "stats");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, handler_.stats_text);
  handler_.stats_text.clear();
  handler_.stats_delay = std::chrono::milliseconds(0);
  EXPECT_TRUE(absl::IsFailedPrecondition(CallForLines(path_, "stats").status()));
}

TEST_F(ControlTest, RequestsSentAllAtOnceHoldTheServerBoundedTime) {
  handler_.stats_text = "x\n";
  handler_.stats_delay = std::chrono::milliseconds(500);
  auto server = Server::Start(path_, &handler_);
  ASSERT_TRUE(server.ok());
  absl::StatusOr<UniqueFd> client = ConnectUnix(path_, std::chrono::steady_clock::now() + std::chrono::seconds(1));
  ASSERT_TRUE(client.ok()) << client.status();
  const int fd = client->get();
  std::string twenty;
  for (int i = 0; i < 20; ++i) twenty += "stats\n";  // 10 s of handler time
  ASSERT_EQ(::send(fd, twenty.data(), twenty.size(), MSG_NOSIGNAL), static_cast<ssize_t>(twenty.size()));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto start = std::chrono::steady_clock::now();
  auto status = QueryStatus(path_, std::chrono::seconds(10));
  const auto took = std::chrono::steady_clock::now() - start;
  client->reset();
  ASSERT_TRUE(status.ok()) << status.status();
  // 1 s of the client's own, 3 s of handler time, one request's overrun.
  EXPECT_LT(took, std::chrono::milliseconds(5000));
}

// Serves one connection on `path` with whatever `reply` writes, until the
// client goes away: a control socket gone wrong.
class RawServer {
 public:
  RawServer(const std::string& path, std::function<bool(int fd)> reply) {
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path.c_str());
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(listen_fd_, 1), 0);
    thread_ = std::thread([this, reply] {
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      char request[64];
      (void)!::read(fd, request, sizeof(request));
      while (reply(fd)) {
      }
      ::close(fd);
    });
  }
  ~RawServer() {
    thread_.join();
    ::close(listen_fd_);
  }

 private:
  int listen_fd_ = -1;
  std::thread thread_;
};

bool Send(int fd, const std::string& s) { return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL) > 0; }

// Waits a little; false once the client closed its end.
bool ClientStillThere(int fd) {
  pollfd p{fd, POLLIN, 0};
  ::poll(&p, 1, 50);
  char c;
  const ssize_t n = ::recv(fd, &c, 1, MSG_DONTWAIT);
  return n > 0 || (n < 0 && errno == EAGAIN);
}

TEST_F(ControlTest, AClientReadsNoMoreThanTheBoundsFromABrokenServer) {
  {
    // Lines without end: the client stops after the bytes allowed.
    RawServer server(path_, [first = true](int fd) mutable {
      std::string chunk = first ? absl::StrCat("ok ", kMaxReplyLines, "\n") : "";
      first = false;
      return Send(fd, chunk + std::string(1000, 'x') + "\n");
    });
    auto text = CallForLines(path_, "stats");
    EXPECT_TRUE(absl::IsInvalidArgument(text.status())) << text.status();
    EXPECT_THAT(text.status().message(), HasSubstr("longer than"));
  }
  std::filesystem::remove(path_);
  {
    // One endless line.
    RawServer server(path_, [first = true](int fd) mutable {
      std::string chunk = first ? "ok 1\n" : "";
      first = false;
      return Send(fd, chunk + std::string(1000, 'x'));
    });
    auto text = CallForLines(path_, "stats");
    EXPECT_TRUE(absl::IsInvalidArgument(text.status())) << text.status();
    EXPECT_THAT(text.status().message(), HasSubstr("over 4096 bytes"));
  }
  std::filesystem::remove(path_);
  {
    // Fewer lines than announced, then silence: the client's time limit.
    RawServer server(path_, [first = true](int fd) mutable {
      if (!first) return ClientStillThere(fd);
      first = false;
      return Send(fd, "ok 3\nonly one\n");
    });
    auto text = CallForLines(path_, "stats", std::chrono::milliseconds(500));
    EXPECT_TRUE(absl::IsDeadlineExceeded(text.status())) << text.status();
  }
}

TEST_F(ControlTest, ReplacesAStaleSocketButNotALiveOne) {
  {
    // A socket file nobody listens on, as a crashed VM leaves it.
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path_.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ::close(fd);
  }
  auto server = Server::Start(path_, &handler_);
  ASSERT_TRUE(server.ok()) << server.status();
  auto second = Server::Start(path_, &handler_);
  EXPECT_TRUE(absl::IsAlreadyExists(second.status())) << second.status();
  EXPECT_TRUE(QueryStatus(path_).ok()) << "the first server still answers";
}

TEST_F(ControlTest, RejectsBadPathsAndSurvivesBadClients) {
  EXPECT_FALSE(Server::Start(std::string(200, 'x'), &handler_).ok());
  auto server = Server::Start(path_, &handler_);
  ASSERT_TRUE(server.ok());
  // An overlong line is dropped without a reply; a silent client times out.
  EXPECT_FALSE(Call(path_, std::string(4000, 'a'), std::chrono::milliseconds(2000)).ok());
  {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path_.c_str());
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ::close(fd);  // connects and leaves
  }
  EXPECT_TRUE(QueryStatus(path_).ok()) << "still serving after bad clients";
}

TEST_F(ControlTest, AStatusReplyMustComeFromTheProcessItNames) {
  handler_.pid = 1;  // claims to be init
  auto server = Server::Start(path_, &handler_);
  ASSERT_TRUE(server.ok());
  auto status = QueryStatus(path_);
  EXPECT_TRUE(absl::IsFailedPrecondition(status.status())) << status.status();
  EXPECT_THAT(status.status().message(), HasSubstr("is served by process"));
}

TEST_F(ControlTest, AClientThatDribblesHoldsTheSocketAtMostASecond) {
  auto server = Server::Start(path_, &handler_);
  ASSERT_TRUE(server.ok());
  absl::StatusOr<UniqueFd> client = ConnectUnix(path_, std::chrono::steady_clock::now() + std::chrono::seconds(1));
  ASSERT_TRUE(client.ok()) << client.status();
  const int fd = client->get();
  // One byte every 300 ms, never a newline: each read restarted the time
  // limit before, so this client held the server for good.
  std::atomic<bool> stop{false};
  std::thread dribbler([&] {
    while (!stop) {
      (void)!::send(fd, "s", 1, MSG_NOSIGNAL);
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto start = std::chrono::steady_clock::now();
  auto status = QueryStatus(path_, std::chrono::seconds(5));
  const auto took = std::chrono::steady_clock::now() - start;
  stop = true;
  dribbler.join();
  client->reset();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_LT(took, std::chrono::milliseconds(2500));
}

}  // namespace
}  // namespace dvm::control
