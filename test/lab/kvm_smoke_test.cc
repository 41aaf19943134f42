// Lab test 1: KVM smoke. The smoke guest's port I/O, MMIO and HLT exits arrive
// as expected, on one vCPU and on two vCPUs running at once in two threads.
// Also exercises the rest of the wrapper a VMM needs (CPUID, MSRs, state
// get/set, kick).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "dvm/status.h"
#include "test/guests/guests.h"
#include "test/lab/test_vm.h"

namespace dvm::lab {
namespace {

using ::testing::Not;
using ::testing::IsEmpty;

// Runs the whole smoke guest on one vCPU. `at_input` runs when the guest
// waits for its input byte (the two-vCPU test meets the other vCPU there).
absl::Status RunSmokeGuest(kvm::Vcpu& vcpu, uint8_t input, uint8_t mmio_input,
                           const std::function<void()>& at_input) {
  const auto fail = [&](absl::string_view expected) {
    return absl::InternalError(absl::StrCat("vcpu ", vcpu.id().value(), ": expected ", expected,
                                            ", got ", DescribeExit(*vcpu.run())));
  };
  kvm_run& run = *vcpu.run();
  ASSIGN_OR_RETURN(uint32_t id, RunToPortWrite(vcpu, guests::kPortReport));
  if (id != vcpu.id().value()) return fail(absl::StrCat("its id ", vcpu.id().value()));

  RETURN_IF_ERROR(vcpu.Run());
  if (run.exit_reason != KVM_EXIT_IO || run.io.direction != KVM_EXIT_IO_IN ||
      run.io.port != guests::kPortInput || run.io.size != 1) {
    return fail("in from the input port");
  }
  at_input();
  vcpu.IoData()[0] = input;  // KVM hands it to the guest on the next KVM_RUN

  ASSIGN_OR_RETURN(uint32_t echo, RunToPortWrite(vcpu, guests::kPortEcho));
  if (echo != uint8_t(input + 1)) return fail(absl::StrCat("echo ", input + 1));

  RETURN_IF_ERROR(vcpu.Run());
  if (run.exit_reason != KVM_EXIT_MMIO || !run.mmio.is_write ||
      run.mmio.phys_addr != guests::kMmioWriteGpa.value() || run.mmio.len != 1 ||
      run.mmio.data[0] != guests::kMmioWriteValue) {
    return fail("the MMIO write");
  }
  RETURN_IF_ERROR(vcpu.Run());
  if (run.exit_reason != KVM_EXIT_MMIO || run.mmio.is_write ||
      run.mmio.phys_addr != guests::kMmioReadGpa.value() || run.mmio.len != 1) {
    return fail("the MMIO read");
  }
  run.mmio.data[0] = mmio_input;

  ASSIGN_OR_RETURN(uint32_t read_back, RunToPortWrite(vcpu, guests::kPortReport2));
  if (read_back != mmio_input) return fail(absl::StrCat("MMIO value ", mmio_input));

  RETURN_IF_ERROR(vcpu.Run());
  if (run.exit_reason != KVM_EXIT_HLT) return fail("KVM_EXIT_HLT");
  return absl::OkStatus();
}

absl::Status SetVcpuIdInAl(kvm::Vcpu& vcpu) {
  ASSIGN_OR_RETURN(kvm_regs regs, vcpu.GetRegs());
  regs.rax = vcpu.id().value();
  return vcpu.SetRegs(regs);
}

TEST(KvmSmokeTest, PortIoMmioAndHltExitsArrive) {
  auto vm = TestVm::Create(guests::Smoke());
  ASSERT_TRUE(vm.ok()) << vm.status();
  ASSERT_TRUE(SetVcpuIdInAl((*vm)->vcpu(0)).ok());
  absl::Status status = RunSmokeGuest((*vm)->vcpu(0), 0x41, 0x99, [] {});
  EXPECT_TRUE(status.ok()) << status;
}

TEST(KvmSmokeTest, TwoVcpusRunAtOnceInTwoThreads) {
  auto vm = TestVm::Create(guests::Smoke(), /*vcpu_count=*/2);
  ASSERT_TRUE(vm.ok()) << vm.status();
  // Both threads must reach the input exit before either goes on: this holds
  // only if the two vCPUs are in the guest at the same time.
  std::barrier meet(2);
  absl::Status results[2];
  std::thread threads[2];
  for (int i = 0; i < 2; ++i) {
    threads[i] = std::thread([&, i] {
      kvm::Vcpu& vcpu = (*vm)->vcpu(i);
      vcpu.BindToCurrentThread();
      results[i] = SetVcpuIdInAl(vcpu);
      if (results[i].ok()) {
        results[i] = RunSmokeGuest(vcpu, 0x10 * (i + 1), 0x20 + i, [&] { meet.arrive_and_wait(); });
      } else {
        meet.arrive_and_drop();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_TRUE(results[0].ok()) << results[0];
  EXPECT_TRUE(results[1].ok()) << results[1];
}

TEST(KvmWrapperTest, KickInterruptsASpinningGuest) {
  ASSERT_TRUE(kvm::InstallKickSignalHandler().ok());
  // wait_for_change spins forever on a page nobody changes.
  auto vm = TestVm::Create(guests::WaitForChange());
  ASSERT_TRUE(vm.ok()) << vm.status();
  kvm::Vcpu& vcpu = (*vm)->vcpu(0);
  vcpu.BindToCurrentThread();
  ASSERT_TRUE(RunToPortWrite(vcpu, guests::kPortReport).ok());
  std::thread kicker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_TRUE(vcpu.Kick().ok());
  });
  absl::Status run = vcpu.Run();
  kicker.join();
  ASSERT_TRUE(run.ok()) << run;
  EXPECT_EQ(vcpu.run()->exit_reason, KVM_EXIT_INTR) << DescribeExit(*vcpu.run());
  EXPECT_EQ(vcpu.run()->immediate_exit, 0) << "Run() clears immediate_exit";
}

TEST(KvmWrapperTest, CpuidMsrsAndStateRoundTrip) {
  auto vm = TestVm::Create(guests::Smoke());
  ASSERT_TRUE(vm.ok()) << vm.status();
  kvm::Vcpu& vcpu = (*vm)->vcpu(0);

  auto cpuid = (*vm)->kvm().GetSupportedCpuid();
  ASSERT_TRUE(cpuid.ok()) << cpuid.status();
  ASSERT_THAT(*cpuid, Not(IsEmpty()));
  EXPECT_TRUE(vcpu.SetCpuid(*cpuid).ok());

  auto msr_list = (*vm)->kvm().GetMsrIndexList();
  ASSERT_TRUE(msr_list.ok()) << msr_list.status();
  EXPECT_THAT(*msr_list, Not(IsEmpty()));
  constexpr uint32_t kMsrIa32SysenterCs = 0x174;
  ASSERT_TRUE(vcpu.SetMsrs(std::vector<kvm_msr_entry>{{.index = kMsrIa32SysenterCs, .data = 0x10}})
                  .ok());
  const uint32_t indices[] = {kMsrIa32SysenterCs};
  auto msrs = vcpu.GetMsrs(indices);
  ASSERT_TRUE(msrs.ok()) << msrs.status();
  ASSERT_EQ(msrs->size(), 1u);
  EXPECT_EQ((*msrs)[0].data, 0x10u);

  auto regs = vcpu.GetRegs();
  ASSERT_TRUE(regs.ok());
  regs->rbx = 0x1234;
  ASSERT_TRUE(vcpu.SetRegs(*regs).ok());
  EXPECT_EQ(vcpu.GetRegs()->rbx, 0x1234u);

  auto fpu = vcpu.GetFpu();
  ASSERT_TRUE(fpu.ok()) << fpu.status();
  EXPECT_TRUE(vcpu.SetFpu(*fpu).ok());
  auto xsave = vcpu.GetXsave();
  ASSERT_TRUE(xsave.ok()) << xsave.status();
  EXPECT_TRUE(vcpu.SetXsave(*xsave).ok());
  auto xcrs = vcpu.GetXcrs();
  ASSERT_TRUE(xcrs.ok()) << xcrs.status();
  // The lab's qemu64 CPU has no XSAVE: KVM then reports no XCRs and refuses
  // to set any. Where the host has XSAVE, XCR0 must round-trip.
  absl::Status set_xcrs = vcpu.SetXcrs(*xcrs);
  EXPECT_EQ(set_xcrs.ok(), xcrs->nr_xcrs > 0) << set_xcrs;
  auto events = vcpu.GetVcpuEvents();
  ASSERT_TRUE(events.ok()) << events.status();
  absl::Status set_events = vcpu.SetVcpuEvents(*events);
  EXPECT_TRUE(set_events.ok()) << set_events;
  auto debug_regs = vcpu.GetDebugRegs();
  ASSERT_TRUE(debug_regs.ok()) << debug_regs.status();
  EXPECT_TRUE(vcpu.SetDebugRegs(*debug_regs).ok());
  auto clock = (*vm)->vm().GetClock();
  ASSERT_TRUE(clock.ok()) << clock.status();
  absl::Status set_clock = (*vm)->vm().SetClock(*clock);
  EXPECT_TRUE(set_clock.ok()) << set_clock;
  auto tsc_khz = vcpu.GetTscKhz();
  ASSERT_TRUE(tsc_khz.ok()) << tsc_khz.status();
  EXPECT_GT(*tsc_khz, 0u);

  // Without an in-kernel LAPIC, KVM keeps vCPUs RUNNABLE and accepts only
  // that: halting and INIT/SIPI are the user-space irqchip's business.
  auto mp_state = vcpu.GetMpState();
  ASSERT_TRUE(mp_state.ok()) << mp_state.status();
  EXPECT_EQ(mp_state->mp_state, KVM_MP_STATE_RUNNABLE);
  EXPECT_TRUE(vcpu.SetMpState(*mp_state).ok());
  EXPECT_FALSE(vcpu.SetMpState({.mp_state = KVM_MP_STATE_HALTED}).ok());
}

TEST(KvmInterruptTest, WindowExitThenKvmInterruptRunsTheGuestHandler) {
  ASSERT_TRUE(kvm::InstallKickSignalHandler().ok());
  auto vm = TestVm::Create(guests::Interrupt());
  ASSERT_TRUE(vm.ok()) << vm.status();
  kvm::Vcpu& vcpu = (*vm)->vcpu(0);
  vcpu.BindToCurrentThread();
  kvm_run& run = *vcpu.run();
  ASSERT_TRUE(RunToPortWrite(vcpu, guests::kPortReport).ok());
  EXPECT_EQ(run.if_flag, 0) << "the guest has not run sti yet";

  // The guest cannot take an interrupt yet: ask KVM to exit when it can.
  run.request_interrupt_window = 1;
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 1000 && !done; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!done) (void)vcpu.Kick();
  });
  absl::Status status = vcpu.Run();
  done = true;
  watchdog.join();
  ASSERT_TRUE(status.ok()) << status;
  ASSERT_EQ(run.exit_reason, KVM_EXIT_IRQ_WINDOW_OPEN) << DescribeExit(run);
  EXPECT_EQ(run.ready_for_interrupt_injection, 1);
  EXPECT_EQ(run.if_flag, 1);

  run.request_interrupt_window = 0;
  status = vcpu.Interrupt(guests::kIrqVector);
  ASSERT_TRUE(status.ok()) << status;
  auto handled = RunToPortWrite(vcpu, guests::kPortReport2);
  ASSERT_TRUE(handled.ok()) << handled.status();
  EXPECT_EQ(*handled, guests::kIrqVector) << "the guest's handler for the vector ran";
}

TEST(KvmWrapperTest, NoIrqchipMeansUserSpaceInjection) {
  auto vm = TestVm::Create(guests::Smoke());
  ASSERT_TRUE(vm.ok()) << vm.status();
  // Without KVM_CREATE_IRQCHIP, KVM_INTERRUPT is how interrupts get in: the
  // vector is queued for injection and shows in the vCPU's events (which is
  // what migration saves).
  kvm::Vcpu& vcpu = (*vm)->vcpu(0);
  absl::Status interrupt = vcpu.Interrupt(0x20);
  ASSERT_TRUE(interrupt.ok()) << interrupt;
  auto events = vcpu.GetVcpuEvents();
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_EQ(events->interrupt.injected, 1);
  EXPECT_EQ(events->interrupt.nr, 0x20);
}

}  // namespace
}  // namespace dvm::lab
