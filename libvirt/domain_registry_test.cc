#include "libvirt/domain_registry.h"

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libvirt/fake_launcher.h"
#include "libvirt/memory_domain_store.h"
#include "libvirt/test_util.h"
#include "libvirt/vir_error.h"

namespace dvm::libvirt {
namespace {

using ::testing::HasSubstr;
using testing::DomainXml;
using testing::ScratchDir;

class RegistryTest : public ::testing::Test {
 protected:
  RegistryTest() : store_(dir_.path() + "/domains") { Reopen(); }
  // A fresh registry over the same store, as after a dvmd restart.
  void Reopen() {
    registry_.reset();
    registry_ = std::make_unique<DomainRegistry>(&store_, &launcher_, spec::HostLimits{64 * kGiB}, &live_);
    problems_ = registry_->Load();
  }
  DomainView Define(const std::string& name, int vcpus = 2) {
    auto d = registry_->Define(DomainXml(name, dir_.kernel(), vcpus), 0);
    EXPECT_TRUE(d.ok()) << d.status();
    return *d;
  }
  DomainView Get(const std::string& name) { return *registry_->FindByName(name); }
  ErrorCode CodeOf(const absl::Status& s) { return VirCodeOf(s); }

  ScratchDir dir_;
  FileDomainStore store_;
  MemoryDomainStore live_;  // the run folder's
  FakeLauncher launcher_;
  std::unique_ptr<DomainRegistry> registry_;
  std::vector<std::string> problems_;
};

TEST_F(RegistryTest, DefineStartShutdownFollowsLibvirtStates) {
  DomainView d = Define("vm1", 3);
  EXPECT_EQ(d.state, DomainState::kShutoff);
  EXPECT_EQ(d.id, -1);
  EXPECT_TRUE(d.persistent);
  ASSERT_TRUE(registry_->Start(d.uuid, 0).ok());
  DomainView running = Get("vm1");
  EXPECT_EQ(running.state, DomainState::kRunning);
  EXPECT_EQ(running.reason, kRunningBooted);
  EXPECT_EQ(running.id, 1);
  EXPECT_EQ(running.vcpus, 3u);
  EXPECT_EQ(running.cpu_time_ns, 12345u);
  EXPECT_EQ(CodeOf(registry_->Start(d.uuid, 0)), ErrorCode::kOperationInvalid) << "already running";
  EXPECT_EQ(registry_->FindById(1)->name, "vm1");

  ASSERT_TRUE(registry_->Shutdown(d.uuid, 0).ok());
  EXPECT_EQ(launcher_.Get("vm1").shutdowns, 1);
  EXPECT_EQ(Get("vm1").state, DomainState::kRunning) << "the guest decides when it is off";
  launcher_.End("vm1", {kShutoffShutdown, "the guest powered off"});
  EXPECT_EQ(Get("vm1").state, DomainState::kShutoff);
  EXPECT_EQ(Get("vm1").reason, kShutoffShutdown);
  EXPECT_EQ(Get("vm1").id, -1);
  EXPECT_EQ(CodeOf(registry_->Shutdown(d.uuid, 0)), ErrorCode::kOperationInvalid);
  EXPECT_EQ(CodeOf(registry_->Shutdown(d.uuid, 4)), ErrorCode::kArgumentUnsupported) << "guest agent";
}

TEST_F(RegistryTest, DestroyAndCrashAreReportedWithTheirReasons) {
  DomainView d = Define("vm1");
  ASSERT_TRUE(registry_->Start(d.uuid, 0).ok());
  ASSERT_TRUE(registry_->Destroy(d.uuid, 0).ok());
  EXPECT_EQ(Get("vm1").state, DomainState::kShutoff);
  EXPECT_EQ(Get("vm1").reason, kShutoffDestroyed);
  EXPECT_EQ(CodeOf(registry_->Destroy(d.uuid, 0)), ErrorCode::kOperationInvalid) << "not running";

  ASSERT_TRUE(registry_->Start(d.uuid, 0).ok());
  EXPECT_EQ(Get("vm1").id, 2) << "ids are not reused";
  launcher_.End("vm1", {kShutoffCrashed, "vCPU 0: triple fault"});
  EXPECT_EQ(Get("vm1").reason, kShutoffCrashed);
  // A late report of an old run changes nothing.
  ASSERT_TRUE(registry_->Start(d.uuid, 0).ok());
}

TEST_F(RegistryTest, AFailedStartLeavesTheDomainShutOffWithTheReason) {
  DomainView d = Define("vm1");
  launcher_.FailNextLaunch();
  absl::Status s = registry_->Start(d.uuid, 0);
  EXPECT_EQ(CodeOf(s), ErrorCode::kOperationFailed);
  EXPECT_THAT(s.message(), HasSubstr("no /dev/kvm"));
  EXPECT_EQ(Get("vm1").state, DomainState::kShutoff);
  EXPECT_EQ(CodeOf(registry_->Start(d.uuid, kStartPaused)), ErrorCode::kArgumentUnsupported);
  EXPECT_EQ(CodeOf(registry_->Start(d.uuid, 0x1000)), ErrorCode::kInvalidArg);
  std::filesystem::remove(dir_.kernel());
  s = registry_->Start(d.uuid, 0);
  EXPECT_EQ(CodeOf(s), ErrorCode::kConfigUnsupported);
  EXPECT_THAT(s.message(), HasSubstr("<os><kernel>: cannot find"));
}

TEST_F(RegistryTest, NamesAndUuidsAreUnique) {
  DomainView a = Define("a");
  absl::StatusOr<DomainView> clash = registry_->Define(DomainXml("a", dir_.kernel()), 0);  // new uuid
  EXPECT_EQ(CodeOf(clash.status()), ErrorCode::kDomainExists);
  const std::string same_uuid_new_name =
      DomainXml("b", dir_.kernel(), 2, absl::StrCat("<uuid>", UuidToString(a.uuid), "</uuid>"));
  EXPECT_EQ(CodeOf(registry_->Define(same_uuid_new_name, 0).status()), ErrorCode::kDomainExists);
  // Redefining with the same name and uuid updates it.
  auto updated = registry_->Define(DomainXml("a", dir_.kernel(), 4, absl::StrCat("<uuid>", UuidToString(a.uuid), "</uuid>")), 0);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->vcpus, 4u);
  EXPECT_EQ(registry_->List().size(), 1u);
  EXPECT_EQ(CodeOf(registry_->FindByName("zz").status()), ErrorCode::kNoDomain);
  EXPECT_EQ(CodeOf(registry_->FindByUuid(Uuid{}).status()), ErrorCode::kNoDomain);
  EXPECT_EQ(CodeOf(registry_->FindById(7).status()), ErrorCode::kNoDomain);
}

TEST_F(RegistryTest, DomainsAndAutostartSurviveARestart) {
  DomainView a = Define("a");
  Define("b");
  ASSERT_TRUE(registry_->SetAutostart(a.uuid, true).ok());
  Reopen();
  EXPECT_TRUE(problems_.empty());
  std::vector<DomainView> list = registry_->List();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].name, "a");
  EXPECT_EQ(list[0].uuid, a.uuid);
  EXPECT_TRUE(list[0].autostart);
  EXPECT_FALSE(list[1].autostart);
  EXPECT_TRUE(registry_->StartAutostartDomains().empty());
  EXPECT_EQ(Get("a").state, DomainState::kRunning);
  EXPECT_EQ(Get("b").state, DomainState::kShutoff);
}

