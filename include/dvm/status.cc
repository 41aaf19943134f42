#include "dvm/status.h"

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "dvm/types.h"

namespace dvm {

absl::Status ErrnoStatus(absl::string_view what, int errno_value) {
  return absl::ErrnoToStatus(errno_value, what);
}

absl::Status ErrnoStatus(absl::string_view what) { return ErrnoStatus(what, errno); }

absl::Status Annotate(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(context, ": ", status.message()));
}

std::string FormatSize(uint64_t bytes) {
  constexpr uint64_t kTiB = 1024 * kGiB;
  if (bytes != 0 && bytes % kTiB == 0) return absl::StrCat(bytes / kTiB, " TiB");
  if (bytes != 0 && bytes % kGiB == 0) return absl::StrCat(bytes / kGiB, " GiB");
  if (bytes != 0 && bytes % kMiB == 0) return absl::StrCat(bytes / kMiB, " MiB");
  // Sizes that are not whole units (host RAM, say) read better rounded.
  if (bytes >= kGiB) return absl::StrFormat("%.1f GiB", static_cast<double>(bytes) / kGiB);
  if (bytes >= kMiB) return absl::StrFormat("%.1f MiB", static_cast<double>(bytes) / kMiB);
  if (bytes != 0 && bytes % kKiB == 0) return absl::StrCat(bytes / kKiB, " KiB");
  return absl::StrCat(bytes, " B");
}

}  // namespace dvm
