#include "vmm/kvm/vcpu.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "dvm/status.h"
#include "vmm/kvm/ioctl.h"
#include "vmm/kvm/uapi.h"

namespace dvm::kvm {
namespace {

void IgnoreSignal(int) {}

// KVM_GET_* into a fresh struct T.
template <typename T>
absl::StatusOr<T> Get(int fd, unsigned long request, const char* name) {
  T value;
  std::memset(&value, 0, sizeof(value));
  RETURN_IF_ERROR(internal::Ioctl(fd, request, name, &value).status());
  return value;
}

template <typename T>
absl::Status Set(int fd, unsigned long request, const char* name, const T& value) {
  return internal::Ioctl(fd, request, name, &value).status();
}

}  // namespace

absl::Status InstallKickSignalHandler(int signal) {
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_handler = IgnoreSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: KVM_RUN must return EINTR
  if (::sigaction(signal, &action, nullptr) < 0) return ErrnoStatus("sigaction");
  return absl::OkStatus();
}

Vcpu::Vcpu(Vcpu&& other) noexcept
    : id_(other.id_),
      fd_(std::move(other.fd_)),
      run_(std::exchange(other.run_, nullptr)),
      run_size_(std::exchange(other.run_size_, 0)),
      thread_(other.thread_.load()) {}

Vcpu& Vcpu::operator=(Vcpu&& other) noexcept {
  if (this != &other) {
    Unmap();
    id_ = other.id_;
    fd_ = std::move(other.fd_);
    run_ = std::exchange(other.run_, nullptr);
    run_size_ = std::exchange(other.run_size_, 0);
    thread_.store(other.thread_.load());
  }
  return *this;
}

Vcpu::~Vcpu() { Unmap(); }

void Vcpu::Unmap() {
  if (run_ != nullptr) ::munmap(run_, run_size_);
  run_ = nullptr;
}

absl::Status Vcpu::Run() {
  // Not internal::Ioctl: EINTR is an exit here, not something to retry.
  const int r = ::ioctl(fd(), KVM_RUN, 0);
  const int error = errno;
  // A kick that lands after KVM_RUN returned is dropped here; the VMM reads
  // its mailbox after every Run(), and a kick always follows a message.
  __atomic_store_n(&run_->immediate_exit, 0, __ATOMIC_SEQ_CST);
  if (r < 0) {
    if (error == EINTR || error == EAGAIN) {
      run_->exit_reason = KVM_EXIT_INTR;
      return absl::OkStatus();
    }
    return ErrnoStatus(absl::StrCat("ioctl KVM_RUN (vcpu ", id_.value(), ")"), error);
  }
  return absl::OkStatus();
}

void Vcpu::BindToCurrentThread() { thread_.store(::pthread_self()); }

absl::Status Vcpu::Kick(int signal) {
  // immediate_exit covers a kick that lands before the thread enters KVM_RUN;
  // the signal covers one that lands while the guest runs.
  __atomic_store_n(&run_->immediate_exit, 1, __ATOMIC_SEQ_CST);
  const pthread_t thread = thread_.load();
  if (thread == pthread_t{}) {
    return absl::FailedPreconditionError("Vcpu::Kick before BindToCurrentThread");
  }
  if (const int e = ::pthread_kill(thread, signal); e != 0) return ErrnoStatus("pthread_kill", e);
  return absl::OkStatus();
}

std::span<uint8_t> Vcpu::IoData() const {
  auto* base = reinterpret_cast<uint8_t*>(run_);
  return {base + run_->io.data_offset, size_t{run_->io.size} * run_->io.count};
}

absl::StatusOr<kvm_regs> Vcpu::GetRegs() const {
  return Get<kvm_regs>(fd(), KVM_GET_REGS, "ioctl KVM_GET_REGS");
}
absl::Status Vcpu::SetRegs(const kvm_regs& regs) {
  return Set(fd(), KVM_SET_REGS, "ioctl KVM_SET_REGS", regs);
}
absl::StatusOr<kvm_sregs> Vcpu::GetSregs() const {
  return Get<kvm_sregs>(fd(), KVM_GET_SREGS, "ioctl KVM_GET_SREGS");
}
absl::Status Vcpu::SetSregs(const kvm_sregs& sregs) {
  return Set(fd(), KVM_SET_SREGS, "ioctl KVM_SET_SREGS", sregs);
}
absl::StatusOr<kvm_fpu> Vcpu::GetFpu() const {
  return Get<kvm_fpu>(fd(), KVM_GET_FPU, "ioctl KVM_GET_FPU");
}
absl::Status Vcpu::SetFpu(const kvm_fpu& fpu) {
  return Set(fd(), KVM_SET_FPU, "ioctl KVM_SET_FPU", fpu);
}
absl::StatusOr<uapi::XsaveRegion> Vcpu::GetXsave() const {
  return Get<uapi::XsaveRegion>(fd(), uapi::kGetXsave, "ioctl KVM_GET_XSAVE");
}
absl::Status Vcpu::SetXsave(const uapi::XsaveRegion& xsave) {
  return Set(fd(), uapi::kSetXsave, "ioctl KVM_SET_XSAVE", xsave);
}
absl::StatusOr<kvm_xcrs> Vcpu::GetXcrs() const {
  return Get<kvm_xcrs>(fd(), KVM_GET_XCRS, "ioctl KVM_GET_XCRS");
}
absl::Status Vcpu::SetXcrs(const kvm_xcrs& xcrs) {
  return Set(fd(), KVM_SET_XCRS, "ioctl KVM_SET_XCRS", xcrs);
}
absl::StatusOr<kvm_vcpu_events> Vcpu::GetVcpuEvents() const {
  return Get<kvm_vcpu_events>(fd(), KVM_GET_VCPU_EVENTS, "ioctl KVM_GET_VCPU_EVENTS");
}
absl::Status Vcpu::SetVcpuEvents(const kvm_vcpu_events& events) {
  return Set(fd(), KVM_SET_VCPU_EVENTS, "ioctl KVM_SET_VCPU_EVENTS", events);
}
absl::StatusOr<kvm_debugregs> Vcpu::GetDebugRegs() const {
  return Get<kvm_debugregs>(fd(), KVM_GET_DEBUGREGS, "ioctl KVM_GET_DEBUGREGS");
}
absl::Status Vcpu::SetDebugRegs(const kvm_debugregs& regs) {
  return Set(fd(), KVM_SET_DEBUGREGS, "ioctl KVM_SET_DEBUGREGS", regs);
}
absl::StatusOr<kvm_mp_state> Vcpu::GetMpState() const {
  return Get<kvm_mp_state>(fd(), KVM_GET_MP_STATE, "ioctl KVM_GET_MP_STATE");
}
absl::Status Vcpu::SetMpState(const kvm_mp_state& state) {
  return Set(fd(), KVM_SET_MP_STATE, "ioctl KVM_SET_MP_STATE", state);
}

namespace {

// A header-plus-array ioctl argument laid out as C lays it out (uapi.h).
template <typename Header, typename Entry>
class VariableArg {
 public:
  explicit VariableArg(size_t n)
      : buffer_(std::make_unique<uint64_t[]>((sizeof(Header) + n * sizeof(Entry) + 7) / 8)) {}
  Header* header() { return reinterpret_cast<Header*>(buffer_.get()); }
  Entry* entries() { return reinterpret_cast<Entry*>(header() + 1); }

