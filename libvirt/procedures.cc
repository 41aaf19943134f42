#include "libvirt/procedures.h"

#include "absl/strings/str_cat.h"
#include "dvm/log.h"
#include "dvm/status.h"
#include "libvirt/vir_error.h"
#include "vmm/spec/vm_spec.h"

namespace dvm::libvirt {
namespace {

constexpr uint32_t kConnectReadOnly = 1;  // VIR_CONNECT_RO

// virConnectListAllDomains flags.
constexpr uint32_t kListActive = 1, kListInactive = 2, kListPersistent = 4, kListTransient = 8;
constexpr uint32_t kListRunning = 16, kListPaused = 32, kListShutoff = 64, kListOther = 128;
constexpr uint32_t kListManagedSave = 256, kListNoManagedSave = 512;
constexpr uint32_t kListAutostart = 1024, kListNoAutostart = 2048;
constexpr uint32_t kListHasSnapshot = 4096, kListNoSnapshot = 8192;
constexpr uint32_t kListHasCheckpoint = 16384, kListNoCheckpoint = 32768;
constexpr uint32_t kListAll = 0xffff;

// One group of filter bits: no bit set passes everything; otherwise the
// domain must have one of the properties whose bit is set.
bool Group(uint32_t flags, std::initializer_list<std::pair<uint32_t, bool>> bits) {
  bool any = false;
  for (auto [bit, has] : bits) {
    if (flags & bit) {
      any = true;
      if (has) return true;
    }
  }
  return !any;
}

template <typename T>
absl::StatusOr<T> Args(std::span<const uint8_t> body) {
  absl::StatusOr<T> args = DecodeArgs<T>(body);
  if (!args.ok()) return VirError(ErrorCode::kRpc, std::string(args.status().message()));
  return args;
}

std::vector<uint8_t> Empty() { return {}; }

}  // namespace

// Handlers from their parts, so each procedure states only what it does.

template <typename A, typename F>
Procedures::Handler Procedures::Takes(F f) {
  return [f = std::move(f)](ClientState& c, std::span<const uint8_t> body) -> Ret {
    ASSIGN_OR_RETURN(A args, Args<A>(body));
    return f(c, args);
  };
}

template <typename F>
Procedures::Handler Procedures::Constant(F f) {
  return Takes<NoArgs>([f = std::move(f)](ClientState&, const NoArgs&) -> Ret { return f(); });
}

template <typename A, typename F>
Procedures::Handler Procedures::OfDomain(F f) {
  return Takes<A>([this, f = std::move(f)](ClientState&, const A& args) -> Ret {
    ASSIGN_OR_RETURN(DomainView d, Lookup(args.dom));
    return f(d, args);
  });
}

template <typename A>
Procedures::Handler Procedures::Act(absl::Status (DomainRegistry::*action)(const Uuid&, uint32_t)) {
  return Takes<A>([this, action](ClientState&, const A& args) -> Ret {
    uint32_t flags = 0;
    if constexpr (requires { args.flags; }) flags = args.flags;
    RETURN_IF_ERROR((registry_->*action)(args.dom.uuid, flags));
    return Empty();
  });
}

bool MatchesListFlags(const DomainView& d, uint32_t flags) {
  const bool running = d.state == DomainState::kRunning;
  return Group(flags, {{kListActive, d.active()}, {kListInactive, !d.active()}}) &&
         Group(flags, {{kListPersistent, d.persistent}, {kListTransient, !d.persistent}}) &&
         Group(flags, {{kListRunning, running},
                       {kListPaused, d.state == DomainState::kPaused},
                       {kListShutoff, d.state == DomainState::kShutoff},
                       {kListOther, !running && d.state != DomainState::kPaused && d.state != DomainState::kShutoff}}) &&
         Group(flags, {{kListManagedSave, false}, {kListNoManagedSave, true}}) &&
         Group(flags, {{kListAutostart, d.autostart}, {kListNoAutostart, !d.autostart}}) &&
         Group(flags, {{kListHasSnapshot, false}, {kListNoSnapshot, true}}) &&
         Group(flags, {{kListHasCheckpoint, false}, {kListNoCheckpoint, true}});
}

Procedures::Procedures(DomainRegistry* registry, DaemonInfo info) : registry_(registry), info_(std::move(info)) {
  RegisterConnect();
  RegisterDomainQueries();
  RegisterDomainChanges();
}

void Procedures::Register(Proc proc, const char* name, bool read_only, Handler handler, bool before_open) {
  table_[static_cast<int32_t>(proc)] = Entry{std::move(handler), read_only, before_open, name};
}

CallResult Procedures::Call(ClientState& client, int32_t procedure, std::span<const uint8_t> args) {
  CallResult result;
  absl::StatusOr<std::vector<uint8_t>> ret;
  auto it = table_.find(procedure);
  if (it == table_.end()) {
    ret = VirError(ErrorCode::kNoSupport,
                   absl::StrCat("this function is not supported by dvmd (remote procedure ", procedure, ")"));
  } else if (!client.opened && !it->second.before_open) {
    ret = VirError(ErrorCode::kRpc, absl::StrCat(it->second.name, ": the connection is not open (call CONNECT_OPEN first)"));
  } else if (client.read_only && !it->second.read_only) {
    ret = VirError(ErrorCode::kOperationDenied,
                   absl::StrCat("operation forbidden: read only access prevents ", it->second.name));
  } else {
    ret = it->second.handler(client, args);
  }
  if (ret.ok()) {
    result.body = std::move(*ret);
    result.close_after = procedure == static_cast<int32_t>(Proc::kConnectClose);
  } else {
    DVM_LOG(DEBUG) << "procedure " << procedure << " failed: " << ret.status().message();
    result.status = MessageStatus::kError;
    result.body = ToRemoteError(ret.status()).Encode();
  }
  return result;
}

bool Procedures::WaitsForVm(int32_t procedure) {
  switch (static_cast<Proc>(procedure)) {
    case Proc::kDomainCreate:
    case Proc::kDomainCreateWithFlags:
    case Proc::kDomainCreateXml:
    case Proc::kDomainShutdown:
    case Proc::kDomainShutdownFlags:
    case Proc::kDomainDestroy:
    case Proc::kDomainDestroyFlags: return true;
    default: return false;
  }
}

absl::StatusOr<DomainView> Procedures::Lookup(const NonnullDomain& dom) { return registry_->FindByUuid(dom.uuid); }

void Procedures::RegisterConnect() {
  Register(Proc::kAuthList, "virConnectAuthList", true, Constant([] {
    XdrWriter w;
    w.U32(1);  // one type: REMOTE_AUTH_NONE (the socket's permissions are the access control)
    w.I32(0);
    return w.Take();
  }), /*before_open=*/true);
  Register(Proc::kConnectOpen, "virConnectOpen", true, Takes<OpenArgs>([](ClientState& c, const OpenArgs& args) -> Ret {
    if (args.name && !args.name->empty() && !args.name->starts_with("dvm:")) {
      return VirError(ErrorCode::kNoSupport, absl::StrCat("dvmd serves dvm:/// URIs, not '", *args.name, "'"));
    }
    c.opened = true;
    c.read_only = c.read_only_socket || (args.flags & kConnectReadOnly) != 0;
    return Empty();
  }), /*before_open=*/true);
  Register(Proc::kConnectClose, "virConnectClose", true, Takes<NoArgs>([](ClientState& c, const NoArgs&) -> Ret {
    c.opened = false;
    return Empty();
  }), /*before_open=*/true);
  Register(Proc::kConnectSupportsFeature, "virConnectSupportsFeature", true,
           Takes<FeatureArgs>([](ClientState&, const FeatureArgs& args) -> Ret {
    switch (args.feature) {
      case kFeatureProgramKeepalive:  // the server answers PINGs
      case kFeatureTypedParamString:
      case kFeatureRemoteCloseCallback: return EncodeInt(1);
      default: return EncodeInt(0);
    }
  }), /*before_open=*/true);
  // dvmd never closes a connection by itself: nothing to report to a close callback.
  Register(Proc::kConnectRegisterCloseCallback, "virConnectRegisterCloseCallback", true, Constant(Empty));
  Register(Proc::kConnectUnregisterCloseCallback, "virConnectUnregisterCloseCallback", true, Constant(Empty));
  Register(Proc::kConnectGetType, "virConnectGetType", true, Constant([] { return EncodeString("dvm"); }));
  Register(Proc::kConnectGetVersion, "virConnectGetVersion", true,
           Constant([this] { return EncodeU64(info_.hv_version); }));
  Register(Proc::kConnectGetLibVersion, "virConnectGetLibVersion", true,
           Constant([this] { return EncodeU64(info_.lib_version); }));
  Register(Proc::kConnectGetHostname, "virConnectGetHostname", true,
           Constant([this] { return EncodeString(info_.hostname); }));
  Register(Proc::kConnectGetUri, "virConnectGetURI", true, Constant([] { return EncodeString("dvm:///system"); }));
  Register(Proc::kConnectIsSecure, "virConnectIsSecure", true, Constant([] { return EncodeInt(1); }));  // a unix socket
  Register(Proc::kConnectGetMaxVcpus, "virConnectGetMaxVcpus", true,
           Takes<OptionalStringArgs>([](ClientState&, const OptionalStringArgs&) -> Ret {
    return EncodeInt(static_cast<int32_t>(spec::kMaxVcpus));
  }));
  Register(Proc::kNodeGetInfo, "virNodeGetInfo", true, Constant([this] {
    XdrWriter w;
    info_.node.Write(w);
    return w.Take();
  }));
  Register(Proc::kConnectGetCapabilities, "virConnectGetCapabilities", true,
           Constant([this] { return EncodeString(CapabilitiesXml()); }));
}

void Procedures::RegisterDomainQueries() {
  Register(Proc::kDomainLookupByName, "virDomainLookupByName", true,
           Takes<NameArgs>([this](ClientState&, const NameArgs& args) -> Ret {
    ASSIGN_OR_RETURN(DomainView d, registry_->FindByName(args.name));
    return EncodeDomain(d.Ref());
  }));
  Register(Proc::kDomainLookupByUuid, "virDomainLookupByUUID", true,
           Takes<UuidArgs>([this](ClientState&, const UuidArgs& args) -> Ret {
    ASSIGN_OR_RETURN(DomainView d, registry_->FindByUuid(args.uuid));
    return EncodeDomain(d.Ref());
  }));
  Register(Proc::kDomainLookupById, "virDomainLookupByID", true,
           Takes<IdArgs>([this](ClientState&, const IdArgs& args) -> Ret {
    ASSIGN_OR_RETURN(DomainView d, registry_->FindById(args.id));
    return EncodeDomain(d.Ref());
  }));
  Register(Proc::kConnectListAllDomains, "virConnectListAllDomains", true,
           Takes<ListAllArgs>([this](ClientState&, const ListAllArgs& args) -> Ret {
    if (args.flags & ~kListAll) {
      return VirError(ErrorCode::kInvalidArg, absl::StrCat("unsupported flags (", args.flags, ") in virConnectListAllDomains"));
    }
    std::vector<DomainView> matching;
    for (DomainView& d : registry_->List()) {
      if (MatchesListFlags(d, args.flags)) matching.push_back(std::move(d));
    }
    XdrWriter w;
    if (args.need_results) {
      w.U32(static_cast<uint32_t>(matching.size()));
      for (const DomainView& d : matching) d.Ref().Write(w);
    } else {
      w.U32(0);
    }
    w.U32(static_cast<uint32_t>(matching.size()));
    return w.Take();
  }));
  auto count = [this](bool active) {
    return Constant([this, active] {
      int32_t n = 0;
      for (const DomainView& d : registry_->List()) n += d.active() == active;
      return EncodeInt(n);
    });
  };
  Register(Proc::kConnectNumOfDomains, "virConnectNumOfDomains", true, count(true));
  Register(Proc::kConnectNumOfDefinedDomains, "virConnectNumOfDefinedDomains", true, count(false));
  Register(Proc::kConnectListDomains, "virConnectListDomains", true,
           Takes<MaxArgs>([this](ClientState&, const MaxArgs& args) -> Ret {
    if (args.max < 0 || static_cast<uint32_t>(args.max) > kMaxDomainList) {
      return VirError(ErrorCode::kRpc, absl::StrCat("maxids ", args.max, " is out of range"));
    }
    std::vector<int32_t> ids;
    for (const DomainView& d : registry_->List()) {
      if (d.active() && ids.size() < static_cast<size_t>(args.max)) ids.push_back(d.id);
    }
    XdrWriter w;
    w.U32(static_cast<uint32_t>(ids.size()));
    for (int32_t id : ids) w.I32(id);
    return w.Take();
  }));
  Register(Proc::kConnectListDefinedDomains, "virConnectListDefinedDomains", true,
           Takes<MaxArgs>([this](ClientState&, const MaxArgs& args) -> Ret {
    if (args.max < 0 || static_cast<uint32_t>(args.max) > kMaxDomainList) {
      return VirError(ErrorCode::kRpc, absl::StrCat("maxnames ", args.max, " is out of range"));
    }
    std::vector<std::string> names;
    for (const DomainView& d : registry_->List()) {
      if (!d.active() && names.size() < static_cast<size_t>(args.max)) names.push_back(d.name);
    }
    XdrWriter w;
    w.U32(static_cast<uint32_t>(names.size()));
    for (const std::string& n : names) w.String(n);
    return w.Take();
  }));
  Register(Proc::kDomainGetInfo, "virDomainGetInfo", true, OfDomain<DomainArgs>([](const DomainView& d, auto&) -> Ret {
    // Memory as libvirt reports it for a shut-off domain too: what it will have.
    DomainInfo info{d.state, d.memory_bytes / kKiB, d.memory_bytes / kKiB, d.vcpus, d.cpu_time_ns};
    XdrWriter w;
    info.Write(w);
    return w.Take();
  }));
  Register(Proc::kDomainGetState, "virDomainGetState", true,
           Takes<DomainFlagsArgs>([this](ClientState&, const DomainFlagsArgs& args) -> Ret {
    if (args.flags != 0) return VirError(ErrorCode::kInvalidArg, "virDomainGetState takes no flags");
    ASSIGN_OR_RETURN(DomainView d, Lookup(args.dom));
    XdrWriter w;
    w.I32(static_cast<int32_t>(d.state));
    w.I32(d.reason);
    return w.Take();
  }));
  Register(Proc::kDomainGetControlInfo, "virDomainGetControlInfo", true,
           OfDomain<DomainFlagsArgs>([](const DomainView& d, auto&) -> Ret {
    if (!d.active()) return VirError(ErrorCode::kOperationInvalid, "domain is not running");
    XdrWriter w;
    w.U32(0);  // VIR_DOMAIN_CONTROL_OK
    w.U32(0);
    w.U64(0);
    return w.Take();
  }));
  Register(Proc::kDomainGetXmlDesc, "virDomainGetXMLDesc", true,
           Takes<DomainFlagsArgs>([this](ClientState& c, const DomainFlagsArgs& args) -> Ret {
    constexpr uint32_t kXmlSecure = 1;
    if (c.read_only && (args.flags & kXmlSecure)) {
      return VirError(ErrorCode::kOperationDenied, "virDomainGetXMLDesc with secure flag: read only access");
    }
    ASSIGN_OR_RETURN(std::string xml, registry_->XmlDesc(args.dom.uuid, args.flags));
    return EncodeString(xml);
  }));
  Register(Proc::kDomainGetOsType, "virDomainGetOSType", true,
           OfDomain<DomainArgs>([](const DomainView&, auto&) -> Ret { return EncodeString("hvm"); }));
  Register(Proc::kDomainGetMaxMemory, "virDomainGetMaxMemory", true,
           OfDomain<DomainArgs>([](const DomainView& d, auto&) -> Ret { return EncodeU64(d.memory_bytes / kKiB); }));
  Register(Proc::kDomainGetMaxVcpus, "virDomainGetMaxVcpus", true, OfDomain<DomainArgs>([](const DomainView& d, auto&) -> Ret {
    return EncodeInt(static_cast<int32_t>(d.vcpus));
  }));
  Register(Proc::kDomainGetVcpusFlags, "virDomainGetVcpusFlags", true,
           OfDomain<DomainFlagsArgs>([](const DomainView& d, const DomainFlagsArgs& args) -> Ret {
    constexpr uint32_t kLive = 1, kConfig = 2, kMaximum = 4, kGuest = 8;
    if (args.flags & ~(kLive | kConfig | kMaximum | kGuest)) {
      return VirError(ErrorCode::kInvalidArg, "unsupported flags in virDomainGetVcpusFlags");
    }
    if (args.flags & kGuest) return VirError(ErrorCode::kArgumentUnsupported, "dvm has no guest agent to ask");
    if ((args.flags & kLive) && (args.flags & kConfig)) {
      return VirError(ErrorCode::kInvalidArg, "flags 'live' and 'config' are mutually exclusive");
    }
    if ((args.flags & kLive) && !d.active()) return VirError(ErrorCode::kOperationInvalid, "domain is not running");
    return EncodeInt(static_cast<int32_t>(d.vcpus));  // no hotplug: current = maximum, live = config
  }));
  Register(Proc::kDomainGetAutostart, "virDomainGetAutostart", true,
           OfDomain<DomainArgs>([](const DomainView& d, auto&) -> Ret { return EncodeInt(d.autostart ? 1 : 0); }));
  Register(Proc::kDomainIsActive, "virDomainIsActive", true,
           OfDomain<DomainArgs>([](const DomainView& d, auto&) -> Ret { return EncodeInt(d.active() ? 1 : 0); }));
  Register(Proc::kDomainIsPersistent, "virDomainIsPersistent", true,
           OfDomain<DomainArgs>([](const DomainView& d, auto&) -> Ret { return EncodeInt(d.persistent ? 1 : 0); }));
  // What dvm does not have: no domain is updated since start, none has a
  // managed save image or snapshots.
  auto none = [](const DomainView&, auto&) -> Ret { return EncodeInt(0); };
  Register(Proc::kDomainIsUpdated, "virDomainIsUpdated", true, OfDomain<DomainArgs>(none));
  Register(Proc::kDomainHasManagedSaveImage, "virDomainHasManagedSaveImage", true, OfDomain<DomainFlagsArgs>(none));
  Register(Proc::kDomainSnapshotNum, "virDomainSnapshotNum", true, OfDomain<DomainFlagsArgs>(none));
  Register(Proc::kDomainListAllSnapshots, "virDomainListAllSnapshots", true,
           OfDomain<ListSnapshotsArgs>([](const DomainView&, auto&) -> Ret {
    XdrWriter w;
    w.U32(0);
    w.I32(0);
    return w.Take();
  }));
}

void Procedures::RegisterDomainChanges() {
  auto define = [this](const std::string& xml, uint32_t flags) -> Ret {
    ASSIGN_OR_RETURN(DomainView d, registry_->Define(xml, flags));
    return EncodeDomain(d.Ref());
  };
  Register(Proc::kDomainDefineXml, "virDomainDefineXML", false,
           Takes<XmlArgs>([define](ClientState&, const XmlArgs& args) { return define(args.xml, 0); }));
  Register(Proc::kDomainDefineXmlFlags, "virDomainDefineXMLFlags", false,
           Takes<XmlFlagsArgs>([define](ClientState&, const XmlFlagsArgs& args) { return define(args.xml, args.flags); }));
  Register(Proc::kDomainCreateXml, "virDomainCreateXML", false,
           Takes<XmlFlagsArgs>([this](ClientState&, const XmlFlagsArgs& args) -> Ret {
    ASSIGN_OR_RETURN(DomainView d, registry_->CreateTransient(args.xml, args.flags));
    return EncodeDomain(d.Ref());
  }));
  Register(Proc::kDomainCreate, "virDomainCreate", false, Act<DomainArgs>(&DomainRegistry::Start));
  Register(Proc::kDomainCreateWithFlags, "virDomainCreateWithFlags", false,
           Takes<DomainFlagsArgs>([this](ClientState&, const DomainFlagsArgs& args) -> Ret {
    RETURN_IF_ERROR(registry_->Start(args.dom.uuid, args.flags));
    ASSIGN_OR_RETURN(DomainView d, registry_->FindByUuid(args.dom.uuid));
    return EncodeDomain(d.Ref());  // the domain with its new id
  }));
  Register(Proc::kDomainShutdown, "virDomainShutdown", false, Act<DomainArgs>(&DomainRegistry::Shutdown));
  Register(Proc::kDomainShutdownFlags, "virDomainShutdownFlags", false,
           Act<DomainFlagsArgs>(&DomainRegistry::Shutdown));
  Register(Proc::kDomainDestroy, "virDomainDestroy", false, Act<DomainArgs>(&DomainRegistry::Destroy));
  Register(Proc::kDomainDestroyFlags, "virDomainDestroyFlags", false, Act<DomainFlagsArgs>(&DomainRegistry::Destroy));
  Register(Proc::kDomainUndefine, "virDomainUndefine", false, Act<DomainArgs>(&DomainRegistry::Undefine));
  Register(Proc::kDomainUndefineFlags, "virDomainUndefineFlags", false,
           Act<DomainFlagsArgs>(&DomainRegistry::Undefine));
  Register(Proc::kDomainSetAutostart, "virDomainSetAutostart", false,
           Takes<DomainIntArgs>([this](ClientState&, const DomainIntArgs& args) -> Ret {
    RETURN_IF_ERROR(registry_->SetAutostart(args.dom.uuid, args.value != 0));
    return Empty();
  }));
}

std::string Procedures::CapabilitiesXml() const {
  const NodeInfo& n = info_.node;
  std::string x = "<capabilities>\n  <host>\n";
  absl::StrAppend(&x, "    <uuid>", UuidToString(info_.host_uuid), "</uuid>\n");
  absl::StrAppend(&x, "    <cpu>\n      <arch>x86_64</arch>\n      <topology sockets='", n.sockets,
                  "' dies='1' cores='", n.cores, "' threads='", n.threads, "'/>\n    </cpu>\n");
  x += "    <power_management/>\n    <iommu support='no'/>\n";
  absl::StrAppend(&x, "    <topology>\n      <cells num='1'>\n        <cell id='0'>\n          <memory unit='KiB'>",
                  n.memory_kib, "</memory>\n          <cpus num='", n.cpus, "'>\n");
  for (int32_t c = 0; c < n.cpus; ++c) {
    absl::StrAppend(&x, "            <cpu id='", c, "' socket_id='0' die_id='0' core_id='", c, "' siblings='", c,
                    "'/>\n");
  }
  x += "          </cpus>\n        </cell>\n      </cells>\n    </topology>\n  </host>\n";
  x += "  <guest>\n    <os_type>hvm</os_type>\n    <arch name='x86_64'>\n      <wordsize>64</wordsize>\n";
  absl::StrAppend(&x, "      <emulator>", info_.dvm_binary, "</emulator>\n");
  absl::StrAppend(&x, "      <machine maxCpus='", spec::kMaxVcpus, "'>dvm</machine>\n");
  x += "      <domain type='kvm'/>\n    </arch>\n";
  x += "    <features>\n      <acpi default='on' toggle='no'/>\n      <apic default='on' toggle='no'/>\n"
       "    </features>\n  </guest>\n</capabilities>\n";
  return x;
}

}  // namespace dvm::libvirt
