#include "libvirt/server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "absl/strings/str_cat.h"

#include <filesystem>
#include <thread>
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
    Restart({});
  }
  ~ServerTest() override { server_->Stop(); }

  // A new server with these options (the sockets filled in).
  void Restart(ServerOptions options) {
    if (server_) server_->Stop();
    server_.reset();
    options.socket = socket_;
    options.socket_ro = socket_ + "-ro";
    server_ = std::make_unique<Server>(&procedures_, options);
    EXPECT_TRUE(server_->Start().ok());
  }
  NonnullDomain DefineOver(RawClient& c, const std::string& name, const std::string& extra = "") {
    XdrWriter define;
    define.String(testing::DomainXml(name, dir_.kernel(), 2, extra));
    std::vector<uint8_t> ret = c.Ok(static_cast<int32_t>(Proc::kDomainDefineXml), define.Take());
    XdrReader r(ret);
    return NonnullDomain::Read(r);
  }
  static std::vector<uint8_t> Args(const NonnullDomain& dom, std::optional<uint32_t> flags = std::nullopt) {
    XdrWriter w;
    dom.Write(w);
    if (flags) w.U32(*flags);
    return w.Take();
  }

  ScratchDir dir_;
  FileDomainStore store_;
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
  testing::Latch pong_read;
  launcher_.OnLaunch([&] { pong_read.WaitFor(std::chrono::seconds(10)); });
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

TEST_F(ServerTest, AClientThatDoesNotReadIsNotReadEither) {
  // Review M1: replies to a client that never reads piled up without limit.
  RawClient c(socket_);
  c.Open();
  NonnullDomain big = DefineOver(c, "big", absl::StrCat("<description>", std::string(512 << 10, 'd'), "</description>"));
  const uint64_t calls_before = server_->stats().calls.load();
  for (int i = 0; i < 40; ++i) c.Call(static_cast<int32_t>(Proc::kDomainGetXmlDesc), Args(big, 0));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const uint64_t taken = server_->stats().calls.load() - calls_before;
  EXPECT_LT(taken, 10u) << "about 1 MiB of replies is held for a client, then it is not read";
  EXPECT_GE(server_->stats().paused_reads.load(), 1u);
  for (int i = 0; i < 40; ++i) {
    auto reply = c.Read();
    ASSERT_TRUE(reply.has_value()) << i;
    EXPECT_EQ(reply->header.status, MessageStatus::kOk);
  }
  EXPECT_EQ(server_->stats().calls.load() - calls_before, 40u) << "all answered once it read";
}

TEST_F(ServerTest, CallsBehindASlowOnePauseReadingAndResume) {
  RawClient c(socket_);
  c.Open();
  NonnullDomain dom = DefineOver(c, "slow");
  testing::Latch release;
  launcher_.OnLaunch([&] { release.WaitFor(std::chrono::seconds(10)); });
  const uint64_t calls_before = server_->stats().calls.load();
  c.Call(static_cast<int32_t>(Proc::kDomainCreate), Args(dom));
  for (int i = 0; i < 20; ++i) c.Call(kHostname);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(server_->stats().calls.load() - calls_before, kMaxCallsInFlight) << "the rest is not read yet";
  release.Notify();
  auto start = c.Read();
  ASSERT_TRUE(start.has_value());
  EXPECT_EQ(start->header.procedure, static_cast<int32_t>(Proc::kDomainCreate));
  uint32_t last_serial = start->header.serial;
  for (int i = 0; i < 20; ++i) {
    auto reply = c.Read();
    ASSERT_TRUE(reply.has_value()) << i;
    EXPECT_EQ(reply->body, EncodeString("h1"));
    EXPECT_EQ(reply->header.serial, last_serial + 1) << "in order";
    last_serial = reply->header.serial;
  }
}

