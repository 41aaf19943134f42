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
  Register(Proc::kAuthList, "virConnectAuthList", true, [](ClientState&, std::span<const uint8_t> body)
           -> absl::StatusOr<std::vector<uint8_t>> {
    RETURN_IF_ERROR(Args<NoArgs>(body).status());
    XdrWriter w;
    w.U32(1);  // one type: REMOTE_AUTH_NONE (the socket's permissions are the access control)
    w.I32(0);
    return w.Take();
  }, /*before_open=*/true);
  Register(Proc::kConnectOpen, "virConnectOpen", true, [](ClientState& c, std::span<const uint8_t> body)
           -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(OpenArgs args, Args<OpenArgs>(body));
    if (args.name && !args.name->empty() && !args.name->starts_with("dvm:")) {
      return VirError(ErrorCode::kNoSupport, absl::StrCat("dvmd serves dvm:/// URIs, not '", *args.name, "'"));
    }
    c.opened = true;
    c.read_only = c.read_only_socket || (args.flags & kConnectReadOnly) != 0;
    return Empty();
  }, /*before_open=*/true);
  Register(Proc::kConnectClose, "virConnectClose", true, [](ClientState& c, std::span<const uint8_t> body)
           -> absl::StatusOr<std::vector<uint8_t>> {
    RETURN_IF_ERROR(Args<NoArgs>(body).status());
    c.opened = false;
    return Empty();
  }, /*before_open=*/true);
  Register(Proc::kConnectSupportsFeature, "virConnectSupportsFeature", true,
           [](ClientState&, std::span<const uint8_t> body) -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(FeatureArgs args, Args<FeatureArgs>(body));
    bool yes = false;
    switch (args.feature) {
      case kFeatureProgramKeepalive: yes = true; break;  // the server answers PINGs
      case kFeatureTypedParamString:
      case kFeatureRemoteCloseCallback: yes = true; break;
      default: break;
    }
    return EncodeInt(yes ? 1 : 0);
  }, /*before_open=*/true);
  Register(Proc::kConnectRegisterCloseCallback, "virConnectRegisterCloseCallback", true,
           [](ClientState&, std::span<const uint8_t> body) -> absl::StatusOr<std::vector<uint8_t>> {
    RETURN_IF_ERROR(Args<NoArgs>(body).status());
    return Empty();  // dvmd never closes a connection by itself: nothing to report
  });
  Register(Proc::kConnectUnregisterCloseCallback, "virConnectUnregisterCloseCallback", true,
           [](ClientState&, std::span<const uint8_t> body) -> absl::StatusOr<std::vector<uint8_t>> {
    RETURN_IF_ERROR(Args<NoArgs>(body).status());
    return Empty();
  });
  Register(Proc::kConnectGetType, "virConnectGetType", true, [](ClientState&, std::span<const uint8_t> body)
           -> absl::StatusOr<std::vector<uint8_t>> {
    RETURN_IF_ERROR(Args<NoArgs>(body).status());
    return EncodeString("dvm");
  });
  Register(Proc::kConnectGetVersion, "virConnectGetVersion", true, [this](ClientState&, std::span<const uint8_t> body)
           -> absl::StatusOr<std::vector<uint8_t>> {
    RETURN_IF_ERROR(Args<NoArgs>(body).status());
    return EncodeU64(info_.hv_version);
  });
  Register(Proc::kConnectGetLibVersion, "virConnectGetLibVersion", true,
           [this](ClientState&, std::span<const uint8_t> body) -> absl::StatusOr<std::vector<uint8_t>> {
    RETURN_IF_ERROR(Args<NoArgs>(body).status());
    return EncodeU64(info_.lib_version);
  });
  Register(Proc::kConnectGetHostname, "virConnectGetHostname", true,
           [this](ClientState&, std::span<const uint8_t> body) -> absl::StatusOr<std::vector<uint8_t>> {
    RETURN_IF_ERROR(Args<NoArgs>(body).status());
    return EncodeString(info_.hostname);
  });
  Register(Proc::kConnectGetUri, "virConnectGetURI", true, [](ClientState&, std::span<const uint8_t> body)
           -> absl::StatusOr<std::vector<uint8_t>> {
    RETURN_IF_ERROR(Args<NoArgs>(body).status());
    return EncodeString("dvm:///system");
  });
  Register(Proc::kConnectIsSecure, "virConnectIsSecure", true, [](ClientState&, std::span<const uint8_t> body)
           -> absl::StatusOr<std::vector<uint8_t>> {
    RETURN_IF_ERROR(Args<NoArgs>(body).status());
    return EncodeInt(1);  // a local unix socket
  });
  Register(Proc::kConnectGetMaxVcpus, "virConnectGetMaxVcpus", true, [](ClientState&, std::span<const uint8_t> body)
           -> absl::StatusOr<std::vector<uint8_t>> {
    RETURN_IF_ERROR(Args<OptionalStringArgs>(body).status());
    return EncodeInt(static_cast<int32_t>(spec::kMaxVcpus));
  });
  Register(Proc::kNodeGetInfo, "virNodeGetInfo", true, [this](ClientState&, std::span<const uint8_t> body)
           -> absl::StatusOr<std::vector<uint8_t>> {
    RETURN_IF_ERROR(Args<NoArgs>(body).status());
    XdrWriter w;
    info_.node.Write(w);
    return w.Take();
  });
  Register(Proc::kConnectGetCapabilities, "virConnectGetCapabilities", true,
           [this](ClientState&, std::span<const uint8_t> body) -> absl::StatusOr<std::vector<uint8_t>> {
    RETURN_IF_ERROR(Args<NoArgs>(body).status());
    return EncodeString(CapabilitiesXml());
  });
}

