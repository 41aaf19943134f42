// A DomainStore in memory, for the fuzzer and tests that need no files. It
// keeps each domain as the text a file would hold, so loading goes through
// the same parser.
#ifndef DVM_LIBVIRT_MEMORY_DOMAIN_STORE_H_
#define DVM_LIBVIRT_MEMORY_DOMAIN_STORE_H_

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "dvm/mutex.h"
#include "libvirt/domain_store.h"

namespace dvm::libvirt {

class MemoryDomainStore final : public DomainStore {
 public:
  absl::Status Init() override { return absl::OkStatus(); }
  Loaded LoadAll() const override {
    MutexLock lock(&mu_);
    Loaded out;
    for (const auto& [name, text] : files_) {
      absl::StatusOr<StoredDomain> stored = ParseStoredDomain(text);
      if (stored.ok()) {
        out.domains.push_back(std::move(*stored));
      } else {
        out.problems.push_back(absl::StrCat(name, ": ", stored.status().message()));
      }
    }
    return out;
  }
  absl::Status Save(const DomainDef& def, bool autostart, int32_t id = -1) override {
    MutexLock lock(&mu_);
    files_[def.spec.name] = FormatStoredDomain(def, autostart, id);
    return absl::OkStatus();
  }
  absl::Status Remove(const std::string& name) override {
    MutexLock lock(&mu_);
    files_.erase(name);
    return absl::OkStatus();
  }
  std::string PathOf(const std::string& name) const override { return "memory:" + name; }

 private:
  mutable Mutex mu_;
  std::map<std::string, std::string> files_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dvm::libvirt

#endif  // DVM_LIBVIRT_MEMORY_DOMAIN_STORE_H_
