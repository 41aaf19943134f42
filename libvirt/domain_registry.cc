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

DomainRegistry::DomainRegistry(DomainStore* store, VmLauncher* launcher, spec::HostLimits host)
    : store_(store), launcher_(launcher), host_(host) {}

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
  MutexLock lock(&mu_);
  for (StoredDomain& stored : loaded.domains) {
    if (absl::Status s = CheckConflicts(stored.def); !s.ok()) {
      problems.push_back(absl::StrCat(store_->PathOf(stored.def.spec.name), ": ", s.message()));
      continue;
    }
    Domain& d = domains_[stored.def.uuid];
    d.config = std::move(stored.def);
    d.autostart = stored.autostart;
    // A VM started before dvmd restarted runs on: take it back.
    if (absl::StatusOr<std::unique_ptr<RunningVm>> vm = launcher_->Adopt(d.config); vm.ok()) {
      DVM_LOG(INFO) << "domain " << d.config.spec.name << " is still running; watching it again";
      MarkRunning(d, std::move(*vm), kRunningUnknown);
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

absl::StatusOr<DomainRegistry::Domain*> DomainRegistry::FindOrError(const Uuid& uuid) {
  if (Domain* d = Find(uuid)) return d;
  return VirError(ErrorCode::kNoDomain, absl::StrCat("Domain not found: no domain with matching uuid '",
                                                     UuidToString(uuid), "'"));
}

DomainView DomainRegistry::View(const Domain& d) const {
  const DomainDef& def = d.live ? *d.live : d.config;
  DomainView v;
  v.name = def.spec.name;
  v.uuid = def.uuid;
  v.id = d.id;
  v.state = d.state;
  v.reason = d.reason;
  v.persistent = d.persistent;
  v.autostart = d.autostart;
  v.vcpus = def.spec.vcpu_count;
  v.memory_bytes = def.spec.memory_bytes;
  v.cpu_time_ns = d.vm ? d.vm->CpuTimeNs() : 0;
  return v;
}

absl::Status DomainRegistry::CheckConflicts(const DomainDef& def) {
  for (const auto& [uuid, d] : domains_) {
    const std::string& name = d.config.spec.name;
    if (uuid == def.uuid && name != def.spec.name) {
      return VirError(ErrorCode::kDomainExists, absl::StrCat("domain '", name, "' already exists with uuid ",
                                                             UuidToString(uuid)));
    }
    if (uuid != def.uuid && name == def.spec.name) {
      return VirError(ErrorCode::kDomainExists, absl::StrCat("domain '", name, "' already exists with uuid ",
                                                             UuidToString(uuid)));
    }
  }
  return absl::OkStatus();
}

void DomainRegistry::MarkRunning(Domain& d, std::unique_ptr<RunningVm> vm, int32_t reason) {
  d.vm = std::move(vm);
  d.live = d.config;
  d.state = DomainState::kRunning;
  d.reason = reason;
  d.id = next_id_++;
  const uint64_t generation = ++d.generation;
  const Uuid uuid = d.config.uuid;
  d.vm->Watch([this, uuid, generation](VmExit exit) { OnExit(uuid, generation, exit); });
}

void DomainRegistry::MarkStopped(Domain& d, int32_t reason, const std::string& detail) {
  DVM_LOG(INFO) << "domain " << d.config.spec.name << " shut off: " << detail;
  if (d.vm) retired_.push_back(std::move(d.vm));
  d.live.reset();
  d.state = DomainState::kShutoff;
  d.reason = reason;
  d.id = -1;
  if (!d.persistent) domains_.erase(d.config.uuid);  // a transient domain ends with its VM
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
  MutexLock lock(&mu_);
  RETURN_IF_ERROR(CheckConflicts(def));
  Domain* existing = Find(def.uuid);
  if (existing != nullptr && existing->busy) return Invalid("another operation on this domain is in progress");
  const bool autostart = existing != nullptr && existing->autostart;
  if (absl::Status s = store_->Save(def, autostart); !s.ok()) {
    return VirError(ErrorCode::kOperationFailed, absl::StrCat("cannot save the domain: ", s.message()));
  }
  Domain& d = domains_[def.uuid];
  d.config = std::move(def);
  d.persistent = true;  // defining a running transient domain makes it persistent
  DVM_LOG(INFO) << "defined domain " << d.config.spec.name;
  return View(d);
}

absl::StatusOr<DomainView> DomainRegistry::CreateTransient(absl::string_view xml, uint32_t flags) {
  ReapRetired();
  if (flags & (kStartPaused | kStartAutodestroy)) {
    return VirError(ErrorCode::kArgumentUnsupported, "dvm starts domains running and keeps them without a client");
  }
  RETURN_IF_ERROR(CheckFlags(flags, kStartBypassCache | kStartValidate, "virDomainCreateXML"));
  ASSIGN_OR_RETURN(DomainDef def, ParseDomainXml(xml, host_));
  Uuid uuid = def.uuid;
  {
    MutexLock lock(&mu_);
    RETURN_IF_ERROR(CheckConflicts(def));
    if (Find(uuid) != nullptr) {
      return VirError(ErrorCode::kDomainExists,
                      absl::StrCat("domain '", def.spec.name, "' is already defined; start it instead"));
    }
    Domain& d = domains_[uuid];
    d.config = def;
    d.persistent = false;
    d.busy = true;
  }
  absl::StatusOr<std::unique_ptr<RunningVm>> vm = launcher_->Launch(def);
  MutexLock lock(&mu_);
  Domain* d = Find(uuid);
  DVM_CHECK(d != nullptr) << "a busy domain is never removed";
  if (!vm.ok()) {
    domains_.erase(uuid);
    return vm.status();
  }
  d->busy = false;
  MarkRunning(*d, std::move(*vm), kRunningBooted);
  return View(*d);
}

absl::StatusOr<DomainView> DomainRegistry::FindByName(absl::string_view name) {
  MutexLock lock(&mu_);
  for (const auto& [uuid, d] : domains_) {
    if (d.config.spec.name == name) return View(d);
  }
  return VirError(ErrorCode::kNoDomain, absl::StrCat("Domain not found: no domain with matching name '", name, "'"));
}

absl::StatusOr<DomainView> DomainRegistry::FindByUuid(const Uuid& uuid) {
  MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Domain * d, FindOrError(uuid));
  return View(*d);
}

absl::StatusOr<DomainView> DomainRegistry::FindById(int32_t id) {
  MutexLock lock(&mu_);
  for (const auto& [uuid, d] : domains_) {
    if (d.id == id && d.state == DomainState::kRunning) return View(d);
  }
  return VirError(ErrorCode::kNoDomain, absl::StrCat("Domain not found: no domain with matching id ", id));
}

std::vector<DomainView> DomainRegistry::List() {
  ReapRetired();
  MutexLock lock(&mu_);
  std::vector<DomainView> out;
  for (const auto& [uuid, d] : domains_) out.push_back(View(d));
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
  {
    MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Domain * d, FindOrError(uuid));
    if (d->busy) return Invalid("another operation on this domain is in progress");
    if (d->state == DomainState::kRunning) return Invalid("domain is already running");
    // Files may have gone since the definition: check again.
    RETURN_IF_ERROR(ValidateDomain(d->config, host_));
    d->busy = true;
    def = d->config;
  }
  absl::StatusOr<std::unique_ptr<RunningVm>> vm = launcher_->Launch(def);
  MutexLock lock(&mu_);
  Domain* d = Find(uuid);
  DVM_CHECK(d != nullptr) << "a busy domain is never removed";  // undefine refuses it
  d->busy = false;
  if (!vm.ok()) {
    DVM_LOG(WARNING) << "domain " << def.spec.name << " did not start: " << vm.status().message();
    return vm.status();
  }
  MarkRunning(*d, std::move(*vm), kRunningBooted);
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
  {
    MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Domain * d, FindOrError(uuid));
    if (d->busy) return Invalid("another operation on this domain is in progress");
    if (d->state != DomainState::kRunning) return Invalid("domain is not running");
    d->busy = true;
    d->destroying = true;
    vm = d->vm;
    generation = d->generation;
  }
  absl::Status result = vm->Destroy(flags & kDestroyGraceful ? std::chrono::seconds(30) : std::chrono::seconds(5));
  {
    MutexLock lock(&mu_);
    if (Domain* d = Find(uuid)) {  // a transient domain may be gone already
      d->busy = false;
      if (result.ok() && d->generation == generation && d->state == DomainState::kRunning) {
        MarkStopped(*d, kShutoffDestroyed, "destroyed");
      }
      if (Domain* still = Find(uuid)) still->destroying = false;
    }
  }
  vm.reset();  // outside the lock: may join the watcher, which may want the lock
  return result;
}

