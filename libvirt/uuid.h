// Domain UUIDs as libvirt writes them.
#ifndef DVM_LIBVIRT_UUID_H_
#define DVM_LIBVIRT_UUID_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "libvirt/xdr.h"

namespace dvm::libvirt {

// "4fe1b7a0-...": 36 characters. Parsing also takes 32 hex digits without dashes.
std::string UuidToString(const Uuid& uuid);
std::optional<Uuid> ParseUuid(absl::string_view text);
Uuid RandomUuid();  // version 4

}  // namespace dvm::libvirt

#endif  // DVM_LIBVIRT_UUID_H_
