// bench/transport: round-trip latency of a 64 B request answered by a 4 KiB
// page (median, p99) and pages/s with 32 requests in flight, for each
// transport, against a plain unix-socket ping-pong measured in the same run.
//
//   transport_bench            runs every case, each as two child processes
//   transport_bench --role=... one end of one case (used by the above)
//
// Each case's two processes are spawned from this binary, so every transport
// (including DPDK, whose EAL initializes once per process) gets fresh processes.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bench/transport/roles.h"
#include "test/integration/net/spawn.h"

namespace dvm::net::bench {
namespace {

struct Case {
  std::string name;
  std::vector<std::string> server_args;  // after --role=server
  std::vector<std::string> client_args;
  bool unix_baseline = false;
  std::vector<std::string> server_prefix;  // e.g. ip netns exec NS
  std::vector<std::string> client_prefix;
};

struct Result {
  bool ok = false;
  double median_us = 0, p99_us = 0, pages_per_s = 0;
};

std::string ip_;  // ip(8), if the af_packet case can run

std::string Self() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return std::string(buf, n > 0 ? n : 0);
}

Result RunCase(const Case& c) {
  std::string self = Self();
  std::vector<std::string> server = c.server_prefix;
  server.push_back(self);
  server.push_back("--role=server");
  server.insert(server.end(), c.server_args.begin(), c.server_args.end());
  Child s = Spawn(server);
  // popen goes through sh: quote every argument (EAL's --lcores has parentheses).
  auto quoted = [](const std::vector<std::string>& v) {
    std::string out;
    for (const std::string& a : v) absl::StrAppend(&out, " '", a, "'");
    return out;
  };
  std::string cmd = absl::StrCat(quoted(c.client_prefix), " '", self, "' --role=client",
                                 quoted(c.client_args));
  Result r;
  FILE* p = popen(cmd.c_str(), "r");
  char line[512];
  while (p != nullptr && std::fgets(line, sizeof(line), p) != nullptr) {
    if (std::sscanf(line, "RESULT %lf %lf %lf", &r.median_us, &r.p99_us, &r.pages_per_s) == 3) {
      r.ok = true;
    }
  }
  int rc = p ? pclose(p) : -1;
  r.ok = r.ok && rc == 0;
  Wait(s, 10);
  return r;
}

std::vector<Case> Cases() {
  std::vector<Case> cases;
  std::string sock = "/tmp/dvm-bench-" + std::to_string(getpid()) + ".sock";
  cases.push_back({"unix socket (baseline)", {"--unix=" + sock}, {"--unix=" + sock}, true});
  std::string key = WriteKeyFile();
  for (bool poll : {false, true}) {
    std::string nodes = "--nodes=" + TcpNodes();
    std::vector<std::string> common = {nodes, "--key=" + key, "--transport=tcp"};
    if (poll) common.push_back("--poll");
    Case c{poll ? "tcp transport (busy poll)" : "tcp transport (I/O thread)", common, common};
    c.server_args.push_back("--self=1");
    c.client_args.push_back("--self=0");
    cases.push_back(c);
  }
#ifdef DVM_HAVE_DPDK
  std::string tag = std::to_string(getpid());
  auto dpdk = [&](int self, const std::string& vdev, const std::string& mtu) {
    std::vector<std::string> a = {"--self=" + std::to_string(self), "--nodes=0=d:0,1=d:0",
                                  "--key=" + key, "--transport=dpdk", "--poll", "--mtu=" + mtu};
    for (std::string e : {std::string("--no-huge"), std::string("-m"), std::string("512"),
                          std::string("--no-pci"), std::string("--log-level=error"),
                          // lcore 0 may run on either CPU: pinning a busy poller to
                          // one core of a shared 2-core machine made it wait for
                          // whatever else ran there (p99 7 ms, 5k pages/s).
                          std::string("--lcores=0@(0-1)"),
                          "--file-prefix=dvmb" + tag + "-" + std::to_string(self),
                          "--vdev=" + vdev}) {
      a.push_back("--dpdk_arg=" + e);
    }
    return a;
  };
  std::string memif = "/tmp/dvm-bench-" + tag + ".memif";
  cases.push_back({"dpdk memif (busy poll)",
                   dpdk(1, "net_memif0,role=server,bsize=9216,socket=" + memif, "9000"),
                   dpdk(0, "net_memif0,role=client,bsize=9216,socket=" + memif, "9000")});
  if (!ip_.empty()) {
    std::string p = "dvmb" + tag;
    auto af = [&](int self) {
      return "net_af_packet0,iface=" + p + (self == 0 ? "-va" : "-vb") +
             ",framesz=9216,blocksz=36864,framecnt=512";
    };
    cases.push_back({"dpdk af_packet veth (busy poll)", dpdk(1, af(1), "9000"),
                     dpdk(0, af(0), "9000"), false,
                     {ip_, "netns", "exec", p + "-b"}, {ip_, "netns", "exec", p + "-a"}});
  }
#endif
  return cases;
}

// Sets up two netns joined by a veth pair for the af_packet case (root only).
bool VethUp(const std::string& prefix) {
  for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (access(p, X_OK) == 0) ip_ = p;
  }
  if (geteuid() != 0 || ip_.empty()) return false;
  Child c = Spawn({"/bin/bash", VETH_SCRIPT, "up", prefix});
  if (Wait(c, 10) != 0) {
    ip_.clear();
    return false;
  }
  return true;
}

void VethDown(const std::string& prefix) {
  Child c = Spawn({"/bin/bash", VETH_SCRIPT, "down", prefix});
  Wait(c, 10);
}

int Orchestrate() {
  std::string prefix = "dvmb" + std::to_string(getpid());
  bool veth = VethUp(prefix);
  std::printf("%-34s %12s %12s %12s %10s %10s\n", "transport", "median_us", "p99_us", "pages/s",
              "lat_ratio", "tput_ratio");
  Result base;
  for (const Case& c : Cases()) {
    Result r = RunCase(c);
    if (c.unix_baseline) base = r;
    if (!r.ok) {
      std::printf("%-34s %12s\n", c.name.c_str(), "FAILED");
      continue;
    }
    double lat = base.ok ? r.median_us / base.median_us : 0;
    double tput = base.ok ? r.pages_per_s / base.pages_per_s : 0;
    std::printf("%-34s %12.2f %12.2f %12.0f %10.2f %10.2f\n", c.name.c_str(), r.median_us,
                r.p99_us, r.pages_per_s, lat, tput);
    std::fflush(stdout);
  }
  if (veth) VethDown(prefix);
  return 0;
}

int RunRole(int argc, char** argv) {
  std::string role = argv[1] + std::string_view("--role=").size();
  std::string unix_path;
  for (int i = 2; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a.starts_with("--unix=")) unix_path = a.substr(7);
  }
  if (!unix_path.empty()) return role == "server" ? UnixServer(unix_path) : UnixClient(unix_path);
  auto flags = ParseFlags(argc - 1, argv + 1);
  if (!flags.ok()) {
    std::fprintf(stderr, "%s\n", std::string(flags.status().message()).c_str());
    return 2;
  }
  return role == "server" ? TransportServer(*flags) : TransportClient(*flags);
}

}  // namespace
}  // namespace dvm::net::bench

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]).starts_with("--role=")) {
    return dvm::net::bench::RunRole(argc, argv);
  }
  return dvm::net::bench::Orchestrate();
}
