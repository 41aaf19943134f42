// ACPI tables for direct boot: RSDP, XSDT/RSDT, FADT (with FACS and a DSDT
// that only defines \_S5), a MADT listing every vCPU of the VM and the
// IOAPIC, and for a VM spread over nodes an SRAT and SLIT that describe them
// as NUMA nodes. Linux powers off by writing SLP_TYP=5|SLP_EN to PM1a_CNT, which
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

// A guest-physical range of RAM.
struct GpaRange {
  Gpa start;
  uint64_t size = 0;
};

// One NUMA node as the guest sees it (ACPI proximity domain = its index in
// AcpiMachine::numa): its processors by APIC ID, and its RAM.
struct AcpiNumaNode {
  std::vector<uint8_t> apic_ids;
  std::vector<GpaRange> memory;
};

struct AcpiMachine {
  uint32_t vcpu_count = 0;
  // Empty or one node: no SRAT/SLIT, the guest sees one node. Otherwise an
  // SRAT places every vCPU and RAM range, and a SLIT gives the distances.
  std::vector<AcpiNumaNode> numa;
  // SLIT distance between two different nodes (10 is local). Above 30, Linux
  // stops pulling woken tasks and new processes across nodes, which is what
  // a node reached over the network wants.
  uint8_t remote_distance = 100;
};

// The tables as they must sit at guest-physical `base` (16-byte aligned).
// The RSDP comes first, at `base`; tables reference each other by absolute
// address.
struct AcpiBlob {
  std::vector<uint8_t> bytes;
  Gpa rsdp;
};
absl::StatusOr<AcpiBlob> BuildAcpiTables(const AcpiMachine& machine, Gpa base);

// Builds the tables for layout::kAcpiTables and copies them into low RAM.
absl::Status WriteAcpiTables(std::span<uint8_t> low_ram, const AcpiMachine& machine);

// Sum of bytes mod 256; a valid table sums to zero.
uint8_t AcpiChecksum(std::span<const uint8_t> bytes);

}  // namespace dvm::boot

#endif  // DVM_VMM_BOOT_ACPI_H_
