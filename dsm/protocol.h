// dsm::Protocol: the page coherence protocol of one node, as a pure state
// machine. Handle(event) appends actions; no threads, clocks, sockets or page
// bytes. The simulator (test/sim) and the DSM engine drive the same code.
//
// Model: sequential consistency per page, write-invalidate, MSI, with a home
// directory per page (HomeMap). The home serializes requests for a page: while
// a transaction waits (for invalidation acks, a writeback, or the home's own
// pinned copy) the page is busy and later requests queue at the home in
// arrival order. Nobody retries, so nothing livelocks.
//
// Invariants when the home is not busy on a page:
//   owner set   -> the owner is the only node with a copy (Modified, or about
//                  to be: its data may still be in flight from the old owner)
//   owner none  -> the home has a valid copy and is in `sharers` (unless lost)
//
// Node states (per node and page). Waiters are faulting threads and pins.
//   I  Invalid              IS_D  asked for read, waiting ReadData
//   S  Shared (read-only)   IM_D  asked for write, waiting WriteGrant+page
//   M  Modified (writable)  SM_G  Shared, asked for write, waiting WriteGrant
//
//       | read fault  | write fault | Inv            | ReadData   | WriteGrant
//  -----+-------------+-------------+----------------+------------+-----------
//  I    | RdReq; IS_D | WrReq; IM_D | bad            | bad        | bad
//  S    | hit         | WrReq; SM_G | Drop,Ack; I    | bad        | bad
//  M    | hit         | hit         | bad            | bad        | bad
//  IS_D | wait        | wait        | defer          | Inst ro; S | bad
//  IM_D | wait        | wait        | bad            | bad        | Inst rw; M
//  SM_G | hit         | wait        | Drop,Ack; IM_D | bad        | MkW; M
//
//       | FwdRead R      | FwdWrite W
//  -----+----------------+------------------
//  M    | WP,Data,Wb; S  | WP,Grant,Drop; I
//  IM_D | defer          | defer
//  other| bad            | bad
//
// After a node death (see Failure below):
//       | DataResend(seq)         | SupplierDead(seq)     | Lost
//  -----+-------------------------+-----------------------+--------------------------
//  IS_D | if seq ours: Inst ro; S | ignore                | fail waiters; I, lost
//  IM_D | ignore                  | if seq ours: as Lost  | fail waiters; I, lost (*)
//  other| ignore                  | ignore                | I: lost; copies kept
//  (*) also LostReport to the home unless it sent the Lost, and Lost to the
//      writers of any deferred FwdWrite: the loss runs down the chain.
//
// ";" separates what the node does from its next state. RdReq / WrReq: ReadReq
// / WriteReq to the home. Ack: InvAck to the home. Data: ReadData+page to R.
// Wb: Writeback+page to the home. Grant: WriteGrant+page to W. WP: write-
// protect (before the page is read for sending). Inst: Install the page that
// came with the message. MkW: MakeWritable. A WriteGrant carries the page to
// IM_D and none to SM_G; any other combination is bad.
// "bad": a peer broke the protocol; counted and reported, state unchanged.
// Pins: a read pin defers Inv and FwdWrite; a write pin also defers FwdRead.
// "defer" keeps the message in a per-page FIFO replayed once the state is
// stable and unpinned; deferred messages all come from the home, in order.
// Why deferring cannot deadlock: IS_D defers an Inv only when its data was
// forwarded by the old owner (the home->R Inv overtook the owner->R data on a
// different pair), and that data is already in flight. IM_D defers forwards
// only as owner-elect, whose data is in flight from the previous owner or
// held behind that owner's own deferral: a finite chain in the home's order.
// The read done on install precedes the write that sent the Inv, so SC holds;
// the actions come as Install, Wake, Drop, and the engine's woken thread may
// fault once more (a liveness, not a safety, matter).
//
// Home directory per page: owner, sharers (u64 mask), busy, queue.
//
//  request    | directory  | home sends                                 | busy until
//  -----------+------------+--------------------------------------------+-------------------
//  ReadReq R  | owner none | ReadData+pg>R; sharers+=R                  | -
//  ReadReq R  | owner home | (home WP) ReadData+pg>R                    | home copy is M and
//             |            |                                            | not write-pinned
//  ReadReq R  | owner X    | FwdRead>X (X: ReadData>R, Writeback>H)     | Writeback
//  WriteReq W | owner none | Inv>each sharer but W and home; then       | all InvAcks, then
//             |            | WriteGrant(+pg unless W shares)>W, home    | home copy unpinned
//             |            | drops its copy                             |
//  WriteReq W | owner home | (home WP) WriteGrant+pg>W, home drops      | home copy is M and
//             |            |                                            | unpinned
//  WriteReq W | owner X    | FwdWrite>X (X: WriteGrant+pg>W); owner=W   | -
//
// The home's own copy is handled in place, never by messages to itself; its
// own requests take the same paths with zero wire messages. Every request and
// the replies to it carry the requester's per-page sequence number (seq).
//
// Wire messages per operation (remote requester R/W, home H, owner X; tested
// in protocol_test.cc, a change here is a design change):
//   read miss, page at home ............................. 2  ReadReq, ReadData
//   read miss, page Modified at X (3 hops to data) ...... 4  ReadReq, FwdRead, ReadData, Writeback
//   read miss at the home, page Modified at X ........... 2  FwdRead, Writeback
//   write miss, page Modified at X ...................... 3  WriteReq, FwdWrite, WriteGrant
//   write miss or upgrade, k other remote sharers ...... 2+2k WriteReq, k Inv, k InvAck, WriteGrant
//   write at the home, k remote sharers ................. 2k
//   hits ................................................ 0
//
// Failure. NodeDead(n) is delivered to every live node after the transport
// has dropped n's traffic (messages n sent may or may not have arrived).
//   - Lost pages: owner n; a Writeback owed by n; an owner-elect whose page
//     was in flight from n (the home sends it SupplierDead(seq); if it still
//     waits for that request it is lost, tells the home (LostReport) and
//     passes Lost down the chain of owner-elects behind it). The home reports
//     them (Error), answers later requests with Lost, and faults fail naming
//     n and the page. A page on its way to n is lost too, even if a live node
//     still held the old copy when n died (recovering it is future work).
//   - A reader whose forwarded copy came from n gets DataResend(seq) from the
//     home, which still has the page: no write completes before that reader
//     acks, and a reader that moved on ignores the stale seq.
//   - Pages homed on n: new faults fail (kHomeDead) naming n and the home run.
//     Copies still held stay readable: with the home gone nobody can write
//     them, so a read is never stale.
// Deaths are handled one NodeDead at a time; the simulator kills several.
//
// Peer messages are never trusted: one that does not fit the state table is
// dropped, counted (stats().protocol_errors) and reported as an Error action.
#ifndef DVM_DSM_PROTOCOL_H_
#define DVM_DSM_PROTOCOL_H_

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <variant>
#include <vector>