TEST_F(RegistryTest, AVmThatOutlivedDvmdIsAdopted) {
  Define("a");
  launcher_.AddSurvivor("a");
  Reopen();
  EXPECT_EQ(Get("a").state, DomainState::kRunning);
  EXPECT_EQ(Get("a").reason, kRunningUnknown);
  EXPECT_TRUE(registry_->StartAutostartDomains().empty());
  EXPECT_EQ(launcher_.launches(), 0);
}

TEST_F(RegistryTest, RunningDomainsComeBackWithTheirLiveDefinitionAndId) {
  // Review S2: a transient domain's VM became an orphan at a dvmd restart,
  // and an adopted VM took its definition and a new id from the config.
  DomainView a = Define("a", 2);
  ASSERT_TRUE(registry_->Start(a.uuid, 0).ok());
  const std::string uuid = absl::StrCat("<uuid>", UuidToString(a.uuid), "</uuid>");
  ASSERT_TRUE(registry_->Define(DomainXml("a", dir_.kernel(), 4, uuid), 0).ok());  // for the next start
  auto t = registry_->CreateTransient(DomainXml("t", dir_.kernel(), 3), 0);
  ASSERT_TRUE(t.ok()) << t.status();
  launcher_.AddSurvivor("a");
  launcher_.AddSurvivor("t");
  Reopen();
  EXPECT_TRUE(problems_.empty());
  EXPECT_EQ(Get("a").state, DomainState::kRunning);
  EXPECT_EQ(Get("a").id, 1);
  EXPECT_EQ(Get("a").vcpus, 2u) << "what it runs with";
  EXPECT_THAT(*registry_->XmlDesc(a.uuid, kXmlInactive), HasSubstr("<vcpu placement='static'>4</vcpu>"));
  EXPECT_EQ(Get("t").state, DomainState::kRunning);
  EXPECT_EQ(Get("t").id, 2);
  EXPECT_FALSE(Get("t").persistent);
  DomainView b = Define("b");
  ASSERT_TRUE(registry_->Start(b.uuid, 0).ok());
  EXPECT_EQ(Get("b").id, 3) << "no id is given twice";
  launcher_.End("t", {kShutoffShutdown, "off"});
  EXPECT_EQ(CodeOf(registry_->FindByName("t").status()), ErrorCode::kNoDomain);
  Reopen();
  EXPECT_EQ(CodeOf(registry_->FindByName("t").status()), ErrorCode::kNoDomain) << "its live file went with it";
  EXPECT_EQ(Get("a").id, 1);
}

