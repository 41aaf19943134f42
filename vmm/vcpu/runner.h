// One vCPU's thread: a small state machine driven by a mailbox.
//
//   kRunning --RequestPause--> kPaused --Resume--> kRunning
//       \                         |
//        +-----RequestStop / guest ends / error-----> kExited
//
// The thread enters KVM_RUN and handles exits; nothing else touches its KVM
// vCPU. Other threads talk to it only through the mailbox (RequestPause,
// Resume, RequestStop) and through its LAPIC, whose deliveries call Wake():
// that sets an event and kicks KVM_RUN (immediate_exit + signal), so a halted
// or running vCPU notices new interrupts at once.
//
// Interrupts are injected the kernel_irqchip=off way: before each KVM_RUN,
// if the LAPIC (or the PIC, through ExtINT) has a vector and KVM says the
// guest can take it (ready_for_interrupt_injection), KVM_INTERRUPT; if not,
// request an interrupt-window exit. HLT is emulated here: the thread sleeps
// until an interrupt is deliverable (or only NMI/INIT if the guest halted with
// interrupts off). Application processors start in wait-for-SIPI.
#ifndef DVM_VMM_VCPU_RUNNER_H_
#define DVM_VMM_VCPU_RUNNER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "dvm/mutex.h"
#include "dvm/types.h"
#include "vmm/irq/lapic.h"
#include "vmm/irq/pic.h"
#include "vmm/vcpu/backend.h"
#include "vmm/vcpu/exit_handler.h"

namespace dvm::vcpu {

enum class RunState { kCreated, kRunning, kPaused, kExited };

// How a vCPU's run ended, reported once to the machine.
struct VcpuEnd {
  VcpuId vcpu;
  ExitAction action = ExitAction::kContinue;  // kShutdown, kSystemEvent, kFailed; kContinue = stopped
  std::string detail;
};

struct RunnerStats {
  uint64_t exits = 0;
  uint64_t io_exits = 0;
  uint64_t mmio_exits = 0;
  uint64_t halts = 0;
  uint64_t injections = 0;
  uint64_t kicks = 0;
  uint64_t signals = 0;  // kicks that had to interrupt KVM_RUN
};

class Runner {
 public:
  using EndCallback = std::function<void(const VcpuEnd&)>;

  // `pic` may be null (a node without the PIC: ExtINT then never arrives).
  // `on_end` is called from the vCPU thread when the loop ends by itself.
  Runner(VcpuId id, bool bsp, Backend* backend, irq::Lapic* lapic, irq::PicPair* pic, VcpuIo* io,
         EndCallback on_end);
  ~Runner();  // stops and joins
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  void Start();
  // Pause blocks until the vCPU is out of KVM_RUN and parked (or exited).
  void Pause();
  void Resume();
  void RequestStop();
  void Join();

  // New work for the vCPU (an interrupt, a mailbox message): from any thread.
  void Wake();

  RunState state() const;
  RunnerStats stats() const;
  VcpuId id() const { return id_; }

 private:
  enum class Command { kNone, kPause, kStop };

  void Loop();
  // Handles the mailbox; returns false when the loop must end.
  bool ServeMailbox();
  // Sleeps until Wake() (or stop/pause).
  void WaitForEvent();
  // INIT, SIPI and NMI; returns false while waiting for SIPI.
  bool HandleSpecialInterrupts(absl::Status& error);
  void SetHalted(bool halted);  // the vCPU thread's own state, told to the LAPIC
  bool InterruptDeliverable() const;
  absl::Status InjectInterrupts();
  void End(ExitAction action, std::string detail);

  const VcpuId id_;
  Backend* const backend_;
  irq::Lapic* const lapic_;
  irq::PicPair* const pic_;
  VcpuIo* const io_;
  EndCallback on_end_;

  // True while the vCPU thread is in (or about to enter) KVM_RUN: only then
  // does a wake-up need a signal. Wake() stores immediate_exit before it reads
  // this (both sequentially consistent), so one of the two always catches the
  // vCPU.
  std::atomic<bool> in_guest_{false};

  // Touched only by the vCPU thread.
  bool wait_for_sipi_;
  bool halted_ = false;
  bool halted_with_interrupts_off_ = false;

  mutable Mutex mu_;
  CondVar cv_;
  RunState state_ ABSL_GUARDED_BY(mu_) = RunState::kCreated;
  Command command_ ABSL_GUARDED_BY(mu_) = Command::kNone;
  bool event_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;

  // Counted on the vCPU thread without a lock; read by anyone.
  struct Counters {
    std::atomic<uint64_t> exits{0}, io_exits{0}, mmio_exits{0}, halts{0}, injections{0}, kicks{0}, signals{0};
  } counters_;
};

}  // namespace dvm::vcpu

#endif  // DVM_VMM_VCPU_RUNNER_H_
