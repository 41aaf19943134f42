#include "vmm/cluster/node_messages.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace dvm::cluster {
namespace {

TEST(NodeMessagesTest, ApicMessageRoundTrips) {
  irq::ApicMessage m{.vector = 0x31,
                     .mode = irq::DeliveryMode::kStartup,
                     .dest_mode = irq::DestMode::kLogical,
                     .dest = 0x0c,
                     .shorthand = irq::Shorthand::kAllExcludingSelf,
                     .trigger = irq::TriggerMode::kLevel,
                     .level = false,
                     .source_id = 3};
  auto bytes = EncodeApicMessage(m);
  auto back = DecodeApicMessage(bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, m);
}

TEST(NodeMessagesTest, ApicMessageRejectsBadFields) {
  auto good = EncodeApicMessage({});
  EXPECT_FALSE(DecodeApicMessage(std::span(good).first(7)).ok());
  for (auto [index, value] : std::vector<std::pair<int, uint8_t>>{
           {1, 3}, {1, 8}, {2, 2}, {4, 4}, {5, 2}, {6, 2}}) {
    auto bad = good;
    bad[index] = value;
    EXPECT_FALSE(DecodeApicMessage(bad).ok()) << "byte " << index << " = " << int{value};
  }
}

TEST(NodeMessagesTest, ApicAddressingRoundTripsAndChecksReserved) {
  irq::ApicAddressing a{.id = 2, .ldr = 0x04000000, .dfr = 0x0fffffff};
  auto bytes = EncodeApicAddressing(a);
  auto back = DecodeApicAddressing(bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->id, 2);
  EXPECT_EQ(back->ldr, 0x04000000u);
  EXPECT_EQ(back->dfr, 0x0fffffffu);
  bytes[2] = 1;
  EXPECT_FALSE(DecodeApicAddressing(bytes).ok());
}

TEST(NodeMessagesTest, IoRequestRoundTrips) {
  IoRequest r{.id = 99, .vcpu = VcpuId(3), .space = IoSpace::kMmio, .is_write = true, .size = 4,
              .address = 0xFEC00010, .data = {1, 2, 3, 4}};
  auto back = DecodeIoRequest(EncodeIoRequest(r));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, r);
  IoReply reply{.id = 99, .data = {9, 8, 7, 6, 5, 4, 3, 2}};
  auto reply_back = DecodeIoReply(EncodeIoReply(reply));
  ASSERT_TRUE(reply_back.ok());
  EXPECT_EQ(*reply_back, reply);
}

TEST(NodeMessagesTest, IoRequestRejectsWhatNoVcpuCanDo) {
  IoRequest pio{.id = 1, .space = IoSpace::kPio, .size = 1, .address = 0x3f8};
  ASSERT_TRUE(DecodeIoRequest(EncodeIoRequest(pio)).ok());
  IoRequest wide = pio;
  wide.size = 3;
  EXPECT_FALSE(DecodeIoRequest(EncodeIoRequest(wide)).ok());
  IoRequest big_port = pio;
  big_port.address = 0x10000;
  EXPECT_FALSE(DecodeIoRequest(EncodeIoRequest(big_port)).ok());
  IoRequest pio8 = pio;
  pio8.size = 8;
  EXPECT_FALSE(DecodeIoRequest(EncodeIoRequest(pio8)).ok());
  auto bytes = EncodeIoRequest(pio);
  bytes[12] = 2;  // no such space
  EXPECT_FALSE(DecodeIoRequest(bytes).ok());
  bytes = EncodeIoRequest(pio);
  bytes[15] = 1;  // reserved
  EXPECT_FALSE(DecodeIoRequest(bytes).ok());
  EXPECT_FALSE(DecodeIoRequest(std::span(bytes).first(31)).ok());
  EXPECT_FALSE(DecodeIoReply(std::span(bytes).first(15)).ok());
}

TEST(NodeMessagesTest, ClockSyncRoundTripsNegativeOffsets) {
  ClockSync clock{.kvmclock_ns = 123456789, .realtime_ns = 1700000000000000000, .kvm_flags = 2,
                  .tsc_offset = -987654321};
  auto back = DecodeClockSync(EncodeClockSync(clock));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, clock);
  auto bytes = EncodeClockSync(clock);
  bytes[21] = 1;  // reserved
  EXPECT_FALSE(DecodeClockSync(bytes).ok());
  EXPECT_FALSE(DecodeClockSync(std::span(bytes).first(31)).ok());
}

