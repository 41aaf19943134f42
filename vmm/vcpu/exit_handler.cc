#include "vmm/vcpu/exit_handler.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace dvm::vcpu {
namespace {

ExitResult HandleIo(kvm_run& run, size_t run_size, VcpuIo& io) {
  const auto& x = run.io;
  const size_t size = x.size;
  // KVM writes these, but a VMM still refuses to index its memory with
  // numbers it did not check.
  if ((size != 1 && size != 2 && size != 4) || x.count == 0 || x.data_offset > run_size ||
      static_cast<uint64_t>(size) * x.count > run_size - x.data_offset) {
    return {ExitAction::kFailed, absl::StrFormat("malformed KVM_EXIT_IO: port %#x size %u count %u offset %llu",
                                                 x.port, x.size, x.count, x.data_offset)};
  }
  uint8_t* data = reinterpret_cast<uint8_t*>(&run) + x.data_offset;
  const bool is_write = x.direction == KVM_EXIT_IO_OUT;
  // String I/O (rep ins/outs) arrives as `count` accesses to the same port.
  for (uint32_t i = 0; i < x.count; ++i) {
    io.Pio(x.port, std::span<uint8_t>(data + i * size, size), is_write);
  }
  return {};
}

ExitResult HandleMmio(kvm_run& run, VcpuIo& io) {
  auto& x = run.mmio;
  if (x.len == 0 || x.len > sizeof(x.data)) {
    return {ExitAction::kFailed, absl::StrFormat("malformed KVM_EXIT_MMIO: address %#llx length %u",
                                                 x.phys_addr, x.len)};
  }
  io.Mmio(Gpa(x.phys_addr), std::span<uint8_t>(x.data, x.len), x.is_write != 0);
  return {};
}

std::string SystemEventName(uint32_t type) {
  switch (type) {
    case KVM_SYSTEM_EVENT_SHUTDOWN: return "shutdown";
    case KVM_SYSTEM_EVENT_RESET: return "reset";
    case KVM_SYSTEM_EVENT_CRASH: return "crash";
    default: return absl::StrCat("event ", type);
  }
}

}  // namespace

ExitResult HandleExit(kvm_run& run, size_t run_size, VcpuIo& io) {
  switch (run.exit_reason) {
    case KVM_EXIT_IO: return HandleIo(run, run_size, io);
    case KVM_EXIT_MMIO: return HandleMmio(run, io);
    case KVM_EXIT_HLT: return {ExitAction::kHalt, ""};
    case KVM_EXIT_IRQ_WINDOW_OPEN: return {ExitAction::kInterruptWindow, ""};
    case KVM_EXIT_INTR: return {ExitAction::kInterrupted, ""};
    case KVM_EXIT_SHUTDOWN: return {ExitAction::kShutdown, "triple fault"};
    case KVM_EXIT_SYSTEM_EVENT:
      return {ExitAction::kSystemEvent, SystemEventName(run.system_event.type)};
    case KVM_EXIT_FAIL_ENTRY:
      return {ExitAction::kFailed,
              absl::StrFormat("KVM_EXIT_FAIL_ENTRY: hardware entry failure reason %#llx",
                              run.fail_entry.hardware_entry_failure_reason)};
    case KVM_EXIT_INTERNAL_ERROR:
      return {ExitAction::kFailed, absl::StrFormat("KVM_EXIT_INTERNAL_ERROR: suberror %u", run.internal.suberror)};
    default:
      return {ExitAction::kFailed, absl::StrCat("unexpected exit ", ExitReasonName(run.exit_reason))};
  }
}

const char* ExitReasonName(uint32_t reason) {
  switch (reason) {
    case KVM_EXIT_UNKNOWN: return "KVM_EXIT_UNKNOWN";
    case KVM_EXIT_EXCEPTION: return "KVM_EXIT_EXCEPTION";
    case KVM_EXIT_IO: return "KVM_EXIT_IO";
    case KVM_EXIT_HYPERCALL: return "KVM_EXIT_HYPERCALL";
    case KVM_EXIT_DEBUG: return "KVM_EXIT_DEBUG";
    case KVM_EXIT_HLT: return "KVM_EXIT_HLT";
    case KVM_EXIT_MMIO: return "KVM_EXIT_MMIO";
    case KVM_EXIT_IRQ_WINDOW_OPEN: return "KVM_EXIT_IRQ_WINDOW_OPEN";
    case KVM_EXIT_SHUTDOWN: return "KVM_EXIT_SHUTDOWN";
    case KVM_EXIT_FAIL_ENTRY: return "KVM_EXIT_FAIL_ENTRY";
    case KVM_EXIT_INTR: return "KVM_EXIT_INTR";
    case KVM_EXIT_INTERNAL_ERROR: return "KVM_EXIT_INTERNAL_ERROR";
    case KVM_EXIT_SYSTEM_EVENT: return "KVM_EXIT_SYSTEM_EVENT";
    default: return "KVM_EXIT_(other)";
  }
}

}  // namespace dvm::vcpu
