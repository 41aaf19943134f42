#include "libvirt/procedures.h"

#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libvirt/fake_launcher.h"
#include "libvirt/test_util.h"

namespace dvm::libvirt {
namespace {

using ::testing::HasSubstr;
using testing::DomainXml;
using testing::ScratchDir;

class ProceduresTest : public ::testing::Test {
 protected:
  ProceduresTest()
      : store_(dir_.path() + "/domains"),
        registry_(&store_, &launcher_, spec::HostLimits{64 * kGiB}),
        procedures_(&registry_, DaemonInfo{.hostname = "h1", .dvm_binary = "/usr/bin/dvm", .hv_version = 1000}) {
    registry_.Load();
  }
  CallResult Call(Proc proc, const std::vector<uint8_t>& args = {}) {
    return procedures_.Call(client_, static_cast<int32_t>(proc), args);
  }
  void Open(uint32_t flags = 0) {
    XdrWriter w;
    w.OptionalString("dvm:///system");
    w.U32(flags);
    ASSERT_EQ(Call(Proc::kConnectOpen, w.Take()).status, MessageStatus::kOk);
  }
  RemoteError ErrorOf(const CallResult& r) {
    EXPECT_EQ(r.status, MessageStatus::kError);
    return *RemoteError::Decode(r.body);
  }
  std::vector<uint8_t> Xml(const std::string& xml) {
    XdrWriter w;
    w.String(xml);
    return w.Take();
  }
  std::vector<uint8_t> Dom(const NonnullDomain& d, std::optional<uint32_t> flags = std::nullopt) {
    XdrWriter w;
    d.Write(w);
    if (flags) w.U32(*flags);
    return w.Take();
  }
  NonnullDomain Define(const std::string& name) {
    CallResult r = Call(Proc::kDomainDefineXml, Xml(DomainXml(name, dir_.kernel())));
    EXPECT_EQ(r.status, MessageStatus::kOk);
    XdrReader reader(r.body);
    return NonnullDomain::Read(reader);
  }

