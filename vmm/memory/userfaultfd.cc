#include "vmm/memory/userfaultfd.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "dvm/status.h"
#include "dvm/types.h"

namespace dvm::memory {
namespace {

// WP on shmem appeared in 5.19 under this name; older headers may lack it.
#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM (1 << 12)
#endif

constexpr uint64_t kRequired = UFFD_FEATURE_MISSING_SHMEM | UFFD_FEATURE_WP_HUGETLBFS_SHMEM;
constexpr uint64_t kWanted = kRequired | UFFD_FEATURE_THREAD_ID;

absl::StatusOr<UniqueFd> OpenRaw() {
  UniqueFd fd(static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK)));
  if (fd) return fd;
  int syscall_errno = errno;
  // The syscall may be restricted (vm.unprivileged_userfaultfd); the device
  // node is the other door since Linux 6.1.
  UniqueFd dev(open("/dev/userfaultfd", O_RDWR | O_CLOEXEC));
  if (dev) {
    UniqueFd via_dev(ioctl(dev.get(), USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK));
    if (via_dev) return via_dev;
  }
  return ErrnoStatus("userfaultfd (needs root, or vm.unprivileged_userfaultfd=1, or /dev/userfaultfd access)",
                     syscall_errno);
}

bool Aligned(const void* address, size_t length) {
  return IsPageAligned(reinterpret_cast<uint64_t>(address)) && IsPageAligned(length) && length != 0;
}

absl::Status Misaligned(const char* what, const void* address, size_t length) {
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": range ", reinterpret_cast<uint64_t>(address), " +", length, " is not whole pages"));
}

}  // namespace

absl::StatusOr<Userfaultfd> Userfaultfd::Open() {
  ASSIGN_OR_RETURN(UniqueFd fd, OpenRaw());
  // Ask once with no features to learn what the kernel offers, then for real:
  // UFFDIO_API may be called only once per descriptor, so probe on a spare one.
  uffdio_api probe{.api = UFFD_API, .features = 0, .ioctls = 0};
  {
    ASSIGN_OR_RETURN(UniqueFd spare, OpenRaw());
    if (ioctl(spare.get(), UFFDIO_API, &probe) != 0) return ErrnoStatus("UFFDIO_API");
  }
  if ((probe.features & kRequired) != kRequired) {
    return absl::FailedPreconditionError(absl::StrCat(
        "this kernel's userfaultfd lacks ",
        (probe.features & UFFD_FEATURE_MISSING_SHMEM) ? "" : "MISSING faults on shared memory ",
        (probe.features & UFFD_FEATURE_WP_HUGETLBFS_SHMEM) ? "" : "write-protect on shared memory (Linux 5.19+) ",
        absl::StrFormat("(features %#x)", probe.features)));
  }
  uffdio_api api{.api = UFFD_API, .features = probe.features & kWanted, .ioctls = 0};
  if (ioctl(fd.get(), UFFDIO_API, &api) != 0) return ErrnoStatus("UFFDIO_API");
  return Userfaultfd(std::move(fd), api.features);
}

absl::Status Userfaultfd::Register(void* address, size_t length) {
  if (!Aligned(address, length)) return Misaligned("UFFDIO_REGISTER", address, length);
  uffdio_register reg{};
  reg.range.start = reinterpret_cast<uint64_t>(address);
  reg.range.len = length;
  reg.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP;
  if (ioctl(fd_.get(), UFFDIO_REGISTER, &reg) != 0) return ErrnoStatus("UFFDIO_REGISTER (MISSING|WP)");
  constexpr uint64_t kNeeded = (uint64_t{1} << _UFFDIO_COPY) | (uint64_t{1} << _UFFDIO_WRITEPROTECT);
  if ((reg.ioctls & kNeeded) != kNeeded) {
    return absl::FailedPreconditionError("the registered range does not support UFFDIO_COPY and UFFDIO_WRITEPROTECT");
  }
  return absl::OkStatus();
}

absl::Status Userfaultfd::Copy(void* address, std::span<const uint8_t> source, Access access) {
  if (!Aligned(address, source.size())) return Misaligned("UFFDIO_COPY", address, source.size());
  uint64_t done = 0;
  while (done < source.size()) {
    uffdio_copy copy{};
    copy.dst = reinterpret_cast<uint64_t>(address) + done;
    copy.src = reinterpret_cast<uint64_t>(source.data()) + done;
    copy.len = source.size() - done;
    copy.mode = access == Access::kReadOnly ? UFFDIO_COPY_MODE_WP : 0;
    if (ioctl(fd_.get(), UFFDIO_COPY, &copy) == 0) return absl::OkStatus();
    if (errno == EEXIST) {
      // Already present: someone resolved it first. Make sure waiters wake.
      return Wake(address, source.size());
    }
    // EAGAIN: the mapping changed under us (or a partial copy); continue from
    // what was copied.
    if (errno != EAGAIN) return ErrnoStatus("UFFDIO_COPY");
    if (copy.copy > 0) done += static_cast<uint64_t>(copy.copy);
  }
  return absl::OkStatus();
}

absl::Status Userfaultfd::Protect(void* address, size_t length, Access access) {
  if (!Aligned(address, length)) return Misaligned("UFFDIO_WRITEPROTECT", address, length);
  uffdio_writeprotect wp{};
  wp.range.start = reinterpret_cast<uint64_t>(address);
  wp.range.len = length;
  wp.mode = access == Access::kReadOnly ? UFFDIO_WRITEPROTECT_MODE_WP : 0;
  while (ioctl(fd_.get(), UFFDIO_WRITEPROTECT, &wp) != 0) {
    if (errno != EAGAIN) return ErrnoStatus("UFFDIO_WRITEPROTECT");
  }
  return absl::OkStatus();
}

absl::Status Userfaultfd::Wake(void* address, size_t length) {
  if (!Aligned(address, length)) return Misaligned("UFFDIO_WAKE", address, length);
  uffdio_range range{reinterpret_cast<uint64_t>(address), length};
  if (ioctl(fd_.get(), UFFDIO_WAKE, &range) != 0) return ErrnoStatus("UFFDIO_WAKE");
  return absl::OkStatus();
}

absl::StatusOr<size_t> Userfaultfd::ReadFaults(std::span<Fault> out) {
  constexpr size_t kBatch = 32;
  uffd_msg msgs[kBatch];
  size_t want = std::min(out.size(), kBatch);
  if (want == 0) return 0;
  ssize_t n = read(fd_.get(), msgs, want * sizeof(uffd_msg));
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return 0;
    return ErrnoStatus("read userfaultfd");
  }
  size_t count = 0;
  for (size_t i = 0; i < static_cast<size_t>(n) / sizeof(uffd_msg); ++i) {
    if (msgs[i].event != UFFD_EVENT_PAGEFAULT) continue;
    const auto& pf = msgs[i].arg.pagefault;
    out[count++] = Fault{
        .address = AlignDown(pf.address, kPageSize),
        .write = (pf.flags & UFFD_PAGEFAULT_FLAG_WRITE) != 0,
        .wp = (pf.flags & UFFD_PAGEFAULT_FLAG_WP) != 0,
        .tid = pf.feat.ptid,
    };
  }
  return count;
}

}  // namespace dvm::memory
