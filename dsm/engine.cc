#include "dsm/engine.h"

#include <algorithm>
#include <functional>
#include <chrono>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "dsm/message.h"
#include "dvm/log.h"
#include "dvm/status.h"

namespace dvm::dsm {
namespace {

uint64_t NowNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

std::string DescribePages(const PageRange& pages) {
  if (pages.count == 1) return absl::StrCat("page ", pages.first.value());
  return absl::StrCat("pages ", pages.first.value(), "-", pages.first.value() + pages.count - 1);
}

}  // namespace

const char* OpKindName(OpKind kind) {
  switch (kind) {
    case OpKind::kReadMiss:
      return "read miss";
    case OpKind::kWriteMiss:
      return "write miss";
    case OpKind::kUpgrade:
      return "write upgrade";
    case OpKind::kJoined:
      return "joined in-flight";
    case OpKind::kHit:
      return "hit";
  }
  return "?";
}

const char* EngineStepName(EngineStep step) {
  switch (step) {
    case EngineStep::kInstall:
      return "install";
    case EngineStep::kMakeWritable:
      return "make writable";
    case EngineStep::kWriteProtect:
      return "write-protect";
    case EngineStep::kDrop:
      return "drop";
    case EngineStep::kReadForSend:
      return "read for send";
    case EngineStep::kSend:
      return "send";
    case EngineStep::kLockHeld:
      return "lock held";
  }
  return "?";
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(EngineOptions options,
                                                       memory::GuestMemory* memory,
                                                       net::Transport* transport,
                                                       ErrorHandler on_error) {
  if (options.homes.num_nodes() <= options.self.value()) {
    return absl::InvalidArgumentError(absl::StrCat("dsm node ", options.self.value(),
                                                   " is not in a map of ",
                                                   options.homes.num_nodes(), " nodes"));
  }
  if (options.fault_threads < 1) {
    return absl::InvalidArgumentError("dsm needs at least one fault thread");
  }
  ASSIGN_OR_RETURN(memory::Userfaultfd uffd, memory::Userfaultfd::Open());
  RETURN_IF_ERROR(uffd.Register(memory->mapped(), memory->size()));
  return std::unique_ptr<Engine>(
      new Engine(std::move(options), memory, std::move(uffd), transport, std::move(on_error)));
}

Engine::Engine(EngineOptions options, memory::GuestMemory* memory, memory::Userfaultfd uffd,
               net::Transport* transport, ErrorHandler on_error)
    : memory_(memory),
      uffd_(std::move(uffd)),
      pages_(memory_, &uffd_),
      transport_(transport),
      on_error_(std::move(on_error)),
      fault_threads_(options.fault_threads),
      protocol_(options.self, std::move(options.homes), options.protocol) {}

Engine::~Engine() { Stop(); }

absl::Status Engine::Start() {
  faults_ = std::make_unique<FaultSource>(
      &uffd_, [this](std::span<const memory::Fault> f) { OnFaults(f); },
      [this](const absl::Status& s) {
        MutexLock lock(&mu_);
        on_error_(Annotate(s, "dsm fault source"));
      });
  return faults_->Start(fault_threads_);
}

void Engine::Stop() {
  if (faults_) faults_->Stop();
  MutexLock lock(&mu_);
  stopped_ = true;
  pin_cv_.NotifyAll();
}

void Engine::OnFaults(std::span<const memory::Fault> faults) {
  MutexLock lock(&mu_);
  for (const memory::Fault& f : faults) {
    Gfn gfn;
    if (!pages_.GfnOf(f.address, &gfn)) {
      on_error_(absl::InternalError(absl::StrCat("dsm fault at 0x", absl::Hex(f.address),
                                                 " outside guest RAM")));
      continue;
    }
    Access access = f.write ? Access::kWrite : Access::kRead;
    uint64_t token = next_token_++;
    OpKind kind = KindOf(gfn, access);
    ++stats_.faults[static_cast<size_t>(kind)];
    if (kind == OpKind::kReadMiss || kind == OpKind::kWriteMiss || kind == OpKind::kUpgrade) {
      ++misses_by_page_[gfn.value()];
    }
    waiters_[token] = Waiter{gfn, /*pin=*/false, /*missing=*/!f.wp, kind, NowNs()};
    HandleLocked(FaultEvent{gfn, access, token}, {});
  }
}

std::vector<std::pair<Gfn, uint64_t>> Engine::HottestPages(size_t count) const {
  std::vector<std::pair<uint64_t, uint64_t>> all;  // (misses, gfn)
  {
    MutexLock lock(&mu_);
    for (auto [gfn, misses] : misses_by_page_) all.emplace_back(misses, gfn);
  }
  count = std::min(count, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(count), all.end(), std::greater<>());
  std::vector<std::pair<Gfn, uint64_t>> top;
  for (size_t i = 0; i < count; ++i) top.emplace_back(Gfn(all[i].second), all[i].first);
  return top;
}

OpKind Engine::KindOf(Gfn gfn, Access access) const {
  switch (protocol_.StateOf(gfn)) {
    case PageState::kInvalid:
      return access == Access::kRead ? OpKind::kReadMiss : OpKind::kWriteMiss;
    case PageState::kShared:
      return access == Access::kRead ? OpKind::kHit : OpKind::kUpgrade;
    case PageState::kModified:
      return OpKind::kHit;
    case PageState::kIsD:
    case PageState::kImD:
    case PageState::kSmG:
      return OpKind::kJoined;
  }
  return OpKind::kHit;
}

void Engine::OnMessage(const net::Received& message) {
  std::span<const uint8_t> page;
  if (message.page != nullptr) page = std::span<const uint8_t>(message.page, kPageSize);
  absl::StatusOr<Message> msg = DecodeHeader(message.body, protocol_.homes().num_nodes());
  const char* bad = nullptr;
  if (!msg.ok()) {
    bad = "malformed header";
  } else if (message.body.size() != kHeaderSize) {
    bad = "body is not one header";
  } else if (msg->has_page() != !page.empty()) {
    bad = "page flag disagrees with the frame";
  } else if (!pages_.Contains(msg->gfn)) {
    bad = "page outside guest RAM";
  }
  MutexLock lock(&mu_);
  ++stats_.messages_received;
  if (bad != nullptr) {
    ++stats_.bad_messages;
    DVM_LOG_EVERY_SEC(WARNING, 1.0) << "dsm: dropped a message from node " << message.from.value()
                                    << ": " << bad;
    return;
  }
  HandleLocked(ReceiveEvent{message.from, *msg}, page);
}

void Engine::OnPeerDown(NodeId node) {
  MutexLock lock(&mu_);
  HandleLocked(NodeDeadEvent{node}, {});
}

absl::Status Engine::Pin(Gfn gfn, Access access) {
  if (!pages_.Contains(gfn)) {
    return absl::OutOfRangeError(absl::StrCat("dsm pin of page ", gfn.value(), " outside RAM"));
  }
  MutexLock lock(&mu_);
  if (stopped_) return absl::UnavailableError("dsm engine stopped");
  uint64_t token = next_token_++;
  ++stats_.pins;
  waiters_[token] = Waiter{gfn, /*pin=*/true, false, OpKind::kHit, NowNs()};
  HandleLocked(PinEvent{gfn, access, token}, {});
  pin_cv_.Wait(&mu_, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return pin_results_.contains(token) || stopped_;
  });
  auto it = pin_results_.find(token);
  if (it == pin_results_.end()) return absl::UnavailableError("dsm engine stopped");
  bool ok = it->second;
  pin_results_.erase(it);
  if (ok) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat("dsm could not pin page ", gfn.value()));
}

