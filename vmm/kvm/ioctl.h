// The one place where a KVM ioctl's errno becomes an absl::Status naming it.
// Internal to vmm/kvm.
#ifndef DVM_VMM_KVM_IOCTL_H_
#define DVM_VMM_KVM_IOCTL_H_

#include <sys/ioctl.h>

#include <cerrno>

#include "absl/status/statusor.h"
#include "dvm/status.h"

namespace dvm::kvm::internal {

// ioctl(fd, request, arg), retried on EINTR except where the caller wants to
// see it (KVM_RUN). Returns the ioctl's non-negative result.
template <typename Arg>
absl::StatusOr<int> Ioctl(int fd, unsigned long request, const char* name, Arg arg) {
  int r;
  do {
    r = ::ioctl(fd, request, arg);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return ErrnoStatus(name);
  return r;
}

}  // namespace dvm::kvm::internal

// Issues an ioctl named by its macro, so the error says which one failed:
//   RETURN_IF_ERROR(DVM_KVM_IOCTL(fd, KVM_SET_REGS, &regs).status());
#define DVM_KVM_IOCTL(fd, request, arg) \
  ::dvm::kvm::internal::Ioctl((fd), (request), "ioctl " #request, (arg))

#endif  // DVM_VMM_KVM_IOCTL_H_
