#include "libvirt/vm_launcher.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libvirt/console_log.h"
#include "libvirt/test_util.h"
#include "libvirt/vir_error.h"
#include "vmm/control/control.h"

namespace dvm::libvirt {
namespace {

using ::testing::HasSubstr;
using testing::ScratchDir;

class ProcessLauncherTest : public ::testing::Test {
 protected:
  ProcessLauncherTest()
      : launcher_({.dvm_binary = FAKE_DVM, .run_dir = dir_.path() + "/run", .log_dir = dir_.path() + "/log",
                   .start_timeout = std::chrono::seconds(10), .max_log_bytes = 256 << 10}) {}
  DomainDef Def(const std::string& name) {
    auto def = ParseDomainXml(testing::DomainXml(name, dir_.kernel(), 1), spec::HostLimits{64 * kGiB});
    EXPECT_TRUE(def.ok()) << def.status();
    return *def;
  }
  // Watches `vm` and waits for its exit report.
  static VmExit WatchUntilExit(RunningVm& vm, std::function<void()> then) {
    VmExit exit;
    testing::Latch ended;
    vm.Watch([&](VmExit e) {
      exit = e;
      ended.Notify();
    });
    then();
    EXPECT_TRUE(ended.WaitFor(std::chrono::seconds(15)));
    return exit;
  }

  ScratchDir dir_;
  ProcessLauncher launcher_;
};

TEST_F(ProcessLauncherTest, ShutdownEndsAsTheGuestPoweringOff) {
  auto vm = launcher_.Launch(Def("vm1"));
  ASSERT_TRUE(vm.ok()) << vm.status();
  auto status = control::QueryStatus(launcher_.ControlPath("vm1"));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->name, "vm1");
  VmExit exit = WatchUntilExit(**vm, [&] { EXPECT_TRUE((*vm)->Shutdown().ok()); });
  EXPECT_EQ(exit.reason, kShutoffShutdown);
  struct stat st;
  ASSERT_EQ(::stat(launcher_.LogPath("vm1").c_str(), &st), 0);
  std::ifstream log(launcher_.LogPath("vm1"));
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("---- dvmd: starting vm1"));
  EXPECT_THAT(text, HasSubstr("fake_dvm: vm1 running"));
}

TEST_F(ProcessLauncherTest, AFailedStartSaysWhy) {
  auto vm = launcher_.Launch(Def("fail-1"));
  ASSERT_FALSE(vm.ok());
  EXPECT_EQ(VirCodeOf(vm.status()), ErrorCode::kOperationFailed);
  EXPECT_THAT(vm.status().message(), HasSubstr("exited with status 2: fake_dvm: cannot open /dev/kvm"));
}

TEST_F(ProcessLauncherTest, DestroyAsksThenKillsByPidfd) {
  auto vm = launcher_.Launch(Def("vm2"));
  ASSERT_TRUE(vm.ok()) << vm.status();
  VmExit exit = WatchUntilExit(**vm, [&] { EXPECT_TRUE((*vm)->Destroy(std::chrono::seconds(5)).ok()); });
  EXPECT_EQ(exit.reason, kShutoffDestroyed);

  auto stubborn = launcher_.Launch(Def("stubborn-1"));
  ASSERT_TRUE(stubborn.ok()) << stubborn.status();
  exit = WatchUntilExit(**stubborn, [&] {
    EXPECT_TRUE((*stubborn)->Destroy(std::chrono::milliseconds(300)).ok());
  });
  EXPECT_EQ(exit.reason, kShutoffCrashed) << "killed: " << exit.detail;
  EXPECT_THAT(exit.detail, HasSubstr("signal 9"));
}

TEST_F(ProcessLauncherTest, ARestartedDvmdAdoptsTheRunningVm) {
  auto vm = launcher_.Launch(Def("vm3"));
  ASSERT_TRUE(vm.ok()) << vm.status();
  EXPECT_TRUE(absl::IsNotFound(launcher_.Adopt(Def("other")).status()));
  auto adopted = launcher_.Adopt(Def("vm3"));
  ASSERT_TRUE(adopted.ok()) << adopted.status();
  // The adopted handle is not the VM's parent, yet it learns how the VM
  // ended from dvm run's end report.
  VmExit exit = WatchUntilExit(**adopted, [&] { EXPECT_TRUE((*adopted)->Destroy(std::chrono::seconds(5)).ok()); });
  EXPECT_EQ(exit.reason, kShutoffDestroyed) << exit.detail;
  WatchUntilExit(**vm, [] {});  // the parent reaps it
}

