#include "vmm/kvm/kvm.h"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <memory>

#include "absl/strings/str_cat.h"
#include "dvm/status.h"
#include "vmm/kvm/ioctl.h"
#include "vmm/kvm/uapi.h"

namespace dvm::kvm {
namespace {

// Calls a KVM_GET_* ioctl that fills a header-plus-array struct, growing the
// array while KVM answers E2BIG. Count is the header's entry-count member.
template <typename Header, typename Entry, auto Count>
absl::StatusOr<std::vector<Entry>> GetVariableArray(int fd, unsigned long request,
                                                    const char* name, uint32_t initial) {
  for (uint32_t n = initial; n <= (1u << 16); n *= 2) {
    const size_t bytes = sizeof(Header) + n * sizeof(Entry);
    auto buffer = std::make_unique<uint64_t[]>((bytes + 7) / 8);  // aligned, zeroed
    auto* header = reinterpret_cast<Header*>(buffer.get());
    header->*Count = n;
    if (::ioctl(fd, request, header) < 0) {
      if (errno == E2BIG) continue;  // KVM wants a larger array
      return ErrnoStatus(name);
    }
    // Entries follow the C layout's header (see uapi.h), not C++'s.
    const Entry* entries = reinterpret_cast<const Entry*>(header + 1);
    return std::vector<Entry>(entries, entries + (header->*Count));
  }
  return absl::InternalError(absl::StrCat(name, ": still E2BIG at 65536 entries"));
}

}  // namespace

absl::StatusOr<Kvm> Kvm::Open(const std::string& device) {
  UniqueFd fd(::open(device.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.valid()) {
    const absl::Status open_error = ErrnoStatus(absl::StrCat("open ", device));
    return absl::FailedPreconditionError(absl::StrCat(open_error.message(), "; ", kNoKvmHint));
  }
  ASSIGN_OR_RETURN(int version, DVM_KVM_IOCTL(fd.get(), KVM_GET_API_VERSION, 0));
  if (version != KVM_API_VERSION) {
    return absl::FailedPreconditionError(
        absl::StrCat(device, ": KVM API version ", version, ", dvm needs ", KVM_API_VERSION));
  }
  return Kvm(std::move(fd));
}

absl::StatusOr<int> Kvm::CheckExtension(int capability) const {
  return DVM_KVM_IOCTL(fd(), KVM_CHECK_EXTENSION, capability);
}

absl::StatusOr<size_t> Kvm::VcpuMmapSize() const {
  ASSIGN_OR_RETURN(int size, DVM_KVM_IOCTL(fd(), KVM_GET_VCPU_MMAP_SIZE, 0));
  return static_cast<size_t>(size);
}

absl::StatusOr<std::vector<kvm_cpuid_entry2>> Kvm::GetSupportedCpuid() const {
  return GetVariableArray<uapi::CpuidHeader, kvm_cpuid_entry2, &uapi::CpuidHeader::nent>(
      fd(), uapi::kGetSupportedCpuid, "ioctl KVM_GET_SUPPORTED_CPUID", 64);
}

absl::StatusOr<std::vector<uint32_t>> Kvm::GetMsrIndexList() const {
  return GetVariableArray<uapi::MsrListHeader, uint32_t, &uapi::MsrListHeader::nmsrs>(
      fd(), uapi::kGetMsrIndexList, "ioctl KVM_GET_MSR_INDEX_LIST", 64);
}

absl::StatusOr<Vm> Kvm::CreateVm() const {
  ASSIGN_OR_RETURN(size_t run_size, VcpuMmapSize());
  ASSIGN_OR_RETURN(int vm_fd, DVM_KVM_IOCTL(fd(), KVM_CREATE_VM, 0));
  return Vm(UniqueFd(vm_fd), run_size);
}

}  // namespace dvm::kvm
