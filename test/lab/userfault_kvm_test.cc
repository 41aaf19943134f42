// Lab tests 2-4: the userfaultfd mechanisms dvm's DSM depends on, with a real
// KVM guest touching guest RAM that is a memfd registered with userfaultfd.
//   2. MISSING: the guest's first touch blocks in KVM_RUN until UFFDIO_COPY.
//   3. WP: a page installed write-protected is read without a fault; the
//      write raises a WP fault, resolved by clearing WP; the guest's write lands.
//   4. Invalidation while the guest runs: PUNCH_HOLE (-> MISSING again) and
//      MADV_DONTNEED on a MISSING|MINOR range (-> MINOR, pwrite + CONTINUE).
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "dvm/status.h"
#include "dvm/types.h"
#include "test/guests/guests.h"
#include "test/lab/test_vm.h"
#include "test/lab/userfault.h"

namespace dvm::lab {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::AllOf;

constexpr uint64_t kFeatures = UFFD_FEATURE_MINOR_SHMEM | UFFD_FEATURE_WP_HUGETLBFS_SHMEM;

// A page whose first dword is `value`.
struct Page {
  explicit Page(uint32_t value) { std::memcpy(bytes, &value, sizeof(value)); }
  alignas(kPageSize) uint8_t bytes[kPageSize] = {};
};

class UserfaultKvmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(kvm::InstallKickSignalHandler().ok());
  }

  // Creates the VM and registers all of guest RAM with userfaultfd.
  void Start(std::span<const uint8_t> guest, uint64_t modes) {
    auto vm = TestVm::Create(guest);
    ASSERT_TRUE(vm.ok()) << vm.status();
    vm_ = std::move(*vm);
    auto uffd = Userfault::Open(kFeatures);
    ASSERT_TRUE(uffd.ok()) << uffd.status();
    uffd_ = std::make_unique<Userfault>(std::move(*uffd));
    absl::Status registered = uffd_->Register(vm_->ram(), guests::kRamSize, modes);
    ASSERT_TRUE(registered.ok()) << registered;
    data_ = vm_->HostAddress(guests::kDataGpa);
  }

  void Serve(FaultServer::Handler handler) {
    auto server = FaultServer::Start(uffd_.get(), std::move(handler));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  uint64_t data_page() const { return reinterpret_cast<uint64_t>(data_); }
  kvm::Vcpu& vcpu() { return vm_->vcpu(0); }

  // Runs wait_for_change: the guest reads the page (first fault), reports
  // it, then spins reading it; `invalidate` runs on another thread while it
  // spins, and the guest must then report the page installed after that. A
  // watchdog kicks the vCPU after 30 s, so a broken mechanism fails the test
  // instead of hanging the lab.
  void ExpectGuestSeesNewPage(const std::function<void()>& invalidate, uint32_t old_value,
                              uint32_t new_value) {
    vcpu().BindToCurrentThread();
    auto first = RunToPortWrite(vcpu(), guests::kPortReport);
    ASSERT_TRUE(first.ok()) << first.status();
    EXPECT_EQ(*first, old_value);
    std::atomic<bool> done{false};
    std::thread watchdog([&] {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (!done && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (!done) (void)vcpu().Kick();
    });
    std::thread invalidator([&] {
      // Let the guest spin on its live mapping (NPT entry in place) first.
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      invalidate();
    });
    auto second = RunToPortWrite(vcpu(), guests::kPortReport2);
    done = true;
    invalidator.join();
    watchdog.join();
    ASSERT_TRUE(second.ok()) << second.status()
                             << " (KVM_EXIT_INTR means the guest never saw a new page)";
    EXPECT_EQ(*second, new_value);
  }

  std::unique_ptr<TestVm> vm_;
  std::unique_ptr<Userfault> uffd_;
  std::unique_ptr<FaultServer> server_;  // declared last: stops first
  uint8_t* data_ = nullptr;
};

TEST_F(UserfaultKvmTest, MissingPageBlocksKvmRunUntilCopy) {
  Start(guests::ReadOnce(), UFFDIO_REGISTER_MODE_MISSING);
  const Page page(0xfeedf00d);
  std::atomic<int64_t> installed_ns{0};
  Serve([&](const Fault& fault) -> absl::Status {
    if (fault.address != data_page()) return absl::InternalError("fault on an unexpected page");
    // Hold the vCPU for a while: KVM_RUN must not return in the meantime.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    installed_ns = MonotonicNanos();
    return uffd_->Copy(data_, page.bytes, kPageSize, /*write_protect=*/false);
  });

  const int64_t start_ns = MonotonicNanos();
  auto value = RunToPortWrite(vcpu(), guests::kPortReport);
  const int64_t exit_ns = MonotonicNanos();
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, 0xfeedf00du) << "the guest reads the page we installed";
  ASSERT_TRUE(server_->status().ok()) << server_->status();
  EXPECT_THAT(server_->faults(),
              ElementsAre(AllOf(Field(&Fault::address, data_page()), Field(&Fault::write, false),
                                Field(&Fault::wp, false), Field(&Fault::minor, false))));
  EXPECT_GT(installed_ns.load(), start_ns);
  EXPECT_GE(exit_ns, installed_ns.load()) << "KVM_RUN returned before the page was installed";
}

