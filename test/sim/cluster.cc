#include "test/sim/cluster.h"

#include <cstdlib>

#include <algorithm>
#include <deque>

#include "absl/strings/str_cat.h"
#include "dsm/message.h"
#include "dvm/log.h"

namespace dvm::sim {
namespace {

using dsm::Access;
using dsm::Action;
using dsm::PageState;

enum class Map : uint8_t { kNone, kRo, kRw };
constexpr uint64_t kDropped = 0xdeaddeaddeaddeadULL;

struct Cell {
  Map map = Map::kNone;
  uint64_t value = 0;
};

// A message in flight: its encoded header and, for page messages, the value
// the sender's copy held when the Send action ran.
struct Envelope {
  std::array<uint8_t, dsm::kHeaderSize> header;
  uint64_t value = 0;
};

struct Proc {
  enum State : uint8_t { kIdle, kBlocked, kHolding, kDone };
  uint32_t node = 0;
  State state = kIdle;
  Op op;
  uint64_t token = 0;
  uint64_t issued_step = 0;
  uint64_t seq = 0;
  std::vector<Op> program;  // scripted
  size_t pc = 0;
  uint32_t ops_left = 0;  // random
  std::vector<uint64_t> reads;
};

const char* OpName(Op::Kind k) {
  switch (k) {
    case Op::kRead:
      return "read";
    case Op::kWrite:
      return "write";
    case Op::kPinRead:
      return "pin-read";
    case Op::kPinWrite:
      return "pin-write";
  }
  return "?";
}

std::string ActionString(const Action& a) {
  if (const auto* s = std::get_if<dsm::SendAction>(&a)) {
    return absl::StrCat("Send>", s->to.value(), " ", dsm::ToString(s->msg));
  }
  if (const auto* i = std::get_if<dsm::InstallAction>(&a)) {
    return absl::StrCat("Install(", i->gfn.value(), i->writable ? ",rw)" : ",ro)");
  }
  if (const auto* m = std::get_if<dsm::MakeWritableAction>(&a)) {
    return absl::StrCat("MakeWritable(", m->gfn.value(), ")");
  }
  if (const auto* w = std::get_if<dsm::WriteProtectAction>(&a)) {
    return absl::StrCat("WriteProtect(", w->gfn.value(), ")");
  }
  if (const auto* d = std::get_if<dsm::DropAction>(&a)) {
    return absl::StrCat("Drop(", d->gfn.value(), ")");
  }
  if (const auto* w = std::get_if<dsm::WakeAction>(&a)) {
    return absl::StrCat("Wake(", w->token >> 32, ".", w->token & 0xffffffff,
                        w->ok ? ")" : ",FAILED)");
  }
  const auto& e = std::get<dsm::ErrorAction>(a);
  return absl::StrCat("Error(", e.what, " node=", e.node.value(), " gfn=", e.pages.first.value(),
                      "+", e.pages.count, ")");
}

class Simulator {
 public:
  explicit Simulator(const SimConfig& config);
  SimResult Run();

 private:
  uint64_t Rand(uint64_t n) { return n <= 1 ? 0 : rng_() % n; }
  template <typename... Args>
  void Trace(const Args&... args) {
    if (config_.trace) result_.trace.push_back(absl::StrCat("[", step_, "] ", args...));
  }
  void Fail(const std::string& why) {
    if (!result_.ok) return;
    result_.ok = false;
    result_.violation = absl::StrCat("step ", step_, ": ", why);
    Trace("VIOLATION: ", why);
  }
  Cell& CellOf(uint32_t node, uint32_t page) { return mem_[node * config_.pages + page]; }
  bool Live(uint32_t node) const { return ((dead_ >> node) & 1) == 0; }

  void HandleAt(uint32_t node, const dsm::Event& event, const Envelope* incoming);
  void Execute(uint32_t node, const std::vector<Action>& actions, const Envelope* incoming);
  void RunPhase(std::vector<Proc> procs);
  bool Step();
  void Issue(size_t index);
  void Perform(size_t index);
  void Release(size_t index);
  void Deliver(uint32_t channel);
  void KillOne();
  void Finish(Proc& p);
  void CheckInvariants();

