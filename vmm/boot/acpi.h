// ACPI tables for direct boot: RSDP, XSDT/RSDT, FADT (with FACS and a DSDT
// that only defines \_S5), and a MADT listing every vCPU of the VM and the
// IOAPIC. Linux powers off by writing SLP_TYP=5|SLP_EN to PM1a_CNT, which
// devices::AcpiPm turns into a power-off request; it resets through the FADT
// reset register (0xFE to port 0x64, which the i8042 model handles).
#ifndef DVM_VMM_BOOT_ACPI_H_
#define DVM_VMM_BOOT_ACPI_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dvm/types.h"

namespace dvm::boot {

inline constexpr uint8_t kAcpiS5SleepType = 5;  // the SLP_TYP value \_S5 announces

// The tables as they must sit at guest-physical `base` (16-byte aligned).
// The RSDP comes first, at `base`; tables reference each other by absolute
// address.
struct AcpiBlob {
  std::vector<uint8_t> bytes;
  Gpa rsdp;
};
absl::StatusOr<AcpiBlob> BuildAcpiTables(uint32_t vcpu_count, Gpa base);

// Builds the tables for layout::kAcpiTables and copies them into low RAM.
absl::Status WriteAcpiTables(std::span<uint8_t> low_ram, uint32_t vcpu_count);

// Sum of bytes mod 256; a valid table sums to zero.
uint8_t AcpiChecksum(std::span<const uint8_t> bytes);

}  // namespace dvm::boot

#endif  // DVM_VMM_BOOT_ACPI_H_
