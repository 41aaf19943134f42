#include "libvirt/rpc_frame.h"

#include "absl/strings/str_cat.h"
#include "libvirt/xdr.h"

namespace dvm::libvirt {

absl::StatusOr<uint32_t> ParseFrameLength(std::span<const uint8_t, kLengthBytes> word, size_t max_frame) {
  XdrReader reader(word);
  const uint32_t length = reader.U32();
  if (length < kLengthBytes + kHeaderBytes) {
    return absl::InvalidArgumentError(absl::StrCat("frame length ", length, " is shorter than a header"));
  }
  if (length > max_frame) {
    return absl::InvalidArgumentError(absl::StrCat("frame length ", length, " exceeds the limit of ", max_frame));
  }
  return length;
}

absl::StatusOr<Header> DecodeHeader(std::span<const uint8_t> bytes) {
  if (bytes.size() < kHeaderBytes) return absl::InvalidArgumentError("truncated header");
  XdrReader reader(bytes.first(kHeaderBytes));
  Header h;
  h.program = reader.U32();
  h.version = reader.U32();
  h.procedure = reader.I32();
  const uint32_t type = reader.U32();
  h.serial = reader.U32();
  const uint32_t status = reader.U32();
  if (type > static_cast<uint32_t>(MessageType::kStreamHole)) {
    return absl::InvalidArgumentError(absl::StrCat("unknown message type ", type));
  }
  if (status > static_cast<uint32_t>(MessageStatus::kContinue)) {
    return absl::InvalidArgumentError(absl::StrCat("unknown message status ", status));
  }
  h.type = static_cast<MessageType>(type);
  h.status = static_cast<MessageStatus>(status);
  return h;
}

std::vector<uint8_t> EncodeFrame(const Header& header, std::span<const uint8_t> body) {
  XdrWriter w;
  w.U32(static_cast<uint32_t>(kLengthBytes + kHeaderBytes + body.size()));
  w.U32(header.program);
  w.U32(header.version);
  w.I32(header.procedure);
  w.U32(static_cast<uint32_t>(header.type));
  w.U32(header.serial);
  w.U32(static_cast<uint32_t>(header.status));
  std::vector<uint8_t> out = w.Take();
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

}  // namespace dvm::libvirt
