#include "libvirt/xdr.h"

namespace dvm::libvirt {

void XdrWriter::U32(uint32_t v) {
  out_.push_back(static_cast<uint8_t>(v >> 24));
  out_.push_back(static_cast<uint8_t>(v >> 16));
  out_.push_back(static_cast<uint8_t>(v >> 8));
  out_.push_back(static_cast<uint8_t>(v));
}

void XdrWriter::U64(uint64_t v) {
  U32(static_cast<uint32_t>(v >> 32));
  U32(static_cast<uint32_t>(v));
}

void XdrWriter::Pad(size_t length) {
  while (length % 4 != 0) {
    out_.push_back(0);
    ++length;
  }
}

void XdrWriter::String(const std::string& s) {
  U32(static_cast<uint32_t>(s.size()));
  out_.insert(out_.end(), s.begin(), s.end());
  Pad(s.size());
}

void XdrWriter::Opaque(std::span<const uint8_t> bytes) {
  U32(static_cast<uint32_t>(bytes.size()));
  FixedOpaque(bytes);
}

void XdrWriter::FixedOpaque(std::span<const uint8_t> bytes) {
  out_.insert(out_.end(), bytes.begin(), bytes.end());
  Pad(bytes.size());
}

void XdrWriter::OptionalString(const std::optional<std::string>& s) {
  Bool(s.has_value());
  if (s) String(*s);
}

void XdrWriter::CharArray(const std::string& s, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    I32(i < s.size() ? static_cast<int8_t>(s[i]) : 0);
  }
}

bool XdrReader::Take(size_t n, const uint8_t** at) {
  if (!ok_ || n > remaining()) {
    ok_ = false;
    return false;
  }
  *at = in_.data() + pos_;
  pos_ += n;
  return true;
}

bool XdrReader::SkipPadding(size_t length) {
  const size_t pad = (4 - length % 4) % 4;
  const uint8_t* at = nullptr;
  return Take(pad, &at);
}

uint32_t XdrReader::U32() {
  const uint8_t* p = nullptr;
  if (!Take(4, &p)) return 0;
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

uint64_t XdrReader::U64() {
  const uint64_t high = U32();
  const uint64_t low = U32();
  return ok_ ? (high << 32) | low : 0;
}

bool XdrReader::Bool() {
  const uint32_t v = U32();
  if (v > 1) ok_ = false;
  return ok_ && v == 1;
}

std::string XdrReader::String(size_t max_length) {
  const uint32_t length = U32();
  if (!ok_ || length > max_length) {
    ok_ = false;
    return {};
  }
  const uint8_t* p = nullptr;
  if (!Take(length, &p) || !SkipPadding(length)) return {};
  return std::string(reinterpret_cast<const char*>(p), length);
}

std::vector<uint8_t> XdrReader::Opaque(size_t max_length) {
  const uint32_t length = U32();
  if (!ok_ || length > max_length) {
    ok_ = false;
    return {};
  }
  const uint8_t* p = nullptr;
  if (!Take(length, &p) || !SkipPadding(length)) return {};
  return std::vector<uint8_t>(p, p + length);
}

Uuid XdrReader::FixedUuid() {
  Uuid uuid{};
  const uint8_t* p = nullptr;
  if (Take(uuid.size(), &p)) std::copy(p, p + uuid.size(), uuid.begin());
  return uuid;
}

std::optional<std::string> XdrReader::OptionalString(size_t max_length) {
  if (!Bool()) return std::nullopt;
  std::string s = String(max_length);
  if (!ok_) return std::nullopt;
  return s;
}

}  // namespace dvm::libvirt
