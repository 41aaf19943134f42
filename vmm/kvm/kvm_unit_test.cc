// What the KVM wrapper does without KVM: a clear error that points to the lab.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vmm/kvm/kvm.h"

namespace dvm::kvm {
namespace {

using ::testing::HasSubstr;

TEST(KvmOpenTest, MissingDeviceSaysHowToUseTheLab) {
  absl::StatusOr<Kvm> kvm = Kvm::Open("/nonexistent/kvm");
  ASSERT_FALSE(kvm.ok());
  EXPECT_EQ(kvm.status().code(), absl::StatusCode::kFailedPrecondition);
  const std::string message(kvm.status().message());
  EXPECT_THAT(message, HasSubstr("open /nonexistent/kvm"));
  EXPECT_THAT(message, HasSubstr("No such file or directory"));
  EXPECT_THAT(message, HasSubstr("scripts/lab run --"));
}

TEST(KvmOpenTest, NotAKvmDeviceNamesTheIoctl) {
  absl::StatusOr<Kvm> kvm = Kvm::Open("/dev/null");
  ASSERT_FALSE(kvm.ok());
  EXPECT_THAT(std::string(kvm.status().message()), HasSubstr("KVM_GET_API_VERSION"));
}

}  // namespace
}  // namespace dvm::kvm