void Procedures::RegisterDomainQueries() {
  Register(Proc::kDomainLookupByName, "virDomainLookupByName", true,
           [this](ClientState&, std::span<const uint8_t> body) -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(NameArgs args, Args<NameArgs>(body));
    ASSIGN_OR_RETURN(DomainView d, registry_->FindByName(args.name));
    return EncodeDomain(d.Ref());
  });
  Register(Proc::kDomainLookupByUuid, "virDomainLookupByUUID", true,
           [this](ClientState&, std::span<const uint8_t> body) -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(UuidArgs args, Args<UuidArgs>(body));
    ASSIGN_OR_RETURN(DomainView d, registry_->FindByUuid(args.uuid));
    return EncodeDomain(d.Ref());
  });
  Register(Proc::kDomainLookupById, "virDomainLookupByID", true,
           [this](ClientState&, std::span<const uint8_t> body) -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(IdArgs args, Args<IdArgs>(body));
    ASSIGN_OR_RETURN(DomainView d, registry_->FindById(args.id));
    return EncodeDomain(d.Ref());
  });
  Register(Proc::kConnectListAllDomains, "virConnectListAllDomains", true,
           [this](ClientState&, std::span<const uint8_t> body) -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(ListAllArgs args, Args<ListAllArgs>(body));
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
  });
  auto count = [this](bool active) {
    return [this, active](ClientState&, std::span<const uint8_t> body) -> absl::StatusOr<std::vector<uint8_t>> {
      RETURN_IF_ERROR(Args<NoArgs>(body).status());
      int32_t n = 0;
      for (const DomainView& d : registry_->List()) n += d.active() == active;
      return EncodeInt(n);
    };
  };
  Register(Proc::kConnectNumOfDomains, "virConnectNumOfDomains", true, count(true));
  Register(Proc::kConnectNumOfDefinedDomains, "virConnectNumOfDefinedDomains", true, count(false));
  Register(Proc::kConnectListDomains, "virConnectListDomains", true,
           [this](ClientState&, std::span<const uint8_t> body) -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(MaxArgs args, Args<MaxArgs>(body));
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
  });
  Register(Proc::kConnectListDefinedDomains, "virConnectListDefinedDomains", true,
           [this](ClientState&, std::span<const uint8_t> body) -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(MaxArgs args, Args<MaxArgs>(body));
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
  });
  Register(Proc::kDomainGetInfo, "virDomainGetInfo", true, [this](ClientState&, std::span<const uint8_t> body)
           -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(DomainArgs args, Args<DomainArgs>(body));
    ASSIGN_OR_RETURN(DomainView d, Lookup(args.dom));
    // Memory as libvirt reports it for a shut-off domain too: what it will have.
    DomainInfo info{d.state, d.memory_bytes / kKiB, d.memory_bytes / kKiB, d.vcpus, d.cpu_time_ns};
    XdrWriter w;
    info.Write(w);
    return w.Take();
  });
  Register(Proc::kDomainGetState, "virDomainGetState", true, [this](ClientState&, std::span<const uint8_t> body)
           -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(DomainFlagsArgs args, Args<DomainFlagsArgs>(body));
    if (args.flags != 0) return VirError(ErrorCode::kInvalidArg, "virDomainGetState takes no flags");
    ASSIGN_OR_RETURN(DomainView d, Lookup(args.dom));
    XdrWriter w;
    w.I32(static_cast<int32_t>(d.state));
    w.I32(d.reason);
    return w.Take();
  });
  Register(Proc::kDomainGetControlInfo, "virDomainGetControlInfo", true,
           [this](ClientState&, std::span<const uint8_t> body) -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(DomainFlagsArgs args, Args<DomainFlagsArgs>(body));
    ASSIGN_OR_RETURN(DomainView d, Lookup(args.dom));
    if (!d.active()) return VirError(ErrorCode::kOperationInvalid, "domain is not running");
    XdrWriter w;
    w.U32(0);  // VIR_DOMAIN_CONTROL_OK
    w.U32(0);
    w.U64(0);
    return w.Take();
  });
  Register(Proc::kDomainGetXmlDesc, "virDomainGetXMLDesc", true, [this](ClientState& c, std::span<const uint8_t> body)
           -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(DomainFlagsArgs args, Args<DomainFlagsArgs>(body));
    constexpr uint32_t kXmlSecure = 1;
    if (c.read_only && (args.flags & kXmlSecure)) {
      return VirError(ErrorCode::kOperationDenied, "virDomainGetXMLDesc with secure flag: read only access");
    }
    ASSIGN_OR_RETURN(std::string xml, registry_->XmlDesc(args.dom.uuid, args.flags));
    return EncodeString(xml);
  });
  Register(Proc::kDomainGetOsType, "virDomainGetOSType", true, [this](ClientState&, std::span<const uint8_t> body)
           -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(DomainArgs args, Args<DomainArgs>(body));
    RETURN_IF_ERROR(Lookup(args.dom).status());
    return EncodeString("hvm");
  });
  Register(Proc::kDomainGetMaxMemory, "virDomainGetMaxMemory", true,
           [this](ClientState&, std::span<const uint8_t> body) -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(DomainArgs args, Args<DomainArgs>(body));
    ASSIGN_OR_RETURN(DomainView d, Lookup(args.dom));
    return EncodeU64(d.memory_bytes / kKiB);
  });
  Register(Proc::kDomainGetMaxVcpus, "virDomainGetMaxVcpus", true,
           [this](ClientState&, std::span<const uint8_t> body) -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(DomainArgs args, Args<DomainArgs>(body));
    ASSIGN_OR_RETURN(DomainView d, Lookup(args.dom));
    return EncodeInt(static_cast<int32_t>(d.vcpus));
  });
  Register(Proc::kDomainGetVcpusFlags, "virDomainGetVcpusFlags", true,
           [this](ClientState&, std::span<const uint8_t> body) -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(DomainFlagsArgs args, Args<DomainFlagsArgs>(body));
    constexpr uint32_t kLive = 1, kConfig = 2, kMaximum = 4, kGuest = 8;
    if (args.flags & ~(kLive | kConfig | kMaximum | kGuest)) {
      return VirError(ErrorCode::kInvalidArg, "unsupported flags in virDomainGetVcpusFlags");
    }
    if (args.flags & kGuest) return VirError(ErrorCode::kArgumentUnsupported, "dvm has no guest agent to ask");
    if ((args.flags & kLive) && (args.flags & kConfig)) {
      return VirError(ErrorCode::kInvalidArg, "flags 'live' and 'config' are mutually exclusive");
    }
    ASSIGN_OR_RETURN(DomainView d, Lookup(args.dom));
    if ((args.flags & kLive) && !d.active()) return VirError(ErrorCode::kOperationInvalid, "domain is not running");
    return EncodeInt(static_cast<int32_t>(d.vcpus));  // no hotplug: current = maximum, live = config
  });
  Register(Proc::kDomainGetAutostart, "virDomainGetAutostart", true,
           [this](ClientState&, std::span<const uint8_t> body) -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(DomainArgs args, Args<DomainArgs>(body));
    ASSIGN_OR_RETURN(DomainView d, Lookup(args.dom));
    return EncodeInt(d.autostart ? 1 : 0);
  });
  Register(Proc::kDomainIsActive, "virDomainIsActive", true, [this](ClientState&, std::span<const uint8_t> body)
           -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(DomainArgs args, Args<DomainArgs>(body));
    ASSIGN_OR_RETURN(DomainView d, Lookup(args.dom));
    return EncodeInt(d.active() ? 1 : 0);
  });
  Register(Proc::kDomainIsPersistent, "virDomainIsPersistent", true,
           [this](ClientState&, std::span<const uint8_t> body) -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(DomainArgs args, Args<DomainArgs>(body));
    ASSIGN_OR_RETURN(DomainView d, Lookup(args.dom));
    return EncodeInt(d.persistent ? 1 : 0);
  });
  Register(Proc::kDomainIsUpdated, "virDomainIsUpdated", true, [this](ClientState&, std::span<const uint8_t> body)
           -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(DomainArgs args, Args<DomainArgs>(body));
    RETURN_IF_ERROR(Lookup(args.dom).status());
    return EncodeInt(0);
  });
  Register(Proc::kDomainHasManagedSaveImage, "virDomainHasManagedSaveImage", true,
           [this](ClientState&, std::span<const uint8_t> body) -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(DomainFlagsArgs args, Args<DomainFlagsArgs>(body));
    RETURN_IF_ERROR(Lookup(args.dom).status());
    return EncodeInt(0);  // dvm has no managed save
  });
  Register(Proc::kDomainSnapshotNum, "virDomainSnapshotNum", true,
           [this](ClientState&, std::span<const uint8_t> body) -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(DomainFlagsArgs args, Args<DomainFlagsArgs>(body));
    RETURN_IF_ERROR(Lookup(args.dom).status());
    return EncodeInt(0);  // dvm has no snapshots
  });
  Register(Proc::kDomainListAllSnapshots, "virDomainListAllSnapshots", true,
           [this](ClientState&, std::span<const uint8_t> body) -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(ListSnapshotsArgs args, Args<ListSnapshotsArgs>(body));
    RETURN_IF_ERROR(Lookup(args.dom).status());
    XdrWriter w;
    w.U32(0);
    w.I32(0);
    return w.Take();
  });
}

