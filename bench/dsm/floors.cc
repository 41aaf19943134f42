#include "bench/dsm/floors.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "dvm/mutex.h"
#include "dvm/status.h"
#include "dvm/unique_fd.h"
#include "vmm/memory/guest_memory.h"
#include "vmm/memory/userfaultfd.h"

namespace dvm::dsm::bench {
namespace {

constexpr uint64_t kPages = 64;
constexpr int kWarmup = 100;

// A thread that waits on a userfaultfd and hands each fault's page address
// to `resolve`, like the engine's FaultSource but with nothing behind it.
class FaultServer {
 public:
  using Resolve = std::function<void(uint64_t page_address)>;
  FaultServer(int uffd, Resolve resolve) : uffd_(uffd), resolve_(std::move(resolve)) {
    stop_ = UniqueFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    thread_ = std::thread([this] { Loop(); });
  }
  ~FaultServer() {
    uint64_t one = 1;
    if (write(stop_.get(), &one, sizeof(one)) != sizeof(one)) std::abort();
    thread_.join();
  }

 private:
  void Loop() {
    for (;;) {
      pollfd fds[2] = {{uffd_, POLLIN, 0}, {stop_.get(), POLLIN, 0}};
      if (poll(fds, 2, -1) < 0 && errno != EINTR) return;
      if (fds[1].revents != 0) return;
      uffd_msg msgs[16];
      ssize_t n = read(uffd_, msgs, sizeof(msgs));
      if (n <= 0) continue;
      for (size_t i = 0; i < static_cast<size_t>(n) / sizeof(uffd_msg); ++i) {
        if (msgs[i].event != UFFD_EVENT_PAGEFAULT) continue;
        resolve_(msgs[i].arg.pagefault.address & ~(kPageSize - 1));
      }
    }
  }

  int uffd_;
  Resolve resolve_;
  UniqueFd stop_;
  std::thread thread_;
};

// One sample per page in turn: `reset` (untimed) then `op` (timed).
std::vector<uint64_t> Loop(int samples, const std::function<void(uint64_t page)>& reset,
                           const std::function<void(uint64_t page)>& op) {
  std::vector<uint64_t> ns;
  for (int i = -kWarmup; i < samples; ++i) {
    uint64_t page = static_cast<uint64_t>(i + kWarmup) % kPages;
    reset(page);
    uint64_t t0 = NowNs();
    op(page);
    uint64_t t = NowNs() - t0;
    if (i >= 0) ns.push_back(t);
  }
  return ns;
}

// A userfaultfd with MINOR faults on shmem, which memory::Userfaultfd does not
// ask for (the engine does not use them).
absl::StatusOr<UniqueFd> OpenMinorUffd() {
  UniqueFd fd(static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK)));
  if (!fd) {
    UniqueFd dev(open("/dev/userfaultfd", O_RDWR | O_CLOEXEC));
    if (dev) fd = UniqueFd(ioctl(dev.get(), USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK));
  }
  if (!fd) return ErrnoStatus("userfaultfd");
  uffdio_api api{.api = UFFD_API, .features = UFFD_FEATURE_MINOR_SHMEM, .ioctls = 0};
  if (ioctl(fd.get(), UFFDIO_API, &api) != 0) return ErrnoStatus("UFFDIO_API (MINOR_SHMEM)");
  return fd;
}

// kPages of memfd RAM registered MISSING|WP, as the engine has it.
struct TrappedMemory {
  memory::GuestMemory memory;
  memory::Userfaultfd uffd;
};

absl::StatusOr<TrappedMemory> Trap(const char* name) {
  ASSIGN_OR_RETURN(memory::GuestMemory mem, memory::GuestMemory::Create(kPages * kPageSize, name));
  ASSIGN_OR_RETURN(memory::Userfaultfd uffd, memory::Userfaultfd::Open());
  RETURN_IF_ERROR(uffd.Register(mem.mapped(), mem.size()));  // the mapping survives the move
  return TrappedMemory{std::move(mem), std::move(uffd)};
}

}  // namespace