TEST_F(RegistryTest, ALiveDefinitionWhoseVmEndedMeanwhileIsDropped) {
  ASSERT_TRUE(registry_->CreateTransient(DomainXml("t", dir_.kernel()), 0).ok());
  Reopen();  // t's VM did not survive
  EXPECT_TRUE(registry_->List().empty());
  EXPECT_TRUE(live_.LoadAll().domains.empty());
}

TEST_F(RegistryTest, UndefineOfARunningDomainMakesItTransient) {
  DomainView a = Define("a");
  ASSERT_TRUE(registry_->Start(a.uuid, 0).ok());
  ASSERT_TRUE(registry_->Undefine(a.uuid, 0).ok());
  EXPECT_FALSE(Get("a").persistent);
  EXPECT_EQ(CodeOf(registry_->Undefine(a.uuid, 0)), ErrorCode::kOperationInvalid);
  EXPECT_EQ(CodeOf(registry_->SetAutostart(a.uuid, true)), ErrorCode::kOperationInvalid);
  EXPECT_TRUE(store_.LoadAll().domains.empty()) << "its file is gone";
  launcher_.End("a", {kShutoffShutdown, "off"});
  EXPECT_TRUE(registry_->List().empty()) << "a transient domain ends with its VM";
  EXPECT_EQ(CodeOf(registry_->Undefine(a.uuid, 0)), ErrorCode::kNoDomain);
}

TEST_F(RegistryTest, UndefineTakesLibvirtsNoOpFlags) {
  DomainView a = Define("a");
  EXPECT_EQ(CodeOf(registry_->Undefine(a.uuid, 0x100)), ErrorCode::kInvalidArg);
  ASSERT_TRUE(registry_->Undefine(a.uuid, 1 | 2 | 4 | 16).ok());
  EXPECT_TRUE(registry_->List().empty());
}

TEST_F(RegistryTest, CreateXmlRunsATransientDomain) {
  auto d = registry_->CreateTransient(DomainXml("t", dir_.kernel()), 0);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_FALSE(d->persistent);
  EXPECT_EQ(d->state, DomainState::kRunning);
  EXPECT_TRUE(store_.LoadAll().domains.empty());
  EXPECT_EQ(CodeOf(registry_->CreateTransient(DomainXml("t", dir_.kernel()), 0).status()), ErrorCode::kDomainExists);
  ASSERT_TRUE(registry_->Destroy(d->uuid, 0).ok());
  EXPECT_TRUE(registry_->List().empty());
  launcher_.FailNextLaunch();
  EXPECT_FALSE(registry_->CreateTransient(DomainXml("t", dir_.kernel()), 0).ok());
  EXPECT_TRUE(registry_->List().empty()) << "a transient domain that did not start is gone";
}

TEST_F(RegistryTest, XmlDescGivesTheLiveOrTheInactiveDefinition) {
  DomainView a = Define("a", 2);
  ASSERT_TRUE(registry_->Start(a.uuid, 0).ok());
  // A new definition while running applies at the next start.
  ASSERT_TRUE(registry_->Define(DomainXml("a", dir_.kernel(), 4, absl::StrCat("<uuid>", UuidToString(a.uuid), "</uuid>")), 0).ok());
  EXPECT_THAT(*registry_->XmlDesc(a.uuid, 0), HasSubstr("<vcpu placement='static'>2</vcpu>"));
  EXPECT_THAT(*registry_->XmlDesc(a.uuid, kXmlInactive), HasSubstr("<vcpu placement='static'>4</vcpu>"));
  EXPECT_EQ(Get("a").vcpus, 2u);
  EXPECT_EQ(CodeOf(registry_->XmlDesc(a.uuid, 0x100).status()), ErrorCode::kInvalidArg);
}

