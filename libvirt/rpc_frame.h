// libvirt's RPC framing (src/rpc/virnetprotocol.x): every message is
//
//   length  u32, the whole message in bytes including this word
//   header  {program, version, procedure, type, serial, status}, 6 words
//   body    XDR: a procedure's args (call), its ret or a remote_error (reply)
//
// A call's serial is echoed in its reply. Keepalive is its own program:
// PING and PONG are bodiless messages (type kMessage, serial 0).
#ifndef DVM_LIBVIRT_RPC_FRAME_H_
#define DVM_LIBVIRT_RPC_FRAME_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"

namespace dvm::libvirt {

inline constexpr uint32_t kRemoteProgram = 0x20008086;
inline constexpr uint32_t kRemoteVersion = 1;
inline constexpr uint32_t kKeepaliveProgram = 0x6b656570;
inline constexpr uint32_t kKeepaliveVersion = 1;
inline constexpr int32_t kKeepalivePing = 1;
inline constexpr int32_t kKeepalivePong = 2;

enum class MessageType : uint32_t {
  kCall = 0,
  kReply = 1,
  kMessage = 2,
  kStream = 3,
  kCallWithFds = 4,
  kReplyWithFds = 5,
  kStreamHole = 6,
};

enum class MessageStatus : uint32_t { kOk = 0, kError = 1, kContinue = 2 };

inline constexpr size_t kLengthBytes = 4;
inline constexpr size_t kHeaderBytes = 24;
// What a client may send us. libvirt itself allows 32 MiB; nothing dvmd
// serves needs more than a domain XML, which libvirt caps at 4 MiB as a
// string (VIR_NET_MESSAGE_STRING_MAX).
inline constexpr size_t kMaxStringBytes = 4 << 20;
inline constexpr size_t kMaxIncomingFrame = kLengthBytes + kHeaderBytes + kMaxStringBytes + 1024;

struct Header {
  uint32_t program = kRemoteProgram;
  uint32_t version = kRemoteVersion;
  int32_t procedure = 0;
  MessageType type = MessageType::kCall;
  uint32_t serial = 0;
  MessageStatus status = MessageStatus::kOk;
};

// The total length announced by a frame's first 4 bytes, if it is one we
// accept: at least a header, at most `max_frame` (kMaxIncomingFrame for clients).
absl::StatusOr<uint32_t> ParseFrameLength(std::span<const uint8_t, kLengthBytes> word,
                                          size_t max_frame = kMaxIncomingFrame);

// Decodes the 24-byte header that follows the length word. Fails on a type or
// status libvirt does not define.
absl::StatusOr<Header> DecodeHeader(std::span<const uint8_t> bytes);

// A whole frame: length word, header, body.
std::vector<uint8_t> EncodeFrame(const Header& header, std::span<const uint8_t> body);

}  // namespace dvm::libvirt

#endif  // DVM_LIBVIRT_RPC_FRAME_H_
