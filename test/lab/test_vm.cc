#include "test/lab/test_vm.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "dvm/status.h"
#include "test/guests/guests.h"

namespace dvm::lab {

absl::StatusOr<std::unique_ptr<TestVm>> TestVm::Create(std::span<const uint8_t> guest,
                                                       int vcpu_count) {
  ASSIGN_OR_RETURN(kvm::Kvm kvm, kvm::Kvm::Open());
  ASSIGN_OR_RETURN(kvm::Vm vm, kvm.CreateVm());
  UniqueFd memfd(::memfd_create("dvm-lab-guest-ram", MFD_CLOEXEC));
  if (!memfd.valid()) return ErrnoStatus("memfd_create");
  if (::ftruncate(memfd.get(), guests::kRamSize) < 0) return ErrnoStatus("ftruncate");
  const ssize_t written =
      ::pwrite(memfd.get(), guest.data(), guest.size(), guests::kLoadGpa.value());
  if (written != static_cast<ssize_t>(guest.size())) return ErrnoStatus("pwrite guest code");
  void* ram = ::mmap(nullptr, guests::kRamSize, PROT_READ | PROT_WRITE, MAP_SHARED, memfd.get(), 0);
  if (ram == MAP_FAILED) return ErrnoStatus("mmap guest RAM");
  std::unique_ptr<TestVm> test_vm(
      new TestVm(std::move(kvm), std::move(vm), std::move(memfd), static_cast<uint8_t*>(ram)));
  RETURN_IF_ERROR(test_vm->Setup(guests::kLoadGpa, vcpu_count));
  return test_vm;
}

absl::StatusOr<std::unique_ptr<TestVm>> TestVm::CreateOnRam(uint8_t* ram, Gpa entry,
                                                            int vcpu_count) {
  ASSIGN_OR_RETURN(kvm::Kvm kvm, kvm::Kvm::Open());
  ASSIGN_OR_RETURN(kvm::Vm vm, kvm.CreateVm());
  std::unique_ptr<TestVm> test_vm(new TestVm(std::move(kvm), std::move(vm), UniqueFd(), ram));
  RETURN_IF_ERROR(test_vm->Setup(entry, vcpu_count));
  return test_vm;
}

absl::Status TestVm::Setup(Gpa entry, int vcpu_count) {
  // Intel needs a TSS address for real mode; it lies above our RAM and MMIO.
  RETURN_IF_ERROR(vm_.SetTssAddr(Gpa(0xfffbd000)));
  RETURN_IF_ERROR(vm_.SetMemoryRegion({.slot = 0,
                                       .gpa = Gpa(0),
                                       .size = guests::kRamSize,
                                       .hva = Hva(reinterpret_cast<uint64_t>(ram_))}));
  for (int i = 0; i < vcpu_count; ++i) {
    ASSIGN_OR_RETURN(kvm::Vcpu vcpu, vm_.CreateVcpu(VcpuId(i)));
    RETURN_IF_ERROR(EnterRealMode(vcpu, entry));
    vcpus_.push_back(std::move(vcpu));
  }
  return absl::OkStatus();
}

TestVm::~TestVm() {
  vcpus_.clear();
  if (memfd_.valid()) ::munmap(ram_, guests::kRamSize);
}

absl::Status EnterRealMode(kvm::Vcpu& vcpu, Gpa entry) {
  ASSIGN_OR_RETURN(kvm_sregs sregs, vcpu.GetSregs());
  for (kvm_segment* segment : {&sregs.cs, &sregs.ds, &sregs.es, &sregs.fs, &sregs.gs, &sregs.ss}) {
    segment->base = 0;
    segment->selector = 0;
  }
  RETURN_IF_ERROR(vcpu.SetSregs(sregs));
  kvm_regs regs;
  std::memset(&regs, 0, sizeof(regs));
  regs.rip = entry.value();
  regs.rflags = 0x2;  // bit 1 is reserved-one; IF clear
  return vcpu.SetRegs(regs);
}

std::string DescribeExit(const kvm_run& run) {
  switch (run.exit_reason) {
    case KVM_EXIT_IO:
      return absl::StrCat("KVM_EXIT_IO ", run.io.direction == KVM_EXIT_IO_OUT ? "out" : "in",
                          " port 0x", absl::Hex(run.io.port), " size ", run.io.size);
    case KVM_EXIT_MMIO:
      return absl::StrCat("KVM_EXIT_MMIO ", run.mmio.is_write ? "write" : "read", " 0x",
                          absl::Hex(run.mmio.phys_addr), " len ", run.mmio.len);
    case KVM_EXIT_HLT:
      return "KVM_EXIT_HLT";
    case KVM_EXIT_INTR:
      return "KVM_EXIT_INTR";
    case KVM_EXIT_IRQ_WINDOW_OPEN:
      return "KVM_EXIT_IRQ_WINDOW_OPEN";
    case KVM_EXIT_SHUTDOWN:
      return "KVM_EXIT_SHUTDOWN (triple fault)";
    case KVM_EXIT_FAIL_ENTRY:
      return absl::StrCat("KVM_EXIT_FAIL_ENTRY reason 0x",
                          absl::Hex(run.fail_entry.hardware_entry_failure_reason));
    case KVM_EXIT_INTERNAL_ERROR:
      return absl::StrCat("KVM_EXIT_INTERNAL_ERROR suberror ", run.internal.suberror);
    default:
      return absl::StrCat("exit reason ", run.exit_reason);
  }
}

absl::StatusOr<uint32_t> RunToPortWrite(kvm::Vcpu& vcpu, uint16_t port) {
  RETURN_IF_ERROR(vcpu.Run());
  const kvm_run& run = *vcpu.run();
  if (run.exit_reason != KVM_EXIT_IO || run.io.direction != KVM_EXIT_IO_OUT ||
      run.io.port != port || run.io.count != 1) {
    return absl::InternalError(absl::StrCat("vcpu ", vcpu.id().value(), ": expected out to port 0x",
                                            absl::Hex(port), ", got ", DescribeExit(run)));
  }
  uint32_t value = 0;
  std::memcpy(&value, vcpu.IoData().data(), run.io.size);
  return value;
}

absl::StatusOr<uint32_t> PreadU32(int fd, Gpa gpa) {
  uint32_t value = 0;
  if (::pread(fd, &value, sizeof(value), gpa.value()) != sizeof(value)) {
    return ErrnoStatus("pread guest RAM");
  }
  return value;
}

}  // namespace dvm::lab
