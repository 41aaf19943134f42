// Persistent domains: one file per domain, DIR/NAME.xml, holding a header
// line and the domain's XML:
//
//   dvmd-domain 1 autostart=0
//   <domain type='kvm'>...
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
};

class DomainStore {
 public:
  explicit DomainStore(std::string dir) : dir_(std::move(dir)) {}

  // Creates DIR (mode 0700) if needed and removes temporary files.
  absl::Status Init();

  struct Loaded {
    std::vector<StoredDomain> domains;
    std::vector<std::string> problems;  // one line per file that could not be read
  };
  // Reads every NAME.xml. The XML is parsed but not validated against the
  // host (a kernel that went missing must not make a domain disappear).
  Loaded LoadAll() const;

  absl::Status Save(const DomainDef& def, bool autostart);
  absl::Status Remove(const std::string& name);

  std::string PathOf(const std::string& name) const { return dir_ + "/" + name + ".xml"; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

// The file's text, and back.
std::string FormatStoredDomain(const DomainDef& def, bool autostart);
absl::StatusOr<StoredDomain> ParseStoredDomain(absl::string_view text);

}  // namespace dvm::libvirt

#endif  // DVM_LIBVIRT_DOMAIN_STORE_H_
