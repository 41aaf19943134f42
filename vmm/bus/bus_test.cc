#include "vmm/bus/bus.h"

#include <vector>

#include "gtest/gtest.h"

namespace dvm::bus {
namespace {

class NullDevice final : public hw::Device {
 public:
  void Read(uint64_t, std::span<uint8_t>) override {}
  void Write(uint64_t, std::span<const uint8_t>) override {}
};

TEST(BusTest, LookupFindsRangeAndOffset) {
  Bus bus("pio");
  NullDevice a, b;
  ASSERT_TRUE(bus.Register(0x3F8, 8, &a, "com1").ok());
  ASSERT_TRUE(bus.Register(0x40, 4, &b, "pit").ok());
  auto hit = bus.Lookup(0x3FD, 1);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->device, &a);
  EXPECT_EQ(hit->offset, 5u);
  EXPECT_EQ(*hit->label, "com1");
  EXPECT_EQ(bus.Lookup(0x43, 1)->device, &b);
  EXPECT_FALSE(bus.Lookup(0x44, 1));
  EXPECT_FALSE(bus.Lookup(0x3F7, 1));
  EXPECT_FALSE(bus.Lookup(0x3FF, 2));  // straddles the end
  EXPECT_FALSE(bus.Lookup(0, 1));
  EXPECT_FALSE(bus.Lookup(~uint64_t{0}, 8));
}

TEST(BusTest, RejectsOverlapsAndBadRanges) {
  Bus bus("mmio");
  NullDevice d;
  ASSERT_TRUE(bus.Register(0x1000, 0x1000, &d, "a").ok());
  EXPECT_EQ(bus.Register(0x1800, 0x100, &d, "inside").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(bus.Register(0x0800, 0x1000, &d, "tail").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(bus.Register(0x1FFF, 0x10, &d, "head").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(bus.Register(0x0, 0x10000, &d, "around").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(bus.Register(0x2000, 0x10, &d, "adjacent").ok());
  EXPECT_TRUE(bus.Register(0x0F00, 0x100, &d, "adjacent below").ok());
  EXPECT_EQ(bus.Register(0x5000, 0, &d, "empty").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bus.Register(~uint64_t{0} - 4, 16, &d, "wraps").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bus.Register(0x9000, 1, nullptr, "null").code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dvm::bus
