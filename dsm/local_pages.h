// The DSM's hands on this node's copy of guest RAM: the protocol's Install,
// MakeWritable, WriteProtect and Drop actions as userfaultfd and memfd calls.
//
// The DSM numbers pages by their index into guest RAM (byte offset / 4 KiB),
// not by guest-physical frame: the machine layout maps GPAs around the 32-bit
// hole onto RAM offsets, and the DSM only ever sees RAM.
//
// Invalidation is fallocate(PUNCH_HOLE) on the memfd: the next touch of the
// registered mapping is a MISSING fault, resolved by UFFDIO_COPY, which with
// COPY_MODE_WP installs a shared page read-only in one step on every kernel we
// run (the lab's 6.1 has no UFFDIO_CONTINUE_MODE_WP, which the DONTNEED+MINOR
// alternative would need for the same). bench/dsm measures both.
//
// A hole is a page of zeros, so a page the protocol says we hold (Shared or
// Modified) but that was never written is a hole, and Materialize() fills it
// with zeros on its first touch. UFFDIO_COPY never overwrites a present page,
// so a late Materialize cannot destroy data.
#ifndef DVM_DSM_LOCAL_PAGES_H_
#define DVM_DSM_LOCAL_PAGES_H_

#include <cstdint>
#include <span>

#include "absl/status/status.h"
#include "dvm/types.h"
#include "vmm/memory/guest_memory.h"
#include "vmm/memory/userfaultfd.h"

namespace dvm::dsm {

class LocalPages {
 public:
  // Both must outlive this; `uffd` has `memory->mapped()` registered.
  LocalPages(memory::GuestMemory* memory, memory::Userfaultfd* uffd)
      : memory_(memory), uffd_(uffd) {}

  uint64_t num_pages() const { return memory_->size() / kPageSize; }
  bool Contains(Gfn gfn) const { return gfn.value() < num_pages(); }
  uint8_t* HostAddress(Gfn gfn) const { return memory_->mapped() + gfn.value() * kPageSize; }
  // The page under a host address in the registered mapping, if it is one.
  bool GfnOf(uint64_t host_address, Gfn* gfn) const;

  // Maps `page` (kPageSize bytes) and wakes the threads faulting on it.
  absl::Status Install(Gfn gfn, std::span<const uint8_t> page, bool writable);
  // Maps zeros if the page is a hole; wakes its faulting threads either way.
  absl::Status Materialize(Gfn gfn, bool writable);
  // Grants writes (and wakes writers blocked on the write protection).
  absl::Status MakeWritable(Gfn gfn);
  // Takes writes away; done before the page is read to be sent.
  absl::Status WriteProtect(Gfn gfn);
  // Frees the page so the next touch faults.
  absl::Status Drop(Gfn gfn);
  // Wakes the threads faulting on the page without changing it.
  absl::Status Wake(Gfn gfn);
  // Copies the page out through the memfd (a hole reads as zeros and stays one).
  absl::Status Read(Gfn gfn, std::span<uint8_t> out) const;

 private:
  memory::GuestMemory* memory_;
  memory::Userfaultfd* uffd_;
};

}  // namespace dvm::dsm

#endif  // DVM_DSM_LOCAL_PAGES_H_
