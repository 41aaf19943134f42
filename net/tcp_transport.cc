#include "net/tcp_transport.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sodium.h>

#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "dvm/log.h"
#include "dvm/mutex.h"
#include "dvm/status.h"
#include "dvm/thread_name.h"

namespace dvm::net {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

// Low latency, and a bounded time to notice a peer that vanished without a
// FIN or RST (host down, cable cut): keepalive probes after 1 s idle, and
// unacknowledged data for 3 s fails the connection.
void TuneSocket(tcp::socket& s) {
  error_code ignored;
  s.set_option(tcp::no_delay(true), ignored);
  s.set_option(asio::socket_base::keep_alive(true), ignored);
  int fd = s.native_handle();
  int idle = 1, interval = 1, count = 3;
  unsigned user_timeout_ms = 3000;
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
  setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof(user_timeout_ms));
}

// Big enough for many frames per read; always leaves room for one whole frame.
constexpr size_t kRxBufferBytes = 256 * 1024;
static_assert(kRxBufferBytes >= 2 * (kFrameHeaderSize + kMaxFramePayload));

std::string Where(const PeerAddress& a) {
  return absl::StrCat("node ", a.id.value(), " at ", a.host, ":", a.port);
}

}  // namespace

class TcpTransport::Impl {
 public:
  struct Peer;

  // One TCP connection. Until its Hello verifies, `peer` is null.
  struct Conn {
    explicit Conn(asio::io_context& io) : socket(io), rx(kRxBufferBytes) {}
    tcp::socket socket;
    Peer* peer = nullptr;
    Peer* dialed = nullptr;  // the peer we dialed, for outgoing connections
    std::vector<uint8_t> rx;
    size_t rx_len = 0;
    uint64_t peer_session = 0;
    uint64_t last_counter = 0;
    std::vector<uint8_t> hello;  // our Hello while it is being written
  };

  struct Peer {
    PeerAddress addr;
    bool we_dial = false;
    tcp::endpoint endpoint;                 // where we dial
    std::shared_ptr<Conn> conn;             // I/O side only
    std::unique_ptr<asio::steady_timer> retry;
    uint64_t backoff_ms = 0;
    std::string last_error;                 // I/O side only
    std::atomic<bool> up{false};
    std::atomic<bool> down{false};
    AtomicPeerCounters counters;
    Mutex mu;
    std::vector<uint8_t> pending ABSL_GUARDED_BY(mu);  // signed frames waiting to be written
    uint64_t tx_counter ABSL_GUARDED_BY(mu) = 0;
    bool write_scheduled ABSL_GUARDED_BY(mu) = false;  // a write or a post for one is under way
    // The connected socket, for senders on other threads to write to directly
    // when nothing is queued before them; -1 until the peer is up and from the
    // moment the I/O side starts closing it.
    int direct_fd ABSL_GUARDED_BY(mu) = -1;
    std::vector<uint8_t> writing;                      // I/O side only
  };

  Impl(TcpOptions options, const ClusterKey& key)
      : options_(std::move(options)), key_(key), acceptor_(io_) {
    randombytes_buf(&session_, sizeof(session_));
  }

