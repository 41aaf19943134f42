#include "libvirt/daemon_files.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "dvm/status.h"

namespace dvm::libvirt {

absl::StatusOr<UniqueFd> LockStateDir(const std::string& state_dir) {
  if (::mkdir(state_dir.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoStatus(absl::StrCat("mkdir ", state_dir));
  const std::string path = state_dir + "/.lock";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return ErrnoStatus(absl::StrCat("open ", path));
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat("another dvmd uses ", state_dir, " (", path, " is locked)"));
    }
    return ErrnoStatus(absl::StrCat("flock ", path));
  }
  return fd;
}

bool FirstStartSinceBoot(const std::string& run_dir) {
  ::mkdir(run_dir.c_str(), 0700);
  const std::string marker = run_dir + "/autostarted";
  UniqueFd fd(::open(marker.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  return fd.valid() || errno != EEXIST;  // a marker that cannot be made: start, as before
}

}  // namespace dvm::libvirt
