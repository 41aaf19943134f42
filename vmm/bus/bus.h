// An address space of devices: port I/O or MMIO ranges mapped to
// hw::Device objects. Ranges may not overlap; an access must fall entirely
// inside one range to reach its device.
//
// Devices are registered while the machine is built; Lookup() is then called
// concurrently from vCPU threads without locking, so Register() must not run
// once vCPUs do (it DVM_CHECKs that the bus is not frozen).
#ifndef DVM_VMM_BUS_BUS_H_
#define DVM_VMM_BUS_BUS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "vmm/hw/device.h"

namespace dvm::bus {

class Bus {
 public:
  explicit Bus(std::string name) : name_(std::move(name)) {}

  // Fails with InvalidArgument for an empty or wrapping range and
  // AlreadyExists when it overlaps a registered one.
  absl::Status Register(uint64_t base, uint64_t size, hw::Device* device, std::string label);
  // Called once the machine is built; Register() after this is a bug.
  void Freeze() { frozen_ = true; }

  struct Hit {
    hw::Device* device = nullptr;
    uint64_t offset = 0;  // from the range base
    const std::string* label = nullptr;
  };
  std::optional<Hit> Lookup(uint64_t addr, uint64_t size) const;

  const std::string& name() const { return name_; }

 private:
  struct Range {
    uint64_t size;
    hw::Device* device;
    std::string label;
  };
  std::string name_;
  std::map<uint64_t, Range> ranges_;  // by base
  bool frozen_ = false;
};

}  // namespace dvm::bus

#endif  // DVM_VMM_BUS_BUS_H_
