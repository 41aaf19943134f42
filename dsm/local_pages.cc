#include "dsm/local_pages.h"

#include <array>

namespace dvm::dsm {
namespace {

using memory::Access;

Access AccessFor(bool writable) { return writable ? Access::kWritable : Access::kReadOnly; }

}  // namespace

bool LocalPages::GfnOf(uint64_t host_address, Gfn* gfn) const {
  auto base = reinterpret_cast<uint64_t>(memory_->mapped());
  if (host_address < base || host_address - base >= memory_->size()) return false;
  *gfn = Gfn((host_address - base) / kPageSize);
  return true;
}

absl::Status LocalPages::Install(Gfn gfn, std::span<const uint8_t> page, bool writable) {
  return uffd_->Copy(HostAddress(gfn), page.first(kPageSize), AccessFor(writable));
}

absl::Status LocalPages::Materialize(Gfn gfn, bool writable) {
  static constexpr std::array<uint8_t, kPageSize> kZeros{};
  return uffd_->Copy(HostAddress(gfn), kZeros, AccessFor(writable));
}

absl::Status LocalPages::MakeWritable(Gfn gfn) {
  return uffd_->Protect(HostAddress(gfn), kPageSize, Access::kWritable);
}

absl::Status LocalPages::WriteProtect(Gfn gfn) {
  return uffd_->Protect(HostAddress(gfn), kPageSize, Access::kReadOnly);
}

absl::Status LocalPages::Drop(Gfn gfn) { return memory_->Drop(gfn.value() * kPageSize, kPageSize); }

absl::Status LocalPages::Wake(Gfn gfn) { return uffd_->Wake(HostAddress(gfn), kPageSize); }

absl::Status LocalPages::Read(Gfn gfn, std::span<uint8_t> out) const {
  return memory_->Read(gfn.value() * kPageSize, out.first(kPageSize));
}

}  // namespace dvm::dsm
