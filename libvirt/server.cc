#include "libvirt/server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <boost/asio.hpp>
#include <deque>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "dvm/log.h"
#include "dvm/mutex.h"
#include "dvm/status.h"
#include "libvirt/vir_error.h"

namespace dvm::libvirt {

namespace asio = boost::asio;
using Local = asio::local::stream_protocol;
using boost::system::error_code;

namespace {

// True if a server answers on `path` (then it is not ours to replace).
bool SomeoneListens(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  const bool live = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return live;
}

constexpr size_t kMaxCallsInFlight = 8;

std::vector<uint8_t> ErrorReplyFrame(const Header& call, ErrorCode code, const std::string& message) {
  Header h = call;
  h.type = MessageType::kReply;
  h.status = MessageStatus::kError;
  RemoteError e;
  e.code = static_cast<int32_t>(code);
  e.domain = kFromRpc;
  e.message = message;
  return EncodeFrame(h, e.Encode());
}

}  // namespace

class Server::Impl {
 public:
  Impl(Procedures* procedures, ServerOptions options, ServerStats* stats)
      : procedures_(procedures), options_(std::move(options)), stats_(stats), workers_(options_.workers) {}

  ~Impl() { Stop(); }

  absl::Status Start() {
    RETURN_IF_ERROR(Listen(options_.socket, 0600, false));
    if (!options_.socket_ro.empty()) RETURN_IF_ERROR(Listen(options_.socket_ro, 0666, true));
    for (auto& a : acceptors_) Accept(*a);
    io_thread_ = std::thread([this] { io_.run(); });
    return absl::OkStatus();
  }

  void Stop() {
    if (stopped_.exchange(true)) return;
    asio::post(io_, [this] {
      for (auto& a : acceptors_) {
        error_code ignored;
        a->acceptor.close(ignored);
      }
      for (auto& weak : conns_) {
        if (auto c = weak.lock()) c->Close();
      }
    });
    work_guard_.reset();
    workers_.join();
    io_.stop();
    if (io_thread_.joinable()) io_thread_.join();
    for (auto& a : acceptors_) ::unlink(a->path.c_str());
  }

 private:
  struct Acceptor {
    Acceptor(asio::io_context& io, std::string p, bool ro) : acceptor(io), path(std::move(p)), read_only(ro) {}
    Local::acceptor acceptor;
    std::string path;
    bool read_only;
  };

  class Conn : public std::enable_shared_from_this<Conn> {
   public:
    Conn(Impl* server, Local::socket socket, bool read_only)
        : server_(server), socket_(std::move(socket)), strand_(asio::make_strand(server->workers_)) {
      state_.read_only_socket = read_only;
    }
    ~Conn() { --server_->active_; }

    void Begin() { ReadLength(); }

    void Close() {
      error_code ignored;
      socket_.shutdown(Local::socket::shutdown_both, ignored);
      socket_.close(ignored);
    }

   private:
    void ReadLength() {
      auto self = shared_from_this();
      asio::async_read(socket_, asio::buffer(length_word_), [this, self](error_code ec, size_t) {
        if (ec) return Close();
        absl::StatusOr<uint32_t> length = ParseFrameLength(std::span<const uint8_t, kLengthBytes>(length_word_));
        if (!length.ok()) return Drop(length.status().message());
        frame_.resize(*length - kLengthBytes);
        ReadFrame();
      });
    }

    void ReadFrame() {
      auto self = shared_from_this();
      asio::async_read(socket_, asio::buffer(frame_), [this, self](error_code ec, size_t) {
        if (ec) return Close();
        absl::StatusOr<Header> header = DecodeHeader(frame_);
        if (!header.ok()) return Drop(header.status().message());
        Dispatch(*header);
      });
    }

    // A frame that cannot be trusted: the stream cannot be resynchronised.
    void Drop(absl::string_view why) {
      ++server_->stats_->dropped_connections;
      DVM_LOG_EVERY_SEC(WARNING, 1.0) << "dvmd: closing a client connection: " << why;
      Close();
    }

