#include "vmm/vcpu/runner.h"

#include <utility>

#include "dvm/log.h"
#include "dvm/thread_name.h"

namespace dvm::vcpu {

Runner::Runner(VcpuId id, bool bsp, Backend* backend, irq::Lapic* lapic, irq::PicPair* pic, VcpuIo* io,
               EndCallback on_end)
    : id_(id),
      backend_(backend),
      lapic_(lapic),
      pic_(pic),
      io_(io),
      on_end_(std::move(on_end)),
      wait_for_sipi_(!bsp) {}

Runner::~Runner() {
  RequestStop();
  Join();
}

void Runner::Start() {
  {
    MutexLock lock(&mu_);
    if (state_ != RunState::kCreated) return;
    state_ = RunState::kRunning;
  }
  thread_ = std::thread([this] {
    SetThreadName(absl::StrCat("vcpu ", id_.value()));
    Loop();
  });
}

void Runner::Pause() {
  {
    MutexLock lock(&mu_);
    if (state_ != RunState::kRunning) return;
    command_ = Command::kPause;
    cv_.NotifyAll();  // a halted vCPU sleeps on cv_
  }
  backend_->Kick();
  MutexLock lock(&mu_);
  cv_.Wait(&mu_, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return state_ == RunState::kPaused || state_ == RunState::kExited;
  });
}

void Runner::Resume() {
  MutexLock lock(&mu_);
  if (command_ == Command::kPause) command_ = Command::kNone;
  cv_.NotifyAll();
}

void Runner::RequestStop() {
  {
    MutexLock lock(&mu_);
    if (state_ == RunState::kExited || state_ == RunState::kCreated) return;
    command_ = Command::kStop;
    cv_.NotifyAll();
  }
  backend_->Kick();
}

void Runner::Join() {
  if (thread_.joinable()) thread_.join();
}

void Runner::Wake() {
  {
    MutexLock lock(&mu_);
    event_ = true;
    cv_.NotifyAll();
  }
  counters_.kicks.fetch_add(1, std::memory_order_relaxed);
  // immediate_exit first, in_guest_ second. If in_guest_ still reads false,
  // the thread's store of true (and so its KVM_RUN) comes after our
  // immediate_exit store, and that KVM_RUN returns at once; if it reads true,
  // the thread may be past that check already, and only the signal reaches
  // it. The other order loses the wake-up when the thread enters KVM_RUN
  // between our load and our store: it then runs until some unrelated exit.
  backend_->Kick(/*interrupt_guest=*/false);
  if (in_guest_.load(std::memory_order_seq_cst)) {
    counters_.signals.fetch_add(1, std::memory_order_relaxed);
    backend_->Kick(/*interrupt_guest=*/true);
  }
}

RunState Runner::state() const {
  MutexLock lock(&mu_);
  return state_;
}

RunnerStats Runner::stats() const {
  return RunnerStats{
      .exits = counters_.exits.load(std::memory_order_relaxed),
      .io_exits = counters_.io_exits.load(std::memory_order_relaxed),
      .mmio_exits = counters_.mmio_exits.load(std::memory_order_relaxed),
      .halts = counters_.halts.load(std::memory_order_relaxed),
      .injections = counters_.injections.load(std::memory_order_relaxed),
      .kicks = counters_.kicks.load(std::memory_order_relaxed),
      .signals = counters_.signals.load(std::memory_order_relaxed),
  };
}

bool Runner::ServeMailbox() {
  MutexLock lock(&mu_);
  if (command_ == Command::kPause) {
    state_ = RunState::kPaused;
    cv_.NotifyAll();
    cv_.Wait(&mu_, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return command_ != Command::kPause; });
    if (command_ != Command::kStop) state_ = RunState::kRunning;
  }
  return command_ != Command::kStop;
}

void Runner::WaitForEvent() {
  MutexLock lock(&mu_);
  cv_.Wait(&mu_, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return event_ || command_ != Command::kNone; });
  event_ = false;
}

