// The messages the nodes of one VM exchange besides the DSM's own, and the
// transport channel each travels on. Every body is fixed-size, little endian,
// and checked field by field on the way in: a peer's garbage is an error, not
// a crash or an out-of-range enum.
//
//   kApic      an interrupt for vCPUs on the receiving node (IPI from a remote
//              LAPIC, or a device interrupt from node 0's IOAPIC/PIC)
//   kApicAddr  a vCPU's APIC addressing changed (ID, LDR, DFR), so that every
//              node can decide which node a logical or broadcast IPI concerns
//   kIoRequest a remote vCPU's PIO or MMIO access to a device on node 0
//   kIoReply   node 0's answer; the vCPU waits for it before re-entering KVM
//   kApicEoi   a remote vCPU's EOI of a level-triggered interrupt, for node 0's
//              IOAPIC (so the pin's remote IRR clears)
//   kClockSync node 0's kvm-clock and TSC offset, which the other nodes adopt
//              before their vCPUs start, so the guest sees one clock
//   kVmEnded   a node's machine ended (power-off, failure, ...): all stop
//   kNodeLeft  this node's vCPUs have stopped and it needs no more pages
//   kStatsRequest  node 0 asks a node for its statistics (`dvm stats`)
//   kStatsReply    the node's statistics as text, echoing the request's id
#ifndef DVM_VMM_CLUSTER_NODE_MESSAGES_H_
#define DVM_VMM_CLUSTER_NODE_MESSAGES_H_

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dvm/types.h"
#include "vmm/irq/apic_message.h"

namespace dvm::cluster {

// Transport channels of a VM's nodes (dsm::kDsmChannel is 1).
inline constexpr uint16_t kControlChannel = 2;
inline constexpr uint16_t kApicChannel = 3;
inline constexpr uint16_t kIoChannel = 4;

// Message types on kApicChannel and kIoChannel.
inline constexpr uint16_t kApicDeliver = 1;
inline constexpr uint16_t kApicAddressing = 2;
inline constexpr uint16_t kApicEoi = 3;
inline constexpr uint16_t kIoRequest = 1;
inline constexpr uint16_t kIoReply = 2;
// Message types on kControlChannel.
inline constexpr uint16_t kClockSync = 1;
inline constexpr uint16_t kVmEnded = 2;
inline constexpr uint16_t kNodeLeft = 3;
inline constexpr uint16_t kStatsRequest = 4;
inline constexpr uint16_t kStatsReply = 5;

inline constexpr size_t kApicMessageBytes = 8;
std::array<uint8_t, kApicMessageBytes> EncodeApicMessage(const irq::ApicMessage& m);
absl::StatusOr<irq::ApicMessage> DecodeApicMessage(std::span<const uint8_t> body);

inline constexpr size_t kApicAddressingBytes = 12;
std::array<uint8_t, kApicAddressingBytes> EncodeApicAddressing(const irq::ApicAddressing& a);
absl::StatusOr<irq::ApicAddressing> DecodeApicAddressing(std::span<const uint8_t> body);

enum class IoSpace : uint8_t { kPio = 0, kMmio = 1 };

struct IoRequest {
  uint64_t id = 0;  // the requester's, echoed in the reply
  VcpuId vcpu;
  IoSpace space = IoSpace::kPio;
  bool is_write = false;
  uint8_t size = 1;      // 1, 2, 4 or 8 bytes
  uint64_t address = 0;  // port (< 0x10000) or guest-physical address
  std::array<uint8_t, 8> data{};  // the bytes written; unused for reads
  bool operator==(const IoRequest&) const = default;
};

struct IoReply {
  uint64_t id = 0;
  std::array<uint8_t, 8> data{};  // the bytes read; zeros for writes
  bool operator==(const IoReply&) const = default;
};

inline constexpr size_t kIoRequestBytes = 32;
inline constexpr size_t kIoReplyBytes = 16;
std::array<uint8_t, kIoRequestBytes> EncodeIoRequest(const IoRequest& r);
absl::StatusOr<IoRequest> DecodeIoRequest(std::span<const uint8_t> body);
std::array<uint8_t, kIoReplyBytes> EncodeIoReply(const IoReply& r);
absl::StatusOr<IoReply> DecodeIoReply(std::span<const uint8_t> body);

inline constexpr size_t kApicEoiBytes = 1;  // the vector

// Everything a node needs to give its KVM VM the same clock as node 0's.
struct ClockSync {
  uint64_t kvmclock_ns = 0;  // KVM_GET_CLOCK's clock
  uint64_t realtime_ns = 0;  // CLOCK_REALTIME when it was read
  uint32_t kvm_flags = 0;    // KVM_GET_CLOCK's flags (KVM_CLOCK_REALTIME: KVM's own realtime)
  int64_t tsc_offset = 0;    // node 0's vCPU 0 TSC offset
  bool operator==(const ClockSync&) const = default;
};
inline constexpr size_t kClockSyncBytes = 32;
std::array<uint8_t, kClockSyncBytes> EncodeClockSync(const ClockSync& c);
absl::StatusOr<ClockSync> DecodeClockSync(std::span<const uint8_t> body);

struct VmEnded {
  int32_t exit_status = 0;
  uint8_t reason = 0;  // machine::EndReason, checked by the machine
  std::string detail;  // printable ASCII, at most kMaxEndDetail bytes
  bool operator==(const VmEnded&) const = default;
};
inline constexpr size_t kMaxEndDetail = 512;
std::vector<uint8_t> EncodeVmEnded(const VmEnded& e);
absl::StatusOr<VmEnded> DecodeVmEnded(std::span<const uint8_t> body);

inline constexpr size_t kStatsRequestBytes = 8;  // the request id
std::array<uint8_t, kStatsRequestBytes> EncodeStatsRequest(uint64_t id);
absl::StatusOr<uint64_t> DecodeStatsRequest(std::span<const uint8_t> body);

// A node's statistics travel in the page slot of one message: a body holds at
// most 1 KiB (net::kMaxBodyBytes), a node's text is a few KiB, and one
// message is still one frame. The body says how much of the page is text.
struct StatsReply {
  uint64_t id = 0;
  std::string text;  // printable ASCII and '\n', at most kMaxStatsText bytes
  bool operator==(const StatsReply&) const = default;
};
inline constexpr size_t kMaxStatsText = kPageSize;
inline constexpr size_t kStatsReplyBytes = 16;
struct EncodedStatsReply {
  std::array<uint8_t, kStatsReplyBytes> body{};
  std::array<uint8_t, kPageSize> page{};  // the text, then zeros
};
// Longer text is cut at a line's end and ends with a line that says so;
// unprintable bytes become '?'.
EncodedStatsReply EncodeStatsReply(const StatsReply& r);
// `page` is the message's page (kPageSize bytes) or nullptr.
absl::StatusOr<StatsReply> DecodeStatsReply(std::span<const uint8_t> body, const uint8_t* page);

}  // namespace dvm::cluster

#endif  // DVM_VMM_CLUSTER_NODE_MESSAGES_H_