TEST_F(ProcessLauncherTest, AGuestThatWritesWithoutEndHasItsLogCapped) {
  auto vm = launcher_.Launch(Def("chatty-1"));
  ASSERT_TRUE(vm.ok()) << vm.status();
  testing::Latch ended;
  (*vm)->Watch([&](VmExit) { ended.Notify(); });
  const std::string log = launcher_.LogPath("chatty-1");
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!std::filesystem::exists(log + ".old") && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(std::filesystem::exists(log + ".old")) << "the log was moved aside";
  EXPECT_LT(std::filesystem::file_size(log), 2u << 20);
  EXPECT_TRUE((*vm)->Destroy(std::chrono::seconds(5)).ok());
  EXPECT_TRUE(ended.WaitFor(std::chrono::seconds(5)));
}

TEST_F(ProcessLauncherTest, AGuestsExitStatusIsNotTakenForDvmsOwn) {
  // Review: a guest writing 130 to the exit port was reported as destroyed.
  auto vm = launcher_.Launch(Def("exit130-1"));
  if (!vm.ok()) {
    // It may end before its socket is seen: then the launch says so.
    EXPECT_THAT(vm.status().message(), HasSubstr("status 130"));
    return;
  }
  VmExit exit = WatchUntilExit(**vm, [] {});
  EXPECT_EQ(exit.reason, kShutoffShutdown) << exit.detail;
  EXPECT_THAT(exit.detail, HasSubstr("exit port"));
}

TEST(ExitOfReport, MapsHowTheMachineEnded) {
  EXPECT_EQ(ExitOfReport("poweroff the guest powered off").reason, kShutoffShutdown);
  EXPECT_EQ(ExitOfReport("poweroff the guest powered off").detail, "the guest powered off");
  EXPECT_EQ(ExitOfReport("exit-port the guest wrote 130 to the exit port").reason, kShutoffShutdown);
  EXPECT_EQ(ExitOfReport("exit-port the guest wrote 2 to the exit port").reason, kShutoffShutdown);
  EXPECT_EQ(ExitOfReport("stopped destroyed").reason, kShutoffDestroyed);
  EXPECT_EQ(ExitOfReport("triple-fault vCPU 0").reason, kShutoffCrashed);
  EXPECT_EQ(ExitOfReport("failed node 1 went away\n").reason, kShutoffCrashed);
  EXPECT_EQ(ExitOfReport("nonsense").reason, kShutoffUnknown);
}

TEST(ExitOfStatus, WithoutAReportTheVmNeverRan) {
  EXPECT_EQ(ExitOfStatus(1 << 8).reason, kShutoffFailed) << "dvm run's own setup failure";
  EXPECT_EQ(ExitOfStatus(2 << 8).reason, kShutoffFailed);
  EXPECT_EQ(ExitOfStatus(9).reason, kShutoffCrashed);  // killed by SIGKILL
}

TEST(CapLog, MovesABigLogAside) {
  ScratchDir dir;
  const std::string path = dir.path() + "/vm.log";
  { std::ofstream(path) << std::string(3000, 'x'); }
  ASSERT_TRUE(CapLog(path, 5000).ok());
  EXPECT_EQ(std::filesystem::file_size(path), 3000u) << "under the cap: untouched";
  ASSERT_TRUE(CapLog(path, 1000).ok());
  EXPECT_EQ(std::filesystem::file_size(path + ".old"), 3000u);
  EXPECT_LT(std::filesystem::file_size(path), 200u) << "only a line saying where the rest went";
  EXPECT_TRUE(CapLog(dir.path() + "/missing.log", 10).ok());
}

}  // namespace
}  // namespace dvm::libvirt
