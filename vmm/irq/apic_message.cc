#include "vmm/irq/apic_message.h"

namespace dvm::irq {

bool MatchesDestination(const ApicAddressing& addr, DestMode mode, uint8_t dest) {
  if (dest == kBroadcastId) return true;
  if (mode == DestMode::kPhysical) return dest == addr.id;
  const uint8_t logical_id = static_cast<uint8_t>(addr.ldr >> 24);
  if ((addr.dfr >> 28) == 0xF) return (logical_id & dest) != 0;  // flat model
  // Cluster model: high nibble selects the cluster (0xF = all), low nibble a
  // mask of the up to four LAPICs in it.
  const uint8_t cluster = dest >> 4;
  return (cluster == 0xF || cluster == (logical_id >> 4)) && (logical_id & dest & 0xF) != 0;
}

}  // namespace dvm::irq
