#include "vmm/cluster/dsm_homes.h"

#include <algorithm>

#include "vmm/layout/layout.h"

namespace dvm::cluster {

std::optional<uint64_t> RamOffsetOf(Gpa gpa, uint64_t ram_bytes) {
  const uint64_t low = layout::LowRamBytes(ram_bytes);
  if (gpa.value() < low) return gpa.value();
  const uint64_t above = layout::kHoleEnd.value();
  if (gpa.value() >= above && gpa.value() - above < layout::HighRamBytes(ram_bytes)) {
    return low + (gpa.value() - above);
  }
  return std::nullopt;
}

absl::StatusOr<dsm::HomeMap> HomeMapFor(const spec::VmSpec& spec) {
  const auto nodes = static_cast<uint32_t>(spec.nodes.size());
  if (spec.dsm.home == spec::HomePolicy::kInterleave) {
    return dsm::HomeMap::Create(nodes, spec.dsm.interleave_bytes);
  }
  const uint64_t low = layout::LowRamBytes(spec.memory_bytes);
  const uint64_t hole_end = layout::kHoleEnd.value();
  std::vector<dsm::HomeRange> ranges;
  for (const spec::HomeRange& r : spec.dsm.ranges) {
    const uint64_t start = r.start.value(), end = r.start.value() + r.size;
    // The part below the hole keeps its offsets.
    if (start < low) {
      ranges.push_back({Gpa(start), std::min(end, low) - start, r.node});
    }
    // The part above 4 GiB moves down to follow low RAM.
    if (end > hole_end) {
      const uint64_t from = std::max(start, hole_end);
      ranges.push_back({Gpa(low + (from - hole_end)), end - from, r.node});
    }
  }
  return dsm::HomeMap::Create(nodes, spec.dsm.interleave_bytes, std::move(ranges));
}

}  // namespace dvm::cluster