#include "dsm/home_map.h"
#include "dsm/message.h"
#include "dvm/types.h"

namespace dvm::dsm {

enum class Access : uint8_t { kRead, kWrite };

// ---- Events ----
struct FaultEvent {  // a thread touched a page it may not access
  Gfn gfn;
  Access access;
  uint64_t token;  // echoed by the Wake action
};
struct ReceiveEvent {  // a message from a peer, already Decode()d
  NodeId from;
  Message msg;
};
struct PinEvent {  // a device wants the page held in place until Unpin
  Gfn gfn;
  Access access;
  uint64_t token;
};
struct UnpinEvent {
  Gfn gfn;
  Access access;
};
struct NodeDeadEvent {
  NodeId node;
};
using Event = std::variant<FaultEvent, ReceiveEvent, PinEvent, UnpinEvent, NodeDeadEvent>;

// ---- Actions, executed in order ----
// Send msg to a peer; with kHasPage the executor attaches its local copy of
// the page as it is when the action runs (after any WriteProtect before it,
// before any Drop after it).
struct SendAction {
  NodeId to;
  Message msg;
};
// Map the page that came with the message being handled, read-only or writable.
struct InstallAction {
  Gfn gfn;
  bool writable;
};
struct MakeWritableAction {  // Shared -> Modified without new data
  Gfn gfn;
};
struct WriteProtectAction {  // Modified -> Shared
  Gfn gfn;
};
struct DropAction {  // -> Invalid
  Gfn gfn;
};
// Resume a faulting thread or a pinner. ok == false: the access failed, an
// ErrorAction says why.
struct WakeAction {
  uint64_t token;
  bool ok;
};
enum class ErrorKind : uint8_t { kPageLost, kHomeDead, kBadMessage };
struct ErrorAction {
  ErrorKind kind;
  NodeId node;  // the dead node, or the peer that sent a bad message
  PageRange pages;
  const char* what;
};
using Action = std::variant<SendAction, InstallAction, MakeWritableAction, WriteProtectAction,
                            DropAction, WakeAction, ErrorAction>;

#ifdef DVM_INJECT_PROTOCOL_BUG
inline constexpr bool kInjectProtocolBugByDefault = true;
#else
inline constexpr bool kInjectProtocolBugByDefault = false;
#endif

struct ProtocolOptions {
  // nullopt: every page starts Modified at its home. Otherwise every page
  // starts Modified at this node (e.g. node 0 after loading the kernel).
  std::optional<NodeId> initial_owner;
  // TEST ONLY: the home grants a write before the last InvAck arrives. Exists
  // so a test can prove the simulator catches a real protocol bug. On by
  // default in a -DDVM_INJECT_PROTOCOL_BUG=ON build, where the sim must fail.
  bool inject_early_grant_bug = kInjectProtocolBugByDefault;
};

struct ProtocolStats {
  uint64_t messages_sent = 0;  // wire messages only, not the home talking to itself
  uint64_t protocol_errors = 0;
  uint64_t deferred = 0;        // messages held back by a transient state or a pin
  uint64_t queued_at_home = 0;  // requests that found their page busy
  uint64_t pages_lost = 0;      // marked lost by this home
  uint64_t data_resends = 0;    // DataResend sent by this home
  uint64_t supplier_dead = 0;   // SupplierDead sent by this home
};

// What Protocol knows about one page on this node (exposed for tests).
enum class PageState : uint8_t { kInvalid, kShared, kModified, kIsD, kImD, kSmG };
const char* PageStateName(PageState s);

// One per node; not thread-safe (the engine calls it from one thread).
class Protocol {
 public:
  Protocol(NodeId self, HomeMap homes, ProtocolOptions options = {});

