#include "bench/dsm/scenarios.h"

#include <functional>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bench/dsm/traced_transport.h"
#include "dvm/status.h"

namespace dvm::dsm::bench {
namespace {

constexpr int kWarmup = 100;
constexpr uint64_t kRotate = 16;          // latency samples cycle over this many pages
constexpr uint64_t kStreamPages = 2048;   // pages per streaming pass
constexpr int kStreamPasses = 3;
constexpr uint64_t kTwoNodeHomePages = kRotate + kStreamPages;

using Step = std::function<void(Gfn gfn, uint64_t value)>;

// Runs `samples` (after a warm-up) of reset-then-op on pages `pages[i % n]`.
// `op` returns the value it read (or the expected one for writes); a sample
// whose value is not the one the reset wrote counts as a coherence failure.
struct Sampler {
  InProcessCluster* cluster;
  uint64_t next_value = 1;
  uint64_t wrong = 0;

  std::vector<uint64_t> Run(int samples, const std::vector<Gfn>& pages, const Step& reset,
                            const std::function<uint64_t(Gfn)>& op, bool check) {
    std::vector<uint64_t> ns;
    ns.reserve(static_cast<size_t>(samples));
    for (int i = -kWarmup; i < samples; ++i) {
      Gfn gfn = pages[static_cast<size_t>(i + kWarmup) % pages.size()];
      uint64_t value = next_value++;
      reset(gfn, value);
      uint64_t t0 = NowNs();
      uint64_t seen = op(gfn);
      uint64_t t = NowNs() - t0;
      if (check && seen != value) ++wrong;
      if (i >= 0) ns.push_back(t);
    }
    return ns;
  }
  uint64_t* At(uint32_t node, Gfn gfn) const { return cluster->At<uint64_t>(node, gfn); }
  uint64_t ReadAt(uint32_t node, Gfn gfn) const { return Read(At(node, gfn)); }
  void WriteAt(uint32_t node, Gfn gfn, uint64_t v) const { Write(At(node, gfn), v); }
};

absl::Status CheckHealthy(const InProcessCluster& c, const Sampler& s) {
  std::vector<std::string> problems;
  for (uint32_t n = 0; n < c.size(); ++n) {
    for (const std::string& e : c.errors(n)) problems.push_back(absl::StrCat("node ", n, ": ", e));
    EngineStats st = c.engine(n).stats();
    if (st.bad_messages + st.protocol.protocol_errors > 0) {
      problems.push_back(absl::StrCat("node ", n, ": ", st.bad_messages, " bad messages, ",
                                      st.protocol.protocol_errors, " protocol errors"));
    }
  }
  if (s.wrong > 0) problems.push_back(absl::StrCat(s.wrong, " samples read a stale value"));
  if (problems.empty()) return absl::OkStatus();
  return absl::InternalError(absl::StrJoin(problems, "; "));
}

double Median(std::vector<uint64_t> ns) { return Summarize(std::move(ns)).median_us; }

// Splits traced read misses (requester 1, home 0) into hops.
Breakdown Analyze(const std::vector<TraceEvent>& events) {
  std::vector<uint64_t> a, b, c, d, e, f, total;
  auto find = [&](size_t from, size_t to, Point point, uint32_t node, MsgType type) -> uint64_t {
    for (size_t i = from; i < to; ++i) {
      const TraceEvent& ev = events[i];
      if (ev.point == point && ev.node == node && (point >= Point::kOpStart || ev.type == type)) {
        return ev.ns;
      }
    }
    return 0;
  };
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].point != Point::kOpStart) continue;
    size_t end = i + 1;
    while (end < events.size() && events[end].point != Point::kOpStart) ++end;
    uint64_t start = events[i].ns;
    uint64_t req_sent = find(i, end, Point::kSend, 1, MsgType::kReadReq);
    uint64_t req_in = find(i, end, Point::kDeliver, 0, MsgType::kReadReq);
    uint64_t data_sent = find(i, end, Point::kSend, 0, MsgType::kReadData);
    uint64_t data_in = find(i, end, Point::kDeliver, 1, MsgType::kReadData);
    uint64_t handled = find(i, end, Point::kHandled, 1, MsgType::kReadData);
    uint64_t op_end = find(i, end, Point::kOpEnd, 0, MsgType::kReadReq);
    if (!req_sent || !req_in || !data_sent || !data_in || !handled || !op_end) continue;
    if (!(start <= req_sent && req_sent <= req_in && req_in <= data_sent &&
          data_sent <= data_in && data_in <= op_end)) {
      continue;
    }
    a.push_back(req_sent - start);
    b.push_back(req_in - req_sent);
    c.push_back(data_sent - req_in);
    d.push_back(data_in - data_sent);
    e.push_back(op_end - data_in);
    f.push_back(handled - data_in);
    total.push_back(op_end - start);
  }
  Breakdown out;
  out.samples = a.size();
  out.end_to_end_us = Median(total);
  out.fault_to_request_us = Median(a);
  out.request_wire_us = Median(b);
  out.home_us = Median(c);
  out.reply_wire_us = Median(d);
  out.install_and_wake_us = Median(e);
  out.handler_us = Median(f);
  return out;
}

}  // namespace

