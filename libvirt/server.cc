#include "libvirt/server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <boost/asio.hpp>
#include <deque>
#include <future>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "dvm/log.h"
#include "dvm/status.h"
#include "dvm/unix_socket.h"
#include "libvirt/vir_error.h"

namespace dvm::libvirt {

namespace asio = boost::asio;
using Local = asio::local::stream_protocol;
using boost::system::error_code;

namespace {

// Frames are read in pieces of at most this, so a length word alone does not
// make dvmd allocate the whole frame.
constexpr size_t kReadChunk = 64 << 10;
// After a failed accept (EMFILE, ENFILE, ENOBUFS), before the next try.
constexpr std::chrono::milliseconds kAcceptBackoff{100};

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

std::string ServerStats::ToString() const {
  return absl::StrCat("connections=", connections.load(), " refused=", refused_connections.load(),
                      " calls=", calls.load(), " error_replies=", error_replies.load(),
                      " dropped=", dropped_connections.load(), " timed_out=", timed_out_connections.load(),
                      " paused_reads=", paused_reads.load());
}

class Server::Impl {
 public:
  Impl(Procedures* procedures, ServerOptions options, ServerStats* stats)
      : procedures_(procedures), options_(std::move(options)), stats_(stats),
        workers_(options_.workers), lifecycle_(options_.lifecycle_workers) {}

  ~Impl() { Stop(); }

  absl::Status Listen() {
    if (!acceptors_.empty()) return absl::OkStatus();
    RETURN_IF_ERROR(ListenOn(options_.socket, 0600, false, options_.max_clients));
    if (!options_.socket_ro.empty()) {
      RETURN_IF_ERROR(ListenOn(options_.socket_ro, 0666, true, options_.max_clients_ro));
    }
    return absl::OkStatus();
  }

  absl::Status Start() {
    RETURN_IF_ERROR(Listen());
    for (auto& a : acceptors_) Accept(*a);
    io_thread_ = std::thread([this] { io_.run(); });
    return absl::OkStatus();
  }

  // Order matters: connections are closed on the I/O thread, then the I/O
  // thread stops (so nothing new reaches the pools), then the pools finish
  // the calls they have. Their replies go nowhere; the handlers holding the
  // connections are freed with the pools, while io_ (which owns the sockets)
  // still exists.
  void Stop() {
    if (stopped_.exchange(true)) return;
    if (io_thread_.joinable()) {
      std::promise<void> closed;
      asio::post(io_, [this, &closed] {
        for (auto& a : acceptors_) a->Close();
        for (auto& weak : conns_) {
          if (auto c = weak.lock()) c->Close();
        }
        closed.set_value();
      });
      closed.get_future().wait();
      work_guard_.reset();
      io_.stop();
      io_thread_.join();
    }
    workers_.join();
    lifecycle_.join();
    for (auto& a : acceptors_) ::unlink(a->path.c_str());
  }

 private:
  struct Acceptor {
    Acceptor(asio::io_context& io, std::string p, bool ro, size_t max)
        : acceptor(io), retry(io), path(std::move(p)), read_only(ro), max_clients(max) {}
    void Close() {
      error_code ignored;
      acceptor.close(ignored);
      retry.cancel();
    }
    Local::acceptor acceptor;
    asio::steady_timer retry;  // after a failed accept
    std::string path;
    bool read_only;
    size_t max_clients;
    size_t active = 0;  // I/O thread only
  };

  class Conn : public std::enable_shared_from_this<Conn> {
   public:
    Conn(Impl* server, Local::socket socket, Acceptor* acceptor)
        : server_(server), acceptor_(acceptor), socket_(std::move(socket)),
          handshake_timer_(socket_.get_executor()), frame_timer_(socket_.get_executor()) {
      state_.read_only_socket = acceptor->read_only;
    }

    void Begin() {
      ++acceptor_->active;
      Arm(handshake_timer_, server_->options_.handshake_time, "did not open the connection in time");
      ReadLength();
    }

    // I/O thread only; once.
    void Close() {
      if (closed_) return;
      closed_ = true;
      --acceptor_->active;
      error_code ignored;
      handshake_timer_.cancel();
      frame_timer_.cancel();
      socket_.shutdown(Local::socket::shutdown_both, ignored);
      socket_.close(ignored);
      calls_.clear();
    }

   private:
    struct PendingCall {
      Header header;
      std::vector<uint8_t> frame;  // header and args
    };

    void Arm(asio::steady_timer& timer, std::chrono::milliseconds after, const char* why) {
      timer.expires_after(after);
      timer.async_wait([this, self = shared_from_this(), why](error_code ec) {
        if (ec || closed_) return;  // cancelled
        ++server_->stats_->timed_out_connections;
        DVM_LOG_EVERY_SEC(WARNING, 1.0) << "dvmd: closing a client connection: it " << why;
        Close();
      });
    }