absl::StatusOr<Summary> UffdMissingFloor(int samples) {
  ASSIGN_OR_RETURN(TrappedMemory trapped, Trap("dvm-bench-floor"));
  memory::GuestMemory& mem = trapped.memory;
  memory::Userfaultfd& uffd = trapped.uffd;
  std::vector<uint8_t> source(kPageSize, 0x5a);
  std::atomic<bool> failed{false};
  std::vector<uint64_t> ns;
  {
    FaultServer server(uffd.fd(), [&](uint64_t address) {
      if (!uffd.Copy(reinterpret_cast<void*>(address), source, memory::Access::kReadOnly).ok()) {
        failed = true;
      }
    });
    ns = Loop(
        samples, [&](uint64_t page) { (void)mem.Drop(page * kPageSize, kPageSize); },
        [&](uint64_t page) { Read(mem.mapped() + page * kPageSize); });
  }
  if (failed) return absl::InternalError("UFFDIO_COPY failed in the floor");
  return Summarize(std::move(ns));
}

absl::StatusOr<Summary> WriteProtectAndReadFloor(int samples) {
  ASSIGN_OR_RETURN(TrappedMemory trapped, Trap("dvm-bench-wp"));
  memory::GuestMemory& mem = trapped.memory;
  memory::Userfaultfd& uffd = trapped.uffd;
  std::vector<uint8_t> source(kPageSize, 0x5a), out(kPageSize);
  for (uint64_t p = 0; p < kPages; ++p) {
    RETURN_IF_ERROR(
        uffd.Copy(mem.mapped() + p * kPageSize, source, memory::Access::kWritable));
  }
  bool failed = false;
  std::vector<uint64_t> ns = Loop(
      samples,
      [&](uint64_t page) {
        failed |= !uffd.Protect(mem.mapped() + page * kPageSize, kPageSize,
                                memory::Access::kWritable).ok();
        Write(mem.mapped() + page * kPageSize, page);  // writable and dirty again
      },
      [&](uint64_t page) {
        failed |= !uffd.Protect(mem.mapped() + page * kPageSize, kPageSize,
                                memory::Access::kReadOnly).ok();
        failed |= !mem.Read(page * kPageSize, out).ok();
      });
  if (failed) return absl::InternalError("UFFDIO_WRITEPROTECT or pread failed");
  return Summarize(std::move(ns));
}

absl::StatusOr<Summary> TransportRoundTrip(const TransportMaker& make, int samples) {
  constexpr uint16_t kChannel = 1, kRequest = 1, kReply = 2;
  std::unique_ptr<net::Transport> t[2];
  for (uint32_t i = 0; i < 2; ++i) {
    ASSIGN_OR_RETURN(t[i], make(NodeId(i)));
  }
  Mutex mu;
  CondVar cv;
  uint64_t replies = 0;  // guarded by mu
  std::vector<uint8_t> page(kPageSize, 0xa5);
  net::Transport* server = t[1].get();
  net::Callbacks cb[2];
  cb[0].on_message = [&](const net::Received& r) {
    if (r.type != kReply || r.page == nullptr) return;
    MutexLock lock(&mu);
    ++replies;
    cv.NotifyAll();
  };
  cb[1].on_message = [&](const net::Received& r) {
    if (r.type == kRequest) server->Send(r.from, kChannel, kReply, {}, page.data()).IgnoreError();
  };
  for (auto& c : cb) c.on_peer_down = [](NodeId, const absl::Status&) {};
  absl::Status started[2];
  {
    std::thread s1([&] { started[1] = t[1]->Start(cb[1]); });
    started[0] = t[0]->Start(cb[0]);
    s1.join();
  }
  for (const absl::Status& s : started) RETURN_IF_ERROR(Annotate(s, "round-trip transports"));
  std::vector<uint8_t> request(64, 1);
  std::vector<uint64_t> ns;
  bool lost = false;
  for (int i = -kWarmup; i < samples && !lost; ++i) {
    uint64_t t0 = NowNs();
    if (!t[0]->Send(NodeId(1), kChannel, kRequest, request).ok()) break;
    MutexLock lock(&mu);
    uint64_t want = static_cast<uint64_t>(i + kWarmup + 1);
    lost = !cv.WaitFor(&mu, std::chrono::seconds(5), [&] { return replies >= want; });
    if (i >= 0) ns.push_back(NowNs() - t0);
  }
  t[0]->Stop();
  t[1]->Stop();
  if (lost) return absl::DeadlineExceededError("a round-trip reply took over 5 s");
  return Summarize(std::move(ns));
}

