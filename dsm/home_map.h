// Which node is the home (directory holder) of each guest page. Every node
// builds the same map from the VM spec, so a home is found without a message.
//
//   Interleave: consecutive `interleave_bytes` chunks go to nodes 0, 1, ... N-1, 0, ...
//   Ranges:     listed regions go to the named node; the rest interleaves as above.
//
// Built from plain parameters so it does not depend on the spec header; the
// glue from DsmSpec is one call.
#ifndef DVM_DSM_HOME_MAP_H_
#define DVM_DSM_HOME_MAP_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "dvm/types.h"

namespace dvm::dsm {

struct HomeRange {
  Gpa start;
  uint64_t size = 0;
  NodeId node;
};

// A run of pages with one home: [first, first + count).
struct PageRange {
  Gfn first;
  uint64_t count = 0;
};

class HomeMap {
 public:
  // `interleave_bytes` must be a nonzero multiple of the page size; ranges must
  // be page aligned, nonempty, non-overlapping and name nodes < num_nodes.
  static absl::StatusOr<HomeMap> Create(uint32_t num_nodes, uint64_t interleave_bytes,
                                        std::vector<HomeRange> ranges = {});

  uint32_t num_nodes() const { return num_nodes_; }
  NodeId HomeOf(Gfn gfn) const;
  // The maximal run of pages around `gfn` that share its home (bounded to the
  // interleave chunk or the range), for error reports that name a range.
  PageRange HomeRunOf(Gfn gfn) const;

 private:
  struct Run {
    uint64_t first;  // gfn
    uint64_t end;    // gfn, exclusive
    NodeId node;
  };
  HomeMap(uint32_t num_nodes, uint64_t chunk_pages, std::vector<Run> runs)
      : num_nodes_(num_nodes), chunk_pages_(chunk_pages), runs_(std::move(runs)) {}
  const Run* FindRun(uint64_t gfn) const;

  uint32_t num_nodes_;
  uint64_t chunk_pages_;
  std::vector<Run> runs_;  // sorted by first
};

}  // namespace dvm::dsm

#endif  // DVM_DSM_HOME_MAP_H_