  absl::Status Init() {
    bool found_self = false;
    for (const PeerAddress& a : options_.nodes) {
      if (a.id == options_.self) {
        self_addr_ = a;
        found_self = true;
        continue;
      }
      auto p = std::make_unique<Peer>();
      p->addr = a;
      p->we_dial = a.id < options_.self;
      if (p->we_dial) {
        tcp::resolver resolver(io_);
        error_code ec;
        auto results = resolver.resolve(a.host, std::to_string(a.port), ec);
        if (ec || results.empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat("cannot resolve ", Where(a), ": ", ec.message()));
        }
        p->endpoint = *results.begin();
      }
      peers_.push_back(std::move(p));
    }
    if (!found_self) {
      return absl::InvalidArgumentError(
          absl::StrCat("node ", options_.self.value(), " is not in the node list"));
    }
    return absl::OkStatus();
  }

  NodeId self() const { return options_.self; }

  Peer* Find(NodeId id) const {
    for (const auto& p : peers_) {
      if (p->addr.id == id) return p.get();
    }
    return nullptr;
  }

  absl::Status Start(Callbacks callbacks) {
    if (started_) return absl::FailedPreconditionError("transport already started");
    callbacks_ = std::move(callbacks);
    RETURN_IF_ERROR(Listen());
    started_ = true;
    deadline_ = std::chrono::steady_clock::now() +
                std::chrono::milliseconds(options_.connect_deadline_ms);
    Accept();
    for (auto& p : peers_) {
      if (p->we_dial) {
        p->backoff_ms = options_.backoff_initial_ms;
        p->retry = std::make_unique<asio::steady_timer>(io_);
        Dial(p.get());
      }
    }
    bool all_up;
    if (options_.own_thread) {
      work_.emplace(io_.get_executor());
      thread_ = std::thread([this] {
        SetThreadName("net-tcp");
        io_.run();
      });
      MutexLock lock(&start_mu_);
      all_up = start_cv_.WaitFor(&start_mu_, deadline_ - std::chrono::steady_clock::now(),
                                 [this] { return AllUp(); });
    } else {
      // Also until our Hello replies are written: nobody may poll us for a while.
      while ((!AllUp() || WritesPending()) && std::chrono::steady_clock::now() < deadline_) {
        io_.run_one_for(std::chrono::milliseconds(10));
      }
      all_up = AllUp();
    }
    if (all_up) return absl::OkStatus();
    Stop();  // first: the I/O thread writes what StartupError reads
    return StartupError();
  }

  absl::Status Send(NodeId to, FrameKind kind, uint16_t channel, uint16_t type,
                    std::span<const uint8_t> body, const uint8_t* page) {
    Peer* p = Find(to);
    if (p == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown node ", to.value()));
    if (body.size() > kMaxBodyBytes) {
      return absl::InvalidArgumentError(absl::StrCat("message body of ", body.size(),
                                                     " bytes exceeds ", kMaxBodyBytes));
    }
    if (p->down.load(std::memory_order_acquire)) {
      return absl::UnavailableError(absl::StrCat("node ", to.value(), " is down"));
    }
    if (!p->up.load(std::memory_order_acquire)) {
      return absl::FailedPreconditionError(absl::StrCat("node ", to.value(), " not connected"));
    }
    size_t frame_bytes;
    bool kick = false;
    {
      MutexLock lock(&p->mu);
      size_t start = p->pending.size();
      p->pending.resize(start + kFrameHeaderSize);
      if (kind == FrameKind::kData) AppendMessage(channel, type, body, page, &p->pending);
      frame_bytes = p->pending.size() - start;
      FrameHeader h = MakeHeader(*p, kind, frame_bytes - kFrameHeaderSize);
      std::span<uint8_t> frame(p->pending.data() + start, frame_bytes);
      key_.SignAndEncode(&h, frame.subspan(kFrameHeaderSize),
                         frame.first<kFrameHeaderSize>());
      if (!p->write_scheduled && !WriteDirect(*p)) {
        p->write_scheduled = true;
        kick = true;
      }
    }
    if (kind == FrameKind::kData) p->counters.msgs_sent.fetch_add(1, std::memory_order_relaxed);
    p->counters.bytes_sent.fetch_add(frame_bytes, std::memory_order_relaxed);
    if (kick) asio::post(io_, [this, p] { StartWrite(p); });
    return absl::OkStatus();
  }

  bool Poll() { return io_.poll() > 0; }

  // With nothing queued or being written before them, the caller writes the
  // pending frames itself instead of waking the I/O thread: one thread hop
  // less per message on the DSM's latency-bound path. True when all went out;
  // otherwise what is left stays pending for the I/O side (a full socket
  // buffer, or an error that the I/O side's own write will report).
  bool WriteDirect(Peer& p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p.mu) {
    if (p.direct_fd < 0) return false;
    size_t done = 0;
    while (done < p.pending.size()) {
      ssize_t n = ::send(p.direct_fd, p.pending.data() + done, p.pending.size() - done,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        done += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        break;
      }
    }
    p.pending.erase(p.pending.begin(), p.pending.begin() + static_cast<std::ptrdiff_t>(done));
    return p.pending.empty();
  }

  // Called on the I/O side before it closes a peer's socket, so that no
  // sender writes to a closed (or reused) descriptor.
  static void StopDirectWrites(Peer& p) {
    MutexLock lock(&p.mu);
    p.direct_fd = -1;
  }

  void Stop() {
    if (!started_ || stopped_.exchange(true)) return;
    for (auto& p : peers_) {
      if (p->up.load() && !p->down.load()) {
        Send(p->addr.id, FrameKind::kBye, 0, 0, {}, nullptr).IgnoreError();
      }
    }
    // Give the goodbyes a moment to leave; peers notice EOF anyway.
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
    while (std::chrono::steady_clock::now() < until && WritesPending()) {
      if (options_.own_thread) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      } else {
        io_.poll();
      }
    }
    asio::post(io_, [this] {
      error_code ec;
      acceptor_.close(ec);
      for (auto& p : peers_) {
        if (p->retry) p->retry->cancel();
        StopDirectWrites(*p);
        if (p->conn) p->conn->socket.close(ec);
      }
      for (auto& c : strangers_) c->socket.close(ec);
      // Handlers still pending (a connect to a silent host) are destroyed
      // with io_, not run.
      io_.stop();
    });
    if (options_.own_thread) {
      if (thread_.joinable()) thread_.join();
      work_.reset();
    } else {
      io_.poll();
    }
  }

  PeerCounters counters(NodeId peer) const {
    Peer* p = Find(peer);
    return p == nullptr ? PeerCounters{} : p->counters.Snapshot();
  }
  PeerCounters unknown_counters() const { return unknown_.Snapshot(); }

 private:
  FrameHeader MakeHeader(Peer& p, FrameKind kind, size_t payload_len)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(p.mu) {
    FrameHeader h;
    h.kind = kind;
    h.flags = kind == FrameKind::kData ? kFrameLastFragment : 0;
    h.src = options_.self.value();
    h.dst = p.addr.id.value();
    h.session = session_;
    h.counter = ++p.tx_counter;
    h.payload_len = static_cast<uint32_t>(payload_len);
    return h;
  }

  bool AllUp() const {
    for (const auto& p : peers_) {
      if (!p->up.load(std::memory_order_acquire)) return false;
    }
    return true;
  }

  bool WritesPending() {
    for (auto& p : peers_) {
      MutexLock lock(&p->mu);
      if (p->write_scheduled && !p->down.load()) return true;
    }
    return false;
  }

  absl::Status StartupError() {
    std::vector<std::string> missing;
    for (const auto& p : peers_) {
      if (p->up.load()) continue;
      if (p->we_dial) {
        missing.push_back(absl::StrCat(Where(p->addr), " unreachable after ",
                                       options_.connect_deadline_ms, " ms (last error: ",
                                       p->last_error.empty() ? "none" : p->last_error, ")"));
      } else {
        missing.push_back(absl::StrCat(Where(p->addr), " did not connect to ", self_addr_.host,
                                       ":", self_addr_.port, " within ",
                                       options_.connect_deadline_ms, " ms"));
      }
    }
    return absl::DeadlineExceededError(absl::StrJoin(missing, "; "));
  }

  absl::Status Listen() {
    tcp::resolver resolver(io_);
    error_code ec;
    auto results = resolver.resolve(self_addr_.host, std::to_string(self_addr_.port), ec);
    if (ec || results.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot resolve own address ", Where(self_addr_), ": ", ec.message()));
    }
    tcp::endpoint ep = *results.begin();
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", self_addr_.host, ":", self_addr_.port, ": ",
                       ec.message()));
    }
    return absl::OkStatus();
  }

  void Accept() {
    auto c = std::make_shared<Conn>(io_);
    acceptor_.async_accept(c->socket, [this, c](const error_code& ec) {
      if (ec) {
        if (ec != asio::error::operation_aborted) {
          DVM_LOG_EVERY_SEC(WARNING, 1.0) << "accept: " << ec.message();
          Accept();
        }
        return;
      }
      strangers_.push_back(c);
      ReadMore(c);
      Accept();
    });
  }

  void Dial(Peer* p) {
    auto c = std::make_shared<Conn>(io_);
    c->dialed = p;
    c->socket.async_connect(p->endpoint, [this, p, c](const error_code& ec) {
      if (stopped_) return;
      if (ec) {
        p->last_error = ec.message();
        RetryLater(p);
        return;
      }
      TuneSocket(c->socket);
      c->hello.resize(kFrameHeaderSize);
      FrameHeader h;
      {
        MutexLock lock(&p->mu);
        h = MakeHeader(*p, FrameKind::kHello, 0);
      }
      key_.SignAndEncode(&h, {}, std::span<uint8_t, kFrameHeaderSize>(c->hello.data(),
                                                                       kFrameHeaderSize));
      asio::async_write(c->socket, asio::buffer(c->hello),
                        [this, p, c](const error_code& ec, size_t) {
                          if (ec) {
                            p->last_error = ec.message();
                            RetryLater(p);
                            return;
                          }
                          ReadMore(c);  // the peer's Hello comes after ours was written
                        });
    });
  }

  void RetryLater(Peer* p) {
    if (stopped_ || p->up.load() || std::chrono::steady_clock::now() >= deadline_) return;
    p->retry->expires_after(std::chrono::milliseconds(p->backoff_ms));
    p->backoff_ms = std::min(p->backoff_ms * 2, options_.backoff_max_ms);
    p->retry->async_wait([this, p](const error_code& ec) {
      if (!ec && !stopped_) Dial(p);
    });
  }

  void ReadMore(std::shared_ptr<Conn> c) {
    c->socket.async_read_some(
        asio::buffer(c->rx.data() + c->rx_len, c->rx.size() - c->rx_len),
        [this, c](const error_code& ec, size_t n) {
          if (ec) {
            ConnFailed(c, ec);
            return;
          }
          c->rx_len += n;
          size_t off = 0;
          while (c->rx_len - off >= kFrameHeaderSize) {
            std::span<const uint8_t> avail(c->rx.data() + off, c->rx_len - off);
            absl::StatusOr<FrameHeader> h = DecodeFrameHeader(avail);
            if (!h.ok()) {
              Broken(c, h.status(), /*auth=*/false);
              return;
            }
            size_t total = kFrameHeaderSize + h->payload_len;
            if (avail.size() < total) break;
            if (!HandleFrame(c, *h, avail.first(total))) return;
            off += total;
          }
          std::memmove(c->rx.data(), c->rx.data() + off, c->rx_len - off);
          c->rx_len -= off;
          ReadMore(c);
        });
  }

  // Returns false if the connection was closed.
  bool HandleFrame(const std::shared_ptr<Conn>& c, const FrameHeader& h,
                   std::span<const uint8_t> frame) {
    std::span<const uint8_t> payload = frame.subspan(kFrameHeaderSize);
    if (c->peer == nullptr) return HandleHello(c, h, frame);
    Peer* p = c->peer;
    if (!key_.Verify(h, frame.first(kFrameHeaderSize), payload)) {
      Broken(c, absl::UnauthenticatedError("frame failed authentication"), /*auth=*/true);
      return false;
    }
    if (h.src != p->addr.id.value() || h.dst != options_.self.value() ||
        h.session != c->peer_session || h.counter <= c->last_counter) {
      Broken(c, absl::InvalidArgumentError("frame out of sequence or misaddressed"), false);
      return false;
    }
    c->last_counter = h.counter;
    p->counters.bytes_received.fetch_add(frame.size(), std::memory_order_relaxed);
    switch (h.kind) {
      case FrameKind::kData: {
        absl::StatusOr<MessageView> m = DecodeMessage(payload);
        if (!m.ok()) {
          // Authenticated but malformed: a bug in the peer. The stream is still
          // framed, so drop this one message and go on.
          p->counters.drops.fetch_add(1, std::memory_order_relaxed);
          DVM_LOG_EVERY_SEC(WARNING, 1.0) << "bad message from node " << h.src << ": "
                                          << m.status().message();
          return true;
        }
        p->counters.msgs_received.fetch_add(1, std::memory_order_relaxed);
        if (callbacks_.on_message) {
          callbacks_.on_message(Received{p->addr.id, m->channel, m->type, m->body, m->page});
        }
        return true;
      }
      case FrameKind::kBye:
        PeerDown(p, absl::UnavailableError(absl::StrCat("node ", h.src, " left")));
        return false;
      default:
        p->counters.drops.fetch_add(1, std::memory_order_relaxed);
        return true;
    }
  }

  bool HandleHello(const std::shared_ptr<Conn>& c, const FrameHeader& h,
                   std::span<const uint8_t> frame) {
    Peer* p = Find(NodeId(h.src));
    if (h.kind != FrameKind::kHello || h.dst != options_.self.value() || p == nullptr) {
      Broken(c, absl::InvalidArgumentError("first frame is not a Hello for this node"), false);
      return false;
    }
    if (!key_.Verify(h, frame.first(kFrameHeaderSize), frame.subspan(kFrameHeaderSize))) {
      Broken(c, absl::UnauthenticatedError("Hello failed authentication"), true);
      return false;
    }
    // Each pair has one connection, dialed by the higher id; a second one (a
    // restarted peer) is refused: the layers above already saw it go down.
    if ((c->dialed ? p != c->dialed : p->we_dial) || p->up.load()) {
      Broken(c, absl::FailedPreconditionError("unexpected Hello"), false);
      return false;
    }
    std::erase(strangers_, c);
    c->peer = p;
    c->peer_session = h.session;
    c->last_counter = h.counter;
    p->conn = c;
    TuneSocket(c->socket);
    if (c->dialed == nullptr) {
      // Answer with our Hello: the first frame in the peer's write queue.
      MutexLock lock(&p->mu);
      std::vector<uint8_t> hello(kFrameHeaderSize);
      FrameHeader mine = MakeHeader(*p, FrameKind::kHello, 0);
      key_.SignAndEncode(&mine, {}, std::span<uint8_t, kFrameHeaderSize>(hello.data(),
                                                                         kFrameHeaderSize));
      p->pending.insert(p->pending.begin(), hello.begin(), hello.end());
      p->write_scheduled = true;
      asio::post(io_, [this, p] { StartWrite(p); });
    }
    {
      MutexLock lock(&p->mu);
      p->direct_fd = c->socket.native_handle();
    }
    DVM_LOG(INFO) << "node " << options_.self.value() << ": connected to " << Where(p->addr);
    {
      MutexLock lock(&start_mu_);
      p->up.store(true, std::memory_order_release);
    }
    start_cv_.NotifyAll();
    return true;
  }

  void StartWrite(Peer* p) {
    {
      MutexLock lock(&p->mu);
      if (p->pending.empty() || p->conn == nullptr || p->down.load()) {
        p->write_scheduled = false;
        p->pending.clear();
        return;
      }
      p->writing.clear();
      p->writing.swap(p->pending);
    }
    asio::async_write(p->conn->socket, asio::buffer(p->writing),
                      [this, p, c = p->conn](const error_code& ec, size_t) {
                        if (ec) {
                          ConnFailed(c, ec);
                          MutexLock lock(&p->mu);
                          p->write_scheduled = false;
                          return;
                        }
                        StartWrite(p);
                      });
  }

  // A frame from this connection could not be trusted: count it and close.
  void Broken(const std::shared_ptr<Conn>& c, const absl::Status& why, bool auth) {
    AtomicPeerCounters& ctr = c->peer ? c->peer->counters : unknown_;
    (auth ? ctr.auth_failures : ctr.drops).fetch_add(1, std::memory_order_relaxed);
    if (c->peer == nullptr && c->dialed != nullptr) c->dialed->last_error = why.ToString();
    DVM_LOG_EVERY_SEC(WARNING, 1.0) << "node " << options_.self.value() << ": dropping "
                                    << (c->peer ? Where(c->peer->addr) : "unknown sender")
                                    << ": " << why.message();
    CloseConn(c, why);
  }

  void ConnFailed(const std::shared_ptr<Conn>& c, const error_code& ec) {
    if (ec == asio::error::operation_aborted && stopped_) return;
    if (c->rx_len > 0) {  // a frame cut short
      (c->peer ? c->peer->counters : unknown_).drops.fetch_add(1, std::memory_order_relaxed);
    }
    if (c->peer == nullptr && c->dialed != nullptr && !c->dialed->up.load()) {
      c->dialed->last_error = ec.message();
      error_code ignored;
      c->socket.close(ignored);
      RetryLater(c->dialed);
      return;
    }
    CloseConn(c, absl::UnavailableError(ec == asio::error::eof
                                            ? std::string("connection closed")
                                            : absl::StrCat("connection lost: ", ec.message())));
  }

  void CloseConn(const std::shared_ptr<Conn>& c, const absl::Status& why) {
    error_code ignored;
    if (c->peer != nullptr && c->peer->conn == c) StopDirectWrites(*c->peer);
    c->socket.close(ignored);
    c->rx_len = 0;
    std::erase(strangers_, c);
    if (c->peer != nullptr && c->peer->conn == c) PeerDown(c->peer, why);
  }

  void PeerDown(Peer* p, const absl::Status& why) {
    if (p->down.exchange(true)) return;
    error_code ignored;
    StopDirectWrites(*p);
    if (p->conn) p->conn->socket.close(ignored);
    if (stopped_) return;
    DVM_LOG(WARNING) << "node " << options_.self.value() << ": " << Where(p->addr)
                     << " down: " << why.message();
    if (callbacks_.on_peer_down) callbacks_.on_peer_down(p->addr.id, why);
  }

  // First, so it outlives every socket and timer below.
  asio::io_context io_;
  TcpOptions options_;
  ClusterKey key_;
  uint64_t session_ = 0;
  PeerAddress self_addr_;
  std::vector<std::unique_ptr<Peer>> peers_;
  Callbacks callbacks_;
  AtomicPeerCounters unknown_;

  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  tcp::acceptor acceptor_;
  std::vector<std::shared_ptr<Conn>> strangers_;  // accepted, Hello not yet verified
  std::thread thread_;
  bool started_ = false;
  std::atomic<bool> stopped_{false};
  std::chrono::steady_clock::time_point deadline_;
  Mutex start_mu_;
  CondVar start_cv_;
};