void Procedures::RegisterDomainChanges() {
  Register(Proc::kDomainDefineXml, "virDomainDefineXML", false, [this](ClientState&, std::span<const uint8_t> body)
           -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(XmlArgs args, Args<XmlArgs>(body));
    ASSIGN_OR_RETURN(DomainView d, registry_->Define(args.xml, 0));
    return EncodeDomain(d.Ref());
  });
  Register(Proc::kDomainDefineXmlFlags, "virDomainDefineXMLFlags", false,
           [this](ClientState&, std::span<const uint8_t> body) -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(XmlFlagsArgs args, Args<XmlFlagsArgs>(body));
    ASSIGN_OR_RETURN(DomainView d, registry_->Define(args.xml, args.flags));
    return EncodeDomain(d.Ref());
  });
  Register(Proc::kDomainCreateXml, "virDomainCreateXML", false, [this](ClientState&, std::span<const uint8_t> body)
           -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(XmlFlagsArgs args, Args<XmlFlagsArgs>(body));
    ASSIGN_OR_RETURN(DomainView d, registry_->CreateTransient(args.xml, args.flags));
    return EncodeDomain(d.Ref());
  });
  Register(Proc::kDomainCreate, "virDomainCreate", false, [this](ClientState&, std::span<const uint8_t> body)
           -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(DomainArgs args, Args<DomainArgs>(body));
    RETURN_IF_ERROR(registry_->Start(args.dom.uuid, 0));
    return Empty();
  });
  Register(Proc::kDomainCreateWithFlags, "virDomainCreateWithFlags", false,
           [this](ClientState&, std::span<const uint8_t> body) -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(DomainFlagsArgs args, Args<DomainFlagsArgs>(body));
    RETURN_IF_ERROR(registry_->Start(args.dom.uuid, args.flags));
    ASSIGN_OR_RETURN(DomainView d, registry_->FindByUuid(args.dom.uuid));
    return EncodeDomain(d.Ref());  // the domain with its new id
  });
  Register(Proc::kDomainShutdown, "virDomainShutdown", false, [this](ClientState&, std::span<const uint8_t> body)
           -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(DomainArgs args, Args<DomainArgs>(body));
    RETURN_IF_ERROR(registry_->Shutdown(args.dom.uuid, 0));
    return Empty();
  });
  Register(Proc::kDomainShutdownFlags, "virDomainShutdownFlags", false,
           [this](ClientState&, std::span<const uint8_t> body) -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(DomainFlagsArgs args, Args<DomainFlagsArgs>(body));
    RETURN_IF_ERROR(registry_->Shutdown(args.dom.uuid, args.flags));
    return Empty();
  });
  Register(Proc::kDomainDestroy, "virDomainDestroy", false, [this](ClientState&, std::span<const uint8_t> body)
           -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(DomainArgs args, Args<DomainArgs>(body));
    RETURN_IF_ERROR(registry_->Destroy(args.dom.uuid, 0));
    return Empty();
  });
  Register(Proc::kDomainDestroyFlags, "virDomainDestroyFlags", false,
           [this](ClientState&, std::span<const uint8_t> body) -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(DomainFlagsArgs args, Args<DomainFlagsArgs>(body));
    RETURN_IF_ERROR(registry_->Destroy(args.dom.uuid, args.flags));
    return Empty();
  });
  Register(Proc::kDomainUndefine, "virDomainUndefine", false, [this](ClientState&, std::span<const uint8_t> body)
           -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(DomainArgs args, Args<DomainArgs>(body));
    RETURN_IF_ERROR(registry_->Undefine(args.dom.uuid, 0));
    return Empty();
  });
  Register(Proc::kDomainUndefineFlags, "virDomainUndefineFlags", false,
           [this](ClientState&, std::span<const uint8_t> body) -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(DomainFlagsArgs args, Args<DomainFlagsArgs>(body));
    RETURN_IF_ERROR(registry_->Undefine(args.dom.uuid, args.flags));
    return Empty();
  });
  Register(Proc::kDomainSetAutostart, "virDomainSetAutostart", false,
           [this](ClientState&, std::span<const uint8_t> body) -> absl::StatusOr<std::vector<uint8_t>> {
    ASSIGN_OR_RETURN(DomainIntArgs args, Args<DomainIntArgs>(body));
    RETURN_IF_ERROR(registry_->SetAutostart(args.dom.uuid, args.value != 0));
    return Empty();
  });
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
