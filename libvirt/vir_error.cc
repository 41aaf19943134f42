#include "libvirt/vir_error.h"

#include "absl/strings/numbers.h"
#include "absl/strings/cord.h"

namespace dvm::libvirt {
namespace {

constexpr char kPayloadUrl[] = "dvm.libvirt/error-code";

}  // namespace

absl::Status VirError(ErrorCode code, std::string message) {
  absl::StatusCode absl_code = absl::StatusCode::kFailedPrecondition;
  switch (code) {
    case ErrorCode::kNoDomain: absl_code = absl::StatusCode::kNotFound; break;
    case ErrorCode::kInvalidArg:
    case ErrorCode::kXmlError:
    case ErrorCode::kRpc: absl_code = absl::StatusCode::kInvalidArgument; break;
    case ErrorCode::kNoSupport:
    case ErrorCode::kConfigUnsupported:
    case ErrorCode::kArgumentUnsupported: absl_code = absl::StatusCode::kUnimplemented; break;
    case ErrorCode::kDomainExists: absl_code = absl::StatusCode::kAlreadyExists; break;
    case ErrorCode::kOperationDenied: absl_code = absl::StatusCode::kPermissionDenied; break;
    case ErrorCode::kInternalError:
    case ErrorCode::kOperationFailed: absl_code = absl::StatusCode::kInternal; break;
    default: break;
  }
  absl::Status status(absl_code, message);
  status.SetPayload(kPayloadUrl, absl::Cord(std::to_string(static_cast<int32_t>(code))));
  return status;
}

ErrorCode VirCodeOf(const absl::Status& status) {
  if (auto payload = status.GetPayload(kPayloadUrl)) {
    int32_t code = 0;
    if (absl::SimpleAtoi(std::string(*payload), &code)) return static_cast<ErrorCode>(code);
  }
  switch (status.code()) {
    case absl::StatusCode::kNotFound: return ErrorCode::kNoDomain;
    case absl::StatusCode::kInvalidArgument: return ErrorCode::kInvalidArg;
    case absl::StatusCode::kUnimplemented: return ErrorCode::kNoSupport;
    case absl::StatusCode::kAlreadyExists: return ErrorCode::kDomainExists;
    case absl::StatusCode::kFailedPrecondition: return ErrorCode::kOperationInvalid;
    case absl::StatusCode::kPermissionDenied: return ErrorCode::kOperationDenied;
    default: return ErrorCode::kOperationFailed;
  }
}

RemoteError ToRemoteError(const absl::Status& status) {
  RemoteError e;
  e.code = static_cast<int32_t>(VirCodeOf(status));
  e.domain = e.code == static_cast<int32_t>(ErrorCode::kRpc) ? kFromRpc : kFromDomain;
  e.message = std::string(status.message());
  return e;
}

}  // namespace dvm::libvirt
