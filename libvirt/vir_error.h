// A libvirt error code carried inside an absl::Status, so code below the RPC
// layer can say which virErrorNumber a client should see and still use
// RETURN_IF_ERROR / ASSIGN_OR_RETURN.
#ifndef DVM_LIBVIRT_VIR_ERROR_H_
#define DVM_LIBVIRT_VIR_ERROR_H_

#include <string>

#include "absl/status/status.h"
#include "libvirt/remote_messages.h"

namespace dvm::libvirt {

absl::Status VirError(ErrorCode code, std::string message);

// The code a status carries, or one that fits its absl code when it carries
// none (NotFound -> kNoDomain, InvalidArgument -> kInvalidArg, ...).
ErrorCode VirCodeOf(const absl::Status& status);

// The remote_error a client gets for `status` (which must not be OK).
RemoteError ToRemoteError(const absl::Status& status);

}  // namespace dvm::libvirt

#endif  // DVM_LIBVIRT_VIR_ERROR_H_
