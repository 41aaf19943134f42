#include "libvirt/uuid.h"

#include <sys/random.h>

#include <charconv>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"

namespace dvm::libvirt {

std::string UuidToString(const Uuid& u) {
  return absl::StrFormat("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3],
                         u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

std::optional<Uuid> ParseUuid(absl::string_view text) {
  std::string hex;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '-') {
      if (text.size() != 36 || (i != 8 && i != 13 && i != 18 && i != 23)) return std::nullopt;
      continue;
    }
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    hex += c;
  }
  if (hex.size() != 32) return std::nullopt;
  Uuid u{};
  for (size_t i = 0; i < 16; ++i) {
    std::from_chars(hex.data() + 2 * i, hex.data() + 2 * i + 2, u[i], 16);
  }
  return u;
}

Uuid RandomUuid() {
  Uuid u{};
  size_t got = 0;
  while (got < u.size()) {
    ssize_t n = getrandom(u.data() + got, u.size() - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  u[6] = (u[6] & 0x0f) | 0x40;  // version 4
  u[8] = (u[8] & 0x3f) | 0x80;  // RFC 4122 variant
  return u;
}

}  // namespace dvm::libvirt
