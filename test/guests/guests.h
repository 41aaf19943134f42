// The tiny guests of guests.S as byte spans, plus the constants of their ABI.
#ifndef DVM_TEST_GUESTS_GUESTS_H_
#define DVM_TEST_GUESTS_GUESTS_H_

#include <cstdint>
#include <span>

#include "dvm/types.h"
#include "test/guests/guest_abi.h"

namespace dvm::guests {

inline constexpr Gpa kLoadGpa{DVM_GUEST_LOAD_GPA};
inline constexpr Gpa kDataGpa{DVM_GUEST_DATA_GPA};
inline constexpr uint64_t kRamSize = DVM_GUEST_RAM_SIZE;
inline constexpr uint16_t kPortReport = DVM_GUEST_PORT_REPORT;
inline constexpr uint16_t kPortReport2 = DVM_GUEST_PORT_REPORT2;
inline constexpr uint16_t kPortInput = DVM_GUEST_PORT_INPUT;
inline constexpr uint16_t kPortEcho = DVM_GUEST_PORT_ECHO;
inline constexpr Gpa kMmioWriteGpa{(DVM_GUEST_MMIO_SEGMENT << 4) + DVM_GUEST_MMIO_WRITE_OFFSET};
inline constexpr Gpa kMmioReadGpa{(DVM_GUEST_MMIO_SEGMENT << 4) + DVM_GUEST_MMIO_READ_OFFSET};
inline constexpr uint8_t kMmioWriteValue = DVM_GUEST_MMIO_WRITE_VALUE;
inline constexpr uint8_t kIrqVector = DVM_GUEST_IRQ_VECTOR;

// See guests.S for what each one does.
std::span<const uint8_t> Smoke();
std::span<const uint8_t> ReadOnce();
std::span<const uint8_t> ReadIncrementRead();
std::span<const uint8_t> WriteFirst();
std::span<const uint8_t> Interrupt();
std::span<const uint8_t> WaitForChange();

}  // namespace dvm::guests

#endif  // DVM_TEST_GUESTS_GUESTS_H_
