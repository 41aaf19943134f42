#include "dsm/message.h"

#include <vector>

#include "gtest/gtest.h"

namespace dvm::dsm {
namespace {

TEST(MessageTest, RoundTripsEveryType) {
  for (uint8_t t = 1; t <= kMaxMsgType; ++t) {
    Message msg{static_cast<MsgType>(t), 0, NodeId(7), Gfn(0x123456789), 0xfedcba9876543210};
    std::vector<uint8_t> bytes = Encode(msg, {});
    ASSERT_EQ(bytes.size(), kHeaderSize);
    absl::StatusOr<Decoded> d = Decode(bytes, 64);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(d->msg, msg);
    EXPECT_TRUE(d->page.empty());
  }
}

TEST(MessageTest, RoundTripsPage) {
  Message msg{MsgType::kReadData, kHasPage, NodeId(3), Gfn(42)};
  std::vector<uint8_t> page(kPageSize, 0xab);
  std::vector<uint8_t> bytes = Encode(msg, page);
  absl::StatusOr<Decoded> d = Decode(bytes, 4);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->msg, msg);
  ASSERT_EQ(d->page.size(), kPageSize);
  EXPECT_EQ(d->page[4095], 0xab);
}

TEST(MessageTest, RejectsMalformedInput) {
  Message msg{MsgType::kInv, 0, NodeId(1), Gfn(5)};
  std::vector<uint8_t> good = Encode(msg, {});
  ASSERT_TRUE(Decode(good, 2).ok());

  EXPECT_FALSE(Decode(std::span(good).first(kHeaderSize - 1), 2).ok()) << "short";
  std::vector<uint8_t> bad = good;
  bad.push_back(0);
  EXPECT_FALSE(Decode(bad, 2).ok()) << "trailing byte";
  EXPECT_FALSE(Decode(good, 1).ok()) << "node id out of range";

  auto mutate = [&](size_t i, uint8_t v) {
    std::vector<uint8_t> b = good;
    b[i] = v;
    return Decode(b, 2).ok();
  };
  EXPECT_FALSE(mutate(0, 2)) << "version";
  EXPECT_FALSE(mutate(1, 0)) << "type 0";
  EXPECT_FALSE(mutate(1, kMaxMsgType + 1)) << "unknown type";
  EXPECT_FALSE(mutate(2, 2)) << "unknown flag";
  EXPECT_FALSE(mutate(3, 1)) << "reserved";
  EXPECT_FALSE(mutate(15, 0x10)) << "gfn beyond 52 bits";
  EXPECT_FALSE(mutate(2, kHasPage)) << "page flag without a page";

  Message with_page{MsgType::kReadData, kHasPage, NodeId(1), Gfn(5)};
  std::vector<uint8_t> half(kPageSize / 2);
  EXPECT_FALSE(Decode(Encode(with_page, half), 2).ok()) << "short page";
}

}  // namespace
}  // namespace dvm::dsm
