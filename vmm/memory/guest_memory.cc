#include "vmm/memory/guest_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "dvm/status.h"
#include "dvm/types.h"

namespace dvm::memory {

absl::StatusOr<GuestMemory> GuestMemory::Create(uint64_t size, const char* name) {
  if (size == 0 || !IsPageAligned(size)) {
    return absl::InvalidArgumentError(absl::StrCat("guest memory size ", size, " is not a non-zero multiple of 4 KiB"));
  }
  UniqueFd fd(memfd_create(name, MFD_CLOEXEC));
  if (!fd) return ErrnoStatus("memfd_create");
  if (ftruncate(fd.get(), static_cast<off_t>(size)) != 0) return ErrnoStatus("ftruncate guest memory");
  void* mapped = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd.get(), 0);
  if (mapped == MAP_FAILED) return ErrnoStatus("mmap guest memory");
  void* alias = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd.get(), 0);
  if (alias == MAP_FAILED) {
    absl::Status status = ErrnoStatus("mmap guest memory alias");
    munmap(mapped, size);
    return status;
  }
  // Guest RAM must not leak into a core dump of the VMM, nor be forked.
  madvise(mapped, size, MADV_DONTDUMP);
  madvise(alias, size, MADV_DONTDUMP);
  madvise(mapped, size, MADV_DONTFORK);
  madvise(alias, size, MADV_DONTFORK);
  return GuestMemory(std::move(fd), size, static_cast<uint8_t*>(mapped), static_cast<uint8_t*>(alias));
}

GuestMemory::GuestMemory(GuestMemory&& other) noexcept
    : memfd_(std::move(other.memfd_)),
      size_(std::exchange(other.size_, 0)),
      mapped_(std::exchange(other.mapped_, nullptr)),
      alias_(std::exchange(other.alias_, nullptr)) {}

GuestMemory& GuestMemory::operator=(GuestMemory&& other) noexcept {
  if (this != &other) {
    Unmap();
    memfd_ = std::move(other.memfd_);
    size_ = std::exchange(other.size_, 0);
    mapped_ = std::exchange(other.mapped_, nullptr);
    alias_ = std::exchange(other.alias_, nullptr);
  }
  return *this;
}

GuestMemory::~GuestMemory() { Unmap(); }

void GuestMemory::Unmap() {
  if (mapped_ != nullptr) munmap(mapped_, size_);
  if (alias_ != nullptr) munmap(alias_, size_);
  mapped_ = alias_ = nullptr;
}

absl::Status GuestMemory::Drop(uint64_t offset, uint64_t length) {
  if (!IsPageAligned(offset) || !IsPageAligned(length) || !Contains(offset, length)) {
    return absl::OutOfRangeError(absl::StrCat("drop [", offset, ", +", length, ") is not whole pages of guest RAM"));
  }
  if (fallocate(memfd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                static_cast<off_t>(length)) != 0) {
    return ErrnoStatus("fallocate(PUNCH_HOLE) on guest memory");
  }
  return absl::OkStatus();
}

absl::Status GuestMemory::Read(uint64_t offset, std::span<uint8_t> out) const {
  if (!Contains(offset, out.size())) {
    return absl::OutOfRangeError(absl::StrCat("read [", offset, ", +", out.size(), ") is outside guest RAM"));
  }
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = pread(memfd_.get(), out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("pread guest memory");
    }
    if (n == 0) return absl::InternalError("pread guest memory: unexpected end of file");
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace dvm::memory