  // Appends to *out the actions for one event; the caller executes them in
  // order before handing in the next event, and lets the messages among them
  // reach their peers only once all of them ran (a home sends a WriteGrant
  // and then drops its own copy: the writer must not write before that). Messages must be delivered per
  // sender in the order sent (reliable per-peer FIFO, exactly once), and
  // NodeDead(n) only after the transport will deliver nothing more from n.
  void Handle(const Event& event, std::vector<Action>* out);

  NodeId self() const { return self_; }
  const HomeMap& homes() const { return homes_; }
  const ProtocolStats& stats() const { return stats_; }
  PageState StateOf(Gfn gfn) const;
  // True when this node is home of gfn and has a transaction in flight or queued.
  bool HomeBusy(Gfn gfn) const;
  // The directory's owner of a page this node homes (nullopt: shared, or lost).
  std::optional<NodeId> OwnerOf(Gfn gfn) const;

 private:
  struct Waiter {
    uint64_t token;
    Access access;
    bool pin;
  };
  struct NodePage {
    PageState state = PageState::kInvalid;
    uint32_t read_pins = 0;
    uint32_t write_pins = 0;
    uint64_t seq = 0;                 // number of our latest request for the page
    std::optional<NodeId> lost_with;  // set once the page is known lost
    std::vector<Waiter> waiters;
    std::deque<Message> deferred;  // all from the home
  };
  // kInvalidating covers waiting for acks and then for the home's own copy to
  // be droppable; kAwaitHomeCopy is a request served from the home's Modified
  // copy that waits for it to arrive or be unpinned.
  enum class Busy : uint8_t { kNone, kInvalidating, kAwaitWriteback, kAwaitHomeCopy };
  // A forward whose page the home has not seen arrive: if `from` dies, the
  // page may have died in flight with it.
  struct Forward {
    NodeId from;
    NodeId to;
    uint64_t seq;  // `to`'s request number
  };
  struct DirEntry {
    std::optional<NodeId> owner;
    uint64_t sharers = 0;
    Busy busy = Busy::kNone;
    MsgType request = MsgType::kReadReq;  // the transaction being served
    NodeId requester;
    uint64_t requester_seq = 0;
    NodeId supplier;       // kAwaitWriteback: who owes the writeback
    uint64_t pending = 0;  // kInvalidating: sharers yet to ack
    bool granted = false;  // kInvalidating: the grant went out (only early with the bug)
    bool requester_dead = false;
    // Write forwards since the page last passed through the home, oldest
    // first; each entry's `to` is the next one's `from` (owner-elects in a row).
    std::deque<Forward> write_forwards;
    // Readers served by a forward, until they ack an Inv or ask again.
    std::vector<Forward> read_forwards;
    std::optional<NodeId> lost_with;
    std::deque<Message> queue;  // requests waiting for busy to clear
  };
  // Work inside one Handle call: a message to ourselves, or a nudge to the
  // other half of this node (node side <-> home directory). Queued, not
  // called, so neither half re-enters the other.
  struct Work {
    enum Kind : uint8_t { kMessage, kAdvanceNode, kResumeHome } kind;
    Message msg;
  };

