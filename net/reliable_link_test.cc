#include "net/reliable_link.h"

#include <cstring>
#include <map>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace dvm::net {
namespace {

// A frame in flight between the two links of a test, with the fields the link
// sets (the drivers' addressing and MAC are not needed here).
struct WireFrame {
  FrameHeader h;
  std::vector<uint8_t> payload;
};

struct Faults {
  double loss = 0, duplicate = 0, reorder = 0;
};

// Two links A -> B (and acks B -> A) over a faulty pipe, in simulated time.
class LinkPair {
 public:
  LinkPair(const LinkOptions& o, Faults f, uint64_t seed)
      : a_(o, 0), b_(o, 0), faults_(f), rng_(seed) {}

  std::vector<std::vector<uint8_t>> delivered;

  void Send(std::vector<uint8_t> msg) { a_.Enqueue(msg); }

  // Runs until everything is acked or `max_steps` pass.
  bool Run(int max_steps) {
    for (int step = 0; step < max_steps; ++step) {
      now_ += 50'000;  // 50 us per step
      a_.Pump(now_, 32, [&](const LinkFrame& f) { Put(&to_b_, f); });
      b_.Pump(now_, 32, [&](const LinkFrame& f) { Put(&to_a_, f); });
      Deliver(&to_b_, b_);
      Deliver(&to_a_, a_);
      if (a_.unacked_frames() == 0 && to_b_.empty()) return true;
    }
    return false;
  }

  ReliableLink& a() { return a_; }

 private:
  using Queue = std::multimap<uint64_t, WireFrame>;