absl::Status DomainRegistry::Undefine(const Uuid& uuid, uint32_t flags) {
  ReapRetired();
  RETURN_IF_ERROR(CheckFlags(flags, kUndefineAllKnown, "virDomainUndefineFlags"));
  MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Domain * d, FindOrError(uuid));
  if (d->busy) return Invalid("another operation on this domain is in progress");
  if (!d->persistent) return Invalid("cannot undefine transient domain");
  if (absl::Status s = store_->Remove(d->config.spec.name); !s.ok()) {
    return VirError(ErrorCode::kOperationFailed, absl::StrCat("cannot remove the domain's file: ", s.message()));
  }
  DVM_LOG(INFO) << "undefined domain " << d->config.spec.name;
  if (d->state == DomainState::kRunning) {
    d->persistent = false;  // runs on as a transient domain
    d->autostart = false;
  } else {
    domains_.erase(uuid);
  }
  return absl::OkStatus();
}

absl::Status DomainRegistry::SetAutostart(const Uuid& uuid, bool autostart) {
  MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Domain * d, FindOrError(uuid));
  if (!d->persistent) return Invalid("cannot set autostart for transient domain");
  if (d->autostart == autostart) return absl::OkStatus();
  if (absl::Status s = store_->Save(d->config, autostart); !s.ok()) {
    return VirError(ErrorCode::kOperationFailed, absl::StrCat("cannot save the domain: ", s.message()));
  }
  d->autostart = autostart;
  return absl::OkStatus();
}

absl::StatusOr<std::string> DomainRegistry::XmlDesc(const Uuid& uuid, uint32_t flags) {
  RETURN_IF_ERROR(CheckFlags(flags, kXmlAllKnown, "virDomainGetXMLDesc"));
  MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Domain * d, FindOrError(uuid));
  const bool inactive = (flags & kXmlInactive) != 0 || !d->live;
  return FormatDomainXml(inactive ? d->config : *d->live);
}

}  // namespace dvm::libvirt
