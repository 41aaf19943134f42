// Unit tests of the protocol on a tiny in-order network: message counts per
// operation (the numbers in protocol.h), pins, failures and bad messages. The
// randomized, adversarial schedules live in test/sim.
#include "dsm/protocol.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <vector>

#include "gtest/gtest.h"

namespace dvm::dsm {
namespace {

// Delivers every message in global send order until the network is empty.
class MiniCluster {
 public:
  explicit MiniCluster(uint32_t n, ProtocolOptions options = {}) {
    HomeMap homes = *HomeMap::Create(n, kPageSize);  // gfn g lives on node g % n
    for (uint32_t i = 0; i < n; ++i)
      nodes_.push_back(std::make_unique<Protocol>(NodeId(i), homes, options));
  }

  // Runs one event at `node` to quiescence; returns the number of wire messages.
  int Run(uint32_t node, const Event& event) {
    int sent = 0;
    Apply(node, event, &sent);
    return sent + Drain();
  }
  // Applies an event without delivering what it sends.
  void Start(uint32_t node, const Event& event) {
    int sent = 0;
    Apply(node, event, &sent);
  }
  // Delivers messages in send order, skipping held pairs (per-pair FIFO
  // holds: a held pair's messages keep their order). Returns messages sent.
  int Drain() {
    int sent = 0;
    for (;;) {
      auto it = std::find_if(wire_.begin(), wire_.end(), [this](const auto& m) {
        return !held_[std::get<0>(m)][std::get<1>(m)];
      });
      if (it == wire_.end()) return sent;
      auto [from, to, msg] = *it;
      wire_.erase(it);
      if (dead_[to]) continue;
      Apply(to, ReceiveEvent{NodeId(from), msg}, &sent);
    }
  }
  void Hold(uint32_t from, uint32_t to) { held_[from][to] = true; }
  int Release(uint32_t from, uint32_t to) {
    held_[from][to] = false;
    return Drain();
  }
  bool Woken(uint64_t token) const {
    for (const WakeAction& w : wakes_) {
      if (w.token == token) return w.ok;
    }
    return false;
  }
  int Read(uint32_t node, uint64_t gfn) {
    return Run(node, FaultEvent{Gfn(gfn), Access::kRead, NextToken()});
  }
  int Write(uint32_t node, uint64_t gfn) {
    return Run(node, FaultEvent{Gfn(gfn), Access::kWrite, NextToken()});
  }

  // Kills a node: its queued traffic vanishes and everyone else is told.
  void Kill(uint32_t node) {
    dead_[node] = true;
    std::erase_if(wire_, [node](const auto& m) { return std::get<0>(m) == node; });
    for (uint32_t i = 0; i < nodes_.size(); ++i) {
      if (!dead_[i]) Run(i, NodeDeadEvent{NodeId(node)});
    }
  }

  Protocol& node(uint32_t i) { return *nodes_[i]; }
  PageState State(uint32_t i, uint64_t gfn) { return nodes_[i]->StateOf(Gfn(gfn)); }
  const std::vector<WakeAction>& wakes() const { return wakes_; }
  const std::vector<ErrorAction>& errors() const { return errors_; }
  uint64_t last_token() const { return token_; }

 private:
  uint64_t NextToken() { return ++token_; }
  void Apply(uint32_t node, const Event& event, int* sent) {
    std::vector<Action> out;
    nodes_[node]->Handle(event, &out);
    for (const Action& a : out) {
      if (const auto* s = std::get_if<SendAction>(&a)) {
        ++*sent;
        wire_.emplace_back(node, s->to.value(), s->msg);
      } else if (const auto* w = std::get_if<WakeAction>(&a)) {
        wakes_.push_back(*w);
      } else if (const auto* e = std::get_if<ErrorAction>(&a)) {
        errors_.push_back(*e);
      }
    }
  }

