#include "vmm/bus/exit_dispatch.h"

#include <cstring>

#include "absl/strings/str_format.h"
#include "dvm/log.h"
#include "vmm/layout/layout.h"

namespace dvm::bus {
namespace {

constexpr uint32_t kMaxStringCount = 1 << 16;  // more than a page of string I/O is not KVM

bool ValidSize(uint32_t size) { return size == 1 || size == 2 || size == 4 || size == 8; }

}  // namespace

ExitDispatcher::ExitDispatcher(const Bus* pio, const Bus* mmio, hw::Device* lapic,
                               const hw::PowerLatch* power, DispatchCounters* counters)
    : pio_(pio), mmio_(mmio), lapic_(lapic), power_(power), counters_(counters) {}

Action ExitDispatcher::AfterDevice() const {
  if (power_ != nullptr) {
    switch (power_->pending()) {
      case hw::PowerRequest::kPowerOff: return {ActionKind::kPowerOff, "guest powered off"};
      case hw::PowerRequest::kReset: return {ActionKind::kReset, "guest requested reset"};
      case hw::PowerRequest::kNone: break;
    }
  }
  return {};
}

Action ExitDispatcher::Access(const VcpuExit& exit, bool mmio) {
  if (!ValidSize(exit.size) || exit.count == 0 || exit.count > kMaxStringCount ||
      (mmio && exit.count != 1) || exit.data.size() != uint64_t{exit.size} * exit.count) {
    return {ActionKind::kFail,
            absl::StrFormat("malformed %s exit: addr 0x%x size %d count %d data %d",
                            mmio ? "MMIO" : "PIO", exit.addr, exit.size, exit.count,
                            exit.data.size())};
  }
  if (counters_ != nullptr) (mmio ? counters_->mmio : counters_->pio)++;

  hw::Device* device = nullptr;
  uint64_t offset = 0;
  const uint64_t lapic_base = layout::kLapic.value();
  if (mmio && lapic_ != nullptr && exit.addr >= lapic_base &&
      exit.addr - lapic_base < layout::kLapicSize) {
    device = lapic_;
    offset = exit.addr - lapic_base;
  } else if (const Bus* bus = mmio ? mmio_ : pio_; bus != nullptr) {
    if (auto hit = bus->Lookup(exit.addr, exit.size)) {
      device = hit->device;
      offset = hit->offset;
    }
  }

  if (device == nullptr) {
    if (counters_ != nullptr) (mmio ? counters_->unmapped_mmio : counters_->unmapped_pio)++;
    DVM_LOG_EVERY_SEC(DEBUG, 1.0) << "unmapped " << (mmio ? "MMIO" : "port") << " "
                                  << (exit.is_write ? "write" : "read") << " at 0x" << std::hex
                                  << exit.addr;
    if (!exit.is_write) std::memset(exit.data.data(), 0xFF, exit.data.size());  // floating bus
    return {};
  }
  for (uint32_t i = 0; i < exit.count; ++i) {
    auto chunk = exit.data.subspan(size_t{i} * exit.size, exit.size);
    if (exit.is_write) device->Write(offset, chunk);
    else device->Read(offset, chunk);
  }
  return AfterDevice();
}

Action ExitDispatcher::Dispatch(const VcpuExit& exit) {
  switch (exit.reason) {
    case ExitReason::kIo: return Access(exit, /*mmio=*/false);
    case ExitReason::kMmio: return Access(exit, /*mmio=*/true);
    case ExitReason::kHlt:
      if (counters_ != nullptr) counters_->halts++;
      return {ActionKind::kHalt, ""};
    case ExitReason::kShutdown:
      // A triple fault; Linux's last-resort reboot method is exactly this.
      return {ActionKind::kReset, "triple fault (shutdown exit)"};
    case ExitReason::kIrqWindowOpen:
    case ExitReason::kInterrupted:
      return AfterDevice();
    case ExitReason::kFailEntry:
      return {ActionKind::kFail, absl::StrFormat("VM entry failed, hardware reason 0x%x", exit.detail)};
    case ExitReason::kInternalError:
      return {ActionKind::kFail, absl::StrFormat("KVM internal error, suberror %d", exit.detail)};
    case ExitReason::kUnknown:
      break;
  }
  return {ActionKind::kFail, absl::StrFormat("unhandled exit reason %d", exit.detail)};
}

}  // namespace dvm::bus
