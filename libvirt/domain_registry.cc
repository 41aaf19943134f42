#include "libvirt/domain_registry.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "dvm/log.h"
#include "dvm/status.h"
#include "libvirt/vir_error.h"

namespace dvm::libvirt {
namespace {

absl::Status Invalid(std::string message) { return VirError(ErrorCode::kOperationInvalid, std::move(message)); }

absl::Status CheckFlags(uint32_t flags, uint32_t allowed, const char* what) {
  if ((flags & ~allowed) == 0) return absl::OkStatus();
  return VirError(ErrorCode::kInvalidArg, absl::StrFormat("unsupported flags (0x%x) in %s", flags & ~allowed, what));
}

}  // namespace

DomainRegistry::DomainRegistry(DomainStore* store, VmLauncher* launcher, spec::HostLimits host, DomainStore* live)
    : store_(store), launcher_(launcher), host_(host), live_(live) {}

DomainRegistry::~DomainRegistry() {
  std::vector<std::shared_ptr<RunningVm>> vms;
  {
    MutexLock lock(&mu_);
    for (auto& [uuid, d] : domains_) {
      if (d.vm) vms.push_back(std::move(d.vm));
      d.state = DomainState::kShutoff;  // a watcher that reports now finds nothing to do
    }
    for (auto& vm : retired_) vms.push_back(std::move(vm));
    retired_.clear();
  }
  vms.clear();  // joins the watchers; they may still take the lock meanwhile
}

std::vector<std::string> DomainRegistry::Load() {
  std::vector<std::string> problems;
  if (absl::Status s = store_->Init(); !s.ok()) return {std::string(s.message())};
  DomainStore::Loaded loaded = store_->LoadAll();
  problems = std::move(loaded.problems);
  DomainStore::Loaded live;
  if (live_ != nullptr) {
    if (absl::Status s = live_->Init(); !s.ok()) problems.push_back(std::string(s.message()));
    live = live_->LoadAll();
    problems.insert(problems.end(), live.problems.begin(), live.problems.end());
  }
  MutexLock lock(&mu_);
  for (StoredDomain& stored : loaded.domains) {
    if (absl::Status s = CheckConflicts(stored.def); !s.ok()) {
      problems.push_back(absl::StrCat(store_->PathOf(stored.def.spec.name), ": ", s.message()));
      continue;
    }
    Domain& d = Insert(stored.def.uuid);
    d.config = std::move(stored.def);
    d.autostart = stored.autostart;
  }
  // VMs started before dvmd restarted run on: take them back, with the
  // definition and id they run with (a transient domain has no other).
  for (StoredDomain& running : live.domains) {
    const std::string name = running.def.spec.name;
    Domain* d = Find(running.def.uuid);
    if (d == nullptr && CheckConflicts(running.def).ok()) {
      d = &Insert(running.def.uuid);
      d->config = running.def;
      d->persistent = false;
    }
    absl::StatusOr<std::unique_ptr<RunningVm>> vm =
        d != nullptr ? launcher_->Adopt(running.def) : absl::NotFoundError("no such domain");
    if (!vm.ok()) {
      (void)live_->Remove(name);  // it ended while dvmd was away
      if (d != nullptr && !d->persistent) domains_.erase(running.def.uuid);
      continue;
    }
    DVM_LOG(INFO) << "domain " << name << " is still running; watching it again";
    MarkRunning(*d, std::move(*vm), kRunningUnknown, running.def, running.id);
  }
  // Without a live definition (none kept, or an older dvmd): as defined.
  for (auto& [uuid, d] : domains_) {
    if (d.state == DomainState::kRunning) continue;
    if (absl::StatusOr<std::unique_ptr<RunningVm>> vm = launcher_->Adopt(d.config); vm.ok()) {
      DVM_LOG(INFO) << "domain " << d.config.spec.name << " is still running; watching it again";
      MarkRunning(d, std::move(*vm), kRunningUnknown, d.config);
    }
  }
  return problems;
}

std::vector<std::string> DomainRegistry::StartAutostartDomains() {
  std::vector<Uuid> wanted;
  {
    MutexLock lock(&mu_);
    for (const auto& [uuid, d] : domains_) {
      if (d.persistent && d.autostart && d.state != DomainState::kRunning) wanted.push_back(uuid);
    }
  }
  std::vector<std::string> problems;
  for (const Uuid& uuid : wanted) {
    if (absl::Status s = Start(uuid, 0); !s.ok()) {
      problems.push_back(absl::StrCat("autostart of ", UuidToString(uuid), ": ", s.message()));
    }
  }
  return problems;
}

DomainRegistry::Domain* DomainRegistry::Find(const Uuid& uuid) {
  auto it = domains_.find(uuid);
  return it == domains_.end() ? nullptr : &it->second;
}

DomainRegistry::Domain* DomainRegistry::Find(const Uuid& uuid, uint64_t token) {
  Domain* d = Find(uuid);
  return d != nullptr && d->token == token ? d : nullptr;
}

DomainRegistry::Domain& DomainRegistry::Insert(const Uuid& uuid) {
  Domain& d = domains_[uuid];
  d.token = next_token_++;
  return d;
}

absl::StatusOr<DomainRegistry::Domain*> DomainRegistry::FindOrError(const Uuid& uuid) {
  if (Domain* d = Find(uuid)) return d;
  return VirError(ErrorCode::kNoDomain, absl::StrCat("Domain not found: no domain with matching uuid '",
                                                     UuidToString(uuid), "'"));
}

DomainRegistry::Snapshot DomainRegistry::Snap(const Domain& d) const {
  const DomainDef& def = d.live ? *d.live : d.config;
  Snapshot snap{.vm = d.vm};
  DomainView& v = snap.view;
  v.name = def.spec.name;
  v.uuid = def.uuid;
  v.id = d.id;
  v.state = d.state;
  v.reason = d.reason;
  v.persistent = d.persistent;
  v.autostart = d.autostart;
  v.vcpus = def.spec.vcpu_count;
  v.memory_bytes = def.spec.memory_bytes;
  return snap;
}

DomainView DomainRegistry::View(Snapshot snap) {
  snap.view.cpu_time_ns = snap.vm ? snap.vm->CpuTimeNs() : 0;
  return std::move(snap.view);
}

absl::Status DomainRegistry::CheckConflicts(const DomainDef& def) {
  for (const auto& [uuid, d] : domains_) {
    const std::string& name = d.config.spec.name;
    // The same domain is the same name and uuid; one of them alone is another domain's.
    if ((uuid == def.uuid) != (name == def.spec.name)) {
      return VirError(ErrorCode::kDomainExists, absl::StrCat("domain '", name, "' already exists with uuid ",
                                                             UuidToString(uuid)));
    }
  }
  return absl::OkStatus();
}

void DomainRegistry::MarkRunning(Domain& d, std::unique_ptr<RunningVm> vm, int32_t reason, const DomainDef& def,
                                 int32_t id) {
  d.vm = std::move(vm);
  d.live = def;
  d.state = DomainState::kRunning;
  d.reason = reason;
  d.id = id >= 0 ? id : next_id_;
  next_id_ = std::max(next_id_, d.id + 1);
  if (live_ != nullptr) {
    // On a tmpfs: cheap under the lock, and gone after a host reboot with the VMs.
    if (absl::Status s = live_->Save(def, false, d.id); !s.ok()) {
      DVM_LOG(WARNING) << "cannot keep the live definition of " << def.spec.name << ": " << s.message();
    }
  }
  const uint64_t generation = ++d.generation;
  const Uuid uuid = d.config.uuid;
  d.vm->Watch([this, uuid, generation](VmExit exit) { OnExit(uuid, generation, exit); });
}

void DomainRegistry::MarkStopped(Domain& d, int32_t reason, const std::string& detail) {
  DVM_LOG(INFO) << "domain " << d.config.spec.name << " shut off: " << detail;
  if (live_ != nullptr) (void)live_->Remove(d.config.spec.name);
  if (d.vm) retired_.push_back(std::move(d.vm));
  d.live.reset();
  d.state = DomainState::kShutoff;
  d.reason = reason;
  d.id = -1;
  // A transient domain ends with its VM; if busy (being destroyed), the
  // operation that holds it removes it when it is done.
  if (!d.persistent && !d.busy) domains_.erase(d.config.uuid);
}

void DomainRegistry::OnExit(const Uuid& uuid, uint64_t generation, const VmExit& exit) {
  MutexLock lock(&mu_);
  Domain* d = Find(uuid);
  if (d == nullptr || d->generation != generation || d->state != DomainState::kRunning) return;
  MarkStopped(*d, d->destroying ? kShutoffDestroyed : exit.reason, exit.detail);
}

void DomainRegistry::ReapRetired() {
  std::vector<std::shared_ptr<RunningVm>> done;
  {
    MutexLock lock(&mu_);
    done.swap(retired_);
  }
}

absl::StatusOr<DomainView> DomainRegistry::Define(absl::string_view xml, uint32_t flags) {
  ReapRetired();
  RETURN_IF_ERROR(CheckFlags(flags, kDefineValidate, "virDomainDefineXMLFlags"));
  ASSIGN_OR_RETURN(DomainDef def, ParseDomainXml(xml, host_));
  // The file is written (and fsynced) without mu_, so lookups and lists go
  // on meanwhile; store_mu_ keeps what the checks saw until the entry changes.
  MutexLock store_lock(&store_mu_);
  bool autostart = false;
  {
    MutexLock lock(&mu_);
    RETURN_IF_ERROR(CheckConflicts(def));
    Domain* existing = Find(def.uuid);
    if (existing != nullptr && existing->busy) return Invalid("another operation on this domain is in progress");
    autostart = existing != nullptr && existing->autostart;
  }
  if (absl::Status s = store_->Save(def, autostart); !s.ok()) {
    return VirError(ErrorCode::kOperationFailed, absl::StrCat("cannot save the domain: ", s.message()));
  }
  Snapshot snap;
  {
    MutexLock lock(&mu_);
    Domain* existing = Find(def.uuid);  // still there: only holders of store_mu_ remove a persistent domain
    Domain& d = existing != nullptr ? *existing : Insert(def.uuid);
    d.config = std::move(def);
    d.persistent = true;  // defining a running transient domain makes it persistent
    DVM_LOG(INFO) << "defined domain " << d.config.spec.name;
    snap = Snap(d);
  }
  return View(std::move(snap));
}

absl::StatusOr<DomainView> DomainRegistry::CreateTransient(absl::string_view xml, uint32_t flags) {
  ReapRetired();
  if (flags & (kStartPaused | kStartAutodestroy)) {
    return VirError(ErrorCode::kArgumentUnsupported, "dvm starts domains running and keeps them without a client");
  }
  RETURN_IF_ERROR(CheckFlags(flags, kStartBypassCache | kStartValidate, "virDomainCreateXML"));
  ASSIGN_OR_RETURN(DomainDef def, ParseDomainXml(xml, host_));
  const Uuid uuid = def.uuid;
  uint64_t token = 0;
  {
    MutexLock store_lock(&store_mu_);  // a new name and uuid: not while a Define writes
    MutexLock lock(&mu_);
    RETURN_IF_ERROR(CheckConflicts(def));
    if (Find(uuid) != nullptr) {
      return VirError(ErrorCode::kDomainExists,
                      absl::StrCat("domain '", def.spec.name, "' is already defined; start it instead"));
    }
    Domain& d = Insert(uuid);
    d.config = def;
    d.persistent = false;
    d.busy = true;
    token = d.token;
  }
  absl::StatusOr<std::unique_ptr<RunningVm>> vm = launcher_->Launch(def);
  Snapshot snap;
  {
    MutexLock lock(&mu_);
    Domain* d = Find(uuid, token);
    if (d == nullptr) return Orphaned(std::move(vm));
    if (!vm.ok()) {
      domains_.erase(uuid);
      return vm.status();
    }
    d->busy = false;
    MarkRunning(*d, std::move(*vm), kRunningBooted, def);
    snap = Snap(*d);
  }
  return View(std::move(snap));
}

absl::StatusOr<DomainView> DomainRegistry::FindByName(absl::string_view name) {
  std::optional<Snapshot> snap;
  {
    MutexLock lock(&mu_);
    for (const auto& [uuid, d] : domains_) {
      if (d.config.spec.name == name) snap = Snap(d);
    }
  }
  if (!snap) {
    return VirError(ErrorCode::kNoDomain, absl::StrCat("Domain not found: no domain with matching name '", name, "'"));
  }
  return View(std::move(*snap));
}

absl::StatusOr<DomainView> DomainRegistry::FindByUuid(const Uuid& uuid) {
  Snapshot snap;
  {
    MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Domain * d, FindOrError(uuid));
    snap = Snap(*d);
  }
  return View(std::move(snap));
}

