#include "net/loopback.h"

#include <cstring>
#include <map>
#include <vector>

#include "gtest/gtest.h"
#include "net/auth.h"

namespace dvm::net {
namespace {

const std::vector<uint8_t> kKey(32, 0x5a);
const NodeId kA(0), kB(1), kC(2);

struct Got {
  uint16_t channel, type;
  std::vector<uint8_t> body;
  bool has_page;
  uint8_t page_first;
};

class LoopbackTest : public ::testing::Test {
 protected:
  void Make(FaultOptions faults, LinkOptions link = {.max_fragment = 1500}) {
    LoopbackOptions o;
    o.link = link;
    o.faults = faults;
    o.seed = 7;
    o.clock = [this] { return now_; };
    auto net = LoopbackNetwork::Create({kA, kB, kC}, kKey, o);
    ASSERT_TRUE(net.ok()) << net.status();
    net_ = std::move(*net);
    for (NodeId id : {kA, kB, kC}) {
      Callbacks cb;
      cb.on_message = [this, id](const Received& r) {
        got_[id][r.from].push_back(Got{r.channel, r.type,
                                       std::vector<uint8_t>(r.body.begin(), r.body.end()),
                                       r.page != nullptr, r.page ? r.page[0] : uint8_t{0}});
      };
      cb.on_peer_down = [this, id](NodeId peer, const absl::Status&) {
        down_[id].push_back(peer);
      };
      ASSERT_TRUE(net_->endpoint(id)->Start(cb).ok());
    }
  }

  // Advances simulated time in 10 us steps, polling every endpoint.
  void RunFor(uint64_t ns) {
    for (uint64_t t = 0; t < ns; t += 10'000) {
      now_ += 10'000;
      net_->PollAll();
    }
  }

  void SendMany(NodeId from, NodeId to, int n) {
    std::vector<uint8_t> page(kPageSize);
    for (int i = 0; i < n; ++i) {
      uint32_t v = i;
      page[0] = static_cast<uint8_t>(i);
      ASSERT_TRUE(net_->endpoint(from)
                      ->Send(to, 1, static_cast<uint16_t>(i), {reinterpret_cast<uint8_t*>(&v), 4},
                             i % 2 ? page.data() : nullptr)
                      .ok());
    }
  }

  void ExpectReceived(NodeId at, NodeId from, int n) {
    const auto& v = got_[at][from];
    ASSERT_EQ(static_cast<int>(v.size()), n);
    for (int i = 0; i < n; ++i) {
      uint32_t body;
      ASSERT_EQ(v[i].body.size(), 4u);
      std::memcpy(&body, v[i].body.data(), 4);
      ASSERT_EQ(body, static_cast<uint32_t>(i));
      ASSERT_EQ(v[i].has_page, i % 2 == 1);
      if (v[i].has_page) {
        ASSERT_EQ(v[i].page_first, static_cast<uint8_t>(i));
      }
    }
  }

