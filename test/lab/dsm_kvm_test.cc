// Lab test: KVM guests on DSM memory. Two DSM nodes in one process (each its
// own memfd, userfaultfd, engine, TCP transport), and a KVM VM on each node's
// RAM. The guests' own accesses, made by KVM in kernel mode, must take part in
// the coherence protocol like any thread's:
//   - a guest on node 1 reads what the guest on node 0 wrote, and its write is
//     what node 0 reads next;
//   - a write on the other node invalidates the page under a running guest
//     (PUNCH_HOLE -> KVM's MMU notifier drops the NPT entry), so the guest,
//     spinning on its stale-free copy, refaults and sees the new value.
#include <cstring>
#include <thread>

#include "dsm/in_process_cluster.h"
#include "gtest/gtest.h"
#include "test/guests/guests.h"
#include "test/lab/test_vm.h"

namespace dvm::lab {
namespace {

constexpr Gpa kSecondGuestGpa{0x3000};  // wait_for_change, beside read_increment_read

void Load(uint8_t* ram, Gpa at, std::span<const uint8_t> code) {
  std::memcpy(ram + at.value(), code.data(), code.size());  // through the DSM, as a write
}

class DsmKvmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = dsm::InProcessCluster::Create(
        {.nodes = 2, .pages = guests::kRamSize / kPageSize}, dsm::TcpOnLoopback(2));
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(*cluster);
    Load(cluster_->memory(0), guests::kLoadGpa, guests::ReadIncrementRead());
    Load(cluster_->memory(0), kSecondGuestGpa, guests::WaitForChange());
  }
  void TearDown() override {
    for (auto& vm : vms_) vm.reset();
    cluster_.reset();
  }
  TestVm& VmOn(uint32_t node, Gpa entry) {
    auto vm = TestVm::CreateOnRam(cluster_->memory(node), entry);
    EXPECT_TRUE(vm.ok()) << vm.status();
    vms_.push_back(std::move(*vm));
    return *vms_.back();
  }
  uint32_t DataOn(uint32_t node) {
    return __atomic_load_n(
        reinterpret_cast<uint32_t*>(cluster_->memory(node) + guests::kDataGpa.value()),
        __ATOMIC_SEQ_CST);
  }

  std::unique_ptr<dsm::InProcessCluster> cluster_;
  std::vector<std::unique_ptr<TestVm>> vms_;
};

TEST_F(DsmKvmTest, GuestsOnTwoNodesSeeEachOthersWrites) {
  TestVm& a = VmOn(0, guests::kLoadGpa);
  EXPECT_EQ(*RunToPortWrite(a.vcpu(0), guests::kPortReport), 0u);
  EXPECT_EQ(*RunToPortWrite(a.vcpu(0), guests::kPortReport2), 1u);

  TestVm& b = VmOn(1, guests::kLoadGpa);
  EXPECT_EQ(*RunToPortWrite(b.vcpu(0), guests::kPortReport), 1u);  // node 0's write
  EXPECT_EQ(*RunToPortWrite(b.vcpu(0), guests::kPortReport2), 2u);
  EXPECT_EQ(DataOn(0), 2u);  // and node 1's write is node 0's next read

  dsm::EngineStats s1 = cluster_->engine(1).stats();
  EXPECT_GT(s1.faults[static_cast<size_t>(dsm::OpKind::kReadMiss)], 0u);
  EXPECT_GT(s1.installs, 0u);
  EXPECT_TRUE(cluster_->errors(0).empty());
  EXPECT_TRUE(cluster_->errors(1).empty());
}

TEST_F(DsmKvmTest, RemoteWriteInvalidatesUnderARunningGuest) {
  TestVm& a = VmOn(0, kSecondGuestGpa);
  ASSERT_EQ(*RunToPortWrite(a.vcpu(0), guests::kPortReport), 0u);
  // The guest now spins on the page, which node 0 (its home) holds.
  absl::StatusOr<uint32_t> changed;
  std::thread guest([&] { changed = RunToPortWrite(a.vcpu(0), guests::kPortReport2); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let it spin in KVM_RUN
  __atomic_store_n(reinterpret_cast<uint32_t*>(cluster_->memory(1) + guests::kDataGpa.value()),
                   uint32_t{0x1234}, __ATOMIC_SEQ_CST);
  guest.join();
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(*changed, 0x1234u);
  EXPECT_GT(cluster_->engine(0).stats().drops, 0u);
}

}  // namespace
}  // namespace dvm::lab