    void Dispatch(const Header& h) {
      const std::span<const uint8_t> body = std::span<const uint8_t>(frame_).subspan(kHeaderBytes);
      if (h.program == kKeepaliveProgram) {
        if (h.procedure == kKeepalivePing && h.type == MessageType::kMessage) {
          Header pong{kKeepaliveProgram, kKeepaliveVersion, kKeepalivePong, MessageType::kMessage, 0,
                      MessageStatus::kOk};
          Write(EncodeFrame(pong, {}));
        }
        return ReadLength();  // PONGs and anything else of keepalive: nothing to answer
      }
      if (h.type != MessageType::kCall) {
        if (h.type == MessageType::kCallWithFds) {
          ++server_->stats_->error_replies;
          Write(ErrorReplyFrame(h, ErrorCode::kNoSupport, "dvmd does not take file descriptors"));
        }
        return ReadLength();  // replies, events and streams from a client are ignored
      }
      if (h.program != kRemoteProgram || h.version != kRemoteVersion) {
        ++server_->stats_->error_replies;
        Write(ErrorReplyFrame(h, ErrorCode::kRpc,
                              absl::StrFormat("cannot find program %#x version %u", h.program, h.version)));
        return ReadLength();
      }
      if (h.status != MessageStatus::kOk) {
        ++server_->stats_->error_replies;
        Write(ErrorReplyFrame(h, ErrorCode::kRpc, "a call must have status OK"));
        return ReadLength();
      }
      ++server_->stats_->calls;
      // The procedure may take seconds (a VM start): run it on a worker. The
      // strand runs this client's calls one at a time, in order, while this
      // thread keeps reading, so keepalive PINGs are answered meanwhile.
      auto self = shared_from_this();
      std::vector<uint8_t> args(body.begin(), body.end());
      ++in_flight_;
      asio::post(strand_, [this, self, h, args = std::move(args)] {
        CallResult result = server_->procedures_->Call(state_, h.procedure, args);
        if (result.status != MessageStatus::kOk) ++server_->stats_->error_replies;
        Header reply = h;
        reply.type = MessageType::kReply;
        reply.status = result.status;
        std::vector<uint8_t> frame = EncodeFrame(reply, result.body);
        asio::post(socket_.get_executor(), [this, self, frame = std::move(frame), close = result.close_after] {
          --in_flight_;
          if (closing_) return;  // calls queued behind CONNECT_CLOSE
          Write(frame);
          if (close) {
            closing_ = true;
          } else if (paused_) {
            paused_ = false;
            ReadLength();
          }
        });
      });
      // Like libvirtd's max_client_requests: a client with this many calls
      // waiting is not read from until one finishes.
      if (in_flight_ >= kMaxCallsInFlight) {
        paused_ = true;
        return;
      }
      ReadLength();
    }

    void Write(std::vector<uint8_t> frame) {
      queue_.push_back(std::move(frame));
      if (queue_.size() == 1) WriteNext();
    }

    void WriteNext() {
      auto self = shared_from_this();
      asio::async_write(socket_, asio::buffer(queue_.front()), [this, self](error_code ec, size_t) {
        if (ec) return Close();
        queue_.pop_front();
        if (!queue_.empty()) return WriteNext();
        if (closing_) Close();
      });
    }

    Impl* server_;
    Local::socket socket_;
    asio::strand<asio::thread_pool::executor_type> strand_;
    ClientState state_;  // touched only by the worker that runs this client's calls
    std::array<uint8_t, kLengthBytes> length_word_{};
    std::vector<uint8_t> frame_;
    std::deque<std::vector<uint8_t>> queue_;
    size_t in_flight_ = 0;  // calls handed to the worker, replies not yet written
    bool paused_ = false;   // not reading: too many calls in flight
    bool closing_ = false;
  };

  absl::Status Listen(const std::string& path, mode_t mode, bool read_only) {
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) return absl::AlreadyExistsError(absl::StrCat(path, " exists and is not a socket"));
      if (SomeoneListens(path)) return absl::AlreadyExistsError(absl::StrCat("another daemon answers on ", path));
      ::unlink(path.c_str());
    }
    auto a = std::make_unique<Acceptor>(io_, path, read_only);
    error_code ec;
    a->acceptor.open(Local(), ec);
    if (!ec) a->acceptor.bind(Local::endpoint(path), ec);
    if (!ec) a->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("cannot listen on ", path, ": ", ec.message()));
    if (::chmod(path.c_str(), mode) != 0) return ErrnoStatus(absl::StrCat("chmod ", path));
    acceptors_.push_back(std::move(a));
    return absl::OkStatus();
  }

  void Accept(Acceptor& a) {
    a.acceptor.async_accept([this, &a](error_code ec, Local::socket socket) {
      if (ec) {
        if (ec == asio::error::operation_aborted || stopped_) return;
        DVM_LOG_EVERY_SEC(WARNING, 1.0) << "dvmd: accept on " << a.path << ": " << ec.message();
        return Accept(a);
      }
      if (active_.load() >= options_.max_clients) {
        DVM_LOG_EVERY_SEC(WARNING, 1.0) << "dvmd: " << options_.max_clients << " clients connected; refusing one";
        error_code ignored;
        socket.close(ignored);
        return Accept(a);
      }
      ++active_;
      ++stats_->connections;
      auto conn = std::make_shared<Conn>(this, std::move(socket), a.read_only);
      std::erase_if(conns_, [](const std::weak_ptr<Conn>& w) { return w.expired(); });
      conns_.push_back(conn);
      conn->Begin();
      Accept(a);
    });
  }

  Procedures* const procedures_;
  const ServerOptions options_;
  ServerStats* const stats_;
  // Before io_: connections still queued in io_ when it is destroyed count down here.
  std::atomic<size_t> active_{0};
  std::atomic<bool> stopped_{false};
  // The pool outlives io_: connections still held by io_'s handlers when it
  // is destroyed own strands of the pool.
  asio::thread_pool workers_;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_guard_{io_.get_executor()};
  std::thread io_thread_;
  std::vector<std::unique_ptr<Acceptor>> acceptors_;
  std::vector<std::weak_ptr<Conn>> conns_;  // I/O thread only
};

Server::Server(Procedures* procedures, ServerOptions options)
    : impl_(std::make_unique<Impl>(procedures, std::move(options), &stats_)) {}

Server::~Server() { impl_.reset(); }

absl::Status Server::Start() { return impl_->Start(); }

void Server::Stop() { impl_->Stop(); }

}  // namespace dvm::libvirt