absl::StatusOr<std::unique_ptr<TcpTransport>> TcpTransport::Create(TcpOptions options,
                                                                   const ClusterKey& key) {
  auto impl = std::make_unique<Impl>(std::move(options), key);
  RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<TcpTransport>(new TcpTransport(std::move(impl)));
}

TcpTransport::TcpTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TcpTransport::~TcpTransport() { impl_->Stop(); }
NodeId TcpTransport::self() const { return impl_->self(); }
absl::Status TcpTransport::Start(Callbacks callbacks) { return impl_->Start(std::move(callbacks)); }
absl::Status TcpTransport::Send(NodeId to, uint16_t channel, uint16_t type,
                                std::span<const uint8_t> body, const uint8_t* page) {
  return impl_->Send(to, FrameKind::kData, channel, type, body, page);
}
// Send writes at once or schedules a write for the next turn of the I/O loop,
// which batches everything queued by then into one write.
void TcpTransport::Flush() {}
bool TcpTransport::Poll() { return impl_->Poll(); }
void TcpTransport::Stop() { impl_->Stop(); }
PeerCounters TcpTransport::counters(NodeId peer) const { return impl_->counters(peer); }
PeerCounters TcpTransport::unknown_counters() const { return impl_->unknown_counters(); }

}  // namespace dvm::net
