#include "libvirt/console_log.h"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "dvm/status.h"
#include "dvm/unique_fd.h"
#include "dvm/unix_socket.h"

namespace dvm::libvirt {

absl::Status CapLog(const std::string& path, uint64_t max_bytes) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return absl::OkStatus();  // not written yet
  if (static_cast<uint64_t>(st.st_size) <= max_bytes) return absl::OkStatus();
  UniqueFd log(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!log) return ErrnoStatus(absl::StrCat("open ", path));
  const std::string old = path + ".old";
  const std::string temp = old + ".tmp";
  UniqueFd out(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
  if (!out) return ErrnoStatus(absl::StrCat("open ", temp));
  off_t offset = 0;
  while (true) {
    const ssize_t n = ::sendfile(out.get(), log.get(), &offset, 1 << 20);
    if (n < 0) return ErrnoStatus(absl::StrCat("copy ", path));
    if (n == 0) break;
  }
  if (::rename(temp.c_str(), old.c_str()) != 0) return ErrnoStatus(absl::StrCat("rename to ", old));
  // What the VM wrote between the copy and this is lost; the VM's appends
  // go on at the new end.
  if (::ftruncate(log.get(), 0) != 0) return ErrnoStatus(absl::StrCat("truncate ", path));
  UniqueFd append(::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  if (append) {
    (void)WriteAll(append.get(), absl::StrCat("---- dvmd: the log reached ", offset, " bytes; what came before is in ",
                                              old, "\n"));
  }
  return absl::OkStatus();
}

}  // namespace dvm::libvirt