absl::StatusOr<InvalidationCost> PunchHoleThenCopy(int samples) {
  ASSIGN_OR_RETURN(TrappedMemory trapped, Trap("dvm-bench-punch"));
  memory::GuestMemory& mem = trapped.memory;
  memory::Userfaultfd& uffd = trapped.uffd;
  std::vector<uint8_t> source(kPageSize, 0x3c);
  FaultServer server(uffd.fd(), [&](uint64_t address) {
    uffd.Copy(reinterpret_cast<void*>(address), source, memory::Access::kReadOnly).IgnoreError();
  });
  std::vector<uint64_t> drop;
  for (uint64_t p = 0; p < kPages; ++p) Read(mem.mapped() + p * kPageSize);  // all present
  std::vector<uint64_t> refault = Loop(
      samples,
      [&](uint64_t page) {
        uint64_t t0 = NowNs();
        (void)mem.Drop(page * kPageSize, kPageSize);
        drop.push_back(NowNs() - t0);
      },
      [&](uint64_t page) { Read(mem.mapped() + page * kPageSize); });
  drop.erase(drop.begin(), drop.begin() + kWarmup);
  return InvalidationCost{Summarize(std::move(drop)), Summarize(std::move(refault))};
}

absl::StatusOr<InvalidationCost> DontneedThenContinue(int samples) {
  ASSIGN_OR_RETURN(memory::GuestMemory mem,
                   memory::GuestMemory::Create(kPages * kPageSize, "dvm-bench-minor"));
  ASSIGN_OR_RETURN(UniqueFd uffd, OpenMinorUffd());
  uffdio_register reg{};
  reg.range.start = reinterpret_cast<uint64_t>(mem.mapped());
  reg.range.len = mem.size();
  reg.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_MINOR;
  if (ioctl(uffd.get(), UFFDIO_REGISTER, &reg) != 0) {
    return ErrnoStatus("UFFDIO_REGISTER (MISSING|MINOR)");
  }
  std::memset(mem.alias(), 0x11, mem.size());  // every page in the page cache
  std::vector<uint8_t> source(kPageSize, 0x3c);
  std::atomic<bool> failed{false};
  std::vector<uint64_t> drop;
  std::vector<uint64_t> refault;
  {
    FaultServer server(uffd.get(), [&](uint64_t address) {
      uint64_t offset = address - reinterpret_cast<uint64_t>(mem.mapped());
      std::memcpy(mem.alias() + offset, source.data(), kPageSize);  // the page that arrived
      uffdio_continue c{};
      c.range.start = address;
      c.range.len = kPageSize;
      if (ioctl(uffd.get(), UFFDIO_CONTINUE, &c) != 0 && errno != EEXIST) failed = true;
    });
    for (uint64_t p = 0; p < kPages; ++p) Read(mem.mapped() + p * kPageSize);  // all mapped
    refault = Loop(
        samples,
        [&](uint64_t page) {
          uint64_t t0 = NowNs();
          madvise(mem.mapped() + page * kPageSize, kPageSize, MADV_DONTNEED);
          drop.push_back(NowNs() - t0);
        },
        [&](uint64_t page) { Read(mem.mapped() + page * kPageSize); });
  }
  if (failed) return absl::InternalError("UFFDIO_CONTINUE failed");
  drop.erase(drop.begin(), drop.begin() + kWarmup);
  return InvalidationCost{Summarize(std::move(drop)), Summarize(std::move(refault))};
}

}  // namespace dvm::dsm::bench
