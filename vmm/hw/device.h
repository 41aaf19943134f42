// What the PIO and MMIO buses dispatch to. `offset` is relative to the range
// the device was registered at; `data` is the access (1, 2, 4 or 8 bytes,
// little-endian). A device must accept any offset inside its range and any
// size: reads of nothing return zeros or all-ones, never crash.
#ifndef DVM_VMM_HW_DEVICE_H_
#define DVM_VMM_HW_DEVICE_H_

#include <cstdint>
#include <cstring>
#include <span>

namespace dvm::hw {

class Device {
 public:
  virtual ~Device() = default;
  virtual void Read(uint64_t offset, std::span<uint8_t> data) = 0;
  virtual void Write(uint64_t offset, std::span<const uint8_t> data) = 0;
};

// Access helpers: the value of a little-endian access of up to 8 bytes, and
// filling a read from a value (truncating or zero-extending).
inline uint64_t AccessValue(std::span<const uint8_t> data) {
  uint64_t v = 0;
  std::memcpy(&v, data.data(), data.size() < 8 ? data.size() : 8);
  return v;
}
inline void FillAccess(std::span<uint8_t> data, uint64_t value) {
  std::memset(data.data(), 0, data.size());
  std::memcpy(data.data(), &value, data.size() < 8 ? data.size() : 8);
}

}  // namespace dvm::hw

#endif  // DVM_VMM_HW_DEVICE_H_
