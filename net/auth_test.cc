#include "net/auth.h"

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace dvm::net {
namespace {

std::vector<uint8_t> Secret(char c) { return std::vector<uint8_t>(32, static_cast<uint8_t>(c)); }

struct Signed {
  FrameHeader h;
  std::vector<uint8_t> bytes;
};

Signed Sign(const ClusterKey& key, std::vector<uint8_t> payload) {
  Signed s;
  s.h.src = 1;
  s.h.dst = 2;
  s.h.session = 42;
  s.h.counter = 7;
  s.h.payload_len = payload.size();
  s.bytes.resize(kFrameHeaderSize);
  key.SignAndEncode(&s.h, payload,
                    std::span<uint8_t, kFrameHeaderSize>(s.bytes.data(), kFrameHeaderSize));
  s.bytes.insert(s.bytes.end(), payload.begin(), payload.end());
  return s;
}

bool Check(const ClusterKey& key, const std::vector<uint8_t>& bytes) {
  auto f = DecodeFrame(bytes);
  if (!f.ok()) return false;
  return key.Verify(f->header, std::span(bytes).first(kFrameHeaderSize), f->payload);
}

TEST(AuthTest, SignedFrameVerifies) {
  auto key = ClusterKey::FromBytes(Secret('a'));
  ASSERT_TRUE(key.ok());
  Signed s = Sign(*key, {1, 2, 3});
  EXPECT_TRUE(Check(*key, s.bytes));
}

TEST(AuthTest, AnyFlippedBitFails) {
  auto key = ClusterKey::FromBytes(Secret('a'));
  ASSERT_TRUE(key.ok());
  Signed s = Sign(*key, {1, 2, 3, 4, 5, 6});
  for (size_t i = 0; i < s.bytes.size(); ++i) {
    std::vector<uint8_t> b = s.bytes;
    b[i] ^= 0x10;
    EXPECT_FALSE(Check(*key, b)) << "byte " << i;
  }
}

TEST(AuthTest, OtherKeyFails) {
  auto a = ClusterKey::FromBytes(Secret('a'));
  auto b = ClusterKey::FromBytes(Secret('b'));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(Check(*b, Sign(*a, {1}).bytes));
}

TEST(AuthTest, ShortOrMissingKeyIsAnError) {
  EXPECT_FALSE(ClusterKey::FromBytes(std::vector<uint8_t>(5, 1)).ok());
  EXPECT_FALSE(ClusterKey::FromFile("/nonexistent/dvm-key").ok());
  std::string path = ::testing::TempDir() + "/dvm_key_test";
  {
    std::ofstream f(path);
    f << "a cluster secret that is long enough\n";
  }
  auto k = ClusterKey::FromFile(path);
  EXPECT_TRUE(k.ok()) << k.status();
  std::remove(path.c_str());
}

}  // namespace
}  // namespace dvm::net