TEST(NodeMessagesTest, VmEndedCarriesOnlyPrintableText) {
  VmEnded end{.exit_status = -3, .reason = 4, .detail = "node 1: vCPU 2 failed"};
  auto back = DecodeVmEnded(EncodeVmEnded(end));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, end);
  // Control characters are replaced on the way out and refused on the way in.
  auto escaped = DecodeVmEnded(EncodeVmEnded({.exit_status = 1, .reason = 0, .detail = "a\x1b[2Jb"}));
  ASSERT_TRUE(escaped.ok());
  EXPECT_EQ(escaped->detail, "a?[2Jb");
  std::vector<uint8_t> bytes = EncodeVmEnded(end);
  bytes.push_back(0x07);
  EXPECT_FALSE(DecodeVmEnded(bytes).ok());
  // Too long, too short, reserved bytes set.
  auto long_end = EncodeVmEnded({.exit_status = 0, .reason = 0, .detail = std::string(2000, 'x')});
  EXPECT_EQ(long_end.size(), 8 + kMaxEndDetail);
  long_end.push_back('x');
  EXPECT_FALSE(DecodeVmEnded(long_end).ok());
  EXPECT_FALSE(DecodeVmEnded(std::span(bytes).first(7)).ok());
  bytes = EncodeVmEnded(end);
  bytes[6] = 1;
  EXPECT_FALSE(DecodeVmEnded(bytes).ok());
}

TEST(NodeMessagesTest, StatsRequestCarriesItsId) {
  auto back = DecodeStatsRequest(EncodeStatsRequest(0x1122334455667788));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, 0x1122334455667788u);
  auto bytes = EncodeStatsRequest(1);
  EXPECT_FALSE(DecodeStatsRequest(std::span(bytes).first(7)).ok());
}

TEST(NodeMessagesTest, StatsReplyRoundTripsInItsPage) {
  StatsReply reply{.id = 7, .text = "node 1 DSM faults: read 3\nnode 1 link to node 0: 5 messages\n"};
  EncodedStatsReply e = EncodeStatsReply(reply);
  auto back = DecodeStatsReply(e.body, e.page.data());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, reply);
  StatsReply full{.id = 8, .text = std::string(kMaxStatsText, 'f')};  // exactly fits: unchanged
  e = EncodeStatsReply(full);
  EXPECT_EQ(*DecodeStatsReply(e.body, e.page.data()), full);
  // Control characters are replaced on the way out and refused on the way in.
  e = EncodeStatsReply({.id = 1, .text = "a\x1b[2Jb\n"});
  EXPECT_EQ(DecodeStatsReply(e.body, e.page.data())->text, "a?[2Jb\n");
  e.page[1] = 0x1b;
  EXPECT_FALSE(DecodeStatsReply(e.body, e.page.data()).ok());
}

TEST(NodeMessagesTest, LongStatsAreCutAtALineEnd) {
  std::string text;
  for (int i = 0; text.size() < 3 * kMaxStatsText; ++i) text += "node 2 line " + std::to_string(i) + "\n";
  EncodedStatsReply e = EncodeStatsReply({.id = 3, .text = text});
  auto back = DecodeStatsReply(e.body, e.page.data());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_LE(back->text.size(), kMaxStatsText);
  EXPECT_EQ(text.rfind(back->text.substr(0, back->text.rfind("(the rest")), 0), 0u) << "a prefix of whole lines";
  EXPECT_NE(back->text.find("(the rest of this node's statistics is cut"), std::string::npos);
  // One endless line too.
  e = EncodeStatsReply({.id = 3, .text = std::string(2 * kMaxStatsText, 'x')});
  back = DecodeStatsReply(e.body, e.page.data());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_LE(back->text.size(), kMaxStatsText);
}

TEST(NodeMessagesTest, StatsReplyRejectsWhatNoNodeSends) {
  EncodedStatsReply e = EncodeStatsReply({.id = 1, .text = "ok\n"});
  EXPECT_FALSE(DecodeStatsReply(e.body, nullptr).ok()) << "no page";
  EXPECT_FALSE(DecodeStatsReply(std::span(e.body).first(15), e.page.data()).ok());
  EncodedStatsReply bad = e;
  bad.body[12] = 1;  // reserved
  EXPECT_FALSE(DecodeStatsReply(bad.body, bad.page.data()).ok());
  bad = e;
  bad.body[9] = 0x20;  // length 8195: longer than the page
  EXPECT_FALSE(DecodeStatsReply(bad.body, bad.page.data()).ok());
  bad = e;
  bad.page[100] = 'x';  // bytes hidden after the text
  EXPECT_FALSE(DecodeStatsReply(bad.body, bad.page.data()).ok());
}

}  // namespace
}  // namespace dvm::cluster
