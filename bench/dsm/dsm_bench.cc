// bench/dsm: what the DSM engine costs per operation, on TCP and on DPDK
// (memif), against floors measured in the same run.
//
//   dsm_bench [--samples=N] [--no-dpdk]
//
// Every DSM figure is taken end to end in the thread that touches the page
// (a stand-in for a vCPU) on an InProcessCluster: real engines, userfaultfd and
// transports, all nodes in this process. Floors: a local userfaultfd MISSING
// fault resolved by UFFDIO_COPY from a handler thread (no engine, no network),
// and the transport's round trip of a 64 B request answered by a 4 KiB page.
// Each DSM figure is printed with its ratio to (uffd floor + round trip).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/dsm/dpdk_pair.h"
#include "bench/dsm/floors.h"
#include "bench/dsm/scenarios.h"
#include "dvm/log.h"

namespace dvm::dsm::bench {
namespace {

struct TransportResult {
  std::string name;
  Summary uffd;  // measured just before this transport's rows
  Summary round_trip;
  absl::StatusOr<TwoNodeResult> two{absl::UnknownError("not run")};
  absl::StatusOr<std::vector<Row>> four{absl::UnknownError("not run")};
};

void PrintSummaryLine(const char* what, const absl::StatusOr<Summary>& s) {
  if (!s.ok()) {
    std::printf("  %-58s FAILED: %s\n", what, std::string(s.status().message()).c_str());
  } else {
    std::printf("  %-58s %9.1f %9.1f\n", what, s->median_us, s->p99_us);
  }
}

void PrintRow(const std::string& transport, const Row& r, double floor_us) {
  std::printf("%-5s %-44s %4d %4d %9.1f %9.1f %8.2f\n", transport.c_str(), r.name.c_str(),
              r.messages, r.hops, r.latency.median_us, r.latency.p99_us,
              floor_us > 0 ? r.latency.median_us / floor_us : 0.0);
}

void PrintBreakdown(const std::string& transport, const Breakdown& b, double uffd_us,
                    double rtt_us) {
  if (b.samples == 0) return;
  std::printf("%s read miss from the home, medians over %zu traced samples (us):\n",
              transport.c_str(), b.samples);
  std::printf("  end to end (a second pass of the table's first row, run last)    %7.1f\n",
              b.end_to_end_us);
  std::printf("  access -> ReadReq handed to transport (uffd delivery + engine)  %7.1f\n",
              b.fault_to_request_us);
  std::printf("  ReadReq handed over -> home's handler starts (wire)              %7.1f\n",
              b.request_wire_us);
  std::printf("  home's handler -> ReadData handed over (protocol, WP, pread)     %7.1f\n",
              b.home_us);
  std::printf("  ReadData handed over -> requester's handler starts (wire)        %7.1f\n",
              b.reply_wire_us);
  std::printf("  requester's handler starts -> access returns (COPY + wake)       %7.1f\n",
              b.install_and_wake_us);
  std::printf("  (requester's handler starts -> handler returns                   %7.1f)\n",
              b.handler_us);
  std::printf("  engine's own read-miss median (fault taken -> thread woken)      %7.1f\n",
              b.engine_read_miss_us);
  std::printf("  floors for comparison: uffd fault %.1f, round trip %.1f\n", uffd_us, rtt_us);
}

int Main(int argc, char** argv) {
  int samples = 2000;
  bool dpdk = HaveDpdk();
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a.starts_with("--samples=")) {
      samples = std::atoi(argv[i] + 10);
    } else if (a == "--no-dpdk") {
      dpdk = false;
    } else {
      std::fprintf(stderr, "usage: dsm_bench [--samples=N] [--no-dpdk]\n");
      return 2;
    }
  }
  if (samples < 10) samples = 10;
  if (std::getenv("DVM_LOG_LEVEL") == nullptr) log::SetMinLevel(log::Level::kWarning);

  std::printf("dsm_bench: %d samples per latency row after 100 warm-up; us = microseconds\n\n",
              samples);
  std::fflush(stdout);
  absl::StatusOr<Summary> wp_read = WriteProtectAndReadFloor(samples);
  // The uffd floor is taken again next to each transport's rows: on a shared
  // 2-core VM the load drifts within a run.
  auto uffd_now = [&] {
    absl::StatusOr<Summary> u = UffdMissingFloor(samples);
    return u.ok() ? *u : Summary{};
  };

  std::vector<TransportResult> results;
  {
    TransportResult tcp;
    tcp.name = "tcp";
    tcp.uffd = uffd_now();
    absl::StatusOr<Summary> rtt = TransportRoundTrip(TcpOnLoopback(2), samples);
    if (rtt.ok()) tcp.round_trip = *rtt;
    tcp.two = RunTwoNode(TcpOnLoopback(2), samples);
    tcp.four = RunFourNode(TcpOnLoopback(4), samples);
    if (!rtt.ok()) std::printf("tcp round trip FAILED: %s\n", rtt.status().ToString().c_str());
    results.push_back(std::move(tcp));
  }
  std::string dpdk_note;
  if (dpdk) {
    std::string tag = absl::StrCat("dvm-dsm-bench-", getpid());
    std::vector<std::string> eal = MemifEalArgs(tag, 2);
    absl::StatusOr<Summary> rtt = TransportRoundTrip(DpdkMemifPair(eal, 0), samples);
    if (!rtt.ok()) {
      dpdk_note = absl::StrCat("DPDK skipped: ", rtt.status().ToString());
    } else {
      TransportResult d;
      d.name = "dpdk";
      d.uffd = uffd_now();
      d.round_trip = *rtt;
      d.two = RunTwoNode(DpdkMemifPair(eal, 2), samples);
      d.four = absl::UnavailableError("TCP only");
      results.push_back(std::move(d));
    }
  } else {
    dpdk_note = HaveDpdk() ? "DPDK skipped (--no-dpdk)" : "DPDK skipped: built without DPDK";
  }
  absl::StatusOr<InvalidationCost> punch = PunchHoleThenCopy(samples);
  absl::StatusOr<InvalidationCost> minor = DontneedThenContinue(samples);