absl::StatusOr<DomainView> DomainRegistry::FindById(int32_t id) {
  std::optional<Snapshot> snap;
  {
    MutexLock lock(&mu_);
    for (const auto& [uuid, d] : domains_) {
      if (d.id == id && d.state == DomainState::kRunning) snap = Snap(d);
    }
  }
  if (!snap) return VirError(ErrorCode::kNoDomain, absl::StrCat("Domain not found: no domain with matching id ", id));
  return View(std::move(*snap));
}

std::vector<DomainView> DomainRegistry::List() {
  ReapRetired();
  std::vector<Snapshot> snaps;
  {
    MutexLock lock(&mu_);
    for (const auto& [uuid, d] : domains_) snaps.push_back(Snap(d));
  }
  std::vector<DomainView> out;
  for (Snapshot& snap : snaps) out.push_back(View(std::move(snap)));
  std::sort(out.begin(), out.end(), [](const DomainView& a, const DomainView& b) { return a.name < b.name; });
  return out;
}

absl::Status DomainRegistry::Start(const Uuid& uuid, uint32_t flags) {
  ReapRetired();
  if (flags & (kStartPaused | kStartAutodestroy)) {
    return VirError(ErrorCode::kArgumentUnsupported, "dvm starts domains running and keeps them without a client");
  }
  RETURN_IF_ERROR(CheckFlags(flags, kStartBypassCache | kStartForceBoot | kStartValidate, "virDomainCreateWithFlags"));
  DomainDef def;
  uint64_t token = 0;
  {
    MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Domain * d, FindOrError(uuid));
    if (d->busy) return Invalid("another operation on this domain is in progress");
    if (d->state == DomainState::kRunning) return Invalid("domain is already running");
    d->busy = true;
    def = d->config;
    token = d->token;
  }
  // Files may have gone since the definition: check again, without the lock
  // (it looks at the files).
  const absl::Status valid = ValidateDomain(def, host_);
  absl::StatusOr<std::unique_ptr<RunningVm>> vm = valid.ok() ? launcher_->Launch(def) : valid;
  MutexLock lock(&mu_);
  Domain* d = Find(uuid, token);
  if (d == nullptr) return Orphaned(std::move(vm));
  d->busy = false;
  if (!vm.ok()) {
    DVM_LOG(WARNING) << "domain " << def.spec.name << " did not start: " << vm.status().message();
    if (!d->persistent) domains_.erase(uuid);  // undefined while it started
    return vm.status();
  }
  MarkRunning(*d, std::move(*vm), kRunningBooted, def);
  DVM_LOG(INFO) << "started domain " << def.spec.name << " (id " << d->id << ")";
  return absl::OkStatus();
}

