#include "vmm/memory/guest_memory.h"

#include <array>
#include <cstring>

#include "gtest/gtest.h"
#include "dvm/types.h"

namespace dvm::memory {
namespace {

TEST(GuestMemoryTest, RejectsBadSizes) {
  EXPECT_EQ(GuestMemory::Create(0, "t").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GuestMemory::Create(4097, "t").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(GuestMemoryTest, AliasSeesMappedWrites) {
  auto mem = GuestMemory::Create(4 * kPageSize, "t");
  ASSERT_TRUE(mem.ok()) << mem.status();
  mem->mapped()[kPageSize + 5] = 42;
  EXPECT_EQ(mem->alias()[kPageSize + 5], 42);
}

TEST(GuestMemoryTest, DropZeroesAndReadDoesNotAllocate) {
  auto mem = GuestMemory::Create(4 * kPageSize, "t");
  ASSERT_TRUE(mem.ok());
  std::memset(mem->mapped(), 7, 4 * kPageSize);
  ASSERT_TRUE(mem->Drop(kPageSize, 2 * kPageSize).ok());
  std::array<uint8_t, 3 * kPageSize> out;
  ASSERT_TRUE(mem->Read(0, out).ok());
  EXPECT_EQ(out[0], 7);
  EXPECT_EQ(out[kPageSize], 0);
  EXPECT_EQ(out[2 * kPageSize + 100], 0);
}

TEST(GuestMemoryTest, BoundsChecked) {
  auto mem = GuestMemory::Create(2 * kPageSize, "t");
  ASSERT_TRUE(mem.ok());
  EXPECT_TRUE(mem->Contains(0, 2 * kPageSize));
  EXPECT_FALSE(mem->Contains(kPageSize, 2 * kPageSize));
  EXPECT_FALSE(mem->Contains(UINT64_MAX, 2));  // no overflow
  std::array<uint8_t, 8> out;
  EXPECT_EQ(mem->Read(2 * kPageSize - 4, out).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(mem->Drop(kPageSize, 2 * kPageSize).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(mem->Drop(1, kPageSize).code(), absl::StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace dvm::memory
