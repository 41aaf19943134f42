// Strong types for the numbers dvm passes around, so a guest-physical address
// cannot be handed where a host address or a node id is expected.
#ifndef DVM_TYPES_H_
#define DVM_TYPES_H_

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace dvm {

inline constexpr uint64_t kPageShift = 12;
inline constexpr uint64_t kPageSize = uint64_t{1} << kPageShift;
inline constexpr uint64_t kKiB = 1024;
inline constexpr uint64_t kMiB = 1024 * kKiB;
inline constexpr uint64_t kGiB = 1024 * kMiB;

// A value of type T that only converts explicitly. Tag makes each alias distinct.
template <typename Tag, typename T>
class StrongInt {
 public:
  using ValueType = T;
  constexpr StrongInt() = default;
  constexpr explicit StrongInt(T v) : value_(v) {}
  constexpr T value() const { return value_; }
  constexpr auto operator<=>(const StrongInt&) const = default;

 private:
  T value_{};
};

struct GpaTag {};
struct GfnTag {};
struct HvaTag {};
struct NodeIdTag {};
struct VcpuIdTag {};

using Gpa = StrongInt<GpaTag, uint64_t>;     // guest-physical address
using Gfn = StrongInt<GfnTag, uint64_t>;     // guest page frame number (Gpa >> 12)
using Hva = StrongInt<HvaTag, uint64_t>;     // host virtual address in the VMM process
using NodeId = StrongInt<NodeIdTag, uint32_t>;  // index of a [[node]] in the cluster
using VcpuId = StrongInt<VcpuIdTag, uint32_t>;  // index of a vCPU in the VM (= its APIC ID)

constexpr Gfn GfnOf(Gpa gpa) { return Gfn(gpa.value() >> kPageShift); }
constexpr Gpa GpaOf(Gfn gfn) { return Gpa(gfn.value() << kPageShift); }
constexpr uint64_t PageOffset(Gpa gpa) { return gpa.value() & (kPageSize - 1); }
constexpr bool IsPageAligned(uint64_t v) { return (v & (kPageSize - 1)) == 0; }
constexpr uint64_t AlignUp(uint64_t v, uint64_t align) { return (v + align - 1) & ~(align - 1); }
constexpr uint64_t AlignDown(uint64_t v, uint64_t align) { return v & ~(align - 1); }

// Formats sizes the way the config accepts them: "512 MiB", "4 GiB", "12 KiB", "7 B".
std::string FormatSize(uint64_t bytes);

}  // namespace dvm

template <typename Tag, typename T>
struct std::hash<dvm::StrongInt<Tag, T>> {
  size_t operator()(const dvm::StrongInt<Tag, T>& v) const noexcept {
    return std::hash<T>{}(v.value());
  }
};

#endif  // DVM_TYPES_H_
