#include "vmm/cluster/dsm_homes.h"

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
  std::vector<dsm::HomeRange> ranges;
  const std::vector<spec::HomeRange>& spec_ranges =
      spec.dsm.home == spec::HomePolicy::kNuma ? spec::NumaSlices(spec) : spec.dsm.ranges;
  for (const spec::HomeRange& r : spec_ranges) ranges.push_back({r.start, r.size, r.node});
  return dsm::HomeMap::Create(nodes, spec.dsm.interleave_bytes, std::move(ranges));
}

}  // namespace dvm::cluster
