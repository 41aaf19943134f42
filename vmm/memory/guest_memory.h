// Guest RAM on one node: a memfd mapped twice.
//
//   mapped()  registered with userfaultfd and given to KVM; the guest, KVM and
//             device models touch memory only here, so every access to a page
//             this node does not hold faults into the DSM.
//   alias()   the same pages, never registered: the DSM engine reads a page it
//             holds from here to send it away, without faulting on itself.
//
// Offsets are bytes into guest RAM (not guest-physical addresses: the machine
// layout maps GPAs around the 32-bit hole onto these offsets).
#ifndef DVM_VMM_MEMORY_GUEST_MEMORY_H_
#define DVM_VMM_MEMORY_GUEST_MEMORY_H_

#include <cstddef>
#include <cstdint>
#include <span>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dvm/unique_fd.h"

namespace dvm::memory {

class GuestMemory {
 public:
  // `size` must be a non-zero multiple of the page size. The memfd starts as
  // one big hole: no page is backed until someone installs it.
  static absl::StatusOr<GuestMemory> Create(uint64_t size, const char* name);

  GuestMemory(GuestMemory&& other) noexcept;
  GuestMemory& operator=(GuestMemory&& other) noexcept;
  ~GuestMemory();

  uint64_t size() const { return size_; }
  int memfd() const { return memfd_.get(); }
  uint8_t* mapped() const { return mapped_; }
  uint8_t* alias() const { return alias_; }

  // True if [offset, offset + length) is inside guest RAM.
  bool Contains(uint64_t offset, uint64_t length) const {
    return offset <= size_ && length <= size_ - offset;
  }

  // Frees the pages so the next touch of mapped() raises a userfaultfd MISSING
  // fault. KVM's MMU notifier drops its own mappings of them too.
  absl::Status Drop(uint64_t offset, uint64_t length);

  // Copies out pages without allocating holes (a load through alias() from a
  // hole would allocate a page and turn the next fault into MINOR, not MISSING).
  absl::Status Read(uint64_t offset, std::span<uint8_t> out) const;

 private:
  GuestMemory(UniqueFd memfd, uint64_t size, uint8_t* mapped, uint8_t* alias)
      : memfd_(std::move(memfd)), size_(size), mapped_(mapped), alias_(alias) {}
  void Unmap();

  UniqueFd memfd_;
  uint64_t size_ = 0;
  uint8_t* mapped_ = nullptr;
  uint8_t* alias_ = nullptr;
};

}  // namespace dvm::memory

#endif  // DVM_VMM_MEMORY_GUEST_MEMORY_H_
