// Persistent domains: one file per domain, DIR/NAME.xml, holding a header
// line and the domain's XML:
//
//   dvmd-domain 1 autostart=0
//   <domain type='kvm'>...
//
// (dvmd keeps the live definitions of running domains the same way in its
// run folder, with the domain's id: "dvmd-domain 1 autostart=0 id=3".)
//
// Every write goes to a temporary file in DIR that is fsynced and renamed
// over the old one (then DIR is fsynced), so a crash leaves the old file or
// the new one, never half of either; leftovers of an interrupted write are
// removed at start-up.
#ifndef DVM_LIBVIRT_DOMAIN_STORE_H_
#define DVM_LIBVIRT_DOMAIN_STORE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "libvirt/domain_xml.h"

namespace dvm::libvirt {

struct StoredDomain {
  DomainDef def;
  bool autostart = false;
  int32_t id = -1;  // a running domain's (the run folder's store of live definitions)
};

// Where the registry keeps persistent domains.
class DomainStore {
 public:
  virtual ~DomainStore() = default;

  // Prepares the store (for files: creates DIR, removes temporary files).
  virtual absl::Status Init() = 0;

  struct Loaded {
    std::vector<StoredDomain> domains;
    std::vector<std::string> problems;  // one line per domain that could not be read
  };
  // Every stored domain. The XML is parsed but not validated against the
  // host (a kernel that went missing must not make a domain disappear).
  virtual Loaded LoadAll() const = 0;

  virtual absl::Status Save(const DomainDef& def, bool autostart, int32_t id = -1) = 0;
  virtual absl::Status Remove(const std::string& name) = 0;
  // Where a domain is kept, for messages.
  virtual std::string PathOf(const std::string& name) const = 0;
};

// One file per domain in a folder (above).
class FileDomainStore final : public DomainStore {
 public:
  explicit FileDomainStore(std::string dir) : dir_(std::move(dir)) {}

  // Creates DIR (mode 0700) if needed and removes temporary files.
  absl::Status Init() override;
  Loaded LoadAll() const override;
  absl::Status Save(const DomainDef& def, bool autostart, int32_t id = -1) override;
  absl::Status Remove(const std::string& name) override;
  std::string PathOf(const std::string& name) const override { return dir_ + "/" + name + ".xml"; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

// The file's text, and back.
std::string FormatStoredDomain(const DomainDef& def, bool autostart, int32_t id = -1);
absl::StatusOr<StoredDomain> ParseStoredDomain(absl::string_view text);

}  // namespace dvm::libvirt

#endif  // DVM_LIBVIRT_DOMAIN_STORE_H_
