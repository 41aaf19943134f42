#include "vmm/vcpu/runner.h"

#include <chrono>
#include <cstring>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "vmm/hw/clock.h"
#include "vmm/irq/apic_message.h"
#include "vmm/irq/fake_sinks.h"

namespace dvm::vcpu {
namespace {

using ExitScript = std::function<void(kvm_run&)>;

// A vCPU whose exits come from a script. With the script empty, Run() blocks
// like a guest spinning in KVM_RUN until it is kicked (then KVM_EXIT_INTR).
class FakeBackend final : public Backend {
 public:
  FakeBackend() { std::memset(page_, 0, sizeof page_); }

  absl::Status Run() override {
    MutexLock lock(&mu_);
    ++runs_;
    // Like KVM: immediate_exit is read once on the way in; after that only a
    // signal (or the next scripted exit) ends the run.
    in_guest_ = true;
    cv_.NotifyAll();
    cv_.Wait(&mu_, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !script_.empty() || kicked_; });
    in_guest_ = false;
    if (!script_.empty()) {
      ExitScript next = std::move(script_.front());
      script_.pop_front();
      next(*run());
    } else {
      run()->exit_reason = KVM_EXIT_INTR;
    }
    kicked_ = false;
    cv_.NotifyAll();
    return absl::OkStatus();
  }
  kvm_run* run() override { return reinterpret_cast<kvm_run*>(page_); }
  size_t run_size() const override { return sizeof page_; }
  absl::Status Interrupt(uint8_t vector) override {
    MutexLock lock(&mu_);
    injected_.push_back(vector);
    cv_.NotifyAll();
    if (hold_next_interrupt_) {
      // Park the vCPU thread after its LAPIC check, before KVM_RUN.
      hold_next_interrupt_ = false;
      held_ = true;
      cv_.NotifyAll();
      cv_.Wait(&mu_, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !held_; });
    }
    return absl::OkStatus();
  }
  absl::Status Nmi() override {
    MutexLock lock(&mu_);
    ++nmis_;
    return absl::OkStatus();
  }
  absl::Status ResetForInit() override { return absl::OkStatus(); }
  absl::Status StartAt(uint8_t vector) override {
    MutexLock lock(&mu_);
    started_at_ = vector;
    cv_.NotifyAll();
    return absl::OkStatus();
  }
  void BindToCurrentThread() override {}
  std::string DescribeState() override { return "fake state"; }
  void Kick(bool interrupt_guest) override {
    MutexLock lock(&mu_);
    if (!interrupt_guest && held_) {
      // The kicker is slow (preempted, say): the parked vCPU thread goes on
      // and enters KVM_RUN before this immediate_exit store lands.
      held_ = false;
      cv_.NotifyAll();
      cv_.WaitFor(&mu_, std::chrono::seconds(1), [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return in_guest_; });
    }
    // immediate_exit alone does not reach a vCPU already in the guest.
    if (interrupt_guest || !in_guest_) kicked_ = true;
    cv_.NotifyAll();
  }

  void Push(ExitScript exit) {
    MutexLock lock(&mu_);
    script_.push_back(std::move(exit));
    cv_.NotifyAll();
  }
  // Waits (up to 5 s) for a condition on the fake's state.
  bool WaitFor(std::function<bool(FakeBackend&)> pred) {
    MutexLock lock(&mu_);
    return cv_.WaitFor(&mu_, std::chrono::seconds(5), [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return pred(*this); });
  }

  int Runs() {
    MutexLock lock(&mu_);
    return runs_;
  }

  // Read through WaitFor or Runs() while the runner's thread is live.
  int runs_ = 0;
  int nmis_ = 0;
  bool hold_next_interrupt_ = false;  // set before Start()
  bool held_ = false;
  std::vector<uint8_t> injected_;
  std::optional<uint8_t> started_at_;
  std::deque<ExitScript> script_;

 private:
  Mutex mu_;
  CondVar cv_;
  bool kicked_ = false;
  bool in_guest_ = false;
  alignas(kvm_run) uint8_t page_[8192];
};

class NullIo final : public VcpuIo {
 public:
  void Pio(uint16_t port, std::span<uint8_t> data, bool is_write) override {
    if (is_write) ports.push_back(port);
  }
  void Mmio(Gpa, std::span<uint8_t>, bool) override {}
  std::vector<uint16_t> ports;
};