void Engine::Unpin(Gfn gfn, Access access) {
  MutexLock lock(&mu_);
  HandleLocked(UnpinEvent{gfn, access}, {});
}

EngineStats Engine::stats() const {
  MutexLock lock(&mu_);
  EngineStats s = stats_;
  s.protocol = protocol_.stats();
  return s;
}

PageState Engine::StateOf(Gfn gfn) const {
  MutexLock lock(&mu_);
  return protocol_.StateOf(gfn);
}

void Engine::HandleLocked(const Event& event, std::span<const uint8_t> page) {
  const uint64_t start = NowNs();
  actions_.clear();
  woken_.clear();
  protocol_.Handle(event, &actions_);
  for (const Action& action : actions_) ExecuteLocked(action, page);
  FlushOutboxLocked();
  stats_.steps[static_cast<size_t>(EngineStep::kLockHeld)].Record(NowNs() - start);
}

template <typename Op>
void Engine::TimedLocked(EngineStep step, const char* what, Gfn gfn, Op op) {
  const uint64_t start = NowNs();
  absl::Status status = op();
  stats_.steps[static_cast<size_t>(step)].Record(NowNs() - start);
  CheckLocked(status, what, gfn);
}

void Engine::ExecuteLocked(const Action& action, std::span<const uint8_t> page) {
  std::visit(
      [&](const auto& a) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, SendAction>) {
          SendLocked(a);
        } else if constexpr (std::is_same_v<T, InstallAction>) {
          if (page.size() != kPageSize) {
            return CheckLocked(absl::InternalError("no page to install"), "install", a.gfn);
          }
          ++stats_.installs;
          TimedLocked(EngineStep::kInstall, "install", a.gfn, [&] { return pages_.Install(a.gfn, page, a.writable); });
          woken_.push_back(a.gfn);
        } else if constexpr (std::is_same_v<T, MakeWritableAction>) {
          ++stats_.made_writable;
          TimedLocked(EngineStep::kMakeWritable, "make writable", a.gfn, [&] { return pages_.MakeWritable(a.gfn); });
          woken_.push_back(a.gfn);
        } else if constexpr (std::is_same_v<T, WriteProtectAction>) {
          ++stats_.write_protected;
          TimedLocked(EngineStep::kWriteProtect, "write-protect", a.gfn, [&] { return pages_.WriteProtect(a.gfn); });
        } else if constexpr (std::is_same_v<T, DropAction>) {
          ++stats_.drops;
          TimedLocked(EngineStep::kDrop, "drop", a.gfn, [&] { return pages_.Drop(a.gfn); });
        } else if constexpr (std::is_same_v<T, WakeAction>) {
          WakeLocked(a);
        } else if constexpr (std::is_same_v<T, ErrorAction>) {
          ReportLocked(a);
        }
      },
      action);
}

