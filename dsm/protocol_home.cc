// Protocol: the home directory. Serializes the requests for each page it
// homes, invalidates sharers, forwards to owners and serves from its own copy.
#include <bit>
#include <utility>

#include "dsm/protocol.h"
#include "dvm/log.h"

namespace dvm::dsm {

Protocol::DirEntry& Protocol::Dir(Gfn gfn) {
  auto [it, inserted] = dir_.try_emplace(gfn.value());
  if (inserted) {
    it->second.owner = options_.initial_owner.value_or(self_);
    // Untouched pages start on their initial owner; if it died, so did they.
    if (IsDead(*it->second.owner)) MarkLost(gfn, it->second, *it->second.owner, /*report=*/true);
  }
  return it->second;
}

bool Protocol::HomeBusy(Gfn gfn) const {
  auto it = dir_.find(gfn.value());
  return it != dir_.end() && it->second.busy != Busy::kNone;
}

std::optional<NodeId> Protocol::OwnerOf(Gfn gfn) const {
  auto it = dir_.find(gfn.value());
  if (it == dir_.end()) return options_.initial_owner.value_or(self_);
  return it->second.owner;
}

void Protocol::OnHomeMessage(NodeId from, const Message& msg) {
  const Gfn gfn = msg.gfn;
  DirEntry& dir = Dir(gfn);
  switch (msg.type) {
    case MsgType::kReadReq:
    case MsgType::kWriteReq:
      if (msg.node != from) return BadMessage(from, msg, "request names another requester");
      if (dir.lost_with) return Send(from, MsgType::kLost, gfn, *dir.lost_with, false, msg.seq);
      if (dir.busy != Busy::kNone) {
        dir.queue.push_back(msg);
        ++stats_.queued_at_home;
        return;
      }
      StartRequest(gfn, dir, msg);
      return ServeQueue(gfn, dir);
    case MsgType::kInvAck:
      if (dir.busy != Busy::kInvalidating || !(dir.pending & Bit(from))) {
        return BadMessage(from, msg, "unexpected InvAck");
      }
      dir.pending &= ~Bit(from);
      // Acking means it had the page: no resend will ever be needed.
      std::erase_if(dir.read_forwards, [from](const Forward& f) { return f.to == from; });
      return FinishInvalidation(gfn, dir);
    case MsgType::kWriteback: {
      if (dir.busy != Busy::kAwaitWriteback || dir.supplier != from) {
        return BadMessage(from, msg, "unexpected Writeback");
      }
      // The home takes a read-only copy again; its own request for the page,
      // if one is queued, is partly or wholly served by it.
      NodePage& hp = Page(gfn);
      DVM_CHECK(hp.state == PageState::kInvalid || hp.state == PageState::kIsD ||
                hp.state == PageState::kImD)
          << "home has a copy while " << from.value() << " owned gfn " << gfn.value();
      Emit(InstallAction{gfn, /*writable=*/false});
      hp.state = hp.state == PageState::kImD ? PageState::kSmG : PageState::kShared;
      const NodeId reader = dir.requester;
      dir.owner.reset();
      dir.sharers = Bit(self_) | Bit(from);
      if (!IsDead(reader) && !dir.requester_dead) dir.sharers |= Bit(reader);
      dir.write_forwards.clear();  // the owner had the page, so every hop before it landed
      if (reader != self_ && !IsDead(reader)) {
        dir.read_forwards.push_back(Forward{from, reader, dir.requester_seq});
      }
      dir.busy = Busy::kNone;
      work_.push_back({Work::kAdvanceNode, Message{.gfn = gfn}});
      return ServeQueue(gfn, dir);
    }
    case MsgType::kLostReport:
      // From an owner-elect whose data died in flight. Stale reports (the
      // page moved on, or is already known lost) are harmless.
      if (dir.lost_with || msg.node.value() >= homes_.num_nodes()) return;
      if ((dir.busy == Busy::kAwaitWriteback && dir.supplier == from) ||
          ((dir.busy == Busy::kNone || dir.busy == Busy::kAwaitHomeCopy) && dir.owner == from)) {
        MarkLost(gfn, dir, msg.node, /*report=*/true);
      }
      return;
    default:
      return BadMessage(from, msg, "not a directory message");
  }
}

void Protocol::StartRequest(Gfn gfn, DirEntry& dir, const Message& req) {
  const NodeId r = req.node;
  std::erase_if(dir.read_forwards, [r](const Forward& f) { return f.to == r; });
  // A node asks again only after its last forwarded page arrived, and with it
  // every hop before.
  for (size_t i = dir.write_forwards.size(); i > 0; --i) {
    if (dir.write_forwards[i - 1].to == r) {
      dir.write_forwards.erase(dir.write_forwards.begin(), dir.write_forwards.begin() + i);
      break;
    }
  }
  if (IsDead(r)) return;
  dir.request = req.type;
  dir.requester = r;
  dir.requester_seq = req.seq;
  dir.requester_dead = false;
  if (req.type == MsgType::kReadReq) {
    if (!dir.owner) {
      // A queued read from the home itself was served by the writeback that
      // ended the previous transaction.
      if (r == self_) return;
      if (dir.sharers & Bit(r)) return BadMessage(r, req, "read request from a sharer");
      Send(r, MsgType::kReadData, gfn, r, /*page=*/true, req.seq);
      dir.sharers |= Bit(r);
    } else if (*dir.owner == r) {
      BadMessage(r, req, "read request from the owner");
    } else if (*dir.owner == self_) {
      dir.busy = Busy::kAwaitHomeCopy;
      TryHomeStep(gfn, dir);
    } else {
      Send(*dir.owner, MsgType::kFwdRead, gfn, r, false, req.seq);
      dir.busy = Busy::kAwaitWriteback;
      dir.supplier = *dir.owner;
    }
    return;
  }
  if (!dir.owner) {
    dir.busy = Busy::kInvalidating;
    dir.granted = false;
    dir.pending = dir.sharers & ~Bit(r) & ~Bit(self_);
    for (uint64_t m = dir.pending; m != 0; m &= m - 1) {
      Send(NodeId(static_cast<uint32_t>(std::countr_zero(m))), MsgType::kInv, gfn, r);
    }
    FinishInvalidation(gfn, dir);
  } else if (*dir.owner == r) {
    BadMessage(r, req, "write request from the owner");
  } else if (*dir.owner == self_) {
    dir.busy = Busy::kAwaitHomeCopy;
    TryHomeStep(gfn, dir);
  } else {
    Send(*dir.owner, MsgType::kFwdWrite, gfn, r, false, req.seq);
    dir.write_forwards.push_back(Forward{*dir.owner, r, req.seq});
    dir.owner = r;
    dir.sharers = 0;
  }
}

void Protocol::ServeQueue(Gfn gfn, DirEntry& dir) {
  while (dir.busy == Busy::kNone && !dir.queue.empty()) {
    Message req = dir.queue.front();
    dir.queue.pop_front();
    if (dir.lost_with) {
      Send(req.node, MsgType::kLost, gfn, *dir.lost_with, false, req.seq);
    } else {
      StartRequest(gfn, dir, req);
    }
  }
}

void Protocol::ResumeHome(Gfn gfn) {
  auto it = dir_.find(gfn.value());
  if (it == dir_.end()) return;
  if (it->second.busy == Busy::kAwaitHomeCopy) TryHomeStep(gfn, it->second);
  if (it->second.busy == Busy::kInvalidating) FinishInvalidation(gfn, it->second);
}

// Serves a request from the home's own Modified copy once it is here and not
// pinned against the change. Returns whether the step ran.
bool Protocol::TryHomeStep(Gfn gfn, DirEntry& dir) {
  NodePage& hp = Page(gfn);
  const NodeId r = dir.requester;
  if (dir.requester_dead || IsDead(r)) {
    dir.busy = Busy::kNone;  // nobody to serve; the home keeps the page
  } else if (dir.request == MsgType::kReadReq) {
    if (hp.state != PageState::kModified || hp.write_pins > 0) return false;
    Emit(WriteProtectAction{gfn});
    Send(r, MsgType::kReadData, gfn, r, /*page=*/true, dir.requester_seq);
    hp.state = PageState::kShared;
    dir.owner.reset();
    dir.sharers = Bit(self_) | Bit(r);
    dir.write_forwards.clear();  // the page reached the home
  } else {
    if (hp.state != PageState::kModified || hp.read_pins + hp.write_pins > 0) return false;
    Emit(WriteProtectAction{gfn});
    Send(r, MsgType::kWriteGrant, gfn, r, /*page=*/true, dir.requester_seq);
    Emit(DropAction{gfn});
    hp.state = PageState::kInvalid;
    dir.owner = r;
    dir.sharers = 0;
    dir.write_forwards.clear();
  }
  dir.busy = Busy::kNone;
  work_.push_back({Work::kAdvanceNode, Message{.gfn = gfn}});
  ServeQueue(gfn, dir);
  return true;
}

void Protocol::FinishInvalidation(Gfn gfn, DirEntry& dir) {
  // The injected bug grants while one ack is still out.
  const int allowed_missing = options_.inject_early_grant_bug ? 1 : 0;
  if (!dir.granted && std::popcount(dir.pending) <= allowed_missing) {
    if (dir.requester_dead || IsDead(dir.requester)) {
      if (dir.pending != 0) return;
      dir.sharers &= Bit(self_);  // every other copy is gone; the home's stays
      dir.busy = Busy::kNone;
      return ServeQueue(gfn, dir);
    }
    GrantWrite(gfn, dir);
    if (!dir.granted) return;  // waiting for the home's own copy
  }
  if (dir.granted && dir.pending == 0) {
    dir.busy = Busy::kNone;
    ServeQueue(gfn, dir);
  }
}

// All remote copies are gone: hand the page to the writer, from the home's copy
// if the writer has none, and drop the home's copy.
void Protocol::GrantWrite(Gfn gfn, DirEntry& dir) {
  const NodeId w = dir.requester;
  NodePage& hp = Page(gfn);
  DVM_CHECK(dir.sharers & Bit(self_)) << "no owner and the home has no copy of " << gfn.value();
  if (w == self_) {
    Send(self_, MsgType::kWriteGrant, gfn, w, false, dir.requester_seq);  // upgrade in place
  } else {
    if (hp.read_pins + hp.write_pins > 0) return;  // resumed on unpin
    DVM_CHECK(hp.state == PageState::kShared || hp.state == PageState::kSmG)
        << "home copy of " << gfn.value() << " in state " << PageStateName(hp.state);
    Send(w, MsgType::kWriteGrant, gfn, w, /*page=*/!(dir.sharers & Bit(w)), dir.requester_seq);
    Emit(DropAction{gfn});
    hp.state = hp.state == PageState::kShared ? PageState::kInvalid : PageState::kImD;
    work_.push_back({Work::kAdvanceNode, Message{.gfn = gfn}});
  }
  dir.owner = w;
  dir.sharers = 0;
  dir.granted = true;
}

void Protocol::MarkLost(Gfn gfn, DirEntry& dir, NodeId dead, bool report) {
  dir.lost_with = dead;
  ++stats_.pages_lost;
  if (dir.busy == Busy::kAwaitWriteback || dir.busy == Busy::kAwaitHomeCopy) {
    Send(dir.requester, MsgType::kLost, gfn, dead, false, dir.requester_seq);
  }
  dir.busy = Busy::kNone;
  dir.owner.reset();
  dir.read_forwards.clear();  // kept: write_forwards, see OnNodeDeadHome
  if (report) Emit(ErrorAction{ErrorKind::kPageLost, dead, {gfn, 1}, "page lost with its node"});
  ServeQueue(gfn, dir);  // answers every queued request with kLost
}

void Protocol::OnNodeDeadHome(NodeId dead) {
  std::vector<PageRange> lost;
  for (auto& [g, dir] : dir_) {
    const Gfn gfn(g);
    // Owner-elects fed by the dead node may never get the page; if so it is
    // lost, and the loss runs down the rest of the chain by kLost. The seq
    // makes the warning a no-op for one whose page did arrive. Done for
    // pages already lost too: the chain still moves the page towards the
    // dead end, and nobody in it may wait forever.
    for (auto it = dir.write_forwards.begin(); it != dir.write_forwards.end();) {
      if (it->from != dead) {
        ++it;
        continue;
      }
      Send(it->to, MsgType::kSupplierDead, gfn, dead, false, it->seq);
      ++stats_.supplier_dead;
      it = dir.write_forwards.erase(it);
    }
    if (dir.lost_with) continue;
    dir.sharers &= ~Bit(dead);
    std::erase_if(dir.queue, [dead](const Message& m) { return m.node == dead; });
    if (dir.busy != Busy::kNone && dir.requester == dead) dir.requester_dead = true;
    bool lose = false;
    if (dir.busy == Busy::kAwaitWriteback) {
      lose = dir.supplier == dead;
    } else if (dir.busy == Busy::kNone || dir.busy == Busy::kInvalidating) {
      lose = dir.owner == dead;
    }
    // Readers whose copy may have died in flight get it again from the home,
    // which still has it: no write completes until they ack.
    for (auto it = dir.read_forwards.begin(); !lose && it != dir.read_forwards.end();) {
      if (it->from != dead) {
        ++it;
        continue;
      }
      Send(it->to, MsgType::kDataResend, gfn, it->to, /*page=*/true, it->seq);
      ++stats_.data_resends;
      it = dir.read_forwards.erase(it);
    }
    if (lose) {
      MarkLost(gfn, dir, dead, /*report=*/false);
      if (!lost.empty() && lost.back().first.value() + lost.back().count == g) {
        ++lost.back().count;
      } else {
        lost.push_back({gfn, 1});
      }
      continue;
    }
    if (dir.busy == Busy::kInvalidating) {
      dir.pending &= ~Bit(dead);
      FinishInvalidation(gfn, dir);
    } else if (dir.busy == Busy::kAwaitHomeCopy && dir.requester_dead) {
      TryHomeStep(gfn, dir);
    }
  }
  for (const PageRange& r : lost) {
    Emit(ErrorAction{ErrorKind::kPageLost, dead, r, "only copy was on the dead node"});
  }
}

}  // namespace dvm::dsm