bool Runner::HandleSpecialInterrupts(absl::Status& error) {
  if (lapic_->TakeInit()) {
    error = backend_->ResetForInit();
    wait_for_sipi_ = true;
    SetHalted(false);
    if (!error.ok()) return false;
  }
  if (wait_for_sipi_) {
    std::optional<uint8_t> vector = lapic_->TakeStartup();
    if (!vector) return false;
    error = backend_->StartAt(*vector);
    if (!error.ok()) return false;
    wait_for_sipi_ = false;
  }
  if (lapic_->TakeNmi()) {
    error = backend_->Nmi();
    SetHalted(false);
  }
  return error.ok();
}

void Runner::SetHalted(bool halted) {
  halted_ = halted;
  lapic_->SetHalted(halted);
}

bool Runner::InterruptDeliverable() const {
  // A guest that halted with interrupts off (cli; hlt) waits for NMI or INIT,
  // which HandleSpecialInterrupts handles; nothing else may wake it.
  if (halted_with_interrupts_off_) return false;
  if (lapic_->PendingVector()) return true;
  return pic_ != nullptr && lapic_->AcceptsExtInt() && pic_->HasInterrupt();
}

absl::Status Runner::InjectInterrupts() {
  kvm_run* run = backend_->run();
  const bool extint = pic_ != nullptr && lapic_->AcceptsExtInt() && pic_->HasInterrupt();
  if (!lapic_->PendingVector() && !extint) {
    run->request_interrupt_window = 0;
    return absl::OkStatus();
  }
  if (!run->ready_for_interrupt_injection) {
    run->request_interrupt_window = 1;
    return absl::OkStatus();
  }
  std::optional<uint8_t> vector = lapic_->AcknowledgeInterrupt();
  if (!vector && extint) vector = pic_->Acknowledge();
  if (vector) {
    absl::Status status = backend_->Interrupt(*vector);
    if (!status.ok()) return status;
    counters_.injections.fetch_add(1, std::memory_order_relaxed);
  }
  // More may be waiting; KVM takes one at a time, so ask to hear when the
  // guest can take the next.
  bool more = lapic_->PendingVector().has_value() || (pic_ != nullptr && lapic_->AcceptsExtInt() && pic_->HasInterrupt());
  run->request_interrupt_window = more ? 1 : 0;
  return absl::OkStatus();
}

void Runner::End(ExitAction action, std::string detail) {
  {
    MutexLock lock(&mu_);
    state_ = RunState::kExited;
    cv_.NotifyAll();
  }
  if (action != ExitAction::kContinue && on_end_) on_end_(VcpuEnd{id_, action, std::move(detail)});
}

void Runner::Loop() {
  backend_->BindToCurrentThread();
  while (ServeMailbox()) {
    absl::Status error;
    if (!HandleSpecialInterrupts(error)) {
      if (!error.ok()) return End(ExitAction::kFailed, std::string(error.message()));
      WaitForEvent();  // waiting for SIPI
      continue;
    }
    if (halted_) {
      if (!InterruptDeliverable()) {
        WaitForEvent();
        continue;
      }
      SetHalted(false);
    }
    if (absl::Status s = InjectInterrupts(); !s.ok()) return End(ExitAction::kFailed, std::string(s.message()));
    in_guest_.store(true, std::memory_order_seq_cst);
    absl::Status run_status = backend_->Run();
    in_guest_.store(false, std::memory_order_seq_cst);
    if (!run_status.ok()) return End(ExitAction::kFailed, std::string(run_status.message()));
    counters_.exits.fetch_add(1, std::memory_order_relaxed);
    kvm_run* run = backend_->run();
    if (run->exit_reason == KVM_EXIT_IO) counters_.io_exits.fetch_add(1, std::memory_order_relaxed);
    if (run->exit_reason == KVM_EXIT_MMIO) counters_.mmio_exits.fetch_add(1, std::memory_order_relaxed);
    ExitResult result = HandleExit(*run, backend_->run_size(), *io_);
    switch (result.action) {
      case ExitAction::kContinue:
      case ExitAction::kInterruptWindow:
      case ExitAction::kInterrupted:
        break;
      case ExitAction::kHalt:
        counters_.halts.fetch_add(1, std::memory_order_relaxed);
        SetHalted(true);
        halted_with_interrupts_off_ = run->if_flag == 0;
        break;
      default:
        return End(result.action, result.detail + " [" + backend_->DescribeState() + "]");
    }
  }
  End(ExitAction::kContinue, "");
}

}  // namespace dvm::vcpu
