#include "dsm/home_map.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace dvm::dsm {

absl::StatusOr<HomeMap> HomeMap::Create(uint32_t num_nodes, uint64_t interleave_bytes,
                                        std::vector<HomeRange> ranges) {
  if (num_nodes == 0 || num_nodes > 64) {
    return absl::InvalidArgumentError(absl::StrCat("dsm: ", num_nodes, " nodes, want 1..64"));
  }
  if (interleave_bytes == 0 || !IsPageAligned(interleave_bytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat("dsm: interleave of ", interleave_bytes, " bytes is not a page multiple"));
  }
  std::vector<Run> runs;
  for (const HomeRange& r : ranges) {
    if (!IsPageAligned(r.start.value()) || !IsPageAligned(r.size) || r.size == 0) {
      return absl::InvalidArgumentError(absl::StrCat("dsm: home range at ", r.start.value(),
                                                     " size ", r.size, " is not page aligned"));
    }
    if (r.start.value() + r.size < r.start.value()) {
      return absl::InvalidArgumentError("dsm: home range wraps around");
    }
    if (r.node.value() >= num_nodes) {
      return absl::InvalidArgumentError(
          absl::StrCat("dsm: home range names node ", r.node.value(), " of ", num_nodes));
    }
    runs.push_back({GfnOf(r.start).value(), GfnOf(Gpa(r.start.value() + r.size)).value(), r.node});
  }
  std::sort(runs.begin(), runs.end(), [](const Run& a, const Run& b) { return a.first < b.first; });
  for (size_t i = 1; i < runs.size(); ++i) {
    if (runs[i].first < runs[i - 1].end) {
      return absl::InvalidArgumentError(
          absl::StrCat("dsm: home ranges overlap at gfn ", runs[i].first));
    }
  }
  return HomeMap(num_nodes, interleave_bytes / kPageSize, std::move(runs));
}

const HomeMap::Run* HomeMap::FindRun(uint64_t gfn) const {
  auto it = std::upper_bound(runs_.begin(), runs_.end(), gfn,
                             [](uint64_t g, const Run& r) { return g < r.first; });
  if (it == runs_.begin()) return nullptr;
  --it;
  return gfn < it->end ? &*it : nullptr;
}

NodeId HomeMap::HomeOf(Gfn gfn) const {
  if (const Run* run = FindRun(gfn.value())) return run->node;
  return NodeId(static_cast<uint32_t>((gfn.value() / chunk_pages_) % num_nodes_));
}

PageRange HomeMap::HomeRunOf(Gfn gfn) const {
  if (const Run* run = FindRun(gfn.value())) return {Gfn(run->first), run->end - run->first};
  uint64_t first = gfn.value() / chunk_pages_ * chunk_pages_;
  uint64_t end = first + chunk_pages_;
  // Clip the interleave chunk where an explicit range cuts into it.
  for (const Run& r : runs_) {
    if (r.end <= gfn.value()) first = std::max(first, r.end);
    if (r.first > gfn.value()) end = std::min(end, r.first);
  }
  return {Gfn(first), end - first};
}

}  // namespace dvm::dsm
