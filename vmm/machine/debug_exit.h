// The debug exit port (layout: kDebugExitPort): a byte written there ends the
// VM with that exit status, so a test guest can report pass or fail without
// a network or a disk (test/initramfs/dvm_exit.c writes it).
#ifndef DVM_VMM_MACHINE_DEBUG_EXIT_H_
#define DVM_VMM_MACHINE_DEBUG_EXIT_H_

#include <cstdint>
#include <functional>

#include "vmm/hw/device.h"

namespace dvm::machine {

inline constexpr uint16_t kDebugExitPort = 0x501;

class DebugExit final : public hw::Device {
 public:
  explicit DebugExit(std::function<void(int)> on_exit) : on_exit_(std::move(on_exit)) {}
  void Read(uint64_t, std::span<uint8_t> data) override { hw::FillAccess(data, 0); }
  void Write(uint64_t, std::span<const uint8_t> data) override {
    on_exit_(static_cast<int>(hw::AccessValue(data) & 0xff));
  }

 private:
  std::function<void(int)> on_exit_;
};

}  // namespace dvm::machine

#endif  // DVM_VMM_MACHINE_DEBUG_EXIT_H_
