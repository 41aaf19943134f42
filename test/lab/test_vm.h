// A minimal VM for lab tests: one memory slot of guest RAM backed by a memfd
// (as dvm's guest RAM is), one of the tiny guests loaded at its load address,
// vCPUs in real mode at its entry. Plus helpers to run a vCPU to its next
// expected exit.
#ifndef DVM_TEST_LAB_TEST_VM_H_
#define DVM_TEST_LAB_TEST_VM_H_

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "dvm/types.h"
#include "dvm/unique_fd.h"
#include "vmm/kvm/kvm.h"

namespace dvm::lab {

class TestVm {
 public:
  // Guest RAM: guests::kRamSize bytes of memfd at GPA 0, mapped shared; the
  // guest's code is written through the memfd (not the mapping), so a
  // userfaultfd registered later sees only the pages the guest itself touches.
  static absl::StatusOr<std::unique_ptr<TestVm>> Create(std::span<const uint8_t> guest,
                                                        int vcpu_count = 1);
  // The same VM on guests::kRamSize bytes of RAM someone else owns and fills
  // (e.g. a DSM node's mapping); vCPUs start at `entry`.
  static absl::StatusOr<std::unique_ptr<TestVm>> CreateOnRam(uint8_t* ram, Gpa entry,
                                                             int vcpu_count = 1);
  ~TestVm();

  kvm::Kvm& kvm() { return kvm_; }
  kvm::Vm& vm() { return vm_; }
  kvm::Vcpu& vcpu(int i) { return vcpus_[i]; }
  int memfd() const { return memfd_.get(); }
  // The shared mapping KVM uses for guest RAM (register userfaultfd on it).
  uint8_t* ram() const { return ram_; }
  uint8_t* HostAddress(Gpa gpa) const { return ram_ + gpa.value(); }

 private:
  TestVm(kvm::Kvm kvm, kvm::Vm vm, UniqueFd memfd, uint8_t* ram)
      : kvm_(std::move(kvm)), vm_(std::move(vm)), memfd_(std::move(memfd)), ram_(ram) {}
  absl::Status Setup(Gpa entry, int vcpu_count);

  kvm::Kvm kvm_;
  kvm::Vm vm_;
  UniqueFd memfd_;  // invalid when the RAM is not ours
  uint8_t* ram_;
  std::vector<kvm::Vcpu> vcpus_;
};

// Real mode, CS = DS = ES = SS = 0, IP = entry, interrupts off.
absl::Status EnterRealMode(kvm::Vcpu& vcpu, Gpa entry);

// Names an exit for error messages: "KVM_EXIT_IO out port 0x10", ...
std::string DescribeExit(const kvm_run& run);

// Runs the vCPU once and checks that it exited with a port write to `port`;
// returns the value written (1, 2 or 4 bytes).
absl::StatusOr<uint32_t> RunToPortWrite(kvm::Vcpu& vcpu, uint16_t port);

// Reads one dword of the memfd without faulting on (or allocating) the page.
absl::StatusOr<uint32_t> PreadU32(int fd, Gpa gpa);

}  // namespace dvm::lab

#endif  // DVM_TEST_LAB_TEST_VM_H_