  uint64_t now_ = 1'000'000;
  std::unique_ptr<LoopbackNetwork> net_;
  std::map<NodeId, std::map<NodeId, std::vector<Got>>> got_;
  std::map<NodeId, std::vector<NodeId>> down_;
};

TEST_F(LoopbackTest, DeliversInOrderToEveryPeer) {
  Make({});
  SendMany(kA, kB, 1000);
  SendMany(kA, kC, 1000);
  SendMany(kC, kA, 500);
  RunFor(200'000'000);
  ExpectReceived(kB, kA, 1000);
  ExpectReceived(kC, kA, 1000);
  ExpectReceived(kA, kC, 500);
  PeerCounters c = net_->endpoint(kA)->counters(kB);
  EXPECT_EQ(c.msgs_sent, 1000u);
  EXPECT_EQ(net_->endpoint(kB)->counters(kA).msgs_received, 1000u);
  EXPECT_EQ(c.retransmits, 0u);
  EXPECT_TRUE(down_.empty());
}

TEST_F(LoopbackTest, SurvivesLossDuplicationReorderingAndCorruption) {
  Make({.loss = 0.05, .duplicate = 0.05, .reorder = 0.1, .corrupt = 0.03});
  SendMany(kA, kB, 2000);
  SendMany(kB, kA, 2000);
  RunFor(3'000'000'000);
  ExpectReceived(kB, kA, 2000);
  ExpectReceived(kA, kB, 2000);
  PeerCounters a = net_->endpoint(kA)->counters(kB);
  PeerCounters b = net_->endpoint(kB)->counters(kA);
  EXPECT_GT(a.retransmits, 0u);
  EXPECT_GT(b.drops, 0u);  // duplicates
  EXPECT_GT(a.auth_failures + b.auth_failures + net_->endpoint(kA)->unknown_counters().drops +
                net_->endpoint(kB)->unknown_counters().drops,
            0u);
  EXPECT_TRUE(down_.empty());
}

TEST_F(LoopbackTest, HandlerMayReply) {
  Make({});
  net_->endpoint(kB)->Start(Callbacks{
      .on_message =
          [this](const Received& r) {
            std::vector<uint8_t> page(kPageSize, 0xab);
            ASSERT_TRUE(net_->endpoint(kB)->Send(r.from, 2, r.type, r.body, page.data()).ok());
          },
      .on_peer_down = {}}).IgnoreError();
  SendMany(kA, kB, 10);
  RunFor(10'000'000);
  ASSERT_EQ(got_[kA][kB].size(), 10u);
  EXPECT_TRUE(got_[kA][kB][9].has_page);
  EXPECT_EQ(got_[kA][kB][9].page_first, 0xab);
}

TEST_F(LoopbackTest, PartitionIsReportedAsPeerDown) {
  Make({}, {.max_fragment = 1500, .keepalive_ns = 10'000'000, .dead_after_ns = 100'000'000});
  SendMany(kA, kB, 10);
  RunFor(5'000'000);
  ExpectReceived(kB, kA, 10);
  net_->SetPartitioned(kA, kB, true);
  RunFor(150'000'000);
  EXPECT_EQ(down_[kA], std::vector<NodeId>{kB});
  EXPECT_EQ(down_[kB], std::vector<NodeId>{kA});
  EXPECT_TRUE(down_[kC].empty());  // C still hears both
  EXPECT_EQ(net_->endpoint(kA)->Send(kB, 1, 1, {}).code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(net_->endpoint(kA)->Send(kC, 1, 1, {}).ok());
}

TEST_F(LoopbackTest, StopIsReportedAtOnce) {
  Make({});
  RunFor(1'000'000);
  net_->endpoint(kC)->Stop();
  RunFor(100'000);
  EXPECT_EQ(down_[kA], std::vector<NodeId>{kC});
  EXPECT_EQ(down_[kB], std::vector<NodeId>{kC});
}

TEST_F(LoopbackTest, GarbageIsDroppedAndCounted) {
  Make({});
  RunFor(1'000'000);
  // Truncated, random, and oversized bytes: not even a frame.
  net_->InjectFrame(kB, {1, 2, 3});
  net_->InjectFrame(kB, std::vector<uint8_t>(kFrameHeaderSize + 10, 0xee));
  net_->InjectFrame(kB, std::vector<uint8_t>(100'000, 0));
  // A well-formed frame signed with the wrong key.
  auto wrong = ClusterKey::FromBytes(std::vector<uint8_t>(32, 1));
  ASSERT_TRUE(wrong.ok());
  FrameHeader h;
  h.kind = FrameKind::kAck;
  h.src = kA.value();
  h.dst = kB.value();
  std::vector<uint8_t> forged(kFrameHeaderSize);
  wrong->SignAndEncode(&h, {}, std::span<uint8_t, kFrameHeaderSize>(forged.data(), kFrameHeaderSize));
  net_->InjectFrame(kB, forged);
  // A frame for another node.
  h.dst = 9;
  wrong->SignAndEncode(&h, {}, std::span<uint8_t, kFrameHeaderSize>(forged.data(), kFrameHeaderSize));
  net_->InjectFrame(kB, forged);
  RunFor(1'000'000);
  EXPECT_EQ(net_->endpoint(kB)->unknown_counters().drops, 4u);
  EXPECT_EQ(net_->endpoint(kB)->counters(kA).auth_failures, 1u);
  SendMany(kA, kB, 4);
  RunFor(1'000'000);
  ExpectReceived(kB, kA, 4);
}

TEST_F(LoopbackTest, SendChecksArguments) {
  Make({});
  std::vector<uint8_t> big(kMaxBodyBytes + 1);
  EXPECT_EQ(net_->endpoint(kA)->Send(kB, 1, 1, big).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(net_->endpoint(kA)->Send(NodeId(42), 1, 1, {}).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dvm::net
