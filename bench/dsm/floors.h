// The floors bench/dsm compares the DSM against, measured in the same run:
// what a remote page fault cannot avoid (a userfaultfd fault resolved by a
// handler thread, and one request/page round trip on the transport), and the
// two ways DESIGN.md names to take a page away from a node.
#ifndef DVM_BENCH_DSM_FLOORS_H_
#define DVM_BENCH_DSM_FLOORS_H_

#include "absl/status/statusor.h"
#include "bench/dsm/common.h"
#include "dsm/in_process_cluster.h"

namespace dvm::dsm::bench {

// A read of an absent memfd page (MISSING) resolved by UFFDIO_COPY with
// COPY_MODE_WP (how the engine installs a shared page) from a handler thread
// blocked in poll(); timed in the faulting thread. No engine, no network.
absl::StatusOr<Summary> UffdMissingFloor(int samples);

// What a home does before a page leaves: UFFDIO_WRITEPROTECT of one present
// page, then pread of it through the memfd (the engine's WP + Read actions).
absl::StatusOr<Summary> WriteProtectAndReadFloor(int samples);

// A 64 B request answered by a message carrying a 4 KiB page, between two
// transports of this process, each on its own I/O thread as the engine uses
// them; the requester blocks on a condition variable until the reply.
absl::StatusOr<Summary> TransportRoundTrip(const TransportMaker& make, int samples);

// Per page: taking it away, then the next touch until the new contents are
// mapped (the handler copies them in from a buffer, as a page that arrived).
struct InvalidationCost {
  Summary drop;
  Summary refault;
};
// fallocate(PUNCH_HOLE) on the memfd; the touch is MISSING, resolved by
// UFFDIO_COPY. What dsm/local_pages does.
absl::StatusOr<InvalidationCost> PunchHoleThenCopy(int samples);
// MADV_DONTNEED on a mapping registered MISSING|MINOR; the page stays in the
// page cache, the handler writes the new contents through the unregistered
// alias and resolves the MINOR fault with UFFDIO_CONTINUE.
absl::StatusOr<InvalidationCost> DontneedThenContinue(int samples);

}  // namespace dvm::dsm::bench

#endif  // DVM_BENCH_DSM_FLOORS_H_
