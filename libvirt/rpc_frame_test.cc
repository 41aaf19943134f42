#include "libvirt/rpc_frame.h"

#include "gtest/gtest.h"
#include "libvirt/remote_messages.h"
#include "libvirt/vir_error.h"

namespace dvm::libvirt {
namespace {

TEST(RpcFrame, EncodesLengthHeaderAndBody) {
  Header h{kRemoteProgram, kRemoteVersion, 66, MessageType::kReply, 7, MessageStatus::kError};
  const std::vector<uint8_t> body = {1, 2, 3, 4};
  std::vector<uint8_t> frame = EncodeFrame(h, body);
  ASSERT_EQ(frame.size(), 32u);
  auto length = ParseFrameLength(std::span<const uint8_t, 4>(frame.data(), 4));
  ASSERT_TRUE(length.ok());
  EXPECT_EQ(*length, 32u);
  auto back = DecodeHeader(std::span<const uint8_t>(frame).subspan(4));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->program, kRemoteProgram);
  EXPECT_EQ(back->procedure, 66);
  EXPECT_EQ(back->type, MessageType::kReply);
  EXPECT_EQ(back->serial, 7u);
  EXPECT_EQ(back->status, MessageStatus::kError);
}

TEST(RpcFrame, RejectsLengthsOutsideTheLimits) {
  auto word = [](uint32_t v) {
    return std::array<uint8_t, 4>{static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
                                  static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
  };
  EXPECT_FALSE(ParseFrameLength(word(0)).ok());
  EXPECT_FALSE(ParseFrameLength(word(27)).ok()) << "shorter than length + header";
  EXPECT_TRUE(ParseFrameLength(word(28)).ok());
  EXPECT_TRUE(ParseFrameLength(word(kMaxIncomingFrame)).ok());
  EXPECT_FALSE(ParseFrameLength(word(kMaxIncomingFrame + 1)).ok());
  EXPECT_FALSE(ParseFrameLength(word(0xffffffff)).ok());
}

TEST(RpcFrame, RejectsUnknownTypesAndStatuses) {
  std::vector<uint8_t> frame = EncodeFrame(Header{}, {});
  frame[4 + 15] = 9;  // type
  EXPECT_FALSE(DecodeHeader(std::span<const uint8_t>(frame).subspan(4)).ok());
  frame = EncodeFrame(Header{}, {});
  frame[4 + 23] = 3;  // status
  EXPECT_FALSE(DecodeHeader(std::span<const uint8_t>(frame).subspan(4)).ok());
  EXPECT_FALSE(DecodeHeader(std::span<const uint8_t>(frame).subspan(4, 10)).ok());
}

TEST(RemoteMessages, ErrorRoundTrips) {
  RemoteError e = ToRemoteError(VirError(ErrorCode::kNoDomain, "no such domain"));
  auto back = RemoteError::Decode(e.Encode());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->code, 42);
  EXPECT_EQ(back->message, "no such domain");
  EXPECT_EQ(back->level, kErrorLevelError);
}

TEST(RemoteMessages, ArgumentsMustBeExact) {
  XdrWriter w;
  NonnullDomain{"vm", Uuid{}, 3}.Write(w);
  w.U32(5);
  std::vector<uint8_t> bytes = w.Take();
  auto ok = DecodeArgs<DomainFlagsArgs>(bytes);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->dom.name, "vm");
  EXPECT_EQ(ok->dom.id, 3);
  EXPECT_EQ(ok->flags, 5u);
  EXPECT_FALSE(DecodeArgs<DomainArgs>(bytes).ok()) << "trailing bytes";
  bytes.pop_back();
  EXPECT_FALSE(DecodeArgs<DomainFlagsArgs>(bytes).ok()) << "truncated";
}

TEST(RemoteMessages, VirErrorCodesSurviveStatusPlumbing) {
  EXPECT_EQ(VirCodeOf(VirError(ErrorCode::kXmlError, "x")), ErrorCode::kXmlError);
  EXPECT_EQ(VirCodeOf(absl::NotFoundError("x")), ErrorCode::kNoDomain);
  EXPECT_EQ(VirCodeOf(absl::InternalError("x")), ErrorCode::kOperationFailed);
}

}  // namespace
}  // namespace dvm::libvirt
