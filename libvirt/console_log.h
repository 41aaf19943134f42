// The size cap of a VM's log (its console and `dvm run`'s output, which the
// VM process appends to NAME.log itself, so the log survives a dvmd restart).
#ifndef DVM_LIBVIRT_CONSOLE_LOG_H_
#define DVM_LIBVIRT_CONSOLE_LOG_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace dvm::libvirt {

// Once `path` is over `max_bytes`, its content moves to PATH.old (replacing
// the one before) and PATH starts again empty; the VM's appends go on at the
// new end. A guest that writes without end so uses at most about twice
// `max_bytes` of the host's disk (plus what it writes between two checks).
absl::Status CapLog(const std::string& path, uint64_t max_bytes);

}  // namespace dvm::libvirt

#endif  // DVM_LIBVIRT_CONSOLE_LOG_H_