TEST_F(UserfaultKvmTest, WriteProtectedPageReadsFreelyAndWriteFaults) {
  Start(guests::ReadIncrementRead(), UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP);
  // Installed read-only in one step, as the DSM installs a Shared page.
  const Page page(41);
  ASSERT_TRUE(uffd_->Copy(data_, page.bytes, kPageSize, /*write_protect=*/true).ok());
  Serve([&](const Fault& fault) -> absl::Status {
    if (fault.address != data_page() || !fault.wp) {
      return absl::InternalError("expected only a WP fault on the data page");
    }
    return uffd_->WriteProtect(data_, kPageSize, /*protect=*/false);
  });

  auto first = RunToPortWrite(vcpu(), guests::kPortReport);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 41u);
  EXPECT_TRUE(server_->faults().empty()) << "reading a write-protected page must not fault";

  auto second = RunToPortWrite(vcpu(), guests::kPortReport2);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*second, 42u) << "the guest sees its own write";
  ASSERT_TRUE(server_->status().ok()) << server_->status();
  EXPECT_THAT(server_->faults(),
              ElementsAre(AllOf(Field(&Fault::address, data_page()), Field(&Fault::write, true),
                                Field(&Fault::wp, true))));
  auto in_memory = PreadU32(vm_->memfd(), guests::kDataGpa);
  ASSERT_TRUE(in_memory.ok());
  EXPECT_EQ(*in_memory, 42u) << "the write reached guest RAM";
}

TEST_F(UserfaultKvmTest, StoreToWriteProtectedPageFaults) {
  Start(guests::WriteFirst(), UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP);
  const Page page(41);
  ASSERT_TRUE(uffd_->Copy(data_, page.bytes, kPageSize, /*write_protect=*/true).ok());
  Serve([&](const Fault& fault) -> absl::Status {
    if (fault.address != data_page() || !fault.wp) {
      return absl::InternalError("expected only a WP fault on the data page");
    }
    return uffd_->WriteProtect(data_, kPageSize, /*protect=*/false);
  });
  auto value = RunToPortWrite(vcpu(), guests::kPortReport);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, 0x77u);
  ASSERT_TRUE(server_->status().ok()) << server_->status();
  EXPECT_THAT(server_->faults(),
              ElementsAre(AllOf(Field(&Fault::address, data_page()), Field(&Fault::write, true),
                                Field(&Fault::wp, true))));
}

TEST_F(UserfaultKvmTest, PunchHoleWhileGuestRunsFaultsMissingAgain) {
  Start(guests::WaitForChange(), UFFDIO_REGISTER_MODE_MISSING);
  const Page old_page(0x1111), new_page(0x2222);
  std::atomic<int> installs{0};
  Serve([&](const Fault& fault) -> absl::Status {
    if (fault.address != data_page() || fault.minor || fault.wp) {
      return absl::InternalError("expected MISSING faults on the data page only");
    }
    const Page& page = installs++ == 0 ? old_page : new_page;
    return uffd_->Copy(data_, page.bytes, kPageSize, /*write_protect=*/false);
  });
  ExpectGuestSeesNewPage(
      [&] {
        EXPECT_EQ(::fallocate(vm_->memfd(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                              guests::kDataGpa.value(), kPageSize),
                  0)
            << ErrnoStatus("fallocate PUNCH_HOLE");
      },
      0x1111, 0x2222);
  ASSERT_TRUE(server_->status().ok()) << server_->status();
  EXPECT_EQ(server_->faults().size(), 2u) << "one MISSING fault before and one after the hole";
}

TEST_F(UserfaultKvmTest, DontneedOnMinorRangeWhileGuestRunsFaultsMinor) {
  Start(guests::WaitForChange(), UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_MINOR);
  const Page old_page(0x3333), new_page(0x4444);
  Serve([&](const Fault& fault) -> absl::Status {
    if (fault.wp) return absl::InternalError("unexpected WP fault");
    // The guest's code page is in the page cache (written through the memfd)
    // but not yet mapped: with MINOR registered, fetching it faults too.
    if (fault.address != data_page()) {
      if (!fault.minor) return absl::InternalError("MISSING fault outside the data page");
      return uffd_->Continue(reinterpret_cast<void*>(fault.address), kPageSize);
    }
    if (!fault.minor) return uffd_->Copy(data_, old_page.bytes, kPageSize, false);
    // The page is still in the page cache with its old contents: write the
    // new ones through the memfd (not the registered mapping), then map it.
    if (::pwrite(vm_->memfd(), new_page.bytes, kPageSize, guests::kDataGpa.value()) !=
        static_cast<ssize_t>(kPageSize)) {
      return ErrnoStatus("pwrite new page");
    }
    return uffd_->Continue(data_, kPageSize);
  });
  ExpectGuestSeesNewPage(
      [&] {
        EXPECT_EQ(::madvise(data_, kPageSize, MADV_DONTNEED), 0) << ErrnoStatus("madvise");
      },
      0x3333, 0x4444);
  ASSERT_TRUE(server_->status().ok()) << server_->status();
  std::vector<Fault> data_faults;
  for (const Fault& fault : server_->faults()) {
    if (fault.address == data_page()) data_faults.push_back(fault);
  }
  EXPECT_THAT(data_faults, ElementsAre(Field(&Fault::minor, false), Field(&Fault::minor, true)));
}

}  // namespace
}  // namespace dvm::lab