 private:
  std::unique_ptr<uint64_t[]> buffer_;  // zeroed, 8-byte aligned
};

}  // namespace

absl::StatusOr<std::vector<kvm_msr_entry>> Vcpu::GetMsrs(
    std::span<const uint32_t> indices) const {
  VariableArg<uapi::MsrsHeader, kvm_msr_entry> arg(indices.size());
  arg.header()->nmsrs = indices.size();
  for (size_t i = 0; i < indices.size(); ++i) arg.entries()[i].index = indices[i];
  ASSIGN_OR_RETURN(int read, internal::Ioctl(fd(), uapi::kGetMsrs, "ioctl KVM_GET_MSRS",
                                             arg.header()));
  if (static_cast<size_t>(read) != indices.size()) {
    return absl::InvalidArgumentError(absl::StrCat("ioctl KVM_GET_MSRS: read ", read, " of ",
                                                   indices.size(), " MSRs; MSR 0x",
                                                   absl::Hex(indices[read]), " failed"));
  }
  return std::vector<kvm_msr_entry>(arg.entries(), arg.entries() + read);
}

absl::Status Vcpu::SetMsrs(std::span<const kvm_msr_entry> entries) {
  VariableArg<uapi::MsrsHeader, kvm_msr_entry> arg(entries.size());
  arg.header()->nmsrs = entries.size();
  std::memcpy(arg.entries(), entries.data(), entries.size_bytes());
  ASSIGN_OR_RETURN(int written, internal::Ioctl(fd(), uapi::kSetMsrs, "ioctl KVM_SET_MSRS",
                                                arg.header()));
  if (static_cast<size_t>(written) != entries.size()) {
    return absl::InvalidArgumentError(absl::StrCat("ioctl KVM_SET_MSRS: wrote ", written, " of ",
                                                   entries.size(), " MSRs; MSR 0x",
                                                   absl::Hex(entries[written].index), " failed"));
  }
  return absl::OkStatus();
}

absl::Status Vcpu::SetCpuid(std::span<const kvm_cpuid_entry2> entries) {
  VariableArg<uapi::CpuidHeader, kvm_cpuid_entry2> arg(entries.size());
  arg.header()->nent = entries.size();
  std::memcpy(arg.entries(), entries.data(), entries.size_bytes());
  return internal::Ioctl(fd(), uapi::kSetCpuid2, "ioctl KVM_SET_CPUID2", arg.header()).status();
}

absl::Status Vcpu::Interrupt(uint8_t vector) {
  kvm_interrupt irq = {.irq = vector};
  return DVM_KVM_IOCTL(fd(), KVM_INTERRUPT, &irq).status();
}

absl::Status Vcpu::Nmi() { return DVM_KVM_IOCTL(fd(), KVM_NMI, 0).status(); }

absl::StatusOr<uint32_t> Vcpu::GetTscKhz() const {
  ASSIGN_OR_RETURN(int khz, DVM_KVM_IOCTL(fd(), KVM_GET_TSC_KHZ, 0));
  return static_cast<uint32_t>(khz);
}

absl::Status Vcpu::SetTscKhz(uint32_t khz) {
  return DVM_KVM_IOCTL(fd(), KVM_SET_TSC_KHZ, static_cast<unsigned long>(khz)).status();
}

absl::StatusOr<int64_t> Vcpu::GetTscOffset() const {
  int64_t offset = 0;
  kvm_device_attr attr = {.flags = 0, .group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET,
                          .addr = reinterpret_cast<uint64_t>(&offset)};
  RETURN_IF_ERROR(DVM_KVM_IOCTL(fd(), KVM_GET_DEVICE_ATTR, &attr).status());
  return offset;
}

absl::Status Vcpu::SetTscOffset(int64_t offset) {
  kvm_device_attr attr = {.flags = 0, .group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET,
                          .addr = reinterpret_cast<uint64_t>(&offset)};
  return DVM_KVM_IOCTL(fd(), KVM_SET_DEVICE_ATTR, &attr).status();
}

}  // namespace dvm::kvm
