#include "dsm/message.h"

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace dvm::dsm {
namespace {

void PutU32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void PutU64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t GetU32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{p[i]} << (8 * i);
  return v;
}
uint64_t GetU64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

}  // namespace

const char* MsgTypeName(MsgType type) {
  switch (type) {
    case MsgType::kReadReq:
      return "ReadReq";
    case MsgType::kWriteReq:
      return "WriteReq";
    case MsgType::kInv:
      return "Inv";
    case MsgType::kInvAck:
      return "InvAck";
    case MsgType::kFwdRead:
      return "FwdRead";
    case MsgType::kFwdWrite:
      return "FwdWrite";
    case MsgType::kReadData:
      return "ReadData";
    case MsgType::kWriteGrant:
      return "WriteGrant";
    case MsgType::kWriteback:
      return "Writeback";
    case MsgType::kDataResend:
      return "DataResend";
    case MsgType::kSupplierDead:
      return "SupplierDead";
    case MsgType::kLost:
      return "Lost";
    case MsgType::kLostReport:
      return "LostReport";
  }
  return "?";
}

std::string ToString(const Message& msg) {
  return absl::StrCat(MsgTypeName(msg.type), "(gfn=", msg.gfn.value(), " node=", msg.node.value(),
                      " seq=", msg.seq, msg.has_page() ? " +page" : "", ")");
}

std::array<uint8_t, kHeaderSize> EncodeHeader(const Message& msg) {
  std::array<uint8_t, kHeaderSize> out{};
  out[0] = kWireVersion;
  out[1] = static_cast<uint8_t>(msg.type);
  out[2] = msg.flags;
  PutU32(&out[4], msg.node.value());
  PutU64(&out[8], msg.gfn.value());
  PutU64(&out[16], msg.seq);
  return out;
}

std::vector<uint8_t> Encode(const Message& msg, std::span<const uint8_t> page) {
  std::array<uint8_t, kHeaderSize> header = EncodeHeader(msg);
  std::vector<uint8_t> out(kHeaderSize + page.size());
  std::memcpy(out.data(), header.data(), kHeaderSize);
  if (!page.empty()) std::memcpy(out.data() + kHeaderSize, page.data(), page.size());
  return out;
}

absl::StatusOr<Message> DecodeHeader(std::span<const uint8_t> header, uint32_t max_nodes) {
  if (header.size() < kHeaderSize) {
    return absl::InvalidArgumentError(absl::StrCat("dsm message too short: ", header.size()));
  }
  const uint8_t* p = header.data();
  if (p[0] != kWireVersion) {
    return absl::InvalidArgumentError(absl::StrCat("dsm message version ", p[0]));
  }
  if (p[1] == 0 || p[1] > kMaxMsgType) {
    return absl::InvalidArgumentError(absl::StrCat("dsm message type ", p[1]));
  }
  if ((p[2] & ~kHasPage) != 0 || p[3] != 0) {
    return absl::InvalidArgumentError("dsm message has unknown flags or reserved bits");
  }
  Message msg;
  msg.type = static_cast<MsgType>(p[1]);
  msg.flags = p[2];
  msg.node = NodeId(GetU32(p + 4));
  msg.gfn = Gfn(GetU64(p + 8));
  msg.seq = GetU64(p + 16);
  if (msg.node.value() >= max_nodes) {
    return absl::InvalidArgumentError(absl::StrCat("dsm message names node ", msg.node.value()));
  }
  // Guest frame numbers fit in 52 bits on x86-64; anything larger is garbage.
  if (msg.gfn.value() >= (uint64_t{1} << 52)) {
    return absl::InvalidArgumentError(absl::StrCat("dsm message gfn ", msg.gfn.value()));
  }
  return msg;
}

absl::StatusOr<Decoded> Decode(std::span<const uint8_t> bytes, uint32_t max_nodes) {
  absl::StatusOr<Message> msg = DecodeHeader(bytes, max_nodes);
  if (!msg.ok()) return msg.status();
  Decoded d{*msg, {}};
  size_t want = kHeaderSize + (d.msg.has_page() ? kPageSize : 0);
  if (bytes.size() != want) {
    return absl::InvalidArgumentError(
        absl::StrCat("dsm ", MsgTypeName(d.msg.type), " is ", bytes.size(), " bytes, want ", want));
  }
  if (d.msg.has_page()) d.page = bytes.subspan(kHeaderSize, kPageSize);
  return d;
}

}  // namespace dvm::dsm
