#include "vmm/boot/acpi.h"

#include <cstring>
#include <string_view>

#include "absl/strings/str_format.h"
#include "vmm/boot/bytes.h"
#include "vmm/layout/layout.h"

namespace dvm::boot {
namespace {

constexpr size_t kHeaderSize = 36;
constexpr char kOemId[] = "DVM   ";      // 6 bytes
constexpr char kOemTableId[] = "DVMVMM  ";  // 8 bytes

// Appends tables to one blob at known guest addresses.
class Blob {
 public:
  explicit Blob(Gpa base) : base_(base) {}

  // Starts a table with a standard header; returns its offset in the blob.
  size_t BeginTable(std::string_view signature, uint8_t revision, size_t align = 8) {
    Align(align);
    const size_t at = bytes_.size();
    bytes_.resize(at + kHeaderSize);
    std::memcpy(&bytes_[at], signature.data(), 4);
    bytes_[at + 8] = revision;
    std::memcpy(&bytes_[at + 10], kOemId, 6);
    std::memcpy(&bytes_[at + 16], kOemTableId, 8);
    Store<uint32_t>(bytes_, at + 24, 1);                // OEM revision
    std::memcpy(&bytes_[at + 28], "DVM ", 4);           // creator id
    Store<uint32_t>(bytes_, at + 32, 1);                // creator revision
    return at;
  }
  // Sets the length and checksum of the table that started at `at`.
  void EndTable(size_t at) {
    Store<uint32_t>(bytes_, at + 4, static_cast<uint32_t>(bytes_.size() - at));
    bytes_[at + 9] = 0;
    bytes_[at + 9] = static_cast<uint8_t>(
        -AcpiChecksum(std::span(bytes_).subspan(at)));
  }
  size_t Reserve(size_t n) {
    const size_t at = bytes_.size();
    bytes_.resize(at + n, 0);
    return at;
  }
  template <typename T>
  void Append(T v) {
    const size_t at = Reserve(sizeof(T));  // before taking a span: Reserve reallocates
    Store<T>(bytes_, at, v);
  }
  void AppendBytes(std::span<const uint8_t> b) { bytes_.insert(bytes_.end(), b.begin(), b.end()); }
  template <typename T>
  void Put(size_t at, T v) {
    Store<T>(bytes_, at, v);
  }
  void Align(size_t align) { bytes_.resize(AlignUp(bytes_.size(), align), 0); }
  uint64_t Addr(size_t at) const { return base_.value() + at; }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  Gpa base_;
  std::vector<uint8_t> bytes_;
};

// A Generic Address Structure for a system I/O port range.
void PutGas(Blob& b, size_t at, uint8_t bits, uint8_t access_size, uint64_t port) {
  b.Put<uint8_t>(at, 1);  // system I/O space
  b.Put<uint8_t>(at + 1, bits);
  b.Put<uint8_t>(at + 2, 0);
  b.Put<uint8_t>(at + 3, access_size);  // 1 byte, 2 word, 3 dword
  b.Put<uint64_t>(at + 4, port);
}

size_t BuildFacs(Blob& b) {
  b.Align(64);  // FACS must be 64-byte aligned and has no checksum
  const size_t at = b.Reserve(64);
  std::memcpy(&b.bytes()[at], "FACS", 4);
  b.Put<uint32_t>(at + 4, 64);
  b.Put<uint8_t>(at + 32, 2);  // version
  return at;
}

size_t BuildDsdt(Blob& b) {
  const size_t at = b.BeginTable("DSDT", 2);
  // AML for Name (_S5, Package (4) { 5, 5, 0, 0 }): sleep type 5 for
  // PM1a and PM1b; Linux needs \_S5 to install its ACPI power-off.
  const uint8_t aml[] = {0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04,
                         0x0A, kAcpiS5SleepType, 0x0A, kAcpiS5SleepType, 0x00, 0x00};
  b.AppendBytes(aml);
  b.EndTable(at);
  return at;
}

size_t BuildFadt(Blob& b, size_t facs, size_t dsdt) {
  const size_t at = b.BeginTable("FACP", 3);  // ACPI 2.0 layout, 244 bytes
  b.Reserve(244 - kHeaderSize);
  b.Put<uint32_t>(at + 36, static_cast<uint32_t>(b.Addr(facs)));
  b.Put<uint32_t>(at + 40, static_cast<uint32_t>(b.Addr(dsdt)));
  b.Put<uint16_t>(at + 46, layout::kIrqAcpiSci);
  // SMI_CMD = 0: no SMM handshake, the machine is always in ACPI mode.
  b.Put<uint32_t>(at + 56, layout::kAcpiPm1aEvent);
  b.Put<uint32_t>(at + 64, layout::kAcpiPm1aControl);
  b.Put<uint32_t>(at + 76, layout::kAcpiPmTimer);
  b.Put<uint8_t>(at + 88, 4);  // PM1_EVT_LEN
  b.Put<uint8_t>(at + 89, 2);  // PM1_CNT_LEN
  b.Put<uint8_t>(at + 91, 4);  // PM_TMR_LEN
  b.Put<uint16_t>(at + 96, 101);   // P_LVL2_LAT > 100: no C2
  b.Put<uint16_t>(at + 98, 1001);  // P_LVL3_LAT > 1000: no C3
  b.Put<uint8_t>(at + 108, 0x32);  // CMOS century register
  // IAPC_BOOT_ARCH: no VGA, no MSI. The 8042 bit stays clear so Linux does
  // not probe a keyboard we do not have; the reset register still uses it.
  b.Put<uint16_t>(at + 109, (1u << 2) | (1u << 3));
  // Flags: WBINVD, PROC_C1, SLP_BUTTON (none), FIX_RTC, TMR_VAL_EXT, RESET_REG_SUP.
  b.Put<uint32_t>(at + 112, (1u << 0) | (1u << 2) | (1u << 5) | (1u << 6) | (1u << 8) | (1u << 10));
  PutGas(b, at + 116, 8, 1, layout::kI8042CommandPort);  // RESET_REG
  b.Put<uint8_t>(at + 128, 0xFE);                          // RESET_VALUE: pulse reset line
  b.Put<uint64_t>(at + 132, b.Addr(facs));
  b.Put<uint64_t>(at + 140, b.Addr(dsdt));
  PutGas(b, at + 148, 32, 2, layout::kAcpiPm1aEvent);
  PutGas(b, at + 172, 16, 2, layout::kAcpiPm1aControl);
  PutGas(b, at + 208, 32, 3, layout::kAcpiPmTimer);
  b.EndTable(at);
  return at;
}

size_t BuildMadt(Blob& b, uint32_t vcpu_count) {
  const size_t at = b.BeginTable("APIC", 3);
  b.Append<uint32_t>(static_cast<uint32_t>(layout::kLapic.value()));
  b.Append<uint32_t>(1);  // PCAT_COMPAT: there are 8259s to mask
  for (uint32_t i = 0; i < vcpu_count; ++i) {
    const uint8_t lapic[8] = {0, 8, uint8_t(i), uint8_t(i), 1, 0, 0, 0};  // enabled
    b.AppendBytes(lapic);
  }
  const size_t ioapic = b.Reserve(12);
  b.Put<uint8_t>(ioapic, 1);
  b.Put<uint8_t>(ioapic + 1, 12);
  b.Put<uint8_t>(ioapic + 2, uint8_t(layout::kIoapicId));
  b.Put<uint32_t>(ioapic + 4, static_cast<uint32_t>(layout::kIoapic.value()));
  b.Put<uint32_t>(ioapic + 8, 0);  // GSI base
  // Interrupt source overrides: the PIT on pin 2; the SCI level, active high
  // (the PM device drives the wire asserted-high).
  const uint8_t pit_iso[10] = {2, 10, 0, layout::kIrqPit, 2, 0, 0, 0, 0, 0};
  b.AppendBytes(pit_iso);
  const uint8_t sci_iso[10] = {2, 10, 0, layout::kIrqAcpiSci, layout::kIrqAcpiSci, 0, 0, 0, 0x0D, 0};
  b.AppendBytes(sci_iso);
  const uint8_t nmi[6] = {4, 6, 0xFF, 0, 0, 1};  // LINT1 of every processor is NMI
  b.AppendBytes(nmi);
  b.EndTable(at);
  return at;
}

// System Resource Affinity Table: which proximity domain (NUMA node) each
// processor and each RAM range belongs to.
size_t BuildSrat(Blob& b, const std::vector<AcpiNumaNode>& numa) {
  const size_t at = b.BeginTable("SRAT", 3);
  b.Append<uint32_t>(1);  // reserved, 1 for compatibility
  b.Append<uint64_t>(0);  // reserved
  for (size_t domain = 0; domain < numa.size(); ++domain) {
    for (uint8_t apic_id : numa[domain].apic_ids) {
      const size_t e = b.Reserve(16);  // Processor Local APIC Affinity
      b.Put<uint8_t>(e, 0);
      b.Put<uint8_t>(e + 1, 16);
      b.Put<uint8_t>(e + 2, static_cast<uint8_t>(domain));  // proximity domain [7:0]
      b.Put<uint8_t>(e + 3, apic_id);
      b.Put<uint32_t>(e + 4, 1);  // enabled
      b.Put<uint8_t>(e + 9, static_cast<uint8_t>(domain >> 8));  // proximity domain [31:8]
      b.Put<uint8_t>(e + 10, static_cast<uint8_t>(domain >> 16));
      b.Put<uint8_t>(e + 11, static_cast<uint8_t>(domain >> 24));
    }
  }
  for (size_t domain = 0; domain < numa.size(); ++domain) {
    for (const GpaRange& r : numa[domain].memory) {
      const size_t e = b.Reserve(40);  // Memory Affinity
      b.Put<uint8_t>(e, 1);
      b.Put<uint8_t>(e + 1, 40);
      b.Put<uint32_t>(e + 2, static_cast<uint32_t>(domain));
      b.Put<uint64_t>(e + 8, r.start.value());
      b.Put<uint64_t>(e + 16, r.size);
      b.Put<uint32_t>(e + 28, 1);  // enabled
    }
  }
  b.EndTable(at);
  return at;
}

// System Locality Information Table: the distance between every two nodes.
size_t BuildSlit(Blob& b, size_t nodes, uint8_t remote_distance) {
  const size_t at = b.BeginTable("SLIT", 1);
  b.Append<uint64_t>(nodes);
  for (size_t from = 0; from < nodes; ++from) {
    for (size_t to = 0; to < nodes; ++to) b.Append<uint8_t>(from == to ? 10 : remote_distance);
  }
  b.EndTable(at);
  return at;
}

}  // namespace

uint8_t AcpiChecksum(std::span<const uint8_t> bytes) {
  uint8_t sum = 0;
  for (uint8_t v : bytes) sum = static_cast<uint8_t>(sum + v);
  return sum;
}

absl::StatusOr<AcpiBlob> BuildAcpiTables(const AcpiMachine& machine, Gpa base) {
  const uint32_t vcpu_count = machine.vcpu_count;
  if (vcpu_count == 0 || vcpu_count > 254) {
    return absl::InvalidArgumentError(absl::StrFormat("cannot describe %d vCPUs", vcpu_count));
  }
  if (machine.numa.size() > 64 || machine.remote_distance <= 10 || machine.remote_distance == 255) {
    return absl::InvalidArgumentError(absl::StrFormat("cannot describe %d NUMA nodes %d apart",
                                                      machine.numa.size(), machine.remote_distance));
  }
  const bool numa = machine.numa.size() > 1;
  if (base.value() % 16 != 0 || base.value() + layout::kAcpiTablesMax > (uint64_t{1} << 32)) {
    return absl::InvalidArgumentError("ACPI tables need a 16-byte aligned base below 4 GiB");
  }
  Blob b(base);
  const size_t rsdp = b.Reserve(36);  // filled in last, when the XSDT's address is known
  const size_t facs = BuildFacs(b);
  const size_t dsdt = BuildDsdt(b);
  const size_t fadt = BuildFadt(b, facs, dsdt);
  std::vector<size_t> tables = {fadt, BuildMadt(b, vcpu_count)};
  if (numa) {
    tables.push_back(BuildSrat(b, machine.numa));
    tables.push_back(BuildSlit(b, machine.numa.size(), machine.remote_distance));
  }

  const size_t xsdt = b.BeginTable("XSDT", 1);
  for (size_t t : tables) b.Append<uint64_t>(b.Addr(t));
  b.EndTable(xsdt);
  const size_t rsdt = b.BeginTable("RSDT", 1);
  for (size_t t : tables) b.Append<uint32_t>(static_cast<uint32_t>(b.Addr(t)));
  b.EndTable(rsdt);

  std::memcpy(&b.bytes()[rsdp], "RSD PTR ", 8);
  std::memcpy(&b.bytes()[rsdp + 9], kOemId, 6);
  b.Put<uint8_t>(rsdp + 15, 2);  // ACPI 2.0+
  b.Put<uint32_t>(rsdp + 16, static_cast<uint32_t>(b.Addr(rsdt)));
  b.Put<uint32_t>(rsdp + 20, 36);
  b.Put<uint64_t>(rsdp + 24, b.Addr(xsdt));
  auto& bytes = b.bytes();
  bytes[rsdp + 8] = static_cast<uint8_t>(-AcpiChecksum(std::span(bytes).subspan(rsdp, 20)));
  bytes[rsdp + 32] = static_cast<uint8_t>(-AcpiChecksum(std::span(bytes).subspan(rsdp, 36)));

  if (bytes.size() > layout::kAcpiTablesMax) {
    return absl::ResourceExhaustedError("ACPI tables outgrew their window");
  }
  return AcpiBlob{std::move(bytes), Gpa(base.value() + rsdp)};
}

absl::Status WriteAcpiTables(std::span<uint8_t> low_ram, const AcpiMachine& machine) {
  auto blob = BuildAcpiTables(machine, layout::kAcpiTables);
  if (!blob.ok()) return blob.status();
  if (low_ram.size() < layout::kAcpiTables.value() + blob->bytes.size()) {
    return absl::InvalidArgumentError("guest RAM too small for the ACPI tables");
  }
  std::memcpy(low_ram.data() + layout::kAcpiTables.value(), blob->bytes.data(), blob->bytes.size());
  return absl::OkStatus();
}

}  // namespace dvm::boot
