// The DSM coherence protocol's wire message: a fixed 24-byte header, optionally
// followed by one 4 KiB page. The net layer carries the encoded bytes opaquely;
// everything a peer sends is validated here before the protocol sees it.
//
// Header layout (little endian):
//   0  u8  version (kWireVersion)
//   1  u8  type (MsgType)
//   2  u8  flags (kHasPage; other bits must be zero)
//   3  u8  reserved, zero
//   4  u32 node: the requester (requests, forwards) or the dead node (kLost...)
//   8  u64 gfn
//   16 u64 seq: the requester's request number for this page, echoed by the
//          home so late recovery messages can be matched to the request
#ifndef DVM_DSM_MESSAGE_H_
#define DVM_DSM_MESSAGE_H_

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dvm/types.h"

namespace dvm::dsm {

inline constexpr uint8_t kWireVersion = 1;
inline constexpr size_t kHeaderSize = 24;

enum class MsgType : uint8_t {
  kReadReq = 1,        // requester -> home: want a read-only copy
  kWriteReq = 2,       // requester -> home: want the writable copy (miss or upgrade)
  kInv = 3,            // home -> sharer: drop your copy, then ack
  kInvAck = 4,         // sharer -> home
  kFwdRead = 5,        // home -> owner: downgrade, send the page to `node` and to home
  kFwdWrite = 6,       // home -> owner: send the page to `node` and drop it
  kReadData = 7,       // home or owner -> reader; carries the page
  kWriteGrant = 8,     // home or owner -> writer; carries the page unless an upgrade
  kWriteback = 9,      // owner -> home after kFwdRead; carries the page
  kDataResend = 10,    // home -> reader whose forwarded data died with its sender
  kSupplierDead = 11,  // home -> writer whose forwarded data died with its sender
  kLost = 12,          // -> requester: page lost with node `node`
  kLostReport = 13,    // owner-elect -> home: my page died in flight from `node`
};
inline constexpr uint8_t kMaxMsgType = 13;

// Flag: a 4 KiB page follows the header. The protocol never holds page bytes:
// on Send the engine (or the simulator) attaches the sender's local copy, and
// on Install it uses the page that came with the message being handled.
inline constexpr uint8_t kHasPage = 1;

struct Message {
  MsgType type = MsgType::kReadReq;
  uint8_t flags = 0;
  NodeId node;
  Gfn gfn;
  uint64_t seq = 0;

  bool has_page() const { return (flags & kHasPage) != 0; }
  friend bool operator==(const Message&, const Message&) = default;
};

const char* MsgTypeName(MsgType type);
std::string ToString(const Message& msg);

// A decoded message and, when it has one, a view of its page inside the input.
struct Decoded {
  Message msg;
  std::span<const uint8_t> page;
};

std::array<uint8_t, kHeaderSize> EncodeHeader(const Message& msg);
// Header plus page. `page` must be kPageSize bytes iff msg.has_page().
std::vector<uint8_t> Encode(const Message& msg, std::span<const uint8_t> page);
// Rejects short or long input, unknown versions, types and flags, nonzero
// reserved bytes, node ids >= max_nodes and a page whose presence disagrees
// with the flag.
absl::StatusOr<Decoded> Decode(std::span<const uint8_t> bytes, uint32_t max_nodes);
// Checks and decodes the first kHeaderSize bytes (the rest is the caller's:
// a transport may carry the page apart from the header). Same checks as
// Decode except the total size.
absl::StatusOr<Message> DecodeHeader(std::span<const uint8_t> header, uint32_t max_nodes);

}  // namespace dvm::dsm

#endif  // DVM_DSM_MESSAGE_H_
