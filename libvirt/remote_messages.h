// The parts of libvirt's remote protocol (src/remote/remote_protocol.x) that
// dvmd serves: procedure numbers, error and state codes, and the argument and
// return structures, each with an XDR decoder (what a client sends) or encoder
// (what dvmd answers). Written from the protocol description; numbers are
// append-only upstream, so they hold for every libvirt release.
#ifndef DVM_LIBVIRT_REMOTE_MESSAGES_H_
#define DVM_LIBVIRT_REMOTE_MESSAGES_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "libvirt/rpc_frame.h"
#include "libvirt/xdr.h"

namespace dvm::libvirt {

// REMOTE_PROC_* numbers of the procedures dvmd knows.
enum class Proc : int32_t {
  kConnectOpen = 1,
  kConnectClose = 2,
  kConnectGetType = 3,
  kConnectGetVersion = 4,
  kConnectGetMaxVcpus = 5,
  kNodeGetInfo = 6,
  kConnectGetCapabilities = 7,
  kDomainCreate = 9,
  kDomainCreateXml = 10,
  kDomainDefineXml = 11,
  kDomainDestroy = 12,
  kDomainGetXmlDesc = 14,
  kDomainGetAutostart = 15,
  kDomainGetInfo = 16,
  kDomainGetMaxMemory = 17,
  kDomainGetMaxVcpus = 18,
  kDomainGetOsType = 19,
  kConnectListDefinedDomains = 21,
  kDomainLookupById = 22,
  kDomainLookupByName = 23,
  kDomainLookupByUuid = 24,
  kConnectNumOfDefinedDomains = 25,
  kDomainSetAutostart = 29,
  kDomainShutdown = 33,
  kDomainUndefine = 35,
  kConnectListDomains = 37,
  kConnectNumOfDomains = 51,
  kConnectGetHostname = 59,
  kConnectSupportsFeature = 60,
  kAuthList = 66,
  kConnectGetUri = 110,
  kConnectIsSecure = 149,
  kDomainIsActive = 150,
  kDomainIsPersistent = 151,
  kConnectGetLibVersion = 157,
  kDomainHasManagedSaveImage = 183,
  kDomainSnapshotNum = 187,
  kDomainCreateWithFlags = 196,
  kDomainGetVcpusFlags = 200,
  kDomainIsUpdated = 202,
  kDomainGetState = 212,
  kDomainGetControlInfo = 229,
  kDomainUndefineFlags = 231,
  kDomainDestroyFlags = 234,
  kDomainShutdownFlags = 258,
  kConnectListAllDomains = 273,
  kDomainListAllSnapshots = 274,
  kDomainDefineXmlFlags = 350,
  kConnectRegisterCloseCallback = 360,
  kConnectUnregisterCloseCallback = 361,
};

// virErrorNumber values dvmd answers with (virterror.h).
enum class ErrorCode : int32_t {
  kInternalError = 1,
  kNoSupport = 3,
  kInvalidArg = 8,
  kOperationFailed = 9,
  kXmlError = 27,
  kDomainExists = 28,
  kOperationDenied = 29,
  kRpc = 39,
  kNoDomain = 42,
  kOperationInvalid = 55,
  kConfigUnsupported = 67,
  kArgumentUnsupported = 74,
};

// virErrorDomain values.
inline constexpr int32_t kFromRemote = 13;
inline constexpr int32_t kFromDomain = 20;
inline constexpr int32_t kFromRpc = 7;
inline constexpr int32_t kErrorLevelError = 2;

// virDomainState and the reasons that go with it (libvirt-domain.h).
enum class DomainState : int32_t { kNoState = 0, kRunning = 1, kBlocked = 2, kPaused = 3, kShutdown = 4, kShutoff = 5, kCrashed = 6 };
inline constexpr int32_t kRunningUnknown = 0;
inline constexpr int32_t kRunningBooted = 1;
inline constexpr int32_t kShutoffUnknown = 0;
inline constexpr int32_t kShutoffShutdown = 1;
inline constexpr int32_t kShutoffDestroyed = 2;
inline constexpr int32_t kShutoffCrashed = 3;
inline constexpr int32_t kShutoffFailed = 6;
inline constexpr int32_t kShutoffDaemon = 8;

// virDrvFeature values a client asks about (libvirt_internal.h).
inline constexpr int32_t kFeatureTypedParamString = 9;
inline constexpr int32_t kFeatureProgramKeepalive = 10;
inline constexpr int32_t kFeatureRemoteCloseCallback = 15;

// Limits from remote_protocol.x.
inline constexpr uint32_t kMaxDomainList = 16384;
inline constexpr size_t kMaxNameBytes = 1 << 20;  // REMOTE_STRING_MAX in older releases

// remote_nonnull_domain.
struct NonnullDomain {
  std::string name;
  Uuid uuid{};
  int32_t id = -1;

