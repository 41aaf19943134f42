// XDR (RFC 4506) as libvirt's rpcgen-generated code puts it on the wire:
// big-endian 32-bit words, 64-bit "hyper"s, strings and opaques padded to a
// word, optional values as a 0/1 word followed by the value.
//
// rpcgen quirks the structs in remote_messages.h rely on:
//  - `char`, `unsigned char`, `short` and `bool` each take a whole word;
//  - `char x[N]` is N such words (not N bytes), and `char x<N>` a count then
//    that many words;
//  - a UUID (`opaque[16]`) is 16 raw bytes.
//
// XdrReader never reads past its buffer: every read checks the bytes left and
// a declared length against both the bytes left and the caller's limit. The
// first failure is sticky (later reads return zero values) so a decoder can
// read a whole struct and check ok() once.
#ifndef DVM_LIBVIRT_XDR_H_
#define DVM_LIBVIRT_XDR_H_

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace dvm::libvirt {

using Uuid = std::array<uint8_t, 16>;

class XdrWriter {
 public:
  void U32(uint32_t v);
  void I32(int32_t v) { U32(static_cast<uint32_t>(v)); }
  void U64(uint64_t v);
  void I64(int64_t v) { U64(static_cast<uint64_t>(v)); }
  void Bool(bool v) { U32(v ? 1 : 0); }
  // A variable-length string or opaque: length word, bytes, zero padding.
  void String(const std::string& s);
  void Opaque(std::span<const uint8_t> bytes);
  // A fixed-length opaque (no length word), e.g. a UUID.
  void FixedOpaque(std::span<const uint8_t> bytes);
  // remote_string: a "pointer" flag word, then the string if present.
  void OptionalString(const std::optional<std::string>& s);
  // rpcgen's `char x[N]`: exactly N words, one per character, zero-filled.
  void CharArray(const std::string& s, size_t n);

  const std::vector<uint8_t>& bytes() const { return out_; }
  std::vector<uint8_t> Take() { return std::move(out_); }

 private:
  void Pad(size_t length);
  std::vector<uint8_t> out_;
};

class XdrReader {
 public:
  explicit XdrReader(std::span<const uint8_t> in) : in_(in) {}

  uint32_t U32();
  int32_t I32() { return static_cast<int32_t>(U32()); }
  uint64_t U64();
  int64_t I64() { return static_cast<int64_t>(U64()); }
  // Only 0 and 1 are booleans; anything else fails the read.
  bool Bool();
  // Fails if the declared length exceeds `max_length` or the bytes left.
  std::string String(size_t max_length);
  std::vector<uint8_t> Opaque(size_t max_length);
  Uuid FixedUuid();
  std::optional<std::string> OptionalString(size_t max_length);

  bool ok() const { return ok_; }
  bool AtEnd() const { return pos_ == in_.size(); }
  size_t remaining() const { return in_.size() - pos_; }
  // Marks the input bad (a decoder found a value it cannot accept).
  void Fail() { ok_ = false; }

 private:
  bool Take(size_t n, const uint8_t** at);
  bool SkipPadding(size_t length);

  std::span<const uint8_t> in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace dvm::libvirt

#endif  // DVM_LIBVIRT_XDR_H_