absl::StatusOr<TwoNodeResult> RunTwoNode(const TransportMaker& make, int samples) {
  Trace trace(64 * 1024);
  InProcessCluster::Options options;
  options.nodes = 2;
  options.pages = 2 * kTwoNodeHomePages;
  options.interleave_bytes = kTwoNodeHomePages * kPageSize;  // the first half is homed on node 0
  ASSIGN_OR_RETURN(std::unique_ptr<InProcessCluster> c,
                   InProcessCluster::Create(options, Traced(make, &trace)));
  Sampler s{c.get()};
  std::vector<Gfn> pages;
  for (uint64_t g = 0; g < kRotate; ++g) pages.push_back(Gfn(g));
  TwoNodeResult out;
  auto read1 = [&](Gfn g) { return s.ReadAt(1, g); };

  // Read miss, page Modified at its home: the home writes, node 1 reads.
  auto home_writes = [&](Gfn g, uint64_t v) { s.WriteAt(0, g, v); };
  out.rows.push_back({"read miss, page at its home", 2, 2,
                      Summarize(s.Run(samples, pages, home_writes, read1, true))});

  // Invalidation: node 1 shares the page, the home writes (a WP fault there).
  auto remote_reads = [&](Gfn g, uint64_t) { s.ReadAt(1, g); };
  auto home_write = [&](Gfn g) {
    s.WriteAt(0, g, 7);
    return uint64_t{0};
  };
  out.rows.push_back({"invalidate 1 remote sharer (write at home)", 2, 2,
                      Summarize(s.Run(samples, pages, remote_reads, home_write, false))});

  // Upgrade: node 1 and the home share the page, node 1 writes.
  auto both_share = [&](Gfn g, uint64_t v) {
    s.WriteAt(0, g, v);
    s.ReadAt(1, g);
  };
  auto remote_write = [&](Gfn g) {
    s.WriteAt(1, g, 9);
    return uint64_t{0};
  };
  out.rows.push_back({"upgrade, 1 other sharer (the home)", 2, 2,
                      Summarize(s.Run(samples, pages, both_share, remote_write, false))});

  // Streaming: node 1 reads kStreamPages consecutive pages, each Modified at
  // the home, once each.
  uint64_t stream_ns = 0;
  for (int pass = 0; pass < kStreamPasses; ++pass) {
    for (uint64_t g = kRotate; g < kRotate + kStreamPages; ++g) s.WriteAt(0, Gfn(g), g + pass);
    uint64_t t0 = NowNs();
    for (uint64_t g = kRotate; g < kRotate + kStreamPages; ++g) {
      if (s.ReadAt(1, Gfn(g)) != g + pass) ++s.wrong;
    }
    stream_ns += NowNs() - t0;
  }
  out.stream_pages = kStreamPages * kStreamPasses;
  out.stream_pages_per_s = static_cast<double>(out.stream_pages) * 1e9 /
                           static_cast<double>(stream_ns);

  // A traced pass of read misses for the breakdown (not in the table above:
  // the timestamps cost a little).
  trace.Clear();
  trace.Enable(true);
  s.Run(std::min(samples, 1000), pages, home_writes,
        [&](Gfn g) {
          trace.Record(0, Point::kOpStart);
          uint64_t v = s.ReadAt(1, g);
          trace.Record(0, Point::kOpEnd);
          return v;
        },
        true);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // late handler returns
  trace.Enable(false);
  out.breakdown = Analyze(trace.Events());
  EngineStats st = c->engine(1).stats();
  out.breakdown.engine_read_miss_us =
      static_cast<double>(st.latency[static_cast<size_t>(OpKind::kReadMiss)].Percentile(0.5)) /
      1000.0;
  RETURN_IF_ERROR(CheckHealthy(*c, s));
  return out;
}

absl::StatusOr<std::vector<Row>> RunFourNode(const TransportMaker& make, int samples) {
  InProcessCluster::Options options;
  options.nodes = 4;
  options.pages = 4 * kRotate;
  ASSIGN_OR_RETURN(std::unique_ptr<InProcessCluster> c, InProcessCluster::Create(options, make));
  Sampler s{c.get()};
  std::vector<Gfn> pages;  // homed on node 0 (page g is homed on g % 4)
  for (uint64_t g = 0; g < 4 * kRotate; g += 4) pages.push_back(Gfn(g));
  std::vector<Row> rows;

  // Forwarded read: node 2 holds the page Modified, node 1 reads.
  rows.push_back({"read miss forwarded to a 3rd-node owner", 4, 3,
                  Summarize(s.Run(
                      samples, pages, [&](Gfn g, uint64_t v) { s.WriteAt(2, g, v); },
                      [&](Gfn g) { return s.ReadAt(1, g); }, true))});

  // Upgrade: node 1 writes while the home and nodes 2 and 3 share the page.
  rows.push_back({"upgrade, 3 other sharers (home + 2)", 6, 4,
                  Summarize(s.Run(
                      samples, pages,
                      [&](Gfn g, uint64_t v) {
                        s.WriteAt(0, g, v);
                        for (uint32_t n = 1; n < 4; ++n) s.ReadAt(n, g);
                      },
                      [&](Gfn g) {
                        s.WriteAt(1, g, 3);
                        return uint64_t{0};
                      },
                      false))});

  // Invalidation: the home writes while nodes 1, 2 and 3 share the page.
  rows.push_back({"invalidate 3 remote sharers (write at home)", 6, 2,
                  Summarize(s.Run(
                      samples, pages,
                      [&](Gfn g, uint64_t) {
                        for (uint32_t n = 1; n < 4; ++n) s.ReadAt(n, g);
                      },
                      [&](Gfn g) {
                        s.WriteAt(0, g, 5);
                        return uint64_t{0};
                      },
                      false))});
  RETURN_IF_ERROR(CheckHealthy(*c, s));
  return rows;
}

}  // namespace dvm::dsm::bench
