// Every domain dvmd knows and its state, libvirt's way:
//
//   define            -> persistent, shut off            (saved to the store)
//   start             -> running (reason booted), gets an id
//   the VM ends       -> shut off with why: shutdown (the guest powered off),
//                        destroyed, crashed (the VM failed), failed (could not
//                        start); a transient domain then disappears
//   undefine          -> gone if shut off; if running, it turns transient
//   create-xml        -> transient and running at once
//
// Starting and destroying a VM take seconds; they run without the registry's
// lock, with the domain marked busy so no other operation crosses them. The
// store's files are written without it too (store_mu_).
// Every method is thread-safe; errors carry libvirt codes (vir_error.h).
#ifndef DVM_LIBVIRT_DOMAIN_REGISTRY_H_
#define DVM_LIBVIRT_DOMAIN_REGISTRY_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "dvm/mutex.h"
#include "libvirt/domain_store.h"
#include "libvirt/remote_messages.h"
#include "libvirt/vm_launcher.h"

namespace dvm::libvirt {

// What a caller may know of a domain at one moment.
struct DomainView {
  std::string name;
  Uuid uuid{};
  int32_t id = -1;
  DomainState state = DomainState::kShutoff;
  int32_t reason = 0;
  bool persistent = true;
  bool autostart = false;
  uint32_t vcpus = 0;
  uint64_t memory_bytes = 0;
  uint64_t cpu_time_ns = 0;

  bool active() const { return state == DomainState::kRunning; }
  NonnullDomain Ref() const { return {name, uuid, id}; }
};

// libvirt flag values the registry understands.
inline constexpr uint32_t kDefineValidate = 1;
inline constexpr uint32_t kStartPaused = 1;
inline constexpr uint32_t kStartAutodestroy = 2;
inline constexpr uint32_t kStartBypassCache = 4;
inline constexpr uint32_t kStartForceBoot = 8;
inline constexpr uint32_t kStartValidate = 16;
inline constexpr uint32_t kShutdownAcpiPowerButton = 1;
inline constexpr uint32_t kDestroyGraceful = 1;
inline constexpr uint32_t kUndefineAllKnown = 0x7f;  // managed save, snapshots, NVRAM, checkpoints, TPM
inline constexpr uint32_t kXmlAllKnown = 0xf;        // secure, inactive, update-cpu, migratable
inline constexpr uint32_t kXmlInactive = 2;

class DomainRegistry {
 public:
  // `live` (optional, in the run folder) keeps what running domains run with
  // and their ids, so a restarted dvmd takes back transient domains too, with
  // their live definitions and ids.
  DomainRegistry(DomainStore* store, VmLauncher* launcher, spec::HostLimits host, DomainStore* live = nullptr);
  // Stops watching the VMs; they keep running (a restarted dvmd adopts them).
  ~DomainRegistry();

  // Reads the store and adopts VMs that still run. Returns one line per
  // problem (a file that cannot be read, ...), which do not stop dvmd.
  std::vector<std::string> Load();
  // Starts the persistent domains marked autostart that are not running.
  std::vector<std::string> StartAutostartDomains();

  absl::StatusOr<DomainView> Define(absl::string_view xml, uint32_t flags);
  absl::StatusOr<DomainView> CreateTransient(absl::string_view xml, uint32_t flags);
  absl::StatusOr<DomainView> FindByName(absl::string_view name);
  absl::StatusOr<DomainView> FindByUuid(const Uuid& uuid);
  absl::StatusOr<DomainView> FindById(int32_t id);
  std::vector<DomainView> List();  // by name

  absl::Status Start(const Uuid& uuid, uint32_t flags);
  absl::Status Shutdown(const Uuid& uuid, uint32_t flags);
  absl::Status Destroy(const Uuid& uuid, uint32_t flags);
  absl::Status Undefine(const Uuid& uuid, uint32_t flags);
  absl::Status SetAutostart(const Uuid& uuid, bool autostart);
  absl::StatusOr<std::string> XmlDesc(const Uuid& uuid, uint32_t flags);

 private:
  struct Domain {
    DomainDef config;               // the persistent (or transient) definition
    std::optional<DomainDef> live;  // what it runs with, while running
    bool persistent = true;
    bool autostart = false;
    DomainState state = DomainState::kShutoff;
    int32_t reason = kShutoffUnknown;
    int32_t id = -1;
    std::shared_ptr<RunningVm> vm;
    uint64_t generation = 0;  // counts starts, so a late exit report of an old run is ignored
    // Unique to this entry: an operation that let go of the lock finds its
    // own entry again by uuid and token, not a newer one with the same uuid.
    uint64_t token = 0;
    bool busy = false;  // a start or destroy runs without the lock; a busy entry is never removed
    bool destroying = false;
  };
  // What a view needs; the VM's CPU time is read after the lock is released.
  struct Snapshot {
    DomainView view;
    std::shared_ptr<RunningVm> vm;
  };

  Domain* Find(const Uuid& uuid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The entry of `uuid` if it is still the one that had `token`.
  Domain* Find(const Uuid& uuid, uint64_t token) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Domain& Insert(const Uuid& uuid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Domain*> FindOrError(const Uuid& uuid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Snapshot Snap(const Domain& d) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static DomainView View(Snapshot snap);  // without the lock: reads /proc
  // Reports a domain that exists under the name or uuid of `def` otherwise.
  absl::Status CheckConflicts(const DomainDef& def) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `def`: the definition the VM was started with; `id`: its id if it had one.
  void MarkRunning(Domain& d, std::unique_ptr<RunningVm> vm, int32_t reason, const DomainDef& def, int32_t id = -1)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MarkStopped(Domain& d, int32_t reason, const std::string& detail) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnExit(const Uuid& uuid, uint64_t generation, const VmExit& exit);
  // A start whose domain entry is gone: stops the VM it started.
  absl::Status Orphaned(absl::StatusOr<std::unique_ptr<RunningVm>> vm);
  // Frees the handles of VMs that ended (outside the lock: that joins their
  // watcher threads).
  void ReapRetired();

  DomainStore* const store_;
  VmLauncher* const launcher_;
  const spec::HostLimits host_;
  DomainStore* const live_;
  // Held by what writes the persistent store (define, undefine, autostart)
  // and what adds a name (create): the file is written without mu_, and
  // meanwhile no one else adds or removes a persistent domain or a name.
  Mutex store_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  Mutex mu_;
  std::map<Uuid, Domain> domains_ ABSL_GUARDED_BY(mu_);
  int32_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_token_ ABSL_GUARDED_BY(mu_) = 1;
  std::vector<std::shared_ptr<RunningVm>> retired_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dvm::libvirt

#endif  // DVM_LIBVIRT_DOMAIN_REGISTRY_H_