ExitScript Exit(uint32_t reason, bool ready_for_injection = true, bool if_flag = true) {
  return [=](kvm_run& run) {
    run.exit_reason = reason;
    run.ready_for_interrupt_injection = ready_for_injection;
    run.if_flag = if_flag;
  };
}

ExitScript PortWrite(uint16_t port) {
  return [=](kvm_run& run) {
    run.exit_reason = KVM_EXIT_IO;
    run.io = {.direction = KVM_EXIT_IO_OUT, .size = 1, .port = port, .count = 1, .data_offset = 4096};
  };
}

class RunnerTest : public ::testing::Test {
 protected:
  void MakeRunner(bool bsp) {
    lapic_ = std::make_unique<irq::Lapic>(bsp ? 0 : 1, bsp, &clock_, &ipis_, &eois_);
    runner_ = std::make_unique<Runner>(VcpuId(bsp ? 0 : 1), bsp, &backend_, lapic_.get(), nullptr, &io_,
                                       [this](const VcpuEnd& end) {
                                         MutexLock lock(&end_mu_);
                                         ends_.push_back(end);
                                       });
    lapic_->SetKick([this] { runner_->Wake(); });
    // Software-enable the LAPIC so it accepts fixed interrupts.
    uint32_t svr = 0x1ff;
    lapic_->Write(irq::apic_reg::kSvr, std::span<const uint8_t>(reinterpret_cast<uint8_t*>(&svr), 4));
  }
  void Deliver(irq::DeliveryMode mode, uint8_t vector) {
    irq::ApicMessage m;
    m.mode = mode;
    m.vector = vector;
    lapic_->Deliver(m);
  }
  std::vector<VcpuEnd> Ends() {
    MutexLock lock(&end_mu_);
    return ends_;
  }

  hw::FakeClock clock_;
  irq::RecordingApicSink ipis_;
  irq::RecordingEoiSink eois_;
  FakeBackend backend_;
  NullIo io_;
  std::unique_ptr<irq::Lapic> lapic_;
  std::unique_ptr<Runner> runner_;
  Mutex end_mu_;
  std::vector<VcpuEnd> ends_;
};

TEST_F(RunnerTest, RunsExitsUntilShutdownAndReportsIt) {
  MakeRunner(/*bsp=*/true);
  backend_.Push(PortWrite(0x80));
  backend_.Push(PortWrite(0x81));
  backend_.Push(Exit(KVM_EXIT_SHUTDOWN));
  runner_->Start();
  runner_->Join();
  EXPECT_EQ(io_.ports, (std::vector<uint16_t>{0x80, 0x81}));
  ASSERT_EQ(Ends().size(), 1u);
  EXPECT_EQ(Ends()[0].action, ExitAction::kShutdown);
  EXPECT_EQ(runner_->state(), RunState::kExited);
  EXPECT_EQ(runner_->stats().io_exits, 2u);
}

TEST_F(RunnerTest, ApplicationProcessorWaitsForSipi) {
  MakeRunner(/*bsp=*/false);
  runner_->Start();
  Deliver(irq::DeliveryMode::kInit, 0);
  EXPECT_EQ(backend_.Runs(), 0);  // INIT alone does not start it
  Deliver(irq::DeliveryMode::kStartup, 0x9a);
  ASSERT_TRUE(backend_.WaitFor([](FakeBackend& b) { return b.started_at_.has_value() && b.runs_ > 0; }));
  EXPECT_EQ(*backend_.started_at_, 0x9a);
  runner_->RequestStop();
  runner_->Join();
  EXPECT_TRUE(Ends().empty());  // a requested stop is not an ending to report
}

TEST_F(RunnerTest, HaltSleepsUntilAnInterruptThenInjectsIt) {
  MakeRunner(/*bsp=*/true);
  backend_.Push(Exit(KVM_EXIT_HLT));
  runner_->Start();
  ASSERT_TRUE(backend_.WaitFor([](FakeBackend& b) { return b.script_.empty(); }));
  // Halted: no further KVM_RUN until an interrupt is deliverable.
  EXPECT_EQ(backend_.Runs(), 1);
  Deliver(irq::DeliveryMode::kFixed, 0x31);
  ASSERT_TRUE(backend_.WaitFor([](FakeBackend& b) { return b.injected_ == std::vector<uint8_t>{0x31}; }));
  EXPECT_EQ(runner_->stats().halts, 1u);
  runner_->RequestStop();
  runner_->Join();
}

