#include "net/wire.h"

#include <bit>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace dvm::net {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the wire is little-endian and encoded with memcpy");

template <typename T>
void Put(uint8_t* p, size_t off, T v) {
  std::memcpy(p + off, &v, sizeof(T));
}

template <typename T>
T Get(const uint8_t* p, size_t off) {
  T v;
  std::memcpy(&v, p + off, sizeof(T));
  return v;
}

bool ValidKind(uint8_t k) {
  return k >= static_cast<uint8_t>(FrameKind::kData) && k <= static_cast<uint8_t>(FrameKind::kBye);
}

}  // namespace

void EncodeFrameHeader(const FrameHeader& h, std::span<uint8_t, kFrameHeaderSize> out) {
  uint8_t* p = out.data();
  Put<uint32_t>(p, 0, kFrameMagic);
  p[4] = kWireVersion;
  p[5] = static_cast<uint8_t>(h.kind);
  p[6] = h.flags;
  p[7] = 0;
  Put<uint32_t>(p, 8, h.src);
  Put<uint32_t>(p, 12, h.dst);
  Put<uint64_t>(p, 16, h.session);
  Put<uint64_t>(p, 24, h.counter);
  Put<uint64_t>(p, 32, h.seq);
  Put<uint64_t>(p, 40, h.ack);
  Put<uint64_t>(p, 48, h.sack);
  Put<uint32_t>(p, 56, h.payload_len);
  Put<uint32_t>(p, 60, 0);
  std::memcpy(p + 64, h.mac, kMacSize);
}

absl::StatusOr<FrameHeader> DecodeFrameHeader(std::span<const uint8_t> in) {
  if (in.size() < kFrameHeaderSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("frame truncated: ", in.size(), " < ", kFrameHeaderSize, " header bytes"));
  }
  const uint8_t* p = in.data();
  if (Get<uint32_t>(p, 0) != kFrameMagic) return absl::InvalidArgumentError("bad frame magic");
  if (p[4] != kWireVersion) {
    return absl::InvalidArgumentError(absl::StrCat("unsupported wire version ", p[4]));
  }
  if (!ValidKind(p[5])) return absl::InvalidArgumentError(absl::StrCat("bad frame kind ", p[5]));
  if ((p[6] & ~kFrameFlagsMask) != 0 || p[7] != 0 || Get<uint32_t>(p, 60) != 0) {
    return absl::InvalidArgumentError("reserved frame bits set");
  }
  FrameHeader h;
  h.kind = static_cast<FrameKind>(p[5]);
  h.flags = p[6];
  h.src = Get<uint32_t>(p, 8);
  h.dst = Get<uint32_t>(p, 12);
  h.session = Get<uint64_t>(p, 16);
  h.counter = Get<uint64_t>(p, 24);
  h.seq = Get<uint64_t>(p, 32);
  h.ack = Get<uint64_t>(p, 40);
  h.sack = Get<uint64_t>(p, 48);
  h.payload_len = Get<uint32_t>(p, 56);
  std::memcpy(h.mac, p + 64, kMacSize);
  if (h.payload_len > kMaxFramePayload) {
    return absl::InvalidArgumentError(absl::StrCat("frame payload too large: ", h.payload_len));
  }
  if (h.kind != FrameKind::kData && h.payload_len != 0) {
    return absl::InvalidArgumentError("control frame with payload");
  }
  return h;
}

absl::StatusOr<FrameView> DecodeFrame(std::span<const uint8_t> in) {
  absl::StatusOr<FrameHeader> h = DecodeFrameHeader(in);
  if (!h.ok()) return h.status();
  if (in.size() - kFrameHeaderSize < h->payload_len) {
    return absl::InvalidArgumentError(absl::StrCat("frame payload truncated: ",
                                                   in.size() - kFrameHeaderSize, " < ",
                                                   h->payload_len));
  }
  return FrameView{*h, in.subspan(kFrameHeaderSize, h->payload_len)};
}

void AppendMessage(uint16_t channel, uint16_t type, std::span<const uint8_t> body,
                   const uint8_t* page, std::vector<uint8_t>* out) {
  size_t start = out->size();
  out->resize(start + EncodedMessageSize(body.size(), page != nullptr));
  uint8_t* p = out->data() + start;
  Put<uint16_t>(p, 0, channel);
  Put<uint16_t>(p, 2, type);
  Put<uint16_t>(p, 4, static_cast<uint16_t>(body.size()));
  Put<uint16_t>(p, 6, page != nullptr ? kMsgHasPage : 0);
  if (!body.empty()) std::memcpy(p + kMessageHeaderSize, body.data(), body.size());
  if (page != nullptr) std::memcpy(p + kMessageHeaderSize + body.size(), page, kPageSize);
}

absl::StatusOr<MessageView> DecodeMessage(std::span<const uint8_t> in) {
  if (in.size() < kMessageHeaderSize) {
    return absl::InvalidArgumentError(absl::StrCat("message truncated: ", in.size(), " bytes"));
  }
  const uint8_t* p = in.data();
  MessageHeader h{Get<uint16_t>(p, 0), Get<uint16_t>(p, 2), Get<uint16_t>(p, 4),
                  Get<uint16_t>(p, 6)};
  if ((h.flags & ~kMsgFlagsMask) != 0) return absl::InvalidArgumentError("bad message flags");
  if (h.body_len > kMaxBodyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("message body too large: ", h.body_len));
  }
  bool has_page = (h.flags & kMsgHasPage) != 0;
  size_t want = EncodedMessageSize(h.body_len, has_page);
  if (in.size() != want) {
    return absl::InvalidArgumentError(
        absl::StrCat("message length ", in.size(), " != ", want, " from its header"));
  }
  MessageView m;
  m.channel = h.channel;
  m.type = h.type;
  m.body = in.subspan(kMessageHeaderSize, h.body_len);
  if (has_page) m.page = p + kMessageHeaderSize + h.body_len;
  return m;
}

}  // namespace dvm::net