absl::Status DomainRegistry::Shutdown(const Uuid& uuid, uint32_t flags) {
  ReapRetired();
  if (flags & ~kShutdownAcpiPowerButton) {
    return VirError(ErrorCode::kArgumentUnsupported, "dvm asks a guest to shut down by its ACPI power button only");
  }
  std::shared_ptr<RunningVm> vm;
  {
    MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Domain * d, FindOrError(uuid));
    if (d->state != DomainState::kRunning) return Invalid("domain is not running");
    vm = d->vm;
  }
  return vm->Shutdown();
}

absl::Status DomainRegistry::Destroy(const Uuid& uuid, uint32_t flags) {
  ReapRetired();
  RETURN_IF_ERROR(CheckFlags(flags, kDestroyGraceful, "virDomainDestroyFlags"));
  std::shared_ptr<RunningVm> vm;
  uint64_t generation = 0;
  uint64_t token = 0;
  {
    MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Domain * d, FindOrError(uuid));
    if (d->busy) return Invalid("another operation on this domain is in progress");
    if (d->state != DomainState::kRunning) return Invalid("domain is not running");
    d->busy = true;
    d->destroying = true;
    vm = d->vm;
    generation = d->generation;
    token = d->token;
  }
  // The VM's exit is usually reported (OnExit) before this returns; the
  // entry stays, busy, until below.
  absl::Status result = vm->Destroy(flags & kDestroyGraceful ? std::chrono::seconds(30) : std::chrono::seconds(5));
  {
    MutexLock lock(&mu_);
    if (Domain* d = Find(uuid, token)) {
      d->busy = false;
      d->destroying = false;
      if (result.ok() && d->generation == generation && d->state == DomainState::kRunning) {
        MarkStopped(*d, kShutoffDestroyed, "destroyed");  // removes a transient domain
      } else if (!d->persistent && d->state != DomainState::kRunning) {
        domains_.erase(uuid);  // a transient domain whose end was reported while busy
      }
    }
  }
  vm.reset();  // outside the lock: may join the watcher, which may want the lock
  return result;
}