    // The length word, perhaps in pieces: a frame begun must be finished in time.
    void ReadLength() {
      if (closed_ || closing_) return;  // nothing more is read after CONNECT_CLOSE
      if (Over()) {
        paused_ = true;
        ++server_->stats_->paused_reads;
        return;
      }
      socket_.async_read_some(asio::buffer(length_word_.data() + have_, kLengthBytes - have_),
                              [this, self = shared_from_this()](error_code ec, size_t n) {
        if (ec || closed_) return Close();
        if (have_ == 0) Arm(frame_timer_, server_->options_.frame_time, "left a frame half-sent");
        have_ += n;
        if (have_ < kLengthBytes) return ReadLength();
        have_ = 0;
        const size_t max = state_.read_only_socket ? kMaxReadOnlyFrame : kMaxIncomingFrame;
        absl::StatusOr<uint32_t> length = ParseFrameLength(std::span<const uint8_t, kLengthBytes>(length_word_), max);
        if (!length.ok()) return Drop(length.status().message());
        frame_.clear();
        ReadFrame(*length - kLengthBytes);
      });
    }

    void ReadFrame(size_t need) {
      const size_t got = frame_.size();
      frame_.resize(got + std::min(kReadChunk, need - got));
      asio::async_read(socket_, asio::buffer(frame_.data() + got, frame_.size() - got),
                       [this, self = shared_from_this(), need](error_code ec, size_t) {
        if (ec || closed_) return Close();
        if (frame_.size() < need) return ReadFrame(need);
        frame_timer_.cancel();
        absl::StatusOr<Header> header = DecodeHeader(frame_);
        if (!header.ok()) return Drop(header.status().message());
        Dispatch(*header);
        ReadLength();
      });
    }

    // A frame that cannot be trusted: the stream cannot be resynchronised.
    void Drop(absl::string_view why) {
      ++server_->stats_->dropped_connections;
      DVM_LOG_EVERY_SEC(WARNING, 1.0) << "dvmd: closing a client connection: " << why;
      Close();
    }

    void Dispatch(const Header& h) {
      if (h.program == kKeepaliveProgram) {
        if (h.procedure == kKeepalivePing && h.type == MessageType::kMessage) {
          Header pong{kKeepaliveProgram, kKeepaliveVersion, kKeepalivePong, MessageType::kMessage, 0,
                      MessageStatus::kOk};
          Write(EncodeFrame(pong, {}));
        }
        return;  // PONGs and anything else of keepalive: nothing to answer
      }
      if (h.type != MessageType::kCall) {
        if (h.type == MessageType::kCallWithFds) {
          return Refuse(h, ErrorCode::kNoSupport, "dvmd does not take file descriptors");
        }
        return;  // replies, events and streams from a client are ignored
      }
      if (h.program != kRemoteProgram || h.version != kRemoteVersion) {
        return Refuse(h, ErrorCode::kRpc, absl::StrFormat("cannot find program %#x version %u", h.program, h.version));
      }
      if (h.status != MessageStatus::kOk) return Refuse(h, ErrorCode::kRpc, "a call must have status OK");
      ++server_->stats_->calls;
      queued_bytes_ += frame_.size();
      calls_.push_back({h, std::move(frame_)});
      frame_ = {};
      if (!call_running_) RunNext();
    }

    void Refuse(const Header& h, ErrorCode code, const std::string& message) {
      ++server_->stats_->error_replies;
      Write(ErrorReplyFrame(h, code, message));
    }

    // The next call of this client, on the pool for its kind; the reply
    // comes back to the I/O thread, which then runs the call after it.
    void RunNext() {
      if (calls_.empty() || closed_) return;
      call_running_ = true;
      auto call = std::make_shared<PendingCall>(std::move(calls_.front()));
      calls_.pop_front();
      Impl* s = server_;
      auto& pool = s->procedures_->WaitsForVm(call->header.procedure) ? s->lifecycle_ : s->workers_;
      asio::post(pool, [this, self = shared_from_this(), call] {
        const std::span<const uint8_t> args = std::span<const uint8_t>(call->frame).subspan(kHeaderBytes);
        CallResult result = server_->procedures_->Call(state_, call->header.procedure, args);
        asio::post(socket_.get_executor(), [this, self, call, result = std::move(result)] { Done(*call, result); });
      });
    }

    void Done(const PendingCall& call, const CallResult& result) {
      call_running_ = false;
      queued_bytes_ -= call.frame.size();
      if (closed_) return;
      if (result.status != MessageStatus::kOk) ++server_->stats_->error_replies;
      if (state_.opened) handshake_timer_.cancel();
      Header reply = call.header;
      reply.type = MessageType::kReply;
      reply.status = result.status;
      Write(EncodeFrame(reply, result.body));
      if (result.close_after) {
        closing_ = true;  // calls queued behind CONNECT_CLOSE are dropped
        calls_.clear();
        return;
      }
      RunNext();
      Resume();
    }

