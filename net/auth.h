// Per-frame authentication with the cluster key.
//
// Every node of a cluster reads the same key file. Each frame carries a
// Poly1305 tag over its header (bytes [0, 64)) and payload; the one-time
// Poly1305 key is derived with XChaCha20 from the cluster key and a 24-byte
// nonce (sender session, frame counter, source and destination node), unique per
// frame because a sender's counter toward one peer never repeats within a
// session and sessions are random.
// Poly1305 runs at memory speed, so a 4 KiB page costs little next to the
// hop itself (HMAC-SHA256 would cost several microseconds per page here).
#ifndef DVM_NET_AUTH_H_
#define DVM_NET_AUTH_H_

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "net/wire.h"

namespace dvm::net {

class ClusterKey {
 public:
  static constexpr size_t kMinKeyBytes = 16;

  // Derives the key from arbitrary secret bytes (at least kMinKeyBytes).
  static absl::StatusOr<ClusterKey> FromBytes(std::span<const uint8_t> secret);
  // Reads the secret from a file (e.g. VmSpec::cluster_key_file).
  static absl::StatusOr<ClusterKey> FromFile(const std::string& path);

  // Computes the tag of a frame whose header is encoded in header[0, 64) and
  // stores it in `mac`. `h` supplies the nonce fields.
  void Sign(const FrameHeader& h, std::span<const uint8_t> header64,
            std::span<const uint8_t> payload, uint8_t mac[kMacSize]) const;

  // Checks `h.mac` against the frame's bytes in constant time.
  bool Verify(const FrameHeader& h, std::span<const uint8_t> header64,
              std::span<const uint8_t> payload) const;

  // Encodes `h` into frame[0, kFrameHeaderSize) with a fresh MAC over the
  // header and `payload`. Convenience for senders.
  void SignAndEncode(FrameHeader* h, std::span<const uint8_t> payload,
                     std::span<uint8_t, kFrameHeaderSize> out) const;

 private:
  ClusterKey() = default;
  std::array<uint8_t, 32> key_{};
};

}  // namespace dvm::net

#endif  // DVM_NET_AUTH_H_
