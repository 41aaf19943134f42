// What keeps two dvmds apart and autostart to once per host boot.
#ifndef DVM_LIBVIRT_DAEMON_FILES_H_
#define DVM_LIBVIRT_DAEMON_FILES_H_

#include <string>

#include "absl/status/statusor.h"
#include "dvm/unique_fd.h"

namespace dvm::libvirt {

// Creates `state_dir` (mode 0700) if needed and takes an exclusive flock on
// state_dir/.lock, held as long as the descriptor is open. FailedPrecondition
// when another dvmd holds it: two daemons on one store would delete each
// other's files in the middle of a write and both adopt the same VMs.
absl::StatusOr<UniqueFd> LockStateDir(const std::string& state_dir);

// True the first time it is asked after the host booted: `run_dir` is on a
// tmpfs (/run), and a marker there says autostart already ran (as libvirt's
// virDriverShouldAutostart), so restarting dvmd does not start again the
// domains an administrator shut down.
bool FirstStartSinceBoot(const std::string& run_dir);

}  // namespace dvm::libvirt

#endif  // DVM_LIBVIRT_DAEMON_FILES_H_