  std::vector<std::unique_ptr<Protocol>> nodes_;
  std::deque<std::tuple<uint32_t, uint32_t, Message>> wire_;
  bool dead_[64] = {};
  bool held_[64][64] = {};
  std::vector<WakeAction> wakes_;
  std::vector<ErrorAction> errors_;
  uint64_t token_ = 0;
};

TEST(ProtocolCountsTest, HitsCostNothing) {
  MiniCluster c(2);
  EXPECT_EQ(c.Write(1, 1), 0) << "the home starts with every page Modified";
  EXPECT_EQ(c.Read(1, 1), 0);
  EXPECT_EQ(c.wakes().size(), 2u);
}

TEST(ProtocolCountsTest, ReadMissAtHome) {
  MiniCluster c(3);
  EXPECT_EQ(c.Read(2, 1), 2) << "ReadReq, ReadData";
  EXPECT_EQ(c.State(2, 1), PageState::kShared);
  EXPECT_EQ(c.State(1, 1), PageState::kShared);
  EXPECT_EQ(c.Read(0, 1), 2) << "the home serves a clean page itself";
}

TEST(ProtocolCountsTest, ReadMissForwardedToOwner) {
  MiniCluster c(3);
  EXPECT_EQ(c.Write(2, 1), 2) << "WriteReq, WriteGrant+page from the home's copy";
  EXPECT_EQ(c.State(1, 1), PageState::kInvalid);
  EXPECT_EQ(c.Read(0, 1), 4) << "ReadReq, FwdRead, ReadData, Writeback";
  EXPECT_EQ(c.State(0, 1), PageState::kShared);
  EXPECT_EQ(c.State(1, 1), PageState::kShared);
  EXPECT_EQ(c.State(2, 1), PageState::kShared);
}

TEST(ProtocolCountsTest, ReadMissAtHomeFromOwner) {
  MiniCluster c(3);
  c.Write(2, 1);
  EXPECT_EQ(c.Read(1, 1), 2) << "FwdRead, Writeback";
  EXPECT_EQ(c.State(1, 1), PageState::kShared);
}

TEST(ProtocolCountsTest, WriteMissForwardedToOwner) {
  MiniCluster c(3);
  c.Write(2, 1);
  EXPECT_EQ(c.Write(0, 1), 3) << "WriteReq, FwdWrite, WriteGrant+page";
  EXPECT_EQ(c.State(0, 1), PageState::kModified);
  EXPECT_EQ(c.State(2, 1), PageState::kInvalid);
  EXPECT_EQ(c.Write(1, 1), 2) << "the home asks the owner directly";
}

TEST(ProtocolCountsTest, UpgradeWithKSharers) {
  for (int k = 0; k <= 6; ++k) {
    MiniCluster c(9);
    // Readers 1..k+1 of gfn 0 (home 0); reader 1 upgrades past k others.
    for (int r = 1; r <= k + 1; ++r) ASSERT_EQ(c.Read(r, 0), 2);
    EXPECT_EQ(c.Write(1, 0), 2 + 2 * k) << "k=" << k << ": WriteReq, k Inv, k InvAck, WriteGrant";
    EXPECT_EQ(c.State(1, 0), PageState::kModified);
    for (int r = 0; r <= k + 1; ++r) {
      if (r == 1) continue;
      EXPECT_EQ(c.State(r, 0), PageState::kInvalid) << "k=" << k << " node " << r;
    }
  }
}

TEST(ProtocolCountsTest, WriteMissWithKSharers) {
  for (int k = 1; k <= 4; ++k) {
    MiniCluster c(9);
    for (int r = 1; r <= k; ++r) ASSERT_EQ(c.Read(r, 0), 2);
    EXPECT_EQ(c.Write(8, 0), 2 + 2 * k) << "k=" << k << ": the grant carries the page";
  }
}

TEST(ProtocolCountsTest, WriteAtHomeWithKSharers) {
  for (int k = 0; k <= 4; ++k) {
    MiniCluster c(9);
    for (int r = 1; r <= k; ++r) ASSERT_EQ(c.Read(r, 0), 2);
    EXPECT_EQ(c.Write(0, 0), 2 * k) << "k=" << k << ": k Inv, k InvAck";
    EXPECT_EQ(c.State(0, 0), PageState::kModified);
  }
}

// Races from the state table, forced one at a time.

TEST(ProtocolRaceTest, InvOvertakesForwardedData) {
  MiniCluster c(4);
  c.Write(2, 1);  // node 2 owns gfn 1 (home 1)
  c.Hold(2, 3);   // its data to node 3 will be slow
  c.Run(3, FaultEvent{Gfn(1), Access::kRead, 31});
  EXPECT_EQ(c.State(3, 1), PageState::kIsD);
  EXPECT_FALSE(c.node(1).HomeBusy(Gfn(1))) << "the writeback reached the home";
  c.Run(0, FaultEvent{Gfn(1), Access::kWrite, 41});
  EXPECT_EQ(c.State(3, 1), PageState::kIsD) << "the Inv waits for the data";
  EXPECT_EQ(c.State(0, 1), PageState::kImD) << "no grant before node 3 acks";
  c.Release(2, 3);
  EXPECT_TRUE(c.Woken(31)) << "the read completes with the data it asked for";
  EXPECT_TRUE(c.Woken(41));
  EXPECT_EQ(c.State(3, 1), PageState::kInvalid);
  EXPECT_EQ(c.State(0, 1), PageState::kModified);
}

TEST(ProtocolRaceTest, ForwardReachesOwnerElectBeforeItsData) {
  MiniCluster c(4);
  c.Write(2, 1);
  c.Hold(2, 3);
  c.Run(3, FaultEvent{Gfn(1), Access::kWrite, 31});  // home forwards to 2; 2 -> 3 is held
  c.Run(0, FaultEvent{Gfn(1), Access::kWrite, 41});  // home forwards to 3, still waiting
  EXPECT_EQ(c.State(3, 1), PageState::kImD);
  EXPECT_EQ(c.State(0, 1), PageState::kImD);
  EXPECT_GT(c.node(3).stats().deferred, 0u);
  c.Release(2, 3);
  EXPECT_TRUE(c.Woken(31)) << "node 3 writes before it passes the page on";
  EXPECT_TRUE(c.Woken(41));
  EXPECT_EQ(c.State(3, 1), PageState::kInvalid);
  EXPECT_EQ(c.State(0, 1), PageState::kModified);
}

TEST(ProtocolRaceTest, TwoUpgradesAtOnce) {
  MiniCluster c(3);
  c.Read(1, 0);
  c.Read(2, 0);
  c.Start(1, FaultEvent{Gfn(0), Access::kWrite, 11});
  c.Start(2, FaultEvent{Gfn(0), Access::kWrite, 21});
  EXPECT_EQ(c.State(1, 0), PageState::kSmG);
  EXPECT_EQ(c.State(2, 0), PageState::kSmG);
  // Node 1 wins at the home; node 2's copy is invalidated under its pending
  // upgrade, so it gets the page from node 1 by a forward instead.
  EXPECT_EQ(c.Drain(), 5) << "Inv, InvAck, WriteGrant, FwdWrite, WriteGrant+page";
  EXPECT_TRUE(c.Woken(11));
  EXPECT_TRUE(c.Woken(21));
  EXPECT_EQ(c.State(1, 0), PageState::kInvalid);
  EXPECT_EQ(c.State(2, 0), PageState::kModified);
}

TEST(ProtocolRaceTest, ReaderLosesForwardedCopyWithItsSender) {
  MiniCluster c(4);
  c.Write(2, 1);
  c.Hold(2, 3);
  c.Run(3, FaultEvent{Gfn(1), Access::kRead, 31});  // 2 downgraded; data to 3 held
  c.Kill(2);                                        // ... and dropped
  EXPECT_TRUE(c.Woken(31)) << "the home resends its copy";
  EXPECT_EQ(c.State(3, 1), PageState::kShared);
  EXPECT_EQ(c.node(1).stats().data_resends, 1u);
}

TEST(ProtocolRaceTest, OwnerElectLosesPageWithItsSupplier) {
  MiniCluster c(4);
  c.Write(2, 1);
  c.Hold(2, 3);
  c.Run(3, FaultEvent{Gfn(1), Access::kWrite, 31});  // page in flight 2 -> 3
  c.Kill(2);
  EXPECT_FALSE(c.Woken(31));
  EXPECT_EQ(c.errors().back().kind, ErrorKind::kPageLost);
  EXPECT_EQ(c.errors().back().node, NodeId(2));
  c.Read(0, 1);
  EXPECT_FALSE(c.wakes().back().ok) << "the home learned of the loss";
}

TEST(ProtocolTest, InitialOwnerIsConfigurable) {
  ProtocolOptions options;
  options.initial_owner = NodeId(0);
  MiniCluster c(3, options);
  EXPECT_EQ(c.State(0, 1), PageState::kModified);
  EXPECT_EQ(c.State(1, 1), PageState::kInvalid);
  EXPECT_EQ(c.Read(2, 1), 4) << "forwarded to node 0, the initial owner";
}

TEST(ProtocolTest, ReadPinDefersInvalidationUntilUnpin) {
  MiniCluster c(3);
  c.Run(2, PinEvent{Gfn(1), Access::kRead, 100});
  ASSERT_EQ(c.wakes().back().token, 100u);
  c.Write(0, 1);
  EXPECT_EQ(c.State(2, 1), PageState::kShared) << "pinned copy stays";
  EXPECT_NE(c.State(0, 1), PageState::kModified) << "writer waits for the unpin";
  EXPECT_TRUE(c.node(1).HomeBusy(Gfn(1)));
  c.Run(2, UnpinEvent{Gfn(1), Access::kRead});
  EXPECT_EQ(c.State(2, 1), PageState::kInvalid);
  EXPECT_EQ(c.State(0, 1), PageState::kModified);
  EXPECT_FALSE(c.node(1).HomeBusy(Gfn(1)));
}

TEST(ProtocolTest, WritePinAtHomeDefersRemoteRead) {
  MiniCluster c(2);
  c.Run(1, PinEvent{Gfn(1), Access::kWrite, 7});
  EXPECT_EQ(c.wakes().back().token, 7u);
  c.Read(0, 1);
  EXPECT_EQ(c.State(0, 1), PageState::kIsD);
  EXPECT_EQ(c.State(1, 1), PageState::kModified);
  c.Run(1, UnpinEvent{Gfn(1), Access::kWrite});
  EXPECT_EQ(c.State(0, 1), PageState::kShared);
  EXPECT_EQ(c.State(1, 1), PageState::kShared);
}

TEST(ProtocolTest, OwnerDeathLosesPageAndNamesNode) {
  MiniCluster c(3);
  c.Write(2, 1);
  c.Kill(2);
  ASSERT_FALSE(c.errors().empty());
  EXPECT_EQ(c.errors().back().kind, ErrorKind::kPageLost) << "the home reports the loss";
  EXPECT_EQ(c.errors().back().node, NodeId(2));
  EXPECT_EQ(c.errors().back().pages.first, Gfn(1));
  c.Read(0, 1);
  EXPECT_FALSE(c.wakes().back().ok);
  EXPECT_EQ(c.errors().back().kind, ErrorKind::kPageLost);
  EXPECT_EQ(c.errors().back().node, NodeId(2));
  // Pages whose only copy was elsewhere are unaffected.
  c.Read(0, 4);
  EXPECT_TRUE(c.wakes().back().ok);
}

TEST(ProtocolTest, HomeDeathFailsFaultsWithHomeRange) {
  MiniCluster c(3);
  c.Read(0, 2);  // a copy taken before the home dies stays readable
  c.Kill(2);
  EXPECT_EQ(c.State(0, 2), PageState::kShared);
  c.Read(1, 5);
  EXPECT_FALSE(c.wakes().back().ok);
  EXPECT_EQ(c.errors().back().kind, ErrorKind::kHomeDead);
  EXPECT_EQ(c.errors().back().node, NodeId(2));
  EXPECT_EQ(c.errors().back().pages.first, Gfn(5));
  EXPECT_EQ(c.errors().back().pages.count, 1u);
}

TEST(ProtocolTest, BadMessagesAreCountedNotFatal) {
  MiniCluster c(3);
  std::vector<Action> out;
  c.node(1).Handle(ReceiveEvent{NodeId(2), {MsgType::kInvAck, 0, NodeId(2), Gfn(1)}}, &out);
  c.node(1).Handle(ReceiveEvent{NodeId(2), {MsgType::kReadReq, 0, NodeId(0), Gfn(1)}}, &out);
  c.node(0).Handle(ReceiveEvent{NodeId(2), {MsgType::kInv, 0, NodeId(2), Gfn(1)}}, &out);
  c.node(0).Handle(ReceiveEvent{NodeId(1), {MsgType::kWriteGrant, 0, NodeId(0), Gfn(1)}}, &out);
  c.node(0).Handle(ReceiveEvent{NodeId(1), {MsgType::kReadData, 0, NodeId(0), Gfn(1)}}, &out);
  c.node(0).Handle(ReceiveEvent{NodeId(9), {MsgType::kReadData, 0, NodeId(0), Gfn(1)}}, &out);
  EXPECT_EQ(c.node(1).stats().protocol_errors, 2u);
  EXPECT_EQ(c.node(0).stats().protocol_errors, 4u);
  int errors = 0;
  for (const Action& a : out) errors += std::holds_alternative<ErrorAction>(a);
  EXPECT_EQ(errors, 6);
  EXPECT_EQ(c.Read(0, 1), 2) << "still works after the noise";
}

}  // namespace
}  // namespace dvm::dsm
