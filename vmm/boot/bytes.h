// Little-endian loads and stores into byte spans, bounds-checked by the caller's
// span. x86 is little-endian, so a memcpy is the encoding.
#ifndef DVM_VMM_BOOT_BYTES_H_
#define DVM_VMM_BOOT_BYTES_H_

#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

#include "dvm/log.h"

namespace dvm::boot {

// Offsets passed here are constants of a layout the caller owns, so an
// out-of-range one is a bug in dvm, not in the guest.
template <typename T>
void Store(std::span<uint8_t> bytes, size_t offset, T value) {
  static_assert(std::is_trivially_copyable_v<T>);
  DVM_CHECK(offset <= bytes.size() && bytes.size() - offset >= sizeof(T)) << "store at " << offset;
  std::memcpy(bytes.data() + offset, &value, sizeof(T));
}

template <typename T>
T Load(std::span<const uint8_t> bytes, size_t offset) {
  static_assert(std::is_trivially_copyable_v<T>);
  DVM_CHECK(offset <= bytes.size() && bytes.size() - offset >= sizeof(T)) << "load at " << offset;
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

}  // namespace dvm::boot

#endif  // DVM_VMM_BOOT_BYTES_H_
