// An interrupt message on the (virtual) APIC bus: an IPI from a LAPIC's ICR or
// a redirection from the IOAPIC. Controllers never deliver these themselves;
// they hand them to an ApicMessageSink, which the VMM implements as a router
// that may send the message to another node.
#ifndef DVM_VMM_IRQ_APIC_MESSAGE_H_
#define DVM_VMM_IRQ_APIC_MESSAGE_H_

#include <cstdint>

namespace dvm::irq {

enum class DeliveryMode : uint8_t {
  kFixed = 0,
  kLowestPriority = 1,
  kSmi = 2,
  kNmi = 4,
  kInit = 5,
  kStartup = 6,
  kExtInt = 7,
};

enum class DestMode : uint8_t { kPhysical = 0, kLogical = 1 };
enum class Shorthand : uint8_t { kNone = 0, kSelf = 1, kAllIncludingSelf = 2, kAllExcludingSelf = 3 };
enum class TriggerMode : uint8_t { kEdge = 0, kLevel = 1 };

inline constexpr uint8_t kBroadcastId = 0xFF;

struct ApicMessage {
  uint8_t vector = 0;
  DeliveryMode mode = DeliveryMode::kFixed;
  DestMode dest_mode = DestMode::kPhysical;
  uint8_t dest = 0;  // APIC id (physical) or MDA (logical)
  Shorthand shorthand = Shorthand::kNone;
  TriggerMode trigger = TriggerMode::kEdge;
  bool level = true;      // assert; an INIT level de-assert has level false
  uint8_t source_id = 0;  // sender's APIC id (for shorthands); IOAPIC uses its own
  bool operator==(const ApicMessage&) const = default;
};

class ApicMessageSink {
 public:
  virtual ~ApicMessageSink() = default;
  virtual void Send(const ApicMessage& message) = 0;
};

// What a LAPIC needs to know to answer "is this message for me?". Small and
// copyable so a router can keep a table of remote vCPUs' addressing.
struct ApicAddressing {
  uint8_t id = 0;
  uint32_t ldr = 0;           // logical destination register (id in [31:24])
  uint32_t dfr = 0xFFFFFFFF;  // destination format: [31:28] 0xF flat, 0x0 cluster
};

// Whether `message` (ignoring its shorthand) targets the LAPIC with `addr`.
bool MatchesDestination(const ApicAddressing& addr, DestMode mode, uint8_t dest);

// An EOI of a level-triggered vector, broadcast to the IOAPIC(s).
class EoiSink {
 public:
  virtual ~EoiSink() = default;
  virtual void BroadcastEoi(uint8_t vector) = 0;
};

}  // namespace dvm::irq

#endif  // DVM_VMM_IRQ_APIC_MESSAGE_H_
