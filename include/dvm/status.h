// absl::Status helpers that Debian's Abseil 20220623 lacks: RETURN_IF_ERROR,
// ASSIGN_OR_RETURN, and errno conversion that names the failing call.
#ifndef DVM_STATUS_H_
#define DVM_STATUS_H_

#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace dvm {

// Converts errno (or any errno value) to a Status whose message names what
// failed: ErrnoStatus("open /dev/kvm") -> "open /dev/kvm: No such file or directory".
absl::Status ErrnoStatus(absl::string_view what, int errno_value);
absl::Status ErrnoStatus(absl::string_view what);  // uses the current errno

// Prefixes a status message with context, keeping the code. OK stays OK.
absl::Status Annotate(const absl::Status& status, absl::string_view context);

}  // namespace dvm

#define DVM_STATUS_CONCAT_INNER_(a, b) a##b
#define DVM_STATUS_CONCAT_(a, b) DVM_STATUS_CONCAT_INNER_(a, b)

// Returns from the current function if `expr` (a Status) is not OK.
#define RETURN_IF_ERROR(expr)                                   \
  do {                                                          \
    ::absl::Status dvm_status_ = (expr);                        \
    if (!dvm_status_.ok()) return dvm_status_;                  \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, Foo());` declares or assigns x from a StatusOr,
// returning its status if it holds an error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  DVM_ASSIGN_OR_RETURN_IMPL_(DVM_STATUS_CONCAT_(dvm_statusor_, __LINE__), lhs, expr)
#define DVM_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return std::move(tmp).status();   \
  lhs = std::move(tmp).value()

#endif  // DVM_STATUS_H_
