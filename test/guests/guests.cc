#include "test/guests/guests.h"

extern "C" {
#define DVM_DECLARE_GUEST(name)                 \
  extern const uint8_t dvm_guest_##name##_begin[]; \
  extern const uint8_t dvm_guest_##name##_end[];
DVM_DECLARE_GUEST(smoke)
DVM_DECLARE_GUEST(read_once)
DVM_DECLARE_GUEST(read_increment_read)
DVM_DECLARE_GUEST(write_first)
DVM_DECLARE_GUEST(interrupt)
DVM_DECLARE_GUEST(wait_for_change)
#undef DVM_DECLARE_GUEST
}

namespace dvm::guests {

#define DVM_GUEST_SPAN(name) {dvm_guest_##name##_begin, dvm_guest_##name##_end}

std::span<const uint8_t> Smoke() { return DVM_GUEST_SPAN(smoke); }
std::span<const uint8_t> ReadOnce() { return DVM_GUEST_SPAN(read_once); }
std::span<const uint8_t> ReadIncrementRead() { return DVM_GUEST_SPAN(read_increment_read); }
std::span<const uint8_t> WriteFirst() { return DVM_GUEST_SPAN(write_first); }
std::span<const uint8_t> Interrupt() { return DVM_GUEST_SPAN(interrupt); }
std::span<const uint8_t> WaitForChange() { return DVM_GUEST_SPAN(wait_for_change); }

}  // namespace dvm::guests
