#include "libvirt/domain_store.h"

#include <sys/stat.h>

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libvirt/memory_domain_store.h"
#include "libvirt/test_util.h"

namespace dvm::libvirt {
namespace {

using ::testing::HasSubstr;
using testing::DomainXml;
using testing::ScratchDir;

DomainDef Def(const std::string& name, const std::string& kernel) {
  auto def = ParseDomainXml(DomainXml(name, kernel), spec::HostLimits{});
  EXPECT_TRUE(def.ok()) << def.status();
  return *def;
}

TEST(DomainStore, SavesLoadsAndRemoves) {
  ScratchDir dir;
  FileDomainStore store(dir.path() + "/domains");
  ASSERT_TRUE(store.Init().ok());
  DomainDef a = Def("a", dir.kernel());
  ASSERT_TRUE(store.Save(a, true).ok());
  ASSERT_TRUE(store.Save(Def("b", dir.kernel()), false).ok());
  DomainStore::Loaded loaded = store.LoadAll();
  EXPECT_TRUE(loaded.problems.empty());
  ASSERT_EQ(loaded.domains.size(), 2u);
  EXPECT_EQ(loaded.domains[0].def.spec.name, "a");
  EXPECT_EQ(loaded.domains[0].def.uuid, a.uuid);
  EXPECT_TRUE(loaded.domains[0].autostart);
  EXPECT_FALSE(loaded.domains[1].autostart);
  ASSERT_TRUE(store.Remove("a").ok());
  EXPECT_EQ(store.LoadAll().domains.size(), 1u);
  EXPECT_TRUE(store.Remove("a").ok()) << "removing twice is fine";
}

TEST(DomainStore, OnlyTheOwnerReadsTheFiles) {
  ScratchDir dir;
  FileDomainStore store(dir.path() + "/domains");
  ASSERT_TRUE(store.Init().ok());
  ASSERT_TRUE(store.Save(Def("a", dir.kernel()), false).ok());
  struct stat folder, file;
  ASSERT_EQ(::stat(store.dir().c_str(), &folder), 0);
  ASSERT_EQ(::stat(store.PathOf("a").c_str(), &file), 0);
  EXPECT_EQ(folder.st_mode & 0777, 0700u);
  EXPECT_EQ(file.st_mode & 0777, 0600u);
}

TEST(DomainStore, TheHeaderMayCarryAnId) {
  ScratchDir dir;
  DomainDef a = Def("a", dir.kernel());
  auto with_id = ParseStoredDomain(FormatStoredDomain(a, false, 7));
  ASSERT_TRUE(with_id.ok()) << with_id.status();
  EXPECT_EQ(with_id->id, 7);
  EXPECT_EQ(ParseStoredDomain(FormatStoredDomain(a, true))->id, -1);
  EXPECT_FALSE(ParseStoredDomain("dvmd-domain 1 autostart=0 id=x\n<domain/>").ok());
  EXPECT_FALSE(ParseStoredDomain("dvmd-domain 1 autostart=0 idd=1\n<domain/>").ok());
}

TEST(DomainStore, TheMemoryStoreKeepsWhatAFileWould) {
  ScratchDir dir;
  MemoryDomainStore store;
  DomainDef a = Def("a", dir.kernel());
  ASSERT_TRUE(store.Save(a, true).ok());
  DomainStore::Loaded loaded = store.LoadAll();
  ASSERT_EQ(loaded.domains.size(), 1u);
  EXPECT_EQ(loaded.domains[0].def.uuid, a.uuid);
  EXPECT_TRUE(loaded.domains[0].autostart);
  ASSERT_TRUE(store.Remove("a").ok());
  EXPECT_TRUE(store.LoadAll().domains.empty());
}

TEST(DomainStore, AnInterruptedWriteLeavesNoHalfDomain) {
  ScratchDir dir;
  FileDomainStore store(dir.path() + "/domains");
  ASSERT_TRUE(store.Init().ok());
  ASSERT_TRUE(store.Save(Def("a", dir.kernel()), false).ok());
  // What a crash between write and rename leaves: a temporary file.
  std::ofstream(store.dir() + "/.tmp-b.x1y2z3") << "dvmd-domain 1 autostart=0\n<domain type='kvm'><na";
  ASSERT_TRUE(store.Init().ok()) << "start-up";
  EXPECT_FALSE(std::filesystem::exists(store.dir() + "/.tmp-b.x1y2z3"));
  DomainStore::Loaded loaded = store.LoadAll();
  EXPECT_TRUE(loaded.problems.empty());
  ASSERT_EQ(loaded.domains.size(), 1u);
}

TEST(DomainStore, ReportsFilesItCannotReadAndKeepsTheRest) {
  ScratchDir dir;
  FileDomainStore store(dir.path() + "/domains");
  ASSERT_TRUE(store.Init().ok());
  ASSERT_TRUE(store.Save(Def("good", dir.kernel()), false).ok());
  std::ofstream(store.dir() + "/broken.xml") << "garbage";
  std::ofstream(store.dir() + "/other.xml") << FormatStoredDomain(Def("misnamed", dir.kernel()), false);
  std::filesystem::remove(dir.kernel());  // a kernel that went away does not hide a domain
  DomainStore::Loaded loaded = store.LoadAll();
  ASSERT_EQ(loaded.domains.size(), 1u);
  EXPECT_EQ(loaded.domains[0].def.spec.name, "good");
  ASSERT_EQ(loaded.problems.size(), 2u);
  EXPECT_THAT(loaded.problems[0], HasSubstr("broken.xml: no 'dvmd-domain 1' header"));
  EXPECT_THAT(loaded.problems[1], HasSubstr("holds domain 'misnamed', not 'other'"));
}

}  // namespace
}  // namespace dvm::libvirt
