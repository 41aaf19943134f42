// Runs the real fault path on this machine (no KVM needed): host threads stand
// in for vCPUs and fault on guest memory registered with userfaultfd.
#include "vmm/memory/userfaultfd.h"

#include <poll.h>

#include <array>
#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "dvm/types.h"
#include "vmm/memory/guest_memory.h"

namespace dvm::memory {
namespace {

class UserfaultfdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto uffd = Userfaultfd::Open();
    ASSERT_TRUE(uffd.ok()) << uffd.status();
    uffd_.emplace(std::move(*uffd));
    auto mem = GuestMemory::Create(kPages * kPageSize, "uffd-test");
    ASSERT_TRUE(mem.ok()) << mem.status();
    mem_.emplace(std::move(*mem));
    ASSERT_TRUE(uffd_->Register(mem_->mapped(), mem_->size()).ok());
  }

  // Waits for one fault (up to 5 s).
  Fault NextFault() {
    pollfd pfd{uffd_->fd(), POLLIN, 0};
    EXPECT_EQ(poll(&pfd, 1, 5000), 1) << "no fault arrived";
    std::array<Fault, 1> faults;
    auto n = uffd_->ReadFaults(faults);
    EXPECT_TRUE(n.ok() && *n == 1);
    return faults[0];
  }

  uint8_t* Page(size_t i) { return mem_->mapped() + i * kPageSize; }

  static constexpr size_t kPages = 8;
  std::optional<Userfaultfd> uffd_;
  std::optional<GuestMemory> mem_;
  std::array<uint8_t, kPageSize> page_{};
};

TEST_F(UserfaultfdTest, MissingFaultBlocksUntilCopy) {
  std::atomic<int> seen{-1};
  std::thread reader([&] { seen = Page(3)[10]; });
  Fault fault = NextFault();
  EXPECT_EQ(fault.address, reinterpret_cast<uint64_t>(Page(3)));
  EXPECT_FALSE(fault.write);
  EXPECT_EQ(seen.load(), -1);  // still blocked
  page_.fill(0x5a);
  ASSERT_TRUE(uffd_->Copy(Page(3), page_, Access::kWritable).ok());
  reader.join();
  EXPECT_EQ(seen.load(), 0x5a);
}

TEST_F(UserfaultfdTest, ReadOnlyInstallTrapsWritesUntilUnprotected) {
  page_.fill(1);
  ASSERT_TRUE(uffd_->Copy(Page(0), page_, Access::kReadOnly).ok());
  EXPECT_EQ(Page(0)[0], 1);  // reads need no fault
  std::thread writer([&] { Page(0)[0] = 2; });
  Fault fault = NextFault();
  EXPECT_TRUE(fault.write);
  EXPECT_TRUE(fault.wp);
  EXPECT_EQ(mem_->alias()[0], 1);  // the write has not landed
  ASSERT_TRUE(uffd_->Protect(Page(0), kPageSize, Access::kWritable).ok());
  writer.join();
  EXPECT_EQ(mem_->alias()[0], 2);
}

TEST_F(UserfaultfdTest, DropRearmsMissingFault) {
  page_.fill(9);
  ASSERT_TRUE(uffd_->Copy(Page(1), page_, Access::kWritable).ok());
  EXPECT_EQ(Page(1)[0], 9);
  ASSERT_TRUE(mem_->Drop(kPageSize, kPageSize).ok());
  std::atomic<int> seen{-1};
  std::thread reader([&] { seen = Page(1)[0]; });
  Fault fault = NextFault();
  EXPECT_EQ(fault.address, reinterpret_cast<uint64_t>(Page(1)));
  page_.fill(11);
  ASSERT_TRUE(uffd_->Copy(Page(1), page_, Access::kReadOnly).ok());
  reader.join();
  EXPECT_EQ(seen.load(), 11);
}

TEST_F(UserfaultfdTest, SecondCopyOfSamePageIsSuccess) {
  page_.fill(3);
  ASSERT_TRUE(uffd_->Copy(Page(2), page_, Access::kWritable).ok());
  page_.fill(4);
  EXPECT_TRUE(uffd_->Copy(Page(2), page_, Access::kWritable).ok());
  EXPECT_EQ(Page(2)[0], 3);  // the first install wins
}

TEST_F(UserfaultfdTest, SeveralThreadsOnOnePageWakeTogether) {
  std::atomic<int> sum{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) readers.emplace_back([&] { sum += Page(4)[0]; });
  NextFault();
  page_.fill(5);
  ASSERT_TRUE(uffd_->Copy(Page(4), page_, Access::kReadOnly).ok());
  for (auto& t : readers) t.join();
  EXPECT_EQ(sum.load(), 20);
  // Faults from the other readers may still be queued; they are stale now.
  std::array<Fault, 8> rest;
  auto n = uffd_->ReadFaults(rest);
  ASSERT_TRUE(n.ok());
  for (size_t i = 0; i < *n; ++i) EXPECT_EQ(rest[i].address, reinterpret_cast<uint64_t>(Page(4)));
}

TEST_F(UserfaultfdTest, RejectsUnalignedRanges) {
  EXPECT_EQ(uffd_->Copy(Page(0) + 1, page_, Access::kWritable).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(uffd_->Protect(Page(0), 100, Access::kReadOnly).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(uffd_->Register(Page(0), 0).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dvm::memory