  SimConfig config_;
  std::mt19937_64 rng_;
  std::vector<std::unique_ptr<dsm::Protocol>> protocols_;
  std::vector<Cell> mem_;
  std::vector<uint64_t> golden_;                // latest write per page
  std::vector<bool> must_survive_;              // held Modified by a live node when one died
  std::vector<std::deque<Envelope>> channels_;  // from * nodes + to
  std::vector<uint32_t> active_channels_;
  std::vector<Proc> procs_;
  std::vector<std::vector<size_t>> pins_;  // per page: holding processors
  std::vector<Action> actions_;
  SimResult result_;
  uint64_t step_ = 0;
  std::vector<uint64_t> kill_steps_;  // ascending
  uint64_t dead_ = 0;                 // mask of killed nodes
};

Simulator::Simulator(const SimConfig& config) : config_(config), rng_(config.seed) {
  const uint32_t n = config_.nodes;
  std::vector<dsm::HomeRange> ranges;
  if (config_.random_homes) {
    for (uint32_t p = 0; p < config_.pages; ++p) {
      ranges.push_back({GpaOf(Gfn(p)), kPageSize, NodeId(static_cast<uint32_t>(Rand(n)))});
    }
  }
  absl::StatusOr<dsm::HomeMap> homes = dsm::HomeMap::Create(n, kPageSize, ranges);
  DVM_CHECK(homes.ok()) << homes.status();
  dsm::ProtocolOptions options;
  options.inject_early_grant_bug = config_.inject_bug;
  if (config_.random_initial_owner && Rand(2) == 0) {
    options.initial_owner = NodeId(static_cast<uint32_t>(Rand(n)));
  }
  for (uint32_t i = 0; i < n; ++i) {
    protocols_.push_back(std::make_unique<dsm::Protocol>(NodeId(i), *homes, options));
  }
  mem_.resize(size_t{n} * config_.pages);
  for (uint32_t p = 0; p < config_.pages; ++p) {
    uint32_t owner = options.initial_owner.value_or(homes->HomeOf(Gfn(p))).value();
    CellOf(owner, p).map = Map::kRw;
  }
  golden_.assign(config_.pages, 0);
  must_survive_.assign(config_.pages, false);
  channels_.resize(size_t{n} * n);
  pins_.resize(config_.pages);
  Trace("config: ", Describe(config_),
        options.initial_owner ? absl::StrCat(" initial_owner=", options.initial_owner->value())
                              : " initial_owner=home");
}

SimResult Simulator::Run() {
  if (!config_.warmup_reads.empty()) {
    std::vector<Proc> warm;
    for (auto [node, page] : config_.warmup_reads) {
      Proc p;
      p.node = node;
      p.program.push_back({Op::kRead, page, 0});
      warm.push_back(p);
    }
    RunPhase(std::move(warm));
  }
  std::vector<Proc> procs;
  if (!config_.programs.empty()) {
    for (uint32_t i = 0; i < config_.programs.size(); ++i) {
      Proc p;
      p.node = i;
      p.program = config_.programs[i];
      procs.push_back(std::move(p));
    }
  } else {
    for (uint32_t node = 0; node < config_.nodes; ++node) {
      for (uint32_t k = 0; k < config_.procs_per_node; ++k) {
        Proc p;
        p.node = node;
        p.ops_left = config_.ops_per_proc;
        procs.push_back(p);
      }
    }
    const uint64_t span =
        uint64_t{4} * config_.nodes * config_.procs_per_node * config_.ops_per_proc;
    for (uint32_t k = 0; k < config_.kills && k + 1 < config_.nodes; ++k) {
      kill_steps_.push_back(1 + Rand(span));
    }
    std::sort(kill_steps_.begin(), kill_steps_.end());
  }
  RunPhase(std::move(procs));
  result_.steps = step_;
  result_.final_values = golden_;
  for (const auto& proto : protocols_) {
    const dsm::ProtocolStats& st = proto->stats();
    result_.protocol.messages_sent += st.messages_sent;
    result_.protocol.protocol_errors += st.protocol_errors;
    result_.protocol.deferred += st.deferred;
    result_.protocol.queued_at_home += st.queued_at_home;
    result_.protocol.pages_lost += st.pages_lost;
    result_.protocol.data_resends += st.data_resends;
    result_.protocol.supplier_dead += st.supplier_dead;
  }
  for (const Proc& p : procs_) result_.reads.push_back(p.reads);
  return std::move(result_);
}

void Simulator::RunPhase(std::vector<Proc> procs) {
  procs_ = std::move(procs);
  while (result_.ok && Step()) {
    while (!kill_steps_.empty() && step_ >= kill_steps_.front()) {
      kill_steps_.erase(kill_steps_.begin());
      KillOne();
    }
    CheckInvariants();
  }
  if (!result_.ok) return;
  // Nothing can move: every operation must be finished.
  for (size_t i = 0; i < procs_.size(); ++i) {
    const Proc& p = procs_[i];
    if (Live(p.node) && p.state != Proc::kDone) {
      return Fail(absl::StrCat("deadlock: node ", p.node, " proc ", i, " stuck in ",
                               OpName(p.op.kind), " of page ", p.op.page));
    }
  }
  for (uint32_t node = 0; node < config_.nodes; ++node) {
    if (!Live(node)) continue;
    for (uint32_t page = 0; page < config_.pages; ++page) {
      if (protocols_[node]->HomeBusy(Gfn(page))) {
        return Fail(absl::StrCat("home ", node, " still busy on page ", page, " after drain"));
      }
    }
  }
}

// One scheduling decision: a processor acts or one pair delivers its oldest message.
bool Simulator::Step() {
  std::vector<size_t> ready;
  for (size_t i = 0; i < procs_.size(); ++i) {
    const Proc& p = procs_[i];
    if (!Live(p.node)) continue;
    if (p.state == Proc::kHolding) ready.push_back(i);
    if (p.state == Proc::kIdle) {
      if (p.pc < p.program.size() || p.ops_left > 0) ready.push_back(i);
    }
  }
  const size_t choices = ready.size() + active_channels_.size();
  if (choices == 0) return false;
  ++step_;
  size_t pick = Rand(choices);
  if (pick < ready.size()) {
    size_t i = ready[pick];
    if (procs_[i].state == Proc::kHolding) {
      Release(i);
    } else {
      Issue(i);
    }
  } else {
    Deliver(active_channels_[pick - ready.size()]);
  }
  return true;
}

void Simulator::Issue(size_t index) {
  Proc& p = procs_[index];
  if (p.pc < p.program.size()) {
    p.op = p.program[p.pc++];
  } else {
    --p.ops_left;
    uint64_t r = Rand(100);
    p.op.page = static_cast<uint32_t>(Rand(config_.pages));
    if (r < config_.pin_percent) {
      p.op.kind = Rand(2) ? Op::kPinRead : Op::kPinWrite;
    } else {
      p.op.kind = Rand(2) ? Op::kRead : Op::kWrite;
    }
  }
  p.token = (uint64_t{index} << 32) | ++p.seq;
  p.issued_step = step_;
  p.state = Proc::kBlocked;
  const Gfn gfn(p.op.page);
  const Cell& cell = CellOf(p.node, p.op.page);
  const bool write = p.op.kind == Op::kWrite || p.op.kind == Op::kPinWrite;
  const Access access = write ? Access::kWrite : Access::kRead;
  Trace("n", p.node, " p", index, " ", OpName(p.op.kind), " page ", p.op.page);
  if (p.op.kind == Op::kPinRead || p.op.kind == Op::kPinWrite) {
    HandleAt(p.node, dsm::PinEvent{gfn, access, p.token}, nullptr);
  } else if (cell.map == Map::kRw || (!write && cell.map == Map::kRo)) {
    Perform(index);  // a hit: the hardware needs no help
  } else {
    HandleAt(p.node, dsm::FaultEvent{gfn, access, p.token}, nullptr);
  }
}

// The access itself, at the moment the processor is allowed to run.
void Simulator::Perform(size_t index) {
  Proc& p = procs_[index];
  Cell& cell = CellOf(p.node, p.op.page);
  const bool write = p.op.kind == Op::kWrite || p.op.kind == Op::kPinWrite;
  result_.max_wait_steps = std::max(result_.max_wait_steps, step_ - p.issued_step);
  if (write) {
    if (cell.map != Map::kRw)
      return Fail(
          absl::StrCat("n", p.node, " writes page ", p.op.page, " without a writable copy"));
    uint64_t value = p.op.value != 0 ? p.op.value : (uint64_t{index + 1} << 32) | p.seq;
    for (size_t other : pins_[p.op.page]) {
      if (procs_[other].node != p.node) {
        return Fail(absl::StrCat("n", p.node, " writes page ", p.op.page, " pinned by n",
                                 procs_[other].node));
      }
    }
    cell.value = value;
    golden_[p.op.page] = value;
    Trace("n", p.node, " p", index, " wrote ", value, " to page ", p.op.page);
  } else {
    if (cell.map == Map::kNone)
      return Fail(absl::StrCat("n", p.node, " reads page ", p.op.page, " without a copy"));
    if (cell.value != golden_[p.op.page]) {
      return Fail(absl::StrCat("n", p.node, " read ", cell.value, " from page ", p.op.page,
                               ", latest write is ", golden_[p.op.page]));
    }
    if (!p.program.empty()) p.reads.push_back(cell.value);
    Trace("n", p.node, " p", index, " read ", cell.value, " from page ", p.op.page);
  }
  ++result_.ops_done;
  if (p.op.kind == Op::kPinRead || p.op.kind == Op::kPinWrite) {
    p.state = Proc::kHolding;
    pins_[p.op.page].push_back(index);
  } else {
    Finish(p);
  }
}

void Simulator::Finish(Proc& p) {
  p.state = (p.pc < p.program.size() || p.ops_left > 0) ? Proc::kIdle : Proc::kDone;
}

void Simulator::Release(size_t index) {
  Proc& p = procs_[index];
  std::erase(pins_[p.op.page], index);
  Finish(p);
  Trace("n", p.node, " p", index, " unpins page ", p.op.page);
  const Access access = p.op.kind == Op::kPinWrite ? Access::kWrite : Access::kRead;
  HandleAt(p.node, dsm::UnpinEvent{Gfn(p.op.page), access}, nullptr);
}

void Simulator::Deliver(uint32_t channel) {
  std::deque<Envelope>& q = channels_[channel];
  Envelope env = q.front();
  q.pop_front();
  if (q.empty()) std::erase(active_channels_, channel);
  const uint32_t from = channel / config_.nodes;
  const uint32_t to = channel % config_.nodes;
  // Through the real decoder. Page bytes are not simulated (the value rides
  // in the envelope), so the decoder sees the header with the flag cleared.
  std::array<uint8_t, dsm::kHeaderSize> header = env.header;
  const bool has_page = (header[2] & dsm::kHasPage) != 0;
  header[2] &= ~dsm::kHasPage;
  absl::StatusOr<dsm::Decoded> d = dsm::Decode(header, config_.nodes);
  if (!d.ok()) return Fail(absl::StrCat("decode failed: ", d.status().ToString()));
  dsm::Message msg = d->msg;
  if (has_page) msg.flags |= dsm::kHasPage;
  Trace("deliver n", from, ">n", to, " ", dsm::ToString(msg));
  HandleAt(to, dsm::ReceiveEvent{NodeId(from), msg}, &env);
}

void Simulator::HandleAt(uint32_t node, const dsm::Event& event, const Envelope* incoming) {
  actions_.clear();
  protocols_[node]->Handle(event, &actions_);
  std::vector<Action> actions = std::move(actions_);
  Execute(node, actions, incoming);
}

void Simulator::Execute(uint32_t node, const std::vector<Action>& actions,
                        const Envelope* incoming) {
  for (const Action& a : actions) {
    if (!result_.ok) return;
    Trace("  n", node, " ", ActionString(a));
    if (const auto* s = std::get_if<dsm::SendAction>(&a)) {
      const uint32_t to = s->to.value();
      if (to >= config_.nodes || to == node) return Fail("send to an impossible node");
      Envelope env{dsm::EncodeHeader(s->msg), 0};
      if (s->msg.has_page()) {
        const Cell& c = CellOf(node, s->msg.gfn.value());
        if (c.map == Map::kNone)
          return Fail(
              absl::StrCat("n", node, " sends page ", s->msg.gfn.value(), " it does not hold"));
        if (c.map == Map::kRw)
          return Fail(
              absl::StrCat("n", node, " sends page ", s->msg.gfn.value(), " still writable"));
        env.value = c.value;
      }
      ++result_.messages;
      if (!Live(to)) continue;
      const uint32_t ch = node * config_.nodes + to;
      if (channels_[ch].empty()) active_channels_.push_back(ch);
      channels_[ch].push_back(env);
    } else if (const auto* i = std::get_if<dsm::InstallAction>(&a)) {
      Cell& c = CellOf(node, i->gfn.value());
      if (incoming == nullptr || (incoming->header[2] & dsm::kHasPage) == 0) {
        return Fail("install without a page in the message being handled");
      }
      if (c.map != Map::kNone) return Fail("install over a mapped page");
      c = {i->writable ? Map::kRw : Map::kRo, incoming->value};
    } else if (const auto* m = std::get_if<dsm::MakeWritableAction>(&a)) {
      Cell& c = CellOf(node, m->gfn.value());
      if (c.map != Map::kRo) return Fail("make-writable of a page that is not read-only");
      c.map = Map::kRw;
    } else if (const auto* w = std::get_if<dsm::WriteProtectAction>(&a)) {
      Cell& c = CellOf(node, w->gfn.value());
      if (c.map != Map::kRw) return Fail("write-protect of a page that is not writable");
      c.map = Map::kRo;
    } else if (const auto* d = std::get_if<dsm::DropAction>(&a)) {
      Cell& c = CellOf(node, d->gfn.value());
      if (c.map == Map::kNone) return Fail("drop of a page that is not mapped");
      c = {Map::kNone, kDropped};
    } else if (const auto* wk = std::get_if<dsm::WakeAction>(&a)) {
      const size_t index = wk->token >> 32;
      if (index >= procs_.size() || procs_[index].state != Proc::kBlocked ||
          procs_[index].token != wk->token || procs_[index].node != node) {
        return Fail("wake for no waiting operation");
      }
      if (wk->ok) {
        Perform(index);
      } else {
        Proc& p = procs_[index];
        if (dead_ == 0) return Fail("operation failed with no node dead");
        if (must_survive_[p.op.page]) {
          return Fail(absl::StrCat("page ", p.op.page, " was Modified on a live node yet failed"));
        }
        ++result_.ops_failed;
        Finish(p);
      }
    } else if (const auto* e = std::get_if<dsm::ErrorAction>(&a)) {
      if (e->kind == dsm::ErrorKind::kBadMessage)
        return Fail(absl::StrCat("protocol error: ", e->what));
      if (Live(e->node.value())) return Fail("loss reported that names a live node");
    }
  }
}

void Simulator::KillOne() {
  std::vector<uint32_t> live;
  for (uint32_t n = 0; n < config_.nodes; ++n) {
    if (Live(n)) live.push_back(n);
  }
  const uint32_t node = live[Rand(live.size())];
  dead_ |= uint64_t{1} << node;
  Trace("KILL n", node);
  for (uint32_t page = 0; page < config_.pages; ++page) {
    must_survive_[page] = false;  // a later death may take what survived an earlier one
    // A page settled Modified on a live node (its home alive and idle, naming
    // that node owner) must survive. One still moving towards the dead node
    // may be lost even while an older copy exists: a known limitation.
    const uint32_t home = protocols_[0]->homes().HomeOf(Gfn(page)).value();
    if (Live(home) && !protocols_[home]->HomeBusy(Gfn(page))) {
      std::optional<NodeId> owner = protocols_[home]->OwnerOf(Gfn(page));
      if (owner && Live(owner->value()) && CellOf(owner->value(), page).map == Map::kRw) {
        must_survive_[page] = true;
      }
    }
    std::erase_if(pins_[page], [&](size_t i) { return procs_[i].node == node; });
  }
  for (uint32_t other = 0; other < config_.nodes; ++other) {
    for (uint32_t ch : {node * config_.nodes + other, other * config_.nodes + node}) {
      if (!channels_[ch].empty()) std::erase(active_channels_, ch);
      channels_[ch].clear();
    }
  }
  for (uint32_t n = 0; n < config_.nodes; ++n) {
    if (Live(n)) HandleAt(n, dsm::NodeDeadEvent{NodeId(node)}, nullptr);
  }
}

void Simulator::CheckInvariants() {
  for (uint32_t page = 0; page < config_.pages && result_.ok; ++page) {
    int writers = 0;
    int readers = 0;
    for (uint32_t n = 0; n < config_.nodes; ++n) {
      if (!Live(n)) continue;
      const Cell& c = CellOf(n, page);
      PageState st = protocols_[n]->StateOf(Gfn(page));
      Map want = st == PageState::kModified                            ? Map::kRw
                 : (st == PageState::kShared || st == PageState::kSmG) ? Map::kRo
                                                                       : Map::kNone;
      if (c.map != want) {
        return Fail(absl::StrCat("n", n, " page ", page, " is in state ", dsm::PageStateName(st),
                                 " but mapped ", static_cast<int>(c.map)));
      }
      if (c.map == Map::kNone) continue;
      (c.map == Map::kRw ? writers : readers)++;
      if (c.value != golden_[page]) {
        return Fail(absl::StrCat("n", n, " holds stale ", c.value, " of page ", page,
                                 ", latest write is ", golden_[page]));
      }
    }
    if (writers > 1 || (writers == 1 && readers > 0)) {
      return Fail(
          absl::StrCat("page ", page, " has ", writers, " writers and ", readers, " readers"));
    }
  }
  if (step_ % 64 != 0) return;
  for (size_t i = 0; i < procs_.size(); ++i) {
    const Proc& p = procs_[i];
    if (Live(p.node) && p.state == Proc::kBlocked &&
        step_ - p.issued_step > config_.progress_bound) {
      return Fail(absl::StrCat("n", p.node, " proc ", i, " waited over ", config_.progress_bound,
                               " steps for page ", p.op.page));
    }
  }
}

}  // namespace

SimResult RunSimulation(const SimConfig& config) { return Simulator(config).Run(); }

SimConfig RandomConfig(uint64_t seed, uint64_t index, uint32_t max_nodes) {
  std::mt19937_64 rng(seed * 0x9e3779b97f4a7c15ULL + index);
  SimConfig c;
  c.seed = rng();
  c.nodes = 2 + static_cast<uint32_t>(rng() % (max_nodes - 1));
  c.procs_per_node = 1 + static_cast<uint32_t>(rng() % 3);
  c.pages = 1 + static_cast<uint32_t>(rng() % 6);
  c.ops_per_proc = 5 + static_cast<uint32_t>(rng() % 30);
  c.pin_percent = static_cast<uint32_t>(rng() % 3) * 5;
  c.kills = rng() % 8 == 0 ? 1 : 0;
  c.random_homes = rng() % 2 == 0;
  c.random_initial_owner = rng() % 2 == 0;
  return c;
}

std::string Describe(const SimConfig& c) {
  return absl::StrCat("seed=", c.seed, " nodes=", c.nodes, " procs=", c.procs_per_node,
                      " pages=", c.pages, " ops=", c.ops_per_proc, " pins=", c.pin_percent, "%",
                      c.kills > 0 ? absl::StrCat(" kills=", c.kills) : "", c.random_homes ? " random-homes" : "",
                      c.random_initial_owner ? " random-owner" : "", c.inject_bug ? " BUG" : "");
}

int ScaledRuns(int full) {
  const char* env = std::getenv("DVM_SIM_DIVISOR");
  int divisor = env != nullptr ? std::atoi(env) : 1;
  if (divisor < 1) divisor = 1;
  return std::max(1, full / divisor);
}

}  // namespace dvm::sim
