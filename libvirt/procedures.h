// The remote procedures dvmd serves: a table from procedure number to a
// handler, with whether a read-only connection may call it. Handlers decode
// their arguments (remote_messages.h), act on the registry and encode their
// result; anything unknown answers VIR_ERR_NO_SUPPORT.
#ifndef DVM_LIBVIRT_PROCEDURES_H_
#define DVM_LIBVIRT_PROCEDURES_H_

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libvirt/domain_registry.h"
#include "libvirt/remote_messages.h"

namespace dvm::libvirt {

// Facts about this daemon and its host that the connect procedures report.
struct DaemonInfo {
  std::string hostname;
  std::string dvm_binary;     // reported as the guests' emulator
  uint64_t hv_version = 0;    // dvm's version, major * 1e6 + minor * 1e3 + micro
  uint64_t lib_version = 9000000;  // the libvirt protocol level dvmd speaks
  NodeInfo node;              // this host (cores, memory)
  Uuid host_uuid{};
};

// One client connection's state, owned by the server.
struct ClientState {
  bool read_only_socket = false;  // came in on the -sock-ro socket
  bool opened = false;
  bool read_only = false;         // the socket's, or VIR_CONNECT_RO at open
};

struct CallResult {
  MessageStatus status = MessageStatus::kOk;
  std::vector<uint8_t> body;  // the ret, or a remote_error
  bool close_after = false;   // CONNECT_CLOSE: reply, then hang up
};

class Procedures {
 public:
  Procedures(DomainRegistry* registry, DaemonInfo info);

  // Runs one call of the remote program. Never fails: errors become a
  // remote_error body with status kError.
  CallResult Call(ClientState& client, int32_t procedure, std::span<const uint8_t> args);

  std::string CapabilitiesXml() const;

  // Calls that wait for a VM (start, shutdown, destroy: up to a minute); the
  // server runs them apart from the quick ones.
  static bool WaitsForVm(int32_t procedure);

 private:
  using Ret = absl::StatusOr<std::vector<uint8_t>>;  // an encoded reply, or the error
  using Handler = std::function<Ret(ClientState&, std::span<const uint8_t>)>;
  struct Entry {
    Handler handler;
    bool read_only = true;  // allowed on a read-only connection
    bool before_open = false;
    const char* name = "";
  };
  void Register(Proc proc, const char* name, bool read_only, Handler handler, bool before_open = false);
  // Decodes arguments A, then f(client, args).
  template <typename A, typename F>
  static Handler Takes(F f);
  // No arguments; f() is the reply.
  template <typename F>
  static Handler Constant(F f);
  // Arguments A naming a domain; f(view, args) is the reply.
  template <typename A, typename F>
  Handler OfDomain(F f);
  // Arguments A naming a domain (with flags, if A has them); the registry's
  // action on it, with an empty reply.
  template <typename A>
  Handler Act(absl::Status (DomainRegistry::*action)(const Uuid&, uint32_t));
  void RegisterConnect();
  void RegisterDomainQueries();
  void RegisterDomainChanges();
  // The registry's view of the domain a client names (by uuid, as libvirt does).
  absl::StatusOr<DomainView> Lookup(const NonnullDomain& dom);

  DomainRegistry* const registry_;
  const DaemonInfo info_;
  std::map<int32_t, Entry> table_;
};

// virConnectListAllDomains' filter flags applied to one domain.
bool MatchesListFlags(const DomainView& d, uint32_t flags);

}  // namespace dvm::libvirt

#endif  // DVM_LIBVIRT_PROCEDURES_H_