TEST_F(RunnerTest, InterruptWaitsForTheWindow) {
  MakeRunner(/*bsp=*/true);
  backend_.Push(Exit(KVM_EXIT_INTR, /*ready_for_injection=*/false));
  backend_.Push(Exit(KVM_EXIT_IRQ_WINDOW_OPEN, /*ready_for_injection=*/true));
  Deliver(irq::DeliveryMode::kFixed, 0x40);
  runner_->Start();
  // Injected only after the window opened, i.e. on the third entry.
  ASSERT_TRUE(backend_.WaitFor([](FakeBackend& b) {
    return b.injected_ == std::vector<uint8_t>{0x40} && b.runs_ >= 2;
  }));
  runner_->RequestStop();
  runner_->Join();
}

TEST_F(RunnerTest, HaltWithInterruptsOffWakesOnlyForNmi) {
  MakeRunner(/*bsp=*/true);
  backend_.Push(Exit(KVM_EXIT_HLT, true, /*if_flag=*/false));
  runner_->Start();
  ASSERT_TRUE(backend_.WaitFor([](FakeBackend& b) { return b.script_.empty(); }));
  Deliver(irq::DeliveryMode::kFixed, 0x31);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(backend_.Runs(), 1);  // still halted: cli; hlt ignores interrupts
  Deliver(irq::DeliveryMode::kNmi, 0);
  ASSERT_TRUE(backend_.WaitFor([](FakeBackend& b) { return b.nmis_ == 1 && b.runs_ > 1; }));
  runner_->RequestStop();
  runner_->Join();
}

TEST_F(RunnerTest, PauseReachesAHaltedVcpu) {
  MakeRunner(/*bsp=*/true);
  backend_.Push(Exit(KVM_EXIT_HLT));
  runner_->Start();
  ASSERT_TRUE(backend_.WaitFor([](FakeBackend& b) { return b.script_.empty(); }));
  runner_->Pause();  // returns only once parked
  EXPECT_EQ(runner_->state(), RunState::kPaused);
  runner_->RequestStop();
  runner_->Join();
}

TEST_F(RunnerTest, PauseParksAndResumeContinues) {
  MakeRunner(/*bsp=*/true);
  runner_->Start();
  ASSERT_TRUE(backend_.WaitFor([](FakeBackend& b) { return b.runs_ == 1; }));
  runner_->Pause();  // kicks the vCPU out of its (blocking) Run
  EXPECT_EQ(runner_->state(), RunState::kPaused);
  int runs_when_paused = backend_.Runs();
  backend_.Push(PortWrite(0x99));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(backend_.Runs(), runs_when_paused);
  runner_->Resume();
  ASSERT_TRUE(backend_.WaitFor([](FakeBackend& b) { return b.script_.empty() && b.runs_ > 1; }));
  runner_->RequestStop();
  runner_->Join();
  EXPECT_EQ(io_.ports, std::vector<uint16_t>{0x99});
}

// The lost wake-up of issue #7's investigation: Wake() looked at in_guest_,
// found the vCPU outside KVM_RUN, and only then armed immediate_exit; a vCPU
// that entered KVM_RUN in between ran on without seeing its new interrupt
// until some unrelated exit.
TEST_F(RunnerTest, WakeReachesAVcpuEnteringTheGuestWhileItIsKicked) {
  MakeRunner(/*bsp=*/true);
  backend_.run()->ready_for_interrupt_injection = 1;
  backend_.hold_next_interrupt_ = true;
  runner_->Start();
  ASSERT_TRUE(backend_.WaitFor([](FakeBackend& b) { return b.runs_ == 1; }));
  Deliver(irq::DeliveryMode::kFixed, 0x40);
  // Out of KVM_RUN for 0x40, then parked between its LAPIC check and the
  // next KVM_RUN, in_guest_ false.
  ASSERT_TRUE(backend_.WaitFor([](FakeBackend& b) { return b.held_; }));
  Deliver(irq::DeliveryMode::kNmi, 0);
  EXPECT_TRUE(backend_.WaitFor([](FakeBackend& b) { return b.nmis_ == 1; }));
  runner_->RequestStop();
  runner_->Join();
}

}  // namespace
}  // namespace dvm::vcpu
