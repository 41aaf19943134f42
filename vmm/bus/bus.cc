#include "vmm/bus/bus.h"

#include "absl/strings/str_format.h"
#include "dvm/log.h"

namespace dvm::bus {

absl::Status Bus::Register(uint64_t base, uint64_t size, hw::Device* device, std::string label) {
  DVM_CHECK(!frozen_) << name_ << ": Register after Freeze";
  if (size == 0 || base + size < base || device == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: bad range [0x%x, +0x%x) for %s", name_, base, size, label));
  }
  const uint64_t end = base + size;
  auto next = ranges_.lower_bound(base);
  if (next != ranges_.end() && next->first < end) {
    return absl::AlreadyExistsError(absl::StrFormat("%s: %s at [0x%x, 0x%x) overlaps %s at 0x%x",
                                                    name_, label, base, end, next->second.label,
                                                    next->first));
  }
  if (next != ranges_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second.size > base) {
      return absl::AlreadyExistsError(
          absl::StrFormat("%s: %s at [0x%x, 0x%x) overlaps %s at 0x%x", name_, label, base, end,
                          prev->second.label, prev->first));
    }
  }
  ranges_.emplace(base, Range{size, device, std::move(label)});
  return absl::OkStatus();
}

std::optional<Bus::Hit> Bus::Lookup(uint64_t addr, uint64_t size) const {
  auto it = ranges_.upper_bound(addr);
  if (it == ranges_.begin()) return std::nullopt;
  --it;
  const uint64_t offset = addr - it->first;
  // The whole access must be inside the range (no straddling into a neighbour).
  if (offset >= it->second.size || size > it->second.size - offset) return std::nullopt;
  return Hit{it->second.device, offset, &it->second.label};
}

}  // namespace dvm::bus