    // Too much held for this client: stop reading it until it drains.
    bool Over() const {
      return calls_.size() + (call_running_ ? 1 : 0) + queue_.size() >= kMaxCallsInFlight ||
             queued_bytes_ >= kMaxQueuedBytes;
    }

    void Resume() {
      if (!paused_ || Over() || closing_) return;
      paused_ = false;
      ReadLength();
    }

    void Write(std::vector<uint8_t> frame) {
      queued_bytes_ += frame.size();
      queue_.push_back(std::move(frame));
      if (queue_.size() == 1) WriteNext();
    }

    void WriteNext() {
      asio::async_write(socket_, asio::buffer(queue_.front()), [this, self = shared_from_this()](error_code ec, size_t) {
        if (ec || closed_) return Close();
        queued_bytes_ -= queue_.front().size();
        queue_.pop_front();
        if (!queue_.empty()) return WriteNext();
        if (closing_) return Close();
        Resume();
      });
    }

    Impl* const server_;
    Acceptor* const acceptor_;
    Local::socket socket_;
    asio::steady_timer handshake_timer_;
    asio::steady_timer frame_timer_;
    // Touched by the worker running this client's call, and by the I/O
    // thread only between its calls (the hand-offs are Asio posts).
    ClientState state_;
    std::array<uint8_t, kLengthBytes> length_word_{};
    size_t have_ = 0;  // bytes of length_word_ read
    std::vector<uint8_t> frame_;
    std::deque<PendingCall> calls_;  // waiting for the one running
    bool call_running_ = false;
    std::deque<std::vector<uint8_t>> queue_;  // replies not yet sent
    size_t queued_bytes_ = 0;  // of calls_, the running call and queue_
    bool paused_ = false;      // not reading: Over()
    bool closing_ = false;     // after CONNECT_CLOSE's reply
    bool closed_ = false;
  };

  absl::Status ListenOn(const std::string& path, mode_t mode, bool read_only, size_t max_clients) {
    RETURN_IF_ERROR(UnixAddress(path).status());  // Asio would throw on a long path
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) return absl::AlreadyExistsError(absl::StrCat(path, " exists and is not a socket"));
      if (SomeoneListens(path)) return absl::AlreadyExistsError(absl::StrCat("another daemon answers on ", path));
      ::unlink(path.c_str());
    }
    auto a = std::make_unique<Acceptor>(io_, path, read_only, max_clients);
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
      if (stopped_ || ec == asio::error::operation_aborted) return;
      if (ec) {
        // Out of descriptors or memory: trying again at once would spin.
        DVM_LOG_EVERY_SEC(WARNING, 1.0) << "dvmd: accept on " << a.path << ": " << ec.message();
        a.retry.expires_after(kAcceptBackoff);
        a.retry.async_wait([this, &a](error_code wait_ec) {
          if (!wait_ec && !stopped_) Accept(a);
        });
        return;
      }
      if (a.active >= a.max_clients) {
        ++stats_->refused_connections;
        DVM_LOG_EVERY_SEC(WARNING, 1.0) << "dvmd: " << a.max_clients << " clients on " << a.path << "; refusing one";
        error_code ignored;
        socket.close(ignored);
        return Accept(a);
      }
      ++stats_->connections;
      auto conn = std::make_shared<Conn>(this, std::move(socket), &a);
      std::erase_if(conns_, [](const std::weak_ptr<Conn>& w) { return w.expired(); });
      conns_.push_back(conn);
      conn->Begin();
      Accept(a);
    });
  }

  Procedures* const procedures_;
  const ServerOptions options_;
  ServerStats* const stats_;
  std::atomic<bool> stopped_{false};
  // io_ outlives the pools: handlers still held by a pool own connections,
  // whose sockets and timers belong to io_.
  asio::io_context io_;
  asio::thread_pool workers_;    // quick calls
  asio::thread_pool lifecycle_;  // calls that wait for a VM
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_guard_{io_.get_executor()};
  std::thread io_thread_;
  std::vector<std::unique_ptr<Acceptor>> acceptors_;
  std::vector<std::weak_ptr<Conn>> conns_;  // I/O thread only
};

Server::Server(Procedures* procedures, ServerOptions options)
    : impl_(std::make_unique<Impl>(procedures, std::move(options), &stats_)) {}

Server::~Server() { impl_.reset(); }

absl::Status Server::Listen() { return impl_->Listen(); }

absl::Status Server::Start() { return impl_->Start(); }

void Server::Stop() { impl_->Stop(); }

}  // namespace dvm::libvirt