  static NonnullDomain Read(XdrReader& r);
  void Write(XdrWriter& w) const;
};

// remote_error. `dom`, `net` are always null from dvmd; str1..3 and int1..2
// carry nothing.
struct RemoteError {
  int32_t code = static_cast<int32_t>(ErrorCode::kInternalError);
  int32_t domain = kFromRemote;
  std::optional<std::string> message;
  int32_t level = kErrorLevelError;

  std::vector<uint8_t> Encode() const;
  static absl::StatusOr<RemoteError> Decode(std::span<const uint8_t> body);
};

// ---- Arguments (client -> dvmd). Each has `static T Read(XdrReader&)`.

struct NoArgs {
  static NoArgs Read(XdrReader&) { return {}; }
};
struct OpenArgs {  // remote_connect_open_args
  std::optional<std::string> name;
  uint32_t flags = 0;
  static OpenArgs Read(XdrReader& r);
};
struct FeatureArgs {  // remote_connect_supports_feature_args
  int32_t feature = 0;
  static FeatureArgs Read(XdrReader& r);
};
struct OptionalStringArgs {  // remote_connect_get_max_vcpus_args
  std::optional<std::string> value;
  static OptionalStringArgs Read(XdrReader& r);
};
struct DomainArgs {  // every remote_domain_X_args that is just {dom}
  NonnullDomain dom;
  static DomainArgs Read(XdrReader& r);
};
struct DomainFlagsArgs {  // {dom, unsigned flags}
  NonnullDomain dom;
  uint32_t flags = 0;
  static DomainFlagsArgs Read(XdrReader& r);
};
struct DomainIntArgs {  // remote_domain_set_autostart_args {dom, int}
  NonnullDomain dom;
  int32_t value = 0;
  static DomainIntArgs Read(XdrReader& r);
};
struct ListSnapshotsArgs {  // remote_domain_list_all_snapshots_args
  NonnullDomain dom;
  int32_t need_results = 0;
  uint32_t flags = 0;
  static ListSnapshotsArgs Read(XdrReader& r);
};
struct XmlArgs {  // remote_domain_define_xml_args
  std::string xml;
  static XmlArgs Read(XdrReader& r);
};
struct XmlFlagsArgs {  // define_xml_flags, create_xml
  std::string xml;
  uint32_t flags = 0;
  static XmlFlagsArgs Read(XdrReader& r);
};
struct NameArgs {  // lookup_by_name
  std::string name;
  static NameArgs Read(XdrReader& r);
};
struct IdArgs {  // lookup_by_id
  int32_t id = 0;
  static IdArgs Read(XdrReader& r);
};
struct UuidArgs {  // lookup_by_uuid
  Uuid uuid{};
  static UuidArgs Read(XdrReader& r);
};
struct MaxArgs {  // list_domains (maxids), list_defined_domains (maxnames)
  int32_t max = 0;
  static MaxArgs Read(XdrReader& r);
};
struct ListAllArgs {  // remote_connect_list_all_domains_args
  int32_t need_results = 0;
  uint32_t flags = 0;
  static ListAllArgs Read(XdrReader& r);
};

// Decodes a call body as T: every byte must be used, nothing may be missing.
template <typename T>
absl::StatusOr<T> DecodeArgs(std::span<const uint8_t> body) {
  XdrReader r(body);
  T args = T::Read(r);
  if (!r.ok()) return absl::InvalidArgumentError("malformed or truncated arguments");
  if (!r.AtEnd()) return absl::InvalidArgumentError(absl::StrCat(r.remaining(), " unexpected bytes after the arguments"));
  return args;
}

// ---- Results (dvmd -> client).

struct NodeInfo {  // remote_node_get_info_ret
  std::string model;  // at most 31 characters are sent
  uint64_t memory_kib = 0;
  int32_t cpus = 0;
  int32_t mhz = 0;
  int32_t nodes = 1;
  int32_t sockets = 1;
  int32_t cores = 1;
  int32_t threads = 1;
  void Write(XdrWriter& w) const;
};

struct DomainInfo {  // remote_domain_get_info_ret
  DomainState state = DomainState::kShutoff;
  uint64_t max_mem_kib = 0;
  uint64_t memory_kib = 0;
  uint32_t vcpus = 0;
  uint64_t cpu_time_ns = 0;
  void Write(XdrWriter& w) const;
};

// Small helpers for rets that are one field.
std::vector<uint8_t> EncodeInt(int32_t v);
std::vector<uint8_t> EncodeU64(uint64_t v);
std::vector<uint8_t> EncodeString(const std::string& s);
std::vector<uint8_t> EncodeDomain(const NonnullDomain& d);

}  // namespace dvm::libvirt

#endif  // DVM_LIBVIRT_REMOTE_MESSAGES_H_
