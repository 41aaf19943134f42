#include "libvirt/domain_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "dvm/status.h"
#include "dvm/unique_fd.h"
#include "dvm/unix_socket.h"

namespace dvm::libvirt {
namespace {

constexpr char kHeaderPrefix[] = "dvmd-domain 1 autostart=";
constexpr char kTempPrefix[] = ".tmp-";

absl::Status SyncDir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return ErrnoStatus(absl::StrCat("open ", dir));
  if (::fsync(fd.get()) != 0) return ErrnoStatus(absl::StrCat("fsync ", dir));
  return absl::OkStatus();
}

}  // namespace

std::string FormatStoredDomain(const DomainDef& def, bool autostart, int32_t id) {
  return absl::StrCat(kHeaderPrefix, autostart ? 1 : 0, id >= 0 ? absl::StrCat(" id=", id) : "", "\n",
                      FormatDomainXml(def));
}

absl::StatusOr<StoredDomain> ParseStoredDomain(absl::string_view text) {
  const size_t nl = text.find('\n');
  if (nl == absl::string_view::npos || !absl::StartsWith(text, kHeaderPrefix)) {
    return absl::InvalidArgumentError("no 'dvmd-domain 1' header line");
  }
  absl::string_view rest = text.substr(sizeof(kHeaderPrefix) - 1, nl - (sizeof(kHeaderPrefix) - 1));
  const absl::string_view flag = rest.substr(0, rest.find(' '));
  if (flag != "0" && flag != "1") return absl::InvalidArgumentError("autostart must be 0 or 1");
  rest.remove_prefix(flag.size());
  int32_t id = -1;
  if (!rest.empty() && (!absl::ConsumePrefix(&rest, " id=") || !absl::SimpleAtoi(rest, &id) || id < 0)) {
    return absl::InvalidArgumentError("bad id in the header line");
  }
  absl::StatusOr<DomainDef> def = ParseDomainXml(text.substr(nl + 1), spec::HostLimits{}, /*validate=*/false);
  if (!def.ok()) return def.status();
  return StoredDomain{std::move(*def), flag == "1", id};
}

absl::Status FileDomainStore::Init() {
  if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoStatus(absl::StrCat("mkdir ", dir_));
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) return ErrnoStatus(absl::StrCat("opendir ", dir_));
  while (dirent* e = ::readdir(d)) {
    if (absl::StartsWith(e->d_name, kTempPrefix)) ::unlinkat(::dirfd(d), e->d_name, 0);
  }
  ::closedir(d);
  return absl::OkStatus();
}

DomainStore::Loaded FileDomainStore::LoadAll() const {
  Loaded out;
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) {
    out.problems.push_back(absl::StrCat("cannot read ", dir_, ": ", std::strerror(errno)));
    return out;
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    absl::string_view name(e->d_name);
    if (absl::EndsWith(name, ".xml") && !absl::StartsWith(name, ".")) names.emplace_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& file : names) {
    const std::string path = dir_ + "/" + file;
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    absl::StatusOr<StoredDomain> stored = ParseStoredDomain(text.str());
    if (!stored.ok()) {
      out.problems.push_back(absl::StrCat(path, ": ", stored.status().message()));
      continue;
    }
    if (stored->def.spec.name + ".xml" != file) {
      out.problems.push_back(absl::StrCat(path, ": holds domain '", stored->def.spec.name, "', not '",
                                          file.substr(0, file.size() - 4), "'"));
      continue;
    }
    out.domains.push_back(std::move(*stored));
  }
  return out;
}

absl::Status FileDomainStore::Save(const DomainDef& def, bool autostart, int32_t id) {
  const std::string final_path = PathOf(def.spec.name);
  std::string temp = absl::StrCat(dir_, "/", kTempPrefix, def.spec.name, ".XXXXXX");
  UniqueFd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (!fd) return ErrnoStatus(absl::StrCat("create a temporary file in ", dir_));
  absl::Status s = Annotate(WriteAll(fd.get(), FormatStoredDomain(def, autostart, id)), temp);
  if (s.ok() && ::fsync(fd.get()) != 0) s = ErrnoStatus(absl::StrCat("fsync ", temp));
  fd.reset();
  if (s.ok() && ::rename(temp.c_str(), final_path.c_str()) != 0) s = ErrnoStatus(absl::StrCat("rename to ", final_path));
  if (!s.ok()) {
    ::unlink(temp.c_str());
    return s;
  }
  return SyncDir(dir_);
}

absl::Status FileDomainStore::Remove(const std::string& name) {
  const std::string path = PathOf(name);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus(absl::StrCat("remove ", path));
  return SyncDir(dir_);
}

}  // namespace dvm::libvirt