  // protocol.cc: node side
  void OnFault(Gfn gfn, Access access, uint64_t token, bool pin);
  void OnUnpin(Gfn gfn, Access access);
  void Dispatch(NodeId from, const Message& msg);
  void OnNodeMessage(NodeId from, const Message& msg);
  bool TryNodeMessage(NodePage& page, NodeId from, const Message& msg);
  void AdvanceNode(Gfn gfn);
  void FailWaiters(NodePage& page, Gfn gfn, ErrorKind kind, NodeId node);
  void BecomeLost(NodePage& page, Gfn gfn, NodeId dead, bool home_knows);
  void ResumeHome(Gfn gfn);
  void OnNodeDeadLocal(NodeId dead);
  NodePage& Page(Gfn gfn);

  // protocol_home.cc: home directory
  void OnHomeMessage(NodeId from, const Message& msg);
  void StartRequest(Gfn gfn, DirEntry& dir, const Message& req);
  void ServeQueue(Gfn gfn, DirEntry& dir);
  bool TryHomeStep(Gfn gfn, DirEntry& dir);
  void FinishInvalidation(Gfn gfn, DirEntry& dir);
  void GrantWrite(Gfn gfn, DirEntry& dir);
  void MarkLost(Gfn gfn, DirEntry& dir, NodeId dead, bool report);
  void OnNodeDeadHome(NodeId dead);
  DirEntry& Dir(Gfn gfn);

  // Output helpers.
  void Send(NodeId to, MsgType type, Gfn gfn, NodeId node, bool page = false, uint64_t seq = 0);
  void Emit(Action action) { out_->push_back(std::move(action)); }
  void BadMessage(NodeId from, const Message& msg, const char* what);
  bool IsDead(NodeId n) const { return (dead_ >> n.value()) & 1; }
  static uint64_t Bit(NodeId n) { return uint64_t{1} << n.value(); }

  NodeId self_;
  HomeMap homes_;
  ProtocolOptions options_;
  ProtocolStats stats_;
  uint64_t dead_ = 0;
  std::map<uint64_t, NodePage> pages_;  // ordered: deterministic failure handling
  std::map<uint64_t, DirEntry> dir_;
  std::deque<Work> work_;
  std::vector<Action>* out_ = nullptr;
};

}  // namespace dvm::dsm

#endif  // DVM_DSM_PROTOCOL_H_