TEST_F(RegistryTest, ATransientDomainBeingDestroyedKeepsItsUuidUntilDestroyReturns) {
  // Review M4: the exit report came inside Destroy and removed the transient
  // domain while busy; a CreateTransient with its uuid then inserted a new
  // busy entry, Destroy cleared busy on that one, a Define + Undefine removed
  // it, and the CreateTransient aborted dvmd on a DVM_CHECK.
  const std::string xml = DomainXml("t", dir_.kernel(), 2, "<uuid>6a0c4b3e-8f43-4d7c-9a51-0d1c2b3a4f5e</uuid>");
  auto t = registry_->CreateTransient(xml, 0);
  ASSERT_TRUE(t.ok()) << t.status();
  absl::Status create_during, define_during, start_during;
  bool listed_during = false;
  launcher_.OnDestroy([&] {
    // The VM's exit has been reported; Destroy has not returned.
    listed_during = registry_->FindByUuid(t->uuid).ok();
    create_during = registry_->CreateTransient(xml, 0).status();
    define_during = registry_->Define(xml, 0).status();
    start_during = registry_->Start(t->uuid, 0);
  });
  ASSERT_TRUE(registry_->Destroy(t->uuid, 0).ok());
  launcher_.OnDestroy(nullptr);
  EXPECT_TRUE(listed_during) << "still there, busy";
  EXPECT_EQ(CodeOf(create_during), ErrorCode::kDomainExists);
  EXPECT_EQ(CodeOf(define_during), ErrorCode::kOperationInvalid) << define_during;
  EXPECT_EQ(CodeOf(start_during), ErrorCode::kOperationInvalid) << start_during;
  EXPECT_TRUE(registry_->List().empty()) << "gone once Destroy returned";
  EXPECT_EQ(launcher_.launches(), 1);
  auto again = registry_->CreateTransient(xml, 0);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->state, DomainState::kRunning);
}

TEST_F(RegistryTest, AStartWhileAnotherStartLaunchesIsRefused) {
  DomainView a = Define("a");
  absl::Status second;
  launcher_.OnLaunch([&] {
    launcher_.OnLaunch(nullptr);
    second = registry_->Start(a.uuid, 0);
  });
  ASSERT_TRUE(registry_->Start(a.uuid, 0).ok());
  EXPECT_EQ(CodeOf(second), ErrorCode::kOperationInvalid) << second;
  EXPECT_EQ(launcher_.launches(), 1);
}

TEST_F(RegistryTest, AnOldRunsHandleDoesNotEndANewRun) {
  DomainView a = Define("a");
  ASSERT_TRUE(registry_->Start(a.uuid, 0).ok());
  ASSERT_TRUE(registry_->Destroy(a.uuid, 0).ok());
  ASSERT_TRUE(registry_->Start(a.uuid, 0).ok());
  registry_->List();  // frees the first run's handle
  EXPECT_TRUE(launcher_.Running("a"));
  EXPECT_EQ(Get("a").state, DomainState::kRunning);
}

TEST_F(RegistryTest, UndefineWhileStartingMakesAFailedStartGoAway) {
  DomainView a = Define("a");
  launcher_.FailNextLaunch();
  absl::Status undefine;
  launcher_.OnLaunch([&] {
    launcher_.OnLaunch(nullptr);
    undefine = registry_->Undefine(a.uuid, 0);
  });
  EXPECT_FALSE(registry_->Start(a.uuid, 0).ok());
  EXPECT_EQ(CodeOf(undefine), ErrorCode::kOperationInvalid) << "busy";
  EXPECT_EQ(registry_->List().size(), 1u);
}

// A store whose writes wait for the test.
class GatedStore final : public DomainStore {
 public:
  absl::Status Init() override { return absl::OkStatus(); }
  Loaded LoadAll() const override { return inner_.LoadAll(); }
  absl::Status Save(const DomainDef& def, bool autostart, int32_t id = -1) override {
    in_save.Notify();
    release.WaitFor(std::chrono::seconds(10));
    return inner_.Save(def, autostart, id);
  }
  absl::Status Remove(const std::string& name) override { return inner_.Remove(name); }
  std::string PathOf(const std::string& name) const override { return name; }
  testing::Latch in_save, release;

 private:
  MemoryDomainStore inner_;
};

TEST(RegistryLocking, ListsDoNotWaitForAStoreWrite) {
  // Review: Define and SetAutostart fsynced under the registry's lock.
  ScratchDir dir;
  GatedStore store;
  FakeLauncher launcher;
  DomainRegistry registry(&store, &launcher, spec::HostLimits{64 * kGiB});
  registry.Load();
  std::thread definer([&] { EXPECT_TRUE(registry.Define(DomainXml("a", dir.kernel()), 0).ok()); });
  store.in_save.Wait();
  const auto asked = std::chrono::steady_clock::now();
  EXPECT_TRUE(registry.List().empty()) << "not defined until written";
  EXPECT_FALSE(registry.FindByName("a").ok());
  EXPECT_LT(std::chrono::steady_clock::now() - asked, std::chrono::seconds(1));
  store.release.Notify();
  definer.join();
  EXPECT_EQ(registry.List().size(), 1u);
}

}  // namespace
}  // namespace dvm::libvirt
