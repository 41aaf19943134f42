// The human-readable plan `dvm check-config` prints: where each vCPU runs, the
// guest memory map, which node is home for which pages, and the transport.
#ifndef DVM_VMM_SPEC_PLAN_H_
#define DVM_VMM_SPEC_PLAN_H_

#include <string>
#include <vector>

#include "vmm/spec/vm_spec.h"

namespace dvm::spec {

// A run of vCPU ids as text: {0,1,2,5} -> "0-2, 5".
std::string FormatVcpuList(const std::vector<VcpuId>& vcpus);

// Bytes of guest RAM whose home is each node (index = node id).
std::vector<uint64_t> HomeBytesPerNode(const VmSpec& spec);

std::string FormatPlan(const VmSpec& spec);

}  // namespace dvm::spec

#endif  // DVM_VMM_SPEC_PLAN_H_
