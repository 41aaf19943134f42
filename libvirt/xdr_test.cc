#include "libvirt/xdr.h"

#include "gtest/gtest.h"

namespace dvm::libvirt {
namespace {

TEST(Xdr, WritesWordsBigEndianAndPadsToFourBytes) {
  XdrWriter w;
  w.U32(0x01020304);
  w.U64(0x1122334455667788ull);
  w.String("abcde");
  w.Bool(true);
  const std::vector<uint8_t> want = {1, 2, 3, 4, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
                                     0, 0, 0, 5, 'a', 'b', 'c', 'd', 'e', 0, 0, 0, 0, 0, 0, 1};
  EXPECT_EQ(w.bytes(), want);
}

TEST(Xdr, CharArrayTakesAWordPerCharacterAsRpcgenDoes) {
  XdrWriter w;
  w.CharArray("ab", 4);
  const std::vector<uint8_t> want = {0, 0, 0, 'a', 0, 0, 0, 'b', 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(w.bytes(), want);
}

TEST(Xdr, RoundTripsEveryType) {
  XdrWriter w;
  Uuid uuid;
  for (size_t i = 0; i < uuid.size(); ++i) uuid[i] = static_cast<uint8_t>(i * 7);
  w.I32(-5);
  w.I64(-6);
  w.String("");
  w.String("xyz");
  w.OptionalString(std::nullopt);
  w.OptionalString("set");
  w.FixedOpaque(uuid);
  w.Opaque(std::vector<uint8_t>{9, 8, 7});
  std::vector<uint8_t> bytes = w.Take();
  XdrReader r(bytes);
  EXPECT_EQ(r.I32(), -5);
  EXPECT_EQ(r.I64(), -6);
  EXPECT_EQ(r.String(10), "");
  EXPECT_EQ(r.String(10), "xyz");
  EXPECT_EQ(r.OptionalString(10), std::nullopt);
  EXPECT_EQ(r.OptionalString(10), "set");
  EXPECT_EQ(r.FixedUuid(), uuid);
  EXPECT_EQ(r.Opaque(10), (std::vector<uint8_t>{9, 8, 7}));
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.AtEnd());
}

TEST(Xdr, ReaderNeverReadsPastTheBuffer) {
  const std::vector<uint8_t> three = {0, 0, 1};
  XdrReader r(three);
  EXPECT_EQ(r.U32(), 0u);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.U32(), 0u) << "failure is sticky";

  // A string that claims more bytes than there are.
  const std::vector<uint8_t> liar = {0, 0, 0, 100, 'a', 'b', 'c', 'd'};
  XdrReader r2(liar);
  EXPECT_EQ(r2.String(1000), "");
  EXPECT_FALSE(r2.ok());

  // A string longer than the caller allows, though present.
  const std::vector<uint8_t> long_one = {0, 0, 0, 4, 'a', 'b', 'c', 'd'};
  XdrReader r3(long_one);
  r3.String(3);
  EXPECT_FALSE(r3.ok());

  // Padding missing after the string.
  const std::vector<uint8_t> unpadded = {0, 0, 0, 1, 'a'};
  XdrReader r4(unpadded);
  r4.String(10);
  EXPECT_FALSE(r4.ok());
}

TEST(Xdr, BoolIsZeroOrOne) {
  const std::vector<uint8_t> two = {0, 0, 0, 2};
  XdrReader r(two);
  r.Bool();
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace dvm::libvirt
