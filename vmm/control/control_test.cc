#include "vmm/control/control.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>

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
  std::atomic<int> shutdowns{0};
  std::atomic<int> destroys{0};
  bool fail_destroy = false;
  pid_t pid = 4242;
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
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path_.c_str());
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
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
  ::close(fd);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_LT(took, std::chrono::milliseconds(2500));
}

}  // namespace
}  // namespace dvm::control
