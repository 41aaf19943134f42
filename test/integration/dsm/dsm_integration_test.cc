// The DSM engine across real processes: N dsm_node processes share one region
// over TCP (2 and 4 nodes) and DPDK memif (2 nodes) and run the coherence
// workloads; then a node is killed mid-run and the others must name it, name
// the pages lost with it, and stop with exit code 3 in bounded time.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/integration/net/spawn.h"

namespace dvm::net {
namespace {

using ::testing::HasSubstr;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string OutputPath(int node) {
  return "/tmp/dvm-dsm-" + std::to_string(getpid()) + "-" +
         ::testing::UnitTest::GetInstance()->current_test_info()->name() + "-" +
         std::to_string(node) + ".log";
}

struct Cluster {
  std::vector<Child> children;
  std::vector<std::string> logs;
  ~Cluster() {  // logs stay in /tmp only when a test failed
    if (::testing::Test::HasFailure()) return;
    for (const std::string& log : logs) unlink(log.c_str());
  }
};

Cluster Start(int nodes, const std::vector<std::string>& per_node_flags,
          const std::function<std::vector<std::string>(int)>& transport_flags) {
  Cluster run;
  std::string key = WriteKeyFile();
  for (int i = 0; i < nodes; ++i) {
    std::vector<std::string> argv = {DSM_NODE, "--self=" + std::to_string(i), "--key=" + key};
    for (const std::string& f : transport_flags(i)) argv.push_back(f);
    for (const std::string& f : per_node_flags) argv.push_back(f);
    run.logs.push_back(OutputPath(i));
    run.children.push_back(Spawn(argv, run.logs.back()));
  }
  return run;
}

std::function<std::vector<std::string>(int)> Tcp(int nodes) {
  std::string list = "--nodes=" + TcpNodes(nodes);
  return [list](int) { return std::vector<std::string>{list}; };
}

std::function<std::vector<std::string>(int)> Memif() {
  std::string socket = "/tmp/dvm-dsm-" + std::to_string(getpid()) + "-" +
                       ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".memif";
  unlink(socket.c_str());
  return [socket](int node) {
    std::vector<std::string> a = {"--nodes=0=dpdk:0,1=dpdk:0", "--transport=dpdk"};
    for (std::string e : {"--no-huge", "-m", "512", "--no-pci", "--log-level=warning", "-l",
                          node == 0 ? "0" : "1"}) {
      a.push_back("--dpdk_arg=" + e);
    }
    a.push_back("--dpdk_arg=--file-prefix=" + std::string("dvmdsm") + std::to_string(getpid()) +
                "-" + std::to_string(node));
    a.push_back("--dpdk_arg=--vdev=net_memif0,role=" + std::string(node == 0 ? "server" : "client") +
                ",socket=" + socket);
    return a;
  };
}

// Every node must pass; on failure the test prints every node's output.
void ExpectAllPass(Cluster& run, double timeout_s) {
  for (size_t i = 0; i < run.children.size(); ++i) {
    int code = Wait(run.children[i], timeout_s);
    EXPECT_EQ(code, 0) << "node " << i << " output:\n" << Slurp(run.logs[i]);
  }
  for (size_t i = 0; i < run.logs.size(); ++i) {
    EXPECT_THAT(Slurp(run.logs[i]), HasSubstr("PASS"));
    std::printf("--- node %zu\n%s", i, Slurp(run.logs[i]).c_str());
  }
}

struct Case {
  const char* workload;
  const char* iters;
};
const Case kCases[] = {{"counter", "2000"}, {"litmus", "150"}, {"stamps", "400"}, {"bounce", "2000"}};

// Each workload in its own run of `nodes` fresh node processes.
void RunEveryWorkload(int nodes, const std::function<std::vector<std::string>(int)>& transport) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.workload);
    Cluster run = Start(nodes,
                        {std::string("--workload=") + c.workload, std::string("--iters=") + c.iters},
                        transport);
    ExpectAllPass(run, 300);
  }
}

TEST(DsmIntegrationTest, TwoNodesOverTcp) { RunEveryWorkload(2, Tcp(2)); }

TEST(DsmIntegrationTest, FourNodesOverTcp) { RunEveryWorkload(4, Tcp(4)); }

TEST(DsmIntegrationTest, TwoNodesOverDpdkMemif) { RunEveryWorkload(2, Memif()); }

TEST(DsmIntegrationTest, KilledNodeIsNamedWithItsLostPages) {
  Cluster run = Start(3, {"--workload=bounce", "--iters=100000000"}, Tcp(3));
  // Kill node 2 once it holds the only copy of its own page, well into the run.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (Slurp(run.logs[2]).find("own page written") == std::string::npos) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << Slurp(run.logs[2]);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_EQ(kill(run.children[2].pid, SIGKILL), 0);
  EXPECT_EQ(Wait(run.children[2], 10), 128 + SIGKILL);
  auto killed_at = std::chrono::steady_clock::now();
  for (int i = 0; i < 2; ++i) {
    int code = Wait(run.children[i], 20);
    std::string log = Slurp(run.logs[i]);
    EXPECT_EQ(code, 3) << log;
    EXPECT_THAT(log, HasSubstr("node 2 died")) << log;
    std::printf("--- node %d (exit %d)\n%s", i, code, log.c_str());
  }
  // Node 2's own page (18, homed on node 0) held its last write when it died.
  EXPECT_THAT(Slurp(run.logs[0]), HasSubstr("page 18 lost with node 2"));
  std::printf("survivors stopped %.2f s after the kill\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count());
}

}  // namespace
}  // namespace dvm::net
