// userfaultfd for the lab tests: a thin wrapper over the uffd ioctls and a
// thread that serves the faults with a test's handler, recording each one.
// (dvm's real fault source lives in dsm/; this is the smallest thing that lets
// a test prove what KVM does with userfaultfd.)
#ifndef DVM_TEST_LAB_USERFAULT_H_
#define DVM_TEST_LAB_USERFAULT_H_

#include <linux/userfaultfd.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dvm/mutex.h"
#include "dvm/unique_fd.h"

namespace dvm::lab {

class Userfault {
 public:
  // userfaultfd(2) + UFFDIO_API asking for `features` (e.g.
  // UFFD_FEATURE_MINOR_SHMEM); fails if the kernel lacks one. Not
  // UFFD_USER_MODE_ONLY: KVM's own accesses to guest RAM fault in kernel mode.
  static absl::StatusOr<Userfault> Open(uint64_t features);

  int fd() const { return fd_.get(); }
  // The features the kernel offers (from UFFDIO_API), whatever was asked.
  uint64_t available_features() const { return available_features_; }

  // UFFDIO_REGISTER with UFFDIO_REGISTER_MODE_{MISSING,WP,MINOR} bits.
  absl::Status Register(void* address, size_t length, uint64_t modes);
  // UFFDIO_COPY, optionally write-protected; EEXIST counts as success (another
  // thread installed the page first). Wakes the faulting threads.
  absl::Status Copy(void* address, const void* source, size_t length, bool write_protect);
  // UFFDIO_CONTINUE: maps the page already in the page cache.
  absl::Status Continue(void* address, size_t length);
  // UFFDIO_WRITEPROTECT set or clear (clearing wakes the writer).
  absl::Status WriteProtect(void* address, size_t length, bool protect);

 private:
  Userfault(UniqueFd fd, uint64_t available) : fd_(std::move(fd)), available_features_(available) {}
  UniqueFd fd_;
  uint64_t available_features_;
};

// One fault as the server saw it.
struct Fault {
  uint64_t address = 0;  // page-aligned host address
  bool write = false;
  bool wp = false;     // a write to a write-protected page
  bool minor = false;  // page in the page cache but not mapped
  int64_t resolved_ns = 0;  // CLOCK_MONOTONIC after the handler returned (0 before)
};

// Serves page faults on its own thread until destroyed. The handler resolves
// each fault (Copy / Continue / WriteProtect); its first error is kept.
class FaultServer {
 public:
  using Handler = std::function<absl::Status(const Fault&)>;
  static absl::StatusOr<std::unique_ptr<FaultServer>> Start(Userfault* uffd, Handler handler);
  ~FaultServer();

  std::vector<Fault> faults() const;
  absl::Status status() const;

 private:
  FaultServer(Userfault* uffd, Handler handler, UniqueFd stop);
  void Serve();
  void Unblock(const Fault& fault);

  Userfault* uffd_;
  Handler handler_;
  UniqueFd stop_;  // eventfd: written to end Serve()
  mutable Mutex mu_;
  std::vector<Fault> faults_ ABSL_GUARDED_BY(mu_);
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

int64_t MonotonicNanos();

}  // namespace dvm::lab

#endif  // DVM_TEST_LAB_USERFAULT_H_
