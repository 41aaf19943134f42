// userfaultfd as the DSM uses it on guest RAM: trap accesses to absent pages
// (MISSING) and writes to read-only pages (WP), install pages, and grant or
// take away write access.
//
// Why these modes (see DESIGN.md, "userfaultfd facts"): pages are dropped with
// PUNCH_HOLE, so the next touch is MISSING and is resolved by UFFDIO_COPY,
// with COPY_MODE_WP when the page arrives read-only. That installs a shared
// page read-only in one step on every kernel we run, including the lab's 6.1,
// which lacks UFFDIO_CONTINUE_MODE_WP. Not UFFD_USER_MODE_ONLY: KVM's own
// accesses to guest RAM fault in kernel mode.
#ifndef DVM_VMM_MEMORY_USERFAULTFD_H_
#define DVM_VMM_MEMORY_USERFAULTFD_H_

#include <cstddef>
#include <cstdint>
#include <span>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dvm/unique_fd.h"

namespace dvm::memory {

// One fault as userfaultfd reports it.
struct Fault {
  uint64_t address = 0;  // page-aligned host address in the registered range
  bool write = false;    // the access was a write
  bool wp = false;       // a write to a present, write-protected page
  uint32_t tid = 0;      // the faulting thread, when the kernel reports it
};

enum class Access { kReadOnly, kWritable };

class Userfaultfd {
 public:
  // Opens a non-blocking userfaultfd and checks the kernel can trap MISSING and
  // WP on shared memory; the error names the missing feature.
  static absl::StatusOr<Userfaultfd> Open();

  int fd() const { return fd_.get(); }
  uint64_t features() const { return features_; }

  // Registers [address, address + length) for MISSING and WP faults.
  absl::Status Register(void* address, size_t length);

  // Installs `source` (whole pages) at `address` and wakes the threads waiting
  // on it. EEXIST means another install got there first and counts as success.
  absl::Status Copy(void* address, std::span<const uint8_t> source, Access access);

  // Sets (kReadOnly) or clears (kWritable) write protection on present pages.
  // Clearing wakes writers blocked on a WP fault there.
  absl::Status Protect(void* address, size_t length, Access access);

  // Wakes threads blocked on faults in the range without changing it, e.g.
  // after another thread already resolved the fault.
  absl::Status Wake(void* address, size_t length);

  // Reads pending faults without blocking; returns how many it wrote to `out`
  // (0 when none are pending). Non-fault events are skipped.
  absl::StatusOr<size_t> ReadFaults(std::span<Fault> out);

 private:
  Userfaultfd(UniqueFd fd, uint64_t features) : fd_(std::move(fd)), features_(features) {}

  UniqueFd fd_;
  uint64_t features_ = 0;
};

}  // namespace dvm::memory

#endif  // DVM_VMM_MEMORY_USERFAULTFD_H_
