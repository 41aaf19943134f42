#include "vmm/machine/cpu_setup.h"

#include "gtest/gtest.h"

namespace dvm::machine {
namespace {

TEST(CpuSetupTest, BootStateReachesRegisters) {
  boot::BootCpuState state = boot::LongModeState();
  state.rip = 0x1000200;
  state.rsi = 0x7000;
  state.rsp = 0x8000;
  kvm_regs regs;
  kvm_sregs sregs{};
  sregs.apic_base = 0xfee00900;  // kept: the boot state does not define it
  ApplyBootState(state, regs, sregs);
  EXPECT_EQ(regs.rip, 0x1000200u);
  EXPECT_EQ(regs.rsi, 0x7000u);
  EXPECT_EQ(regs.rsp, 0x8000u);
  EXPECT_EQ(regs.rflags & 0x200, 0u);  // interrupts off at entry
  EXPECT_EQ(sregs.cs.selector, boot::kBootCsSelector);
  EXPECT_EQ(sregs.cs.l, 1);
  EXPECT_NE(sregs.efer & boot::kEferLme, 0u);
  EXPECT_NE(sregs.cr0 & boot::kCr0Pg, 0u);
  EXPECT_EQ(sregs.apic_base, 0xfee00900u);
}

TEST(CpuSetupTest, CpuidRoundTrip) {
  kvm_cpuid_entry2 e{};
  e.function = 0xd;
  e.index = 1;
  e.flags = 1;
  e.eax = 1, e.ebx = 2, e.ecx = 3, e.edx = 4;
  std::vector<kvm_cpuid_entry2> back = ToKvmCpuid(FromKvmCpuid({e}));
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].function, 0xdu);
  EXPECT_EQ(back[0].index, 1u);
  EXPECT_EQ(back[0].flags, 1u);
  EXPECT_EQ(back[0].edx, 4u);
}

}  // namespace
}  // namespace dvm::machine
