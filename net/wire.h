// The on-the-wire format shared by every transport.
//
// Two layers, both fixed-size headers, little-endian, versioned:
//
//   frame   = FrameHeader (kFrameHeaderSize bytes, MAC last) + payload
//   payload = a fragment of an encoded message (DPDK splits a message into
//             frames that fit the MTU; TCP sends one message per frame)
//   message = MessageHeader (kMessageHeaderSize bytes) + body + optional page
//
//   FrameHeader
//     0  u32 magic 'DVMF'      4  u8 version   5 u8 kind   6 u8 flags  7 u8 0
//     8  u32 src node         12  u32 dst node
//     16 u64 session           random per sender process: a restarted peer is a new peer
//     24 u64 counter           strictly increasing per sender session; the MAC nonce
//     32 u64 seq               reliability sequence number of this frame (data only)
//     40 u64 ack               cumulative: every seq < ack was received
//     48 u64 sack              bit i: seq ack+1+i was received
//     56 u32 payload_len      60  u32 0
//     64 u8[16] mac            over bytes [0, 64) and the payload
//
//   MessageHeader
//     0 u16 channel   2 u16 type   4 u16 body_len   6 u16 flags (kMsgHasPage)
//
// Every decoder checks bounds and values and returns an error for anything a
// peer could get wrong; callers drop and count, they never crash.
#ifndef DVM_NET_WIRE_H_
#define DVM_NET_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dvm/types.h"

namespace dvm::net {

inline constexpr uint32_t kFrameMagic = 0x464d5644;  // "DVMF" in memory order
inline constexpr uint8_t kWireVersion = 1;
inline constexpr size_t kMacSize = 16;
inline constexpr size_t kFrameHeaderSize = 64 + kMacSize;
inline constexpr size_t kMessageHeaderSize = 8;

// Opaque bytes a message may carry besides its optional page. The DSM and
// I/O router messages are far smaller; the cap bounds every buffer.
inline constexpr size_t kMaxBodyBytes = 1024;
inline constexpr size_t kMaxMessageBytes = kMessageHeaderSize + kMaxBodyBytes + kPageSize;
// A frame never carries more than one whole message.
inline constexpr size_t kMaxFramePayload = kMaxMessageBytes;

enum class FrameKind : uint8_t {
  kData = 1,   // carries (a fragment of) a message
  kAck = 2,    // ack/sack only; also the keepalive
  kHello = 3,  // first frame on a TCP connection: proves the sender holds the key
  kBye = 4,    // orderly shutdown: the receiver reports the peer down at once
};

// Frame flags.
inline constexpr uint8_t kFrameLastFragment = 1;  // this fragment ends a message
inline constexpr uint8_t kFrameFlagsMask = kFrameLastFragment;

// Message flags.
inline constexpr uint16_t kMsgHasPage = 1;
inline constexpr uint16_t kMsgFlagsMask = kMsgHasPage;

struct FrameHeader {
  FrameKind kind = FrameKind::kData;
  uint8_t flags = 0;
  uint32_t src = 0;
  uint32_t dst = 0;
  uint64_t session = 0;
  uint64_t counter = 0;
  uint64_t seq = 0;
  uint64_t ack = 0;
  uint64_t sack = 0;
  uint32_t payload_len = 0;
  uint8_t mac[kMacSize] = {};
};

// Writes the header (MAC included as stored in `h`) into out[0, kFrameHeaderSize).
void EncodeFrameHeader(const FrameHeader& h, std::span<uint8_t, kFrameHeaderSize> out);

// Parses and validates a header: magic, version, kind, flags, reserved bytes
// and payload_len <= kMaxFramePayload. Does not check the MAC.
absl::StatusOr<FrameHeader> DecodeFrameHeader(std::span<const uint8_t> in);

// Parses a whole frame: header plus exactly payload_len bytes following it
// (`in` may be longer, e.g. an Ethernet frame padded to its minimum size).
struct FrameView {
  FrameHeader header;
  std::span<const uint8_t> payload;
};
absl::StatusOr<FrameView> DecodeFrame(std::span<const uint8_t> in);

struct MessageHeader {
  uint16_t channel = 0;
  uint16_t type = 0;
  uint16_t body_len = 0;
  uint16_t flags = 0;
};

// A decoded message; the spans point into the buffer that was decoded.
struct MessageView {
  uint16_t channel = 0;
  uint16_t type = 0;
  std::span<const uint8_t> body;
  const uint8_t* page = nullptr;  // kPageSize bytes, or nullptr
};

// Size of an encoded message with this body and page presence.
constexpr size_t EncodedMessageSize(size_t body_len, bool has_page) {
  return kMessageHeaderSize + body_len + (has_page ? kPageSize : 0);
}

// Appends the encoding of a message to `out`. body.size() must be <= kMaxBodyBytes
// (the caller's contract; Transport::Send checks it and returns an error).
void AppendMessage(uint16_t channel, uint16_t type, std::span<const uint8_t> body,
                   const uint8_t* page, std::vector<uint8_t>* out);

// Parses an encoded message that must fill `in` exactly.
absl::StatusOr<MessageView> DecodeMessage(std::span<const uint8_t> in);

}  // namespace dvm::net

#endif  // DVM_NET_WIRE_H_
