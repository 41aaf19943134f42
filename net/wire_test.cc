#include "net/wire.h"

#include <cstring>
#include <vector>

#include "gtest/gtest.h"

namespace dvm::net {
namespace {

std::vector<uint8_t> EncodeFrame(const FrameHeader& h, std::span<const uint8_t> payload) {
  std::vector<uint8_t> out(kFrameHeaderSize);
  EncodeFrameHeader(h, std::span<uint8_t, kFrameHeaderSize>(out.data(), kFrameHeaderSize));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

TEST(WireTest, FrameRoundTrip) {
  FrameHeader h;
  h.kind = FrameKind::kData;
  h.flags = kFrameLastFragment;
  h.src = 3;
  h.dst = 7;
  h.session = 0x1122334455667788;
  h.counter = 99;
  h.seq = 12345;
  h.ack = 600;
  h.sack = 0x5;
  std::vector<uint8_t> payload = {1, 2, 3, 4, 5};
  h.payload_len = payload.size();
  for (size_t i = 0; i < kMacSize; ++i) h.mac[i] = static_cast<uint8_t>(i);
  std::vector<uint8_t> bytes = EncodeFrame(h, payload);
  bytes.push_back(0);  // trailing padding is allowed (Ethernet minimum size)
  auto f = DecodeFrame(bytes);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->header.src, 3u);
  EXPECT_EQ(f->header.dst, 7u);
  EXPECT_EQ(f->header.session, h.session);
  EXPECT_EQ(f->header.seq, 12345u);
  EXPECT_EQ(f->header.ack, 600u);
  EXPECT_EQ(f->header.sack, 5u);
  EXPECT_EQ(f->header.flags, kFrameLastFragment);
  EXPECT_EQ(0, std::memcmp(f->header.mac, h.mac, kMacSize));
  EXPECT_EQ(std::vector<uint8_t>(f->payload.begin(), f->payload.end()), payload);
}

TEST(WireTest, FrameRejectsBadInput) {
  FrameHeader h;
  h.payload_len = 4;
  std::vector<uint8_t> good = EncodeFrame(h, std::vector<uint8_t>{1, 2, 3, 4});
  ASSERT_TRUE(DecodeFrame(good).ok());

  EXPECT_FALSE(DecodeFrame(std::span(good).first(10)).ok());                    // truncated header
  EXPECT_FALSE(DecodeFrame(std::span(good).first(kFrameHeaderSize + 3)).ok());  // truncated payload
  EXPECT_FALSE(DecodeFrame({}).ok());

  auto mutate = [&](size_t off, uint8_t v) {
    std::vector<uint8_t> b = good;
    b[off] = v;
    return DecodeFrame(b).ok();
  };
  EXPECT_FALSE(mutate(0, 0));      // magic
  EXPECT_FALSE(mutate(4, 2));      // version
  EXPECT_FALSE(mutate(5, 0));      // kind
  EXPECT_FALSE(mutate(5, 9));      // kind
  EXPECT_FALSE(mutate(6, 0x80));   // unknown flag
  EXPECT_FALSE(mutate(7, 1));      // reserved
  EXPECT_FALSE(mutate(60, 1));     // reserved
  EXPECT_FALSE(mutate(5, static_cast<uint8_t>(FrameKind::kAck)));  // control frame with payload

  FrameHeader big;
  big.payload_len = kMaxFramePayload + 1;
  std::vector<uint8_t> oversized(kFrameHeaderSize + kMaxFramePayload + 1);
  EncodeFrameHeader(big, std::span<uint8_t, kFrameHeaderSize>(oversized.data(), kFrameHeaderSize));
  EXPECT_FALSE(DecodeFrame(oversized).ok());
}

TEST(WireTest, MessageRoundTripWithAndWithoutPage) {
  std::vector<uint8_t> page(kPageSize);
  for (size_t i = 0; i < page.size(); ++i) page[i] = static_cast<uint8_t>(i * 7);
  std::vector<uint8_t> body = {9, 8, 7};
  std::vector<uint8_t> buf;
  AppendMessage(2, 17, body, page.data(), &buf);
  ASSERT_EQ(buf.size(), EncodedMessageSize(3, true));
  auto m = DecodeMessage(buf);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->channel, 2);
  EXPECT_EQ(m->type, 17);
  EXPECT_EQ(std::vector<uint8_t>(m->body.begin(), m->body.end()), body);
  ASSERT_NE(m->page, nullptr);
  EXPECT_EQ(0, std::memcmp(m->page, page.data(), kPageSize));

  buf.clear();
  AppendMessage(1, 1, {}, nullptr, &buf);
  m = DecodeMessage(buf);
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->body.empty());
  EXPECT_EQ(m->page, nullptr);
}

TEST(WireTest, MessageRejectsBadInput) {
  std::vector<uint8_t> buf;
  AppendMessage(1, 2, std::vector<uint8_t>{1, 2, 3}, nullptr, &buf);
  EXPECT_FALSE(DecodeMessage(std::span(buf).first(5)).ok());  // short header
  EXPECT_FALSE(DecodeMessage(std::span(buf).first(10)).ok());  // short body
  std::vector<uint8_t> longer = buf;
  longer.push_back(0);
  EXPECT_FALSE(DecodeMessage(longer).ok());  // trailing bytes
  std::vector<uint8_t> flagged = buf;
  flagged[6] = 1;  // claims a page it lacks
  EXPECT_FALSE(DecodeMessage(flagged).ok());
  flagged[6] = 2;  // unknown flag
  EXPECT_FALSE(DecodeMessage(flagged).ok());
  std::vector<uint8_t> huge(kMessageHeaderSize + kMaxBodyBytes + 1);
  uint16_t len = kMaxBodyBytes + 1;
  std::memcpy(huge.data() + 4, &len, 2);
  EXPECT_FALSE(DecodeMessage(huge).ok());
}

}  // namespace
}  // namespace dvm::net
