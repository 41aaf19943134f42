// From the VM spec's [dsm] section to the engine's HomeMap.
//
// The DSM numbers pages by their offset into guest RAM (see dsm/local_pages.h),
// and so do the spec's home ranges, so they pass through as they are. The
// guest-physical address of a RAM offset differs above the 32-bit hole: RAM
// above 4 GiB follows low RAM in the memfd. RamOffsetOf maps one to the other
// for whoever starts from a guest address (device models, KVM exits).
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