  // The report.
  std::printf("Floors                                                            median_us    p99_us\n");
  for (const TransportResult& r : results) {
    PrintSummaryLine(
        absl::StrCat("uffd MISSING fault + UFFDIO_COPY(WP) by a handler (", r.name, " rows)")
            .c_str(),
        r.uffd);
    PrintSummaryLine(absl::StrCat(r.name, " round trip: 64 B request -> 4 KiB page (I/O threads)")
                         .c_str(),
                     r.round_trip);
  }
  PrintSummaryLine("home side: UFFDIO_WRITEPROTECT + pread of one page", wp_read);
  if (!dpdk_note.empty()) std::printf("  %s\n", dpdk_note.c_str());

  std::printf(
      "\nDSM operations, end to end in the touching thread. msgs: wire messages per operation;\n"
      "hops: of them, one-way trips in sequence. floor = uffd fault + the transport's round trip.\n"
      "\"other sharers\": nodes besides the writer holding the page Shared when it writes (the\n"
      "home always holds a copy while no node owns the page, so 1 = the home alone).\n\n");
  std::printf("%-5s %-44s %4s %4s %9s %9s %8s\n", "net", "operation", "msgs", "hops", "median_us",
              "p99_us", "/floor");
  for (const TransportResult& r : results) {
    double floor = r.uffd.ok && r.round_trip.ok ? r.uffd.median_us + r.round_trip.median_us : 0;
    if (r.two.ok()) {
      for (const Row& row : r.two->rows) PrintRow(r.name, row, floor);
    } else {
      std::printf("%-5s 2-node cluster FAILED: %s\n", r.name.c_str(),
                  r.two.status().ToString().c_str());
    }
    if (r.four.ok()) {
      for (const Row& row : *r.four) PrintRow(r.name, row, floor);
    } else if (r.name == "dpdk") {
      std::printf("%-5s (forwarded read and 3-sharer rows: TCP only; DpdkTransport drives one\n"
                  "       point-to-point port per node, so this bench runs 2 DPDK nodes)\n",
                  r.name.c_str());
    } else {
      std::printf("%-5s 4-node cluster FAILED: %s\n", r.name.c_str(),
                  r.four.status().ToString().c_str());
    }
    std::printf("%-5s floor: %.1f us\n", r.name.c_str(), floor);
  }

  std::printf("\nStreaming read: node 1 reads consecutive pages Modified at node 0, once each,\n"
              "one thread (no prefetch in the engine yet); floor = 1 / (uffd fault + round trip)\n");
  std::printf("%-5s %10s %12s %12s %8s\n", "net", "pages", "pages/s", "floor_pg/s", "/floor");
  for (const TransportResult& r : results) {
    if (!r.two.ok()) continue;
    double floor = r.uffd.ok && r.round_trip.ok
                       ? 1e6 / (r.uffd.median_us + r.round_trip.median_us)
                       : 0;
    std::printf("%-5s %10lu %12.0f %12.0f %8.2f\n", r.name.c_str(), r.two->stream_pages,
                r.two->stream_pages_per_s, floor,
                floor > 0 ? r.two->stream_pages_per_s / floor : 0.0);
  }

  std::printf("\n");
  for (const TransportResult& r : results) {
    if (r.two.ok()) {
      PrintBreakdown(r.name, r.two->breakdown, r.uffd.median_us, r.round_trip.median_us);
    }
  }

  std::printf("\nInvalidation mechanisms, per page: drop, then the next touch until the new\n"
              "contents are mapped (handler installs them from a buffer)  median_us    p99_us\n");
  auto mech = [](const char* name, const absl::StatusOr<InvalidationCost>& c) {
    if (!c.ok()) {
      std::printf("  %s FAILED: %s\n", name, c.status().ToString().c_str());
      return;
    }
    std::printf("  %s\n", name);
    PrintSummaryLine("    drop", c->drop);
    PrintSummaryLine("    refault", c->refault);
    std::printf("  %-58s %9.1f\n", "    drop + refault (sum of medians)",
                c->drop.median_us + c->refault.median_us);
  };
  mech("fallocate(PUNCH_HOLE); MISSING fault; UFFDIO_COPY(WP)", punch);
  mech("MADV_DONTNEED (MISSING|MINOR mapping); alias write; UFFDIO_CONTINUE", minor);
  return 0;
}

}  // namespace
}  // namespace dvm::dsm::bench

int main(int argc, char** argv) { return dvm::dsm::bench::Main(argc, argv); }
