// Protocol: event dispatch and the node side (faults, pins, messages from the
// home and from owners). The home directory is in protocol_home.cc.
#include "dsm/protocol.h"

#include <utility>

#include "dvm/log.h"

namespace dvm::dsm {
namespace {

bool Transient(PageState s) {
  return s == PageState::kIsD || s == PageState::kImD || s == PageState::kSmG;
}
bool CanRead(PageState s) {
  return s == PageState::kShared || s == PageState::kModified || s == PageState::kSmG;
}
bool ForHome(MsgType t) {
  return t == MsgType::kReadReq || t == MsgType::kWriteReq || t == MsgType::kInvAck ||
         t == MsgType::kWriteback || t == MsgType::kLostReport;
}
// Messages a node may have to hold back; they all come from the home.
bool Deferrable(MsgType t) {
  return t == MsgType::kInv || t == MsgType::kFwdRead || t == MsgType::kFwdWrite;
}
bool FromHomeOnly(MsgType t) {
  return Deferrable(t) || t == MsgType::kDataResend || t == MsgType::kSupplierDead;
}
bool PageRequired(MsgType t) {
  return t == MsgType::kReadData || t == MsgType::kWriteback || t == MsgType::kDataResend;
}

}  // namespace

const char* PageStateName(PageState s) {
  switch (s) {
    case PageState::kInvalid:
      return "I";
    case PageState::kShared:
      return "S";
    case PageState::kModified:
      return "M";
    case PageState::kIsD:
      return "IS_D";
    case PageState::kImD:
      return "IM_D";
    case PageState::kSmG:
      return "SM_G";
  }
  return "?";
}

Protocol::Protocol(NodeId self, HomeMap homes, ProtocolOptions options)
    : self_(self), homes_(std::move(homes)), options_(options) {
  DVM_CHECK(self.value() < homes_.num_nodes()) << "node " << self.value();
}

void Protocol::Handle(const Event& event, std::vector<Action>* out) {
  out_ = out;
  if (const auto* e = std::get_if<FaultEvent>(&event)) {
    OnFault(e->gfn, e->access, e->token, /*pin=*/false);
  } else if (const auto* e = std::get_if<PinEvent>(&event)) {
    OnFault(e->gfn, e->access, e->token, /*pin=*/true);
  } else if (const auto* e = std::get_if<UnpinEvent>(&event)) {
    OnUnpin(e->gfn, e->access);
  } else if (const auto* e = std::get_if<ReceiveEvent>(&event)) {
    if (e->from.value() >= homes_.num_nodes() || e->from == self_) {
      BadMessage(e->from, e->msg, "impossible sender");
    } else if (!IsDead(e->from)) {  // stragglers from a dead node are ignored
      Dispatch(e->from, e->msg);
    }
  } else if (const auto* e = std::get_if<NodeDeadEvent>(&event)) {
    if (e->node != self_ && e->node.value() < homes_.num_nodes() && !IsDead(e->node)) {
      dead_ |= Bit(e->node);
      OnNodeDeadHome(e->node);
      OnNodeDeadLocal(e->node);
    }
  }
  while (!work_.empty()) {
    Work w = work_.front();
    work_.pop_front();
    switch (w.kind) {
      case Work::kMessage:
        Dispatch(self_, w.msg);
        break;
      case Work::kAdvanceNode:
        AdvanceNode(w.msg.gfn);
        break;
      case Work::kResumeHome:
        ResumeHome(w.msg.gfn);
        break;
    }
  }
  out_ = nullptr;
}

PageState Protocol::StateOf(Gfn gfn) const {
  auto it = pages_.find(gfn.value());
  if (it != pages_.end()) return it->second.state;
  NodeId owner = options_.initial_owner.value_or(homes_.HomeOf(gfn));
  return owner == self_ ? PageState::kModified : PageState::kInvalid;
}

Protocol::NodePage& Protocol::Page(Gfn gfn) {
  auto it = pages_.find(gfn.value());
  if (it != pages_.end()) return it->second;
  PageState initial = StateOf(gfn);
  NodePage& page = pages_[gfn.value()];
  page.state = initial;
  return page;
}

void Protocol::Send(NodeId to, MsgType type, Gfn gfn, NodeId node, bool page, uint64_t seq) {
  Message msg{type, static_cast<uint8_t>(page ? kHasPage : 0), node, gfn, seq};
  if (to == self_) {
    // The home talking to its own node side: no wire message, and never a
    // page (the home's copy is the node's copy).
    DVM_CHECK(!page) << "page sent to self: " << ToString(msg);
    work_.push_back({Work::kMessage, msg});
  } else if (!IsDead(to)) {
    ++stats_.messages_sent;
    Emit(SendAction{to, msg});
  }
}

void Protocol::BadMessage(NodeId from, const Message& msg, const char* what) {
  ++stats_.protocol_errors;
  DVM_LOG_EVERY_SEC(WARNING, 1.0) << "dsm node " << self_.value() << ": bad " << ToString(msg)
                                  << " from node " << from.value() << ": " << what;
  Emit(ErrorAction{ErrorKind::kBadMessage, from, {msg.gfn, 1}, what});
}

void Protocol::Dispatch(NodeId from, const Message& msg) {
  if (msg.has_page() != PageRequired(msg.type) && msg.type != MsgType::kWriteGrant) {
    BadMessage(from, msg, "page presence does not match the type");
  } else if (ForHome(msg.type)) {
    if (homes_.HomeOf(msg.gfn) != self_) {
      BadMessage(from, msg, "directory message for a page homed elsewhere");
    } else {
      OnHomeMessage(from, msg);
    }
  } else if (FromHomeOnly(msg.type) && homes_.HomeOf(msg.gfn) != from) {
    BadMessage(from, msg, "only the home sends this");
  } else {
    OnNodeMessage(from, msg);
  }
}

void Protocol::OnFault(Gfn gfn, Access access, uint64_t token, bool pin) {
  NodePage& page = Page(gfn);
  if (page.lost_with) {
    Emit(ErrorAction{ErrorKind::kPageLost, *page.lost_with, {gfn, 1}, "page was lost"});
    Emit(WakeAction{token, false});
    return;
  }
  page.waiters.push_back({token, access, pin});
  AdvanceNode(gfn);
}

void Protocol::OnUnpin(Gfn gfn, Access access) {
  NodePage& page = Page(gfn);
  uint32_t& pins = access == Access::kRead ? page.read_pins : page.write_pins;
  DVM_CHECK(pins > 0) << "unpin of gfn " << gfn.value() << " that is not pinned";
  --pins;
  AdvanceNode(gfn);
}

void Protocol::OnNodeMessage(NodeId from, const Message& msg) {
  NodePage& page = Page(msg.gfn);
  if (Deferrable(msg.type) && !page.deferred.empty()) {
    page.deferred.push_back(msg);  // keep the home's order
    ++stats_.deferred;
  } else if (!TryNodeMessage(page, from, msg)) {
    page.deferred.push_back(msg);
    ++stats_.deferred;
  }
  AdvanceNode(msg.gfn);
}

// Returns false when the message must wait (see "defer" in the state table).
bool Protocol::TryNodeMessage(NodePage& page, NodeId from, const Message& msg) {
  const Gfn gfn = msg.gfn;
  const NodeId home = homes_.HomeOf(gfn);
  const bool pinned = page.read_pins + page.write_pins > 0;
  if (page.lost_with && (msg.type == MsgType::kFwdRead || msg.type == MsgType::kFwdWrite)) {
    // Sent before the home read our LostReport. A forwarded read is answered
    // by the home when the report lands; a forwarded writer must hear it from
    // us, since the home already made it the owner.
    if (msg.type == MsgType::kFwdWrite) {
      Send(msg.node, MsgType::kLost, gfn, *page.lost_with, false, msg.seq);
    }
    return true;
  }
  switch (msg.type) {
    case MsgType::kInv:
      if (page.state == PageState::kIsD) return false;
      if (page.state != PageState::kShared && page.state != PageState::kSmG) break;
      if (pinned) return false;
      Emit(DropAction{gfn});
      Send(home, MsgType::kInvAck, gfn, self_);
      page.state = page.state == PageState::kShared ? PageState::kInvalid : PageState::kImD;
      return true;
    case MsgType::kFwdRead:
      if (page.state == PageState::kImD) return false;
      if (page.state != PageState::kModified || msg.node == self_) break;
      if (page.write_pins > 0) return false;
      Emit(WriteProtectAction{gfn});
      if (msg.node != home) Send(msg.node, MsgType::kReadData, gfn, msg.node, true, msg.seq);
      Send(home, MsgType::kWriteback, gfn, msg.node, /*page=*/true, msg.seq);
      page.state = PageState::kShared;
      return true;
    case MsgType::kFwdWrite:
      if (page.state == PageState::kImD) return false;
      if (page.state != PageState::kModified || msg.node == self_) break;
      if (pinned) return false;
      Emit(WriteProtectAction{gfn});  // freeze the bytes before they are read for sending
      Send(msg.node, MsgType::kWriteGrant, gfn, msg.node, /*page=*/true, msg.seq);
      Emit(DropAction{gfn});
      page.state = PageState::kInvalid;
      return true;
    case MsgType::kReadData:
      if (page.state != PageState::kIsD) break;
      Emit(InstallAction{gfn, /*writable=*/false});
      page.state = PageState::kShared;
      return true;
    case MsgType::kDataResend:
      // Only for the request whose forwarded copy died; if that copy made it
      // after all, or we moved on, the resend is stale and ignored.
      if (page.state == PageState::kIsD && msg.seq == page.seq) {
        Emit(InstallAction{gfn, /*writable=*/false});
        page.state = PageState::kShared;
      }
      return true;
    case MsgType::kWriteGrant:
      if (page.state == PageState::kImD && msg.has_page()) {
        Emit(InstallAction{gfn, /*writable=*/true});
      } else if (page.state == PageState::kSmG && !msg.has_page()) {
        Emit(MakeWritableAction{gfn});
      } else {
        break;
      }
      page.state = PageState::kModified;
      return true;
    case MsgType::kSupplierDead:
      // Only an owner-elect still waiting has lost its data; otherwise it came.
      if (page.state == PageState::kImD && msg.seq == page.seq) {
        BecomeLost(page, gfn, msg.node, /*home_knows=*/false);
      }
      return true;
    case MsgType::kLost:
      if (!page.lost_with && msg.node.value() < homes_.num_nodes()) {
        // Copies still held stay valid (no one can write them any more).
        if (Transient(page.state) || page.state == PageState::kInvalid) {
          BecomeLost(page, gfn, msg.node, /*home_knows=*/from == home);
        }
      }
      return true;
    default:
      break;
  }
  BadMessage(from, msg, "message does not fit the page state");
  return true;
}

void Protocol::BecomeLost(NodePage& page, Gfn gfn, NodeId dead, bool home_knows) {
  const bool owner_elect = page.state == PageState::kImD;
  page.lost_with = dead;
  FailWaiters(page, gfn, ErrorKind::kPageLost, dead);
  if (page.state == PageState::kIsD || page.state == PageState::kImD) {
    page.state = PageState::kInvalid;
  } else if (page.state == PageState::kSmG) {
    page.state = PageState::kShared;
  }
  if (owner_elect) {
    // The home thinks we own the page: tell it, and tell whoever it already
    // forwarded a write to (a forwarded read is answered by the home itself).
    if (!home_knows) Send(homes_.HomeOf(gfn), MsgType::kLostReport, gfn, dead);
    for (const Message& m : page.deferred) {
      if (m.type == MsgType::kFwdWrite) Send(m.node, MsgType::kLost, gfn, dead, false, m.seq);
    }
    page.deferred.clear();
  }
}

void Protocol::FailWaiters(NodePage& page, Gfn gfn, ErrorKind kind, NodeId node) {
  if (page.waiters.empty()) return;
  PageRange range = kind == ErrorKind::kHomeDead ? homes_.HomeRunOf(gfn) : PageRange{gfn, 1};
  Emit(ErrorAction{kind, node, range,
                   kind == ErrorKind::kHomeDead ? "home node is dead" : "page was lost"});
  for (const Waiter& w : page.waiters) Emit(WakeAction{w.token, false});
  page.waiters.clear();
}

// Moves a page forward after anything changed: wakes whoever can now proceed,
// replays deferred messages, and asks the home for what waiters still need.
void Protocol::AdvanceNode(Gfn gfn) {
  NodePage& page = Page(gfn);
  const NodeId home = homes_.HomeOf(gfn);
  for (;;) {
    const bool can_read = CanRead(page.state);
    const bool can_write = page.state == PageState::kModified;
    for (auto it = page.waiters.begin(); it != page.waiters.end();) {
      if (it->access == Access::kRead ? can_read : can_write) {
        if (it->pin) ++(it->access == Access::kRead ? page.read_pins : page.write_pins);
        Emit(WakeAction{it->token, true});
        it = page.waiters.erase(it);
      } else {
        ++it;
      }
    }
    bool progressed = false;
    while (!page.deferred.empty() && TryNodeMessage(page, home, page.deferred.front())) {
      page.deferred.pop_front();
      progressed = true;
    }
    if (!progressed) break;
  }
  if (!page.waiters.empty() && !Transient(page.state)) {
    if (page.lost_with) {
      FailWaiters(page, gfn, ErrorKind::kPageLost, *page.lost_with);
    } else if (IsDead(home)) {
      FailWaiters(page, gfn, ErrorKind::kHomeDead, home);
    } else if (page.state == PageState::kInvalid) {
      bool write = false;
      for (const Waiter& w : page.waiters) write |= w.access == Access::kWrite;
      Send(home, write ? MsgType::kWriteReq : MsgType::kReadReq, gfn, self_, false, ++page.seq);
      page.state = write ? PageState::kImD : PageState::kIsD;
    } else if (page.state == PageState::kShared) {  // only writers are left
      Send(home, MsgType::kWriteReq, gfn, self_, false, ++page.seq);
      page.state = PageState::kSmG;
    }
  } else if (!page.waiters.empty() && IsDead(home)) {
    // Our request died with the home; data already on its way may still land.
    FailWaiters(page, gfn, ErrorKind::kHomeDead, home);
  }
  if (home == self_ && HomeBusy(gfn)) work_.push_back({Work::kResumeHome, Message{.gfn = gfn}});
}

void Protocol::OnNodeDeadLocal(NodeId dead) {
  for (auto& [g, page] : pages_) {
    if (homes_.HomeOf(Gfn(g)) == dead) FailWaiters(page, Gfn(g), ErrorKind::kHomeDead, dead);
  }
}

}  // namespace dvm::dsm