TEST_F(ServerTest, StartsThatWaitForVmsDoNotHoldUpQuickCalls) {
  // Review S6: four starts used to take all four workers, and a read-only
  // list waited behind them.
  testing::Latch release;
  std::atomic<int> launching{0};
  launcher_.OnLaunch([&] {
    ++launching;
    release.WaitFor(std::chrono::seconds(10));
  });
  std::vector<std::unique_ptr<RawClient>> starters;
  for (int i = 0; i < 4; ++i) {
    starters.push_back(std::make_unique<RawClient>(socket_));
    starters.back()->Open();
    NonnullDomain dom = DefineOver(*starters.back(), absl::StrCat("vm", i));
    starters.back()->Call(static_cast<int32_t>(Proc::kDomainCreate), Args(dom));
  }
  while (launching < 4) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  RawClient reader(socket_ + "-ro");
  reader.Open();
  XdrWriter list;
  list.I32(1);
  list.U32(0);
  const auto asked = std::chrono::steady_clock::now();
  reader.Ok(static_cast<int32_t>(Proc::kConnectListAllDomains), list.Take());
  EXPECT_LT(std::chrono::steady_clock::now() - asked, std::chrono::seconds(2));
  release.Notify();
  for (auto& c : starters) {
    auto reply = c->Read();
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->header.status, MessageStatus::kOk);
  }
}

TEST_F(ServerTest, SilentAndHalfSentClientsAreClosed) {
  // Review M2: a client could hold a slot for good without opening.
  Restart({.handshake_time = std::chrono::milliseconds(300), .frame_time = std::chrono::milliseconds(300)});
  RawClient silent(socket_);
  RawClient opened(socket_);
  opened.Open();
  RawClient half(socket_);
  half.Open();
  half.SendRaw({0, 0});  // half a length word
  EXPECT_FALSE(silent.Read().has_value()) << "closed: no CONNECT_OPEN in time";
  EXPECT_FALSE(half.Read().has_value()) << "closed: a frame begun and not finished";
  EXPECT_EQ(server_->stats().timed_out_connections.load(), 2u);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(opened.Ok(kHostname), EncodeString("h1")) << "an opened, idle client stays";
}

TEST_F(ServerTest, EachSocketHasItsOwnConnectionLimit) {
  Restart({.max_clients = 2, .max_clients_ro = 2});
  std::vector<std::unique_ptr<RawClient>> readers;
  for (int i = 0; i < 2; ++i) {
    readers.push_back(std::make_unique<RawClient>(socket_ + "-ro"));
    readers.back()->Open();
  }
  RawClient third(socket_ + "-ro");
  EXPECT_FALSE(third.Read().has_value()) << "refused";
  RawClient admin(socket_);
  admin.Open();
  EXPECT_EQ(admin.Ok(kHostname), EncodeString("h1")) << "read-only users do not take the read-write slots";
  EXPECT_EQ(server_->stats().refused_connections.load(), 1u);
  readers.pop_back();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  RawClient later(socket_ + "-ro");
  later.Open();
  EXPECT_EQ(later.Ok(kHostname), EncodeString("h1")) << "a slot is freed when its client leaves";
}

TEST_F(ServerTest, ReadOnlyFramesAreSmall) {
  RawClient reader(socket_ + "-ro");
  reader.Open();
  reader.SendRaw({0, 2, 0, 0});  // 128 KiB announced
  EXPECT_FALSE(reader.Read().has_value());
  RawClient admin(socket_);
  admin.Open();
  DefineOver(admin, "wide", absl::StrCat("<description>", std::string(100 << 10, 'w'), "</description>"));
}

TEST_F(ServerTest, SocketModes) {
  struct stat rw, ro;
  ASSERT_EQ(::stat(socket_.c_str(), &rw), 0);
  ASSERT_EQ(::stat((socket_ + "-ro").c_str(), &ro), 0);
  EXPECT_EQ(rw.st_mode & 0777, 0600u);
  EXPECT_EQ(ro.st_mode & 0777, 0666u);
}

TEST_F(ServerTest, ATooLongSocketPathIsAnErrorNotAnException) {
  Server long_path(&procedures_, ServerOptions{.socket = dir_.path() + "/" + std::string(120, 's')});
  absl::Status s = long_path.Start();
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
}

TEST_F(ServerTest, StopWhileACallRuns) {
  // Review S7: the pools were joined while the I/O thread still read.
  RawClient c(socket_);
  c.Open();
  NonnullDomain dom = DefineOver(c, "stopping");
  testing::Latch launching, release;
  launcher_.OnLaunch([&] {
    launching.Notify();
    release.WaitFor(std::chrono::seconds(10));
  });
  c.Call(static_cast<int32_t>(Proc::kDomainCreate), Args(dom));
  for (int i = 0; i < 5; ++i) c.Call(kHostname);
  launching.Wait();
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    release.Notify();
  });
  server_->Stop();
  releaser.join();
  EXPECT_FALSE(std::filesystem::exists(socket_));
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
