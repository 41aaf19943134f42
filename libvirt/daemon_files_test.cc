#include "libvirt/daemon_files.h"

#include <sys/stat.h>

#include "gtest/gtest.h"
#include "libvirt/test_util.h"

namespace dvm::libvirt {
namespace {

TEST(DaemonFiles, OneDvmdPerStateDir) {
  testing::ScratchDir dir;
  const std::string state = dir.path() + "/domains";
  auto first = LockStateDir(state);
  ASSERT_TRUE(first.ok()) << first.status();
  struct stat st;
  ASSERT_EQ(::stat(state.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto second = LockStateDir(state);
  EXPECT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
  first->reset();
  EXPECT_TRUE(LockStateDir(state).ok()) << "free once the first is gone";
}

TEST(DaemonFiles, AutostartOncePerBoot) {
  testing::ScratchDir dir;
  EXPECT_TRUE(FirstStartSinceBoot(dir.path() + "/run"));
  EXPECT_FALSE(FirstStartSinceBoot(dir.path() + "/run"));
}

}  // namespace
}  // namespace dvm::libvirt
