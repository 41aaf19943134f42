#include "libvirt/server.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libvirt/fake_launcher.h"
#include "libvirt/test_util.h"

namespace dvm::libvirt {
namespace {

using ::testing::HasSubstr;
using testing::ScratchDir;

// A bare client that speaks the framing by hand, to send what virsh never would.
class RawClient {
 public:
  explicit RawClient(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~RawClient() { ::close(fd_); }
  bool connected() const { return connected_; }

  void SendRaw(const std::vector<uint8_t>& bytes) { (void)!::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL); }
  void Send(Header h, const std::vector<uint8_t>& body = {}) { SendRaw(EncodeFrame(h, body)); }
  void Call(int32_t proc, const std::vector<uint8_t>& body = {}, uint32_t program = kRemoteProgram) {
    Send(Header{program, kRemoteVersion, proc, MessageType::kCall, ++serial_, MessageStatus::kOk}, body);
  }

  struct Frame {
    Header header;
    std::vector<uint8_t> body;
  };
  // The next frame, or nullopt when the server closed the connection.
  std::optional<Frame> Read() {
    std::vector<uint8_t> length(4);
    if (!ReadExactly(length)) return std::nullopt;
    auto n = ParseFrameLength(std::span<const uint8_t, 4>(length.data(), 4));
    if (!n.ok()) return std::nullopt;
    std::vector<uint8_t> rest(*n - 4);
    if (!ReadExactly(rest)) return std::nullopt;
    Frame f{*DecodeHeader(rest), {rest.begin() + kHeaderBytes, rest.end()}};
    return f;
  }
  // Calls and expects an OK reply; returns its body.
  std::vector<uint8_t> Ok(int32_t proc, const std::vector<uint8_t>& body = {}) {
    Call(proc, body);
    auto f = Read();
    EXPECT_TRUE(f.has_value());
    if (!f) return {};
    EXPECT_EQ(f->header.serial, serial_);
    EXPECT_EQ(f->header.status, MessageStatus::kOk) << RemoteError::Decode(f->body)->message.value_or("");
    return f->body;
  }
  void Open() {
    Ok(static_cast<int32_t>(Proc::kAuthList));
    XdrWriter w;
    w.OptionalString("dvm:///system");
    w.U32(0);
    Ok(static_cast<int32_t>(Proc::kConnectOpen), w.Take());
  }

 private:
  bool ReadExactly(std::vector<uint8_t>& buf) {
    size_t got = 0;
    while (got < buf.size()) {
      ssize_t n = ::recv(fd_, buf.data() + got, buf.size() - got, 0);
      if (n <= 0) return false;
      got += static_cast<size_t>(n);
    }
    return true;
  }
  int fd_ = -1;
  bool connected_ = false;
  uint32_t serial_ = 0;
};

class ServerTest : public ::testing::Test {
 protected:
  ServerTest()
      : store_(dir_.path() + "/domains"),
        registry_(&store_, &launcher_, spec::HostLimits{64 * kGiB}),
        procedures_(&registry_, DaemonInfo{.hostname = "h1"}),
        socket_(dir_.path() + "/sock") {
    registry_.Load();
    server_ = std::make_unique<Server>(&procedures_, ServerOptions{.socket = socket_, .socket_ro = socket_ + "-ro"});
    EXPECT_TRUE(server_->Start().ok());
  }
  ~ServerTest() override { server_->Stop(); }

  ScratchDir dir_;
  DomainStore store_;
  FakeLauncher launcher_;
  DomainRegistry registry_;
  Procedures procedures_;
  std::string socket_;
  std::unique_ptr<Server> server_;
};

const int32_t kHostname = static_cast<int32_t>(Proc::kConnectGetHostname);

TEST_F(ServerTest, AnswersCallsAndKeepalive) {
  RawClient c(socket_);
  ASSERT_TRUE(c.connected());
  c.Open();
  EXPECT_EQ(c.Ok(kHostname), EncodeString("h1"));
  c.Send(Header{kKeepaliveProgram, kKeepaliveVersion, kKeepalivePing, MessageType::kMessage, 0, MessageStatus::kOk});
  auto pong = c.Read();
  ASSERT_TRUE(pong.has_value());
  EXPECT_EQ(pong->header.program, kKeepaliveProgram);
  EXPECT_EQ(pong->header.procedure, kKeepalivePong);
  EXPECT_EQ(c.Ok(kHostname), EncodeString("h1"));
}

TEST_F(ServerTest, KeepaliveIsAnsweredDuringALongCall) {
  RawClient c(socket_);
  c.Open();
  XdrWriter define;
  define.String(testing::DomainXml("slow", dir_.kernel()));
  std::vector<uint8_t> ret = c.Ok(static_cast<int32_t>(Proc::kDomainDefineXml), define.Take());
  XdrReader r(ret);
  NonnullDomain dom = NonnullDomain::Read(r);
  // The start does not finish before the PONG has been read.
  absl::Notification pong_read;
  launcher_.OnLaunch([&] { pong_read.WaitForNotificationWithTimeout(absl::Seconds(10)); });
  XdrWriter start;
  dom.Write(start);
  c.Call(static_cast<int32_t>(Proc::kDomainCreate), start.Take());
  c.Send(Header{kKeepaliveProgram, kKeepaliveVersion, kKeepalivePing, MessageType::kMessage, 0, MessageStatus::kOk});
  auto first = c.Read();
  pong_read.Notify();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->header.program, kKeepaliveProgram) << "the PONG comes before the start's reply";
  auto second = c.Read();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->header.procedure, static_cast<int32_t>(Proc::kDomainCreate));
  EXPECT_EQ(second->header.status, MessageStatus::kOk);
}

