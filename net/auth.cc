#include "net/auth.h"

#include <sodium.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "absl/strings/str_cat.h"

namespace dvm::net {
namespace {

constexpr size_t kHeaderMacOffset = kFrameHeaderSize - kMacSize;

void OneTimeKey(const std::array<uint8_t, 32>& key, const FrameHeader& h,
                uint8_t otk[crypto_onetimeauth_KEYBYTES]) {
  static_assert(crypto_stream_xchacha20_NONCEBYTES == 24);
  uint8_t nonce[24] = {};
  std::memcpy(nonce, &h.session, 8);
  std::memcpy(nonce + 8, &h.counter, 8);
  std::memcpy(nonce + 16, &h.src, 4);
  std::memcpy(nonce + 20, &h.dst, 4);
  crypto_stream_xchacha20(otk, crypto_onetimeauth_KEYBYTES, nonce, key.data());
}

void Tag(const std::array<uint8_t, 32>& key, const FrameHeader& h,
         std::span<const uint8_t> header64, std::span<const uint8_t> payload,
         uint8_t out[kMacSize]) {
  static_assert(crypto_onetimeauth_BYTES == kMacSize);
  uint8_t otk[crypto_onetimeauth_KEYBYTES];
  OneTimeKey(key, h, otk);
  crypto_onetimeauth_state st;
  crypto_onetimeauth_init(&st, otk);
  crypto_onetimeauth_update(&st, header64.data(), kHeaderMacOffset);
  if (!payload.empty()) crypto_onetimeauth_update(&st, payload.data(), payload.size());
  crypto_onetimeauth_final(&st, out);
  sodium_memzero(otk, sizeof(otk));
}

}  // namespace

absl::StatusOr<ClusterKey> ClusterKey::FromBytes(std::span<const uint8_t> secret) {
  if (sodium_init() < 0) return absl::InternalError("sodium_init failed");
  if (secret.size() < kMinKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("cluster key has ", secret.size(), " bytes, need at least ", kMinKeyBytes));
  }
  ClusterKey k;
  // Hash so that any secret length (e.g. a text file) gives a uniform key.
  crypto_generichash(k.key_.data(), k.key_.size(), secret.data(), secret.size(),
                     reinterpret_cast<const uint8_t*>("dvm-net-v1"), 10);
  return k;
}

absl::StatusOr<ClusterKey> ClusterKey::FromFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(absl::StrCat("cannot read cluster key file ", path));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  absl::StatusOr<ClusterKey> k = FromBytes(bytes);
  sodium_memzero(bytes.data(), bytes.size());
  if (!k.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", k.status().message()));
  return k;
}

void ClusterKey::Sign(const FrameHeader& h, std::span<const uint8_t> header64,
                      std::span<const uint8_t> payload, uint8_t mac[kMacSize]) const {
  Tag(key_, h, header64, payload, mac);
}

bool ClusterKey::Verify(const FrameHeader& h, std::span<const uint8_t> header64,
                        std::span<const uint8_t> payload) const {
  uint8_t want[kMacSize];
  Tag(key_, h, header64, payload, want);
  return crypto_verify_16(want, h.mac) == 0;
}

void ClusterKey::SignAndEncode(FrameHeader* h, std::span<const uint8_t> payload,
                               std::span<uint8_t, kFrameHeaderSize> out) const {
  std::memset(h->mac, 0, kMacSize);
  EncodeFrameHeader(*h, out);
  Tag(key_, *h, out, payload, h->mac);
  std::memcpy(out.data() + kHeaderMacOffset, h->mac, kMacSize);
}

}  // namespace dvm::net