absl::Status DomainRegistry::Undefine(const Uuid& uuid, uint32_t flags) {
  ReapRetired();
  RETURN_IF_ERROR(CheckFlags(flags, kUndefineAllKnown, "virDomainUndefineFlags"));
  MutexLock store_lock(&store_mu_);
  std::string name;
  {
    MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Domain * d, FindOrError(uuid));
    if (d->busy) return Invalid("another operation on this domain is in progress");
    if (!d->persistent) return Invalid("cannot undefine transient domain");
    name = d->config.spec.name;
  }
  if (absl::Status s = store_->Remove(name); !s.ok()) {
    return VirError(ErrorCode::kOperationFailed, absl::StrCat("cannot remove the domain's file: ", s.message()));
  }
  DVM_LOG(INFO) << "undefined domain " << name;
  MutexLock lock(&mu_);
  Domain* d = Find(uuid);  // still there and persistent: only holders of store_mu_ change that
  if (d->state == DomainState::kRunning || d->busy) {
    d->persistent = false;  // runs on as a transient domain (a start under way: it ends with the start's failure)
    d->autostart = false;
  } else {
    domains_.erase(uuid);
  }
  return absl::OkStatus();
}

absl::Status DomainRegistry::SetAutostart(const Uuid& uuid, bool autostart) {
  MutexLock store_lock(&store_mu_);
  DomainDef config;
  {
    MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Domain * d, FindOrError(uuid));
    if (!d->persistent) return Invalid("cannot set autostart for transient domain");
    if (d->autostart == autostart) return absl::OkStatus();
    config = d->config;
  }
  if (absl::Status s = store_->Save(config, autostart); !s.ok()) {
    return VirError(ErrorCode::kOperationFailed, absl::StrCat("cannot save the domain: ", s.message()));
  }
  MutexLock lock(&mu_);
  Find(uuid)->autostart = autostart;  // still there and persistent (store_mu_)
  return absl::OkStatus();
}

absl::StatusOr<std::string> DomainRegistry::XmlDesc(const Uuid& uuid, uint32_t flags) {
  RETURN_IF_ERROR(CheckFlags(flags, kXmlAllKnown, "virDomainGetXMLDesc"));
  MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Domain * d, FindOrError(uuid));
  const bool inactive = (flags & kXmlInactive) != 0 || !d->live;
  return FormatDomainXml(inactive ? d->config : *d->live);
}

absl::Status DomainRegistry::Orphaned(absl::StatusOr<std::unique_ptr<RunningVm>> vm) {
  // Cannot happen while a busy entry is never removed. If it does, the new VM
  // belongs to no domain: stop it rather than abort dvmd. (Not watched yet,
  // so it reports no exit: no deadlock on the registry's lock.)
  DVM_LOG(ERROR) << "a domain went away while its VM started; stopping that VM";
  if (vm.ok()) (void)(*vm)->Destroy(std::chrono::seconds(5));
  return VirError(ErrorCode::kOperationFailed, "the domain was removed while it started");
}

}  // namespace dvm::libvirt