TEST_F(ServerTest, WellFramedNonsenseGetsAnErrorAndTheConnectionGoesOn) {
  RawClient c(socket_);
  c.Open();
  c.Call(kHostname, {}, /*program=*/0x12345678);
  auto wrong_program = c.Read();
  ASSERT_TRUE(wrong_program.has_value());
  EXPECT_EQ(wrong_program->header.status, MessageStatus::kError);
  EXPECT_THAT(*RemoteError::Decode(wrong_program->body)->message, HasSubstr("cannot find program 0x12345678"));
  c.Call(4242);
  auto unknown = c.Read();
  ASSERT_TRUE(unknown.has_value());
  EXPECT_EQ(RemoteError::Decode(unknown->body)->code, static_cast<int32_t>(ErrorCode::kNoSupport));
  c.Call(kHostname, {1, 2, 3});  // arguments where there are none, unaligned
  auto bad_args = c.Read();
  ASSERT_TRUE(bad_args.has_value());
  EXPECT_EQ(bad_args->header.status, MessageStatus::kError);
  EXPECT_EQ(c.Ok(kHostname), EncodeString("h1"));
  EXPECT_EQ(server_->stats().error_replies.load(), 3u);
}

TEST_F(ServerTest, ABrokenFrameClosesOnlyThatConnection) {
  RawClient good(socket_);
  good.Open();
  RawClient oversized(socket_);
  oversized.SendRaw({0x7f, 0xff, 0xff, 0xff});
  EXPECT_FALSE(oversized.Read().has_value()) << "closed";
  RawClient tiny(socket_);
  tiny.SendRaw({0, 0, 0, 8, 0, 0, 0, 0});
  EXPECT_FALSE(tiny.Read().has_value());
  RawClient bad_type(socket_);
  std::vector<uint8_t> frame = EncodeFrame(Header{}, {});
  frame[4 + 15] = 77;
  bad_type.SendRaw(frame);
  EXPECT_FALSE(bad_type.Read().has_value());
  {
    RawClient half(socket_);
    half.SendRaw({0, 0, 1, 0, 0x20, 0});  // a partial frame, then gone
  }
  EXPECT_EQ(good.Ok(kHostname), EncodeString("h1")) << "the other client is served throughout";
  EXPECT_EQ(server_->stats().dropped_connections.load(), 3u);
}

TEST_F(ServerTest, ReadOnlySocketRefusesChanges) {
  RawClient c(socket_ + "-ro");
  c.Open();
  XdrWriter w;
  w.String("<domain/>");
  c.Call(static_cast<int32_t>(Proc::kDomainDefineXml), w.Take());
  auto r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(RemoteError::Decode(r->body)->code, static_cast<int32_t>(ErrorCode::kOperationDenied));
}

TEST_F(ServerTest, ManyClientsAtOnce) {
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 20; ++i) {
    clients.push_back(std::make_unique<RawClient>(socket_));
    clients.back()->Open();
  }
  for (auto& c : clients) EXPECT_EQ(c->Ok(kHostname), EncodeString("h1"));
}

TEST_F(ServerTest, ASecondDaemonDoesNotTakeALiveSocket) {
  Server second(&procedures_, ServerOptions{.socket = socket_});
  absl::Status s = second.Start();
  EXPECT_TRUE(absl::IsAlreadyExists(s)) << s;
  RawClient c(socket_);
  c.Open();
  EXPECT_EQ(c.Ok(kHostname), EncodeString("h1"));
}

}  // namespace
}  // namespace dvm::libvirt
