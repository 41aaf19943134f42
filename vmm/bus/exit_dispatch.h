// From a vCPU exit to what the vCPU loop does next. The KVM layer translates
// kvm_run into a VcpuExit; Dispatch() runs the device access (reads are
// written back into exit.data, which points into kvm_run) and returns an
// Action. The loop is then, roughly:
//
//   for (;;) {
//     inject pending NMI / LAPIC or PIC vector if the window is open;
//     KVM_RUN;
//     Action a = dispatcher.Dispatch(TranslateExit(run));
//     switch (a.kind) { kResume: continue; kHalt: wait for an interrupt or a
//       deadline; kPowerOff / kReset: stop all vCPUs; kFail: report a.reason }
//   }
//
// Dispatch never trusts the guest: unmapped ports read as all-ones and
// writes to them are dropped (both counted), and malformed exits from the
// KVM layer become kFail rather than a crash.
#ifndef DVM_VMM_BUS_EXIT_DISPATCH_H_
#define DVM_VMM_BUS_EXIT_DISPATCH_H_

#include <atomic>
#include <cstdint>
#include <span>
#include <string>

#include "vmm/bus/bus.h"
#include "vmm/hw/device.h"
#include "vmm/hw/power.h"

namespace dvm::bus {

enum class ExitReason {
  kIo,             // port I/O (KVM_EXIT_IO), possibly a string op with count > 1
  kMmio,           // KVM_EXIT_MMIO
  kHlt,            // KVM_EXIT_HLT
  kShutdown,       // triple fault (KVM_EXIT_SHUTDOWN)
  kIrqWindowOpen,  // KVM_EXIT_IRQ_WINDOW_OPEN
  kInterrupted,    // KVM_EXIT_INTR / EINTR: a kick
  kFailEntry,      // KVM_EXIT_FAIL_ENTRY
  kInternalError,  // KVM_EXIT_INTERNAL_ERROR
  kUnknown,
};

struct VcpuExit {
  ExitReason reason = ExitReason::kUnknown;
  uint64_t addr = 0;       // port or guest-physical address
  uint32_t size = 0;       // bytes per access: 1, 2, 4 or 8
  uint32_t count = 1;      // repetitions of a string I/O instruction
  bool is_write = false;
  std::span<uint8_t> data;  // size * count bytes
  uint64_t detail = 0;      // hardware entry failure reason, suberror, raw exit reason
};

enum class ActionKind { kResume, kHalt, kPowerOff, kReset, kFail };

struct Action {
  ActionKind kind = ActionKind::kResume;
  std::string reason;  // for kFail (and logs)
};

struct DispatchCounters {
  std::atomic<uint64_t> pio{0}, mmio{0}, unmapped_pio{0}, unmapped_mmio{0}, halts{0};
};

class ExitDispatcher {
 public:
  // `lapic` is this vCPU's own LAPIC, consulted for the LAPIC page before the
  // shared MMIO bus (may be null); `power` is where devices post power-off
  // and reset requests (may be null).
  ExitDispatcher(const Bus* pio, const Bus* mmio, hw::Device* lapic, const hw::PowerLatch* power,
                 DispatchCounters* counters);

  Action Dispatch(const VcpuExit& exit);

 private:
  Action Access(const VcpuExit& exit, bool mmio);
  Action AfterDevice() const;

  const Bus* const pio_;
  const Bus* const mmio_;
  hw::Device* const lapic_;
  const hw::PowerLatch* const power_;
  DispatchCounters* const counters_;
};

}  // namespace dvm::bus

#endif  // DVM_VMM_BUS_EXIT_DISPATCH_H_