void Engine::SendLocked(const SendAction& send) {
  const size_t i = outbox_.size();
  outbox_.push_back({send.to, EncodeHeader(send.msg), send.msg.has_page()});
  if (send.msg.has_page()) {
    if (outbox_pages_.size() <= i) outbox_pages_.resize(i + 1);
    outbox_pages_[i].resize(kPageSize);
    // An earlier WriteProtect action made the page read-only, so no write
    // can land after this copy.
    TimedLocked(EngineStep::kReadForSend, "read for sending", send.msg.gfn,
                [&] { return pages_.Read(send.msg.gfn, outbox_pages_[i]); });
  }
}

void Engine::FlushOutboxLocked() {
  for (size_t i = 0; i < outbox_.size(); ++i) {
    const Outgoing& out = outbox_[i];
    const uint64_t start = NowNs();
    absl::Status s = transport_->Send(out.to, kDsmChannel, 0, out.header,
                                      out.has_page ? outbox_pages_[i].data() : nullptr);
    stats_.steps[static_cast<size_t>(EngineStep::kSend)].Record(NowNs() - start);
    if (s.ok()) {
      ++stats_.messages_sent;
    } else {
      // The peer is down; its NodeDead is on the way and settles the protocol.
      ++stats_.send_failures;
    }
  }
  outbox_.clear();
}

void Engine::WakeLocked(const WakeAction& wake) {
  auto it = waiters_.find(wake.token);
  if (it == waiters_.end()) {
    on_error_(absl::InternalError(absl::StrCat("dsm woke unknown token ", wake.token)));
    return;
  }
  Waiter w = it->second;
  waiters_.erase(it);
  if (w.pin) {
    pin_results_[wake.token] = wake.ok;
    pin_cv_.NotifyAll();
    return;
  }
  if (!wake.ok) {
    // The ErrorAction next to this Wake says why; the thread stays blocked
    // rather than see data that is not the page's.
    ++stats_.failed_accesses;
    return;
  }
  if (std::find(woken_.begin(), woken_.end(), w.gfn) == woken_.end()) {
    if (w.missing) {
      // The page is ours but absent: never written here, so it is zeros.
      ++stats_.materialized;
      bool writable = protocol_.StateOf(w.gfn) == PageState::kModified;
      CheckLocked(pages_.Materialize(w.gfn, writable), "materialize", w.gfn);
    } else {
      CheckLocked(pages_.Wake(w.gfn), "wake", w.gfn);
    }
    woken_.push_back(w.gfn);
  }
  stats_.latency[static_cast<size_t>(w.kind)].Record(NowNs() - w.start_ns);
}

void Engine::ReportLocked(const ErrorAction& error) {
  std::string pages = DescribePages(error.pages);
  switch (error.kind) {
    case ErrorKind::kBadMessage:
      DVM_LOG_EVERY_SEC(WARNING, 1.0) << "dsm: node " << error.node.value()
                                      << " broke the protocol on " << pages << ": " << error.what;
      return;
    case ErrorKind::kPageLost:
      on_error_(absl::DataLossError(absl::StrCat(pages, " lost with node ", error.node.value(),
                                                 " (", error.what, ")")));
      return;
    case ErrorKind::kHomeDead:
      on_error_(absl::UnavailableError(absl::StrCat(pages, " unreachable: home node ",
                                                    error.node.value(), " is dead (",
                                                    error.what, ")")));
      return;
  }
}

void Engine::CheckLocked(const absl::Status& status, const char* what, Gfn gfn) {
  if (status.ok()) return;
  on_error_(Annotate(status, absl::StrCat("dsm ", what, " of page ", gfn.value())));
}

}  // namespace dvm::dsm