  ScratchDir dir_;
  FileDomainStore store_;
  FakeLauncher launcher_;
  DomainRegistry registry_;
  Procedures procedures_;
  ClientState client_;
};

TEST_F(ProceduresTest, HandshakeComesFirst) {
  EXPECT_EQ(ErrorOf(Call(Proc::kConnectGetHostname)).code, static_cast<int32_t>(ErrorCode::kRpc));
  CallResult auth = Call(Proc::kAuthList);
  ASSERT_EQ(auth.status, MessageStatus::kOk);
  EXPECT_EQ(auth.body, (std::vector<uint8_t>{0, 0, 0, 1, 0, 0, 0, 0})) << "one type: none";
  XdrWriter feature;
  feature.I32(kFeatureProgramKeepalive);
  EXPECT_EQ(Call(Proc::kConnectSupportsFeature, feature.Take()).body, EncodeInt(1));
  XdrWriter other;
  other.OptionalString("qemu:///system");
  other.U32(0);
  EXPECT_THAT(*ErrorOf(Call(Proc::kConnectOpen, other.Take())).message, HasSubstr("dvm:/// URIs"));
  Open();
  EXPECT_EQ(Call(Proc::kConnectGetHostname).body, EncodeString("h1"));
  EXPECT_EQ(Call(Proc::kConnectGetVersion).body, EncodeU64(1000));
  EXPECT_THAT(procedures_.CapabilitiesXml(), HasSubstr("<domain type='kvm'/>"));
  CallResult close = Call(Proc::kConnectClose);
  EXPECT_TRUE(close.close_after);
}

TEST_F(ProceduresTest, UnknownProceduresAndBadArgumentsGetErrorsNotCrashes) {
  Open();
  RemoteError unknown = ErrorOf(Call(static_cast<Proc>(999)));
  EXPECT_EQ(unknown.code, static_cast<int32_t>(ErrorCode::kNoSupport));
  EXPECT_THAT(*unknown.message, HasSubstr("not supported by dvmd (remote procedure 999)"));
  EXPECT_EQ(ErrorOf(Call(static_cast<Proc>(-5))).code, static_cast<int32_t>(ErrorCode::kNoSupport));
  EXPECT_EQ(ErrorOf(Call(Proc::kDomainLookupByName, {0, 0, 0})).code, static_cast<int32_t>(ErrorCode::kRpc));
  EXPECT_EQ(ErrorOf(Call(Proc::kDomainLookupByName, {0, 0, 0, 200})).code, static_cast<int32_t>(ErrorCode::kRpc));
  EXPECT_EQ(ErrorOf(Call(Proc::kConnectGetHostname, {1, 2, 3, 4})).code, static_cast<int32_t>(ErrorCode::kRpc));
  RemoteError xml = ErrorOf(Call(Proc::kDomainDefineXml, Xml("<domain")));
  EXPECT_EQ(xml.code, static_cast<int32_t>(ErrorCode::kXmlError));
}

TEST_F(ProceduresTest, ReadOnlyConnectionsOnlyRead) {
  client_.read_only_socket = true;
  Open();
  EXPECT_TRUE(client_.read_only);
  RemoteError denied = ErrorOf(Call(Proc::kDomainDefineXml, Xml(DomainXml("a", dir_.kernel()))));
  EXPECT_EQ(denied.code, static_cast<int32_t>(ErrorCode::kOperationDenied));
  EXPECT_THAT(*denied.message, HasSubstr("read only access prevents virDomainDefineXML"));
  XdrWriter list;
  list.I32(1);
  list.U32(0);
  EXPECT_EQ(Call(Proc::kConnectListAllDomains, list.Take()).status, MessageStatus::kOk);
}

TEST_F(ProceduresTest, TheReadOnlySetIsExactlyTheAllowlist) {
  // Everything a read-only connection may call, by name: a procedure added
  // to the table as read-only by mistake fails here.
  const std::set<Proc> allowed = {
      Proc::kConnectOpen, Proc::kConnectClose, Proc::kConnectGetType, Proc::kConnectGetVersion,
      Proc::kConnectGetMaxVcpus, Proc::kNodeGetInfo, Proc::kConnectGetCapabilities, Proc::kDomainGetXmlDesc,
      Proc::kDomainGetAutostart, Proc::kDomainGetInfo, Proc::kDomainGetMaxMemory, Proc::kDomainGetMaxVcpus,
      Proc::kDomainGetOsType, Proc::kConnectListDefinedDomains, Proc::kDomainLookupById,
      Proc::kDomainLookupByName, Proc::kDomainLookupByUuid, Proc::kConnectNumOfDefinedDomains,
      Proc::kConnectListDomains, Proc::kConnectNumOfDomains, Proc::kConnectGetHostname,
      Proc::kConnectSupportsFeature, Proc::kAuthList, Proc::kConnectGetUri, Proc::kConnectIsSecure,
      Proc::kDomainIsActive, Proc::kDomainIsPersistent, Proc::kConnectGetLibVersion,
      Proc::kDomainHasManagedSaveImage, Proc::kDomainSnapshotNum, Proc::kDomainGetVcpusFlags,
      Proc::kDomainIsUpdated, Proc::kDomainGetState, Proc::kDomainGetControlInfo, Proc::kConnectListAllDomains,
      Proc::kDomainListAllSnapshots, Proc::kConnectRegisterCloseCallback, Proc::kConnectUnregisterCloseCallback};
  client_.read_only_socket = true;
  Open();
  int served = 0;
  for (int32_t proc = 0; proc < 512; ++proc) {
    if (proc == static_cast<int32_t>(Proc::kConnectClose)) continue;  // would close the connection
    CallResult r = procedures_.Call(client_, proc, {});
    if (r.status == MessageStatus::kError && RemoteError::Decode(r.body)->code == static_cast<int32_t>(ErrorCode::kNoSupport)) {
      continue;  // not served at all
    }
    ++served;
    const bool denied = r.status == MessageStatus::kError &&
                        RemoteError::Decode(r.body)->code == static_cast<int32_t>(ErrorCode::kOperationDenied);
    EXPECT_EQ(!denied, allowed.contains(static_cast<Proc>(proc))) << "procedure " << proc;
  }
  EXPECT_EQ(served, 49) << "the 50 procedures of remote_messages.h but CONNECT_CLOSE";
}

TEST_F(ProceduresTest, SecureXmlIsNotForReadOnlyConnections) {
  Open();
  NonnullDomain d = Define("vm1");
  EXPECT_EQ(Call(Proc::kDomainGetXmlDesc, Dom(d, 1)).status, MessageStatus::kOk);
  client_.read_only = true;
  EXPECT_EQ(ErrorOf(Call(Proc::kDomainGetXmlDesc, Dom(d, 1))).code, static_cast<int32_t>(ErrorCode::kOperationDenied));
  EXPECT_EQ(Call(Proc::kDomainGetXmlDesc, Dom(d, 0)).status, MessageStatus::kOk);
}

TEST_F(ProceduresTest, ErrorsSayWhereTheyComeFrom) {
  Open();
  EXPECT_EQ(ErrorOf(Call(Proc::kConnectGetHostname, {1, 2, 3, 4})).domain, kFromRpc);
  EXPECT_EQ(ErrorOf(Call(Proc::kDomainDefineXml, Xml("<domain"))).domain, kFromDomain);
}

TEST_F(ProceduresTest, DomainLifecycleThroughProcedures) {
  Open();
  NonnullDomain d = Define("vm1");
  EXPECT_EQ(d.name, "vm1");
  EXPECT_EQ(d.id, -1);
  CallResult state = Call(Proc::kDomainGetState, Dom(d, 0));
  EXPECT_EQ(state.body, (std::vector<uint8_t>{0, 0, 0, 5, 0, 0, 0, 0})) << "shut off, unknown";
  CallResult off_info = Call(Proc::kDomainGetInfo, Dom(d));
  XdrReader off(off_info.body);
  EXPECT_EQ(off.U32(), 5u);  // shut off
  EXPECT_EQ(off.U64(), 256u * 1024);
  EXPECT_EQ(off.U64(), 256u * 1024) << "memory is reported for a shut-off domain too";
  CallResult started = Call(Proc::kDomainCreateWithFlags, Dom(d, 0));
  ASSERT_EQ(started.status, MessageStatus::kOk);
  XdrReader r(started.body);
  EXPECT_EQ(NonnullDomain::Read(r).id, 1) << "the reply carries the new id";
  CallResult info = Call(Proc::kDomainGetInfo, Dom(d));
  XdrReader ir(info.body);
  EXPECT_EQ(ir.U32(), 1u);          // running
  EXPECT_EQ(ir.U64(), 256u * 1024);  // max memory, KiB
  EXPECT_EQ(ir.U64(), 256u * 1024);
  EXPECT_EQ(ir.U32(), 2u);  // vCPUs
  EXPECT_EQ(Call(Proc::kDomainGetVcpusFlags, Dom(d, 4)).body, EncodeInt(2));
  EXPECT_EQ(Call(Proc::kDomainDestroy, Dom(d)).status, MessageStatus::kOk);
  EXPECT_EQ(Call(Proc::kDomainGetState, Dom(d, 0)).body, (std::vector<uint8_t>{0, 0, 0, 5, 0, 0, 0, 2}))
      << "shut off, destroyed";
  EXPECT_EQ(Call(Proc::kDomainUndefineFlags, Dom(d, 0)).status, MessageStatus::kOk);
  EXPECT_EQ(ErrorOf(Call(Proc::kDomainGetInfo, Dom(d))).code, static_cast<int32_t>(ErrorCode::kNoDomain));
}

TEST(ListFlags, FilterGroupsCombineLikeLibvirts) {
  DomainView running{.state = DomainState::kRunning, .persistent = true, .autostart = true};
  DomainView off{.state = DomainState::kShutoff, .persistent = true};
  DomainView transient{.state = DomainState::kRunning, .persistent = false};
  EXPECT_TRUE(MatchesListFlags(running, 0));
  EXPECT_TRUE(MatchesListFlags(running, 1));   // active
  EXPECT_FALSE(MatchesListFlags(off, 1));
  EXPECT_TRUE(MatchesListFlags(off, 2));       // inactive
  EXPECT_TRUE(MatchesListFlags(off, 1 | 2));   // either
  EXPECT_FALSE(MatchesListFlags(transient, 4));  // persistent
  EXPECT_TRUE(MatchesListFlags(transient, 8));
  EXPECT_TRUE(MatchesListFlags(running, 1024));   // autostart
  EXPECT_FALSE(MatchesListFlags(off, 1024));
  EXPECT_TRUE(MatchesListFlags(off, 64));  // shut off
  EXPECT_FALSE(MatchesListFlags(off, 256)) << "nothing has a managed save";
  EXPECT_TRUE(MatchesListFlags(off, 8192)) << "nothing has snapshots";
}

}  // namespace
}  // namespace dvm::libvirt