  void Put(Queue* q, const LinkFrame& f) {
    std::uniform_real_distribution<double> coin(0, 1);
    if (coin(rng_) < faults_.loss) return;
    WireFrame w;
    w.h.kind = f.kind;
    w.h.flags = f.flags;
    w.h.seq = f.seq;
    w.h.ack = f.ack;
    w.h.sack = f.sack;
    w.h.payload_len = f.payload.size();
    w.payload.assign(f.payload.begin(), f.payload.end());
    uint64_t due = now_ + 20'000;
    if (coin(rng_) < faults_.reorder) due += 300'000;
    if (coin(rng_) < faults_.duplicate) q->emplace(due + 10'000, w);
    q->emplace(due, std::move(w));
  }

  void Deliver(Queue* q, ReliableLink& to) {
    auto end = q->upper_bound(now_);
    for (auto it = q->begin(); it != end; ++it) {
      to.OnFrame(it->second.h, it->second.payload, now_, [&](std::span<const uint8_t> m) {
        if (&to == &b_) delivered.emplace_back(m.begin(), m.end());
      });
    }
    q->erase(q->begin(), end);
  }

  ReliableLink a_, b_;
  Faults faults_;
  std::mt19937_64 rng_;
  uint64_t now_ = 0;
  Queue to_a_, to_b_;
};

std::vector<uint8_t> Message(int i) {
  // Sizes from 1 byte to a page and a bit, so some messages span several fragments.
  size_t n = 1 + (i * 977) % 4200;
  std::vector<uint8_t> m(n);
  for (size_t k = 0; k < n; ++k) m[k] = static_cast<uint8_t>(i + k);
  std::memcpy(m.data(), &i, std::min(n, sizeof(i)));
  return m;
}

void ExpectInOrder(const LinkPair& p, int n) {
  ASSERT_EQ(static_cast<int>(p.delivered.size()), n);
  for (int i = 0; i < n; ++i) ASSERT_EQ(p.delivered[i], Message(i)) << "message " << i;
}

TEST(ReliableLinkTest, CleanPathDeliversInOrder) {
  LinkPair p({.max_fragment = 1000, .window = 64}, {}, 1);
  for (int i = 0; i < 500; ++i) p.Send(Message(i));
  ASSERT_TRUE(p.Run(100'000));
  ExpectInOrder(p, 500);
  EXPECT_EQ(p.a().retransmits(), 0u);
}

struct FaultCase {
  Faults faults;
  uint64_t seed;
};

class ReliableLinkFaultTest : public ::testing::TestWithParam<FaultCase> {};

TEST_P(ReliableLinkFaultTest, LossDupReorderNeverLoseOrDuplicate) {
  LinkPair p({.max_fragment = 700, .window = 32, .rto_ns = 2'000'000}, GetParam().faults,
             GetParam().seed);
  for (int i = 0; i < 1000; ++i) p.Send(Message(i));
  ASSERT_TRUE(p.Run(2'000'000));
  ExpectInOrder(p, 1000);
  if (GetParam().faults.loss > 0) {
    EXPECT_GT(p.a().retransmits(), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Faults, ReliableLinkFaultTest,
    ::testing::Values(FaultCase{{.loss = 0.01}, 1}, FaultCase{{.loss = 0.2}, 2},
                      FaultCase{{.duplicate = 0.3}, 3}, FaultCase{{.reorder = 0.3}, 4},
                      FaultCase{{.loss = 0.1, .duplicate = 0.1, .reorder = 0.2}, 5},
                      FaultCase{{.loss = 0.1, .duplicate = 0.1, .reorder = 0.2}, 6}));

TEST(ReliableLinkTest, SilentPeerIsDetected) {
  ReliableLink l({.dead_after_ns = 1000}, 0);
  EXPECT_FALSE(l.PeerSilent(500));
  EXPECT_TRUE(l.PeerSilent(2000));
  FrameHeader ack;
  ack.kind = FrameKind::kAck;
  l.OnFrame(ack, {}, 2000, [](std::span<const uint8_t>) {});
  EXPECT_FALSE(l.PeerSilent(2500));
}

TEST(ReliableLinkTest, KeepaliveWhenIdle) {
  ReliableLink l({.keepalive_ns = 1000}, 0);
  int acks = 0;
  auto count = [&](const LinkFrame& f) { acks += f.kind == FrameKind::kAck; };
  l.Pump(500, 8, count);
  EXPECT_EQ(acks, 0);
  l.Pump(1500, 8, count);
  EXPECT_EQ(acks, 1);
}

TEST(ReliableLinkTest, OversizedReassemblyIsDroppedNotDelivered) {
  ReliableLink l({.max_fragment = 4096, .window = 8}, 0);
  std::vector<uint8_t> chunk(4096, 1);
  int delivered = 0;
  auto deliver = [&](std::span<const uint8_t>) { ++delivered; };
  FrameHeader h;
  ReliableLink::RxResult last = ReliableLink::RxResult::kAccepted;
  for (uint64_t s = 0; s < 3; ++s) {  // 12 KiB without a last-fragment flag
    h.seq = s;
    h.flags = s == 2 ? kFrameLastFragment : 0;
    last = l.OnFrame(h, chunk, 0, deliver);
  }
  EXPECT_EQ(last, ReliableLink::RxResult::kBadMessage);
  EXPECT_EQ(delivered, 0);
  // The next message is received normally.
  h.seq = 3;
  h.flags = kFrameLastFragment;
  EXPECT_EQ(l.OnFrame(h, std::vector<uint8_t>{1, 2}, 0, deliver),
            ReliableLink::RxResult::kAccepted);
  EXPECT_EQ(delivered, 1);
}

TEST(ReliableLinkTest, DuplicateAndFarAheadFramesAreReported) {
  ReliableLink l({.window = 4}, 0);
  auto none = [](std::span<const uint8_t>) {};
  FrameHeader h;
  h.flags = kFrameLastFragment;
  h.seq = 0;
  EXPECT_EQ(l.OnFrame(h, std::vector<uint8_t>{1}, 0, none), ReliableLink::RxResult::kAccepted);
  EXPECT_EQ(l.OnFrame(h, std::vector<uint8_t>{1}, 0, none), ReliableLink::RxResult::kDuplicate);
  h.seq = 100;
  EXPECT_EQ(l.OnFrame(h, std::vector<uint8_t>{1}, 0, none),
            ReliableLink::RxResult::kOutOfWindow);
  // An ack for frames never sent is ignored, not trusted.
  FrameHeader bogus;
  bogus.kind = FrameKind::kAck;
  bogus.ack = 1'000'000;
  l.OnFrame(bogus, {}, 0, none);
  l.Enqueue(std::vector<uint8_t>{5});
  EXPECT_EQ(l.unacked_frames(), 1u);
}

}  // namespace
}  // namespace dvm::net
