// From the VM spec's [dsm] section to the engine's HomeMap.
//
// The DSM numbers pages by their offset into guest RAM (see dsm/local_pages.h);
// the spec names home ranges by guest-physical address. RAM below the 32-bit
// hole sits at the same offsets; RAM above 4 GiB follows it in the memfd. A
// spec range that spans the hole becomes two RAM ranges.
#ifndef DVM_VMM_CLUSTER_DSM_HOMES_H_
#define DVM_VMM_CLUSTER_DSM_HOMES_H_

#include <optional>

#include "absl/status/statusor.h"
#include "dsm/home_map.h"
#include "dvm/types.h"
#include "vmm/spec/vm_spec.h"

namespace dvm::cluster {

// The offset into guest RAM of `gpa`, or nullopt if it is not RAM.
std::optional<uint64_t> RamOffsetOf(Gpa gpa, uint64_t ram_bytes);

absl::StatusOr<dsm::HomeMap> HomeMapFor(const spec::VmSpec& spec);

}  // namespace dvm::cluster

#endif  // DVM_VMM_CLUSTER_DSM_HOMES_H_
