// Two net_peer processes over the DPDK transport, no NIC and no hugepages:
// net_memif between the processes, and net_af_packet on a veth pair between
// two network namespaces (root only). 100,000 messages each way (half with a
// 4 KiB page) must arrive in order exactly once, also with 1 % of frames
// dropped before transmit; a killed peer must be reported down in bounded time.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "test/integration/net/spawn.h"

namespace dvm::net {
namespace {

const char* kNodes = "--nodes=0=dpdk:0,1=dpdk:0";  // DPDK needs only the ids

std::string Unique() { return "dvm" + std::to_string(getpid() % 100000); }

std::vector<std::string> Eal(int node, const std::string& vdev) {
  std::vector<std::string> args;
  std::vector<std::string> eal = {"--no-huge", "-m", "512", "--no-pci", "--log-level=warning",
                                  "-l", std::to_string(node % 2)};
  for (const std::string& a : eal) args.push_back("--dpdk_arg=" + a);
  args.push_back("--dpdk_arg=--file-prefix=" + Unique() + "-" + std::to_string(node));
  args.push_back("--dpdk_arg=--vdev=" + vdev);
  return args;
}

std::vector<std::string> Peer(int self, const std::string& key, const std::string& vdev,
                              std::vector<std::string> extra) {
  std::vector<std::string> a = {NET_PEER, "--self=" + std::to_string(self), kNodes,
                                "--key=" + key, "--transport=dpdk"};
  for (auto& e : Eal(self, vdev)) a.push_back(e);
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

// One socket per test: a name reused after its server went away misleads the
// next client.
std::string MemifVdev(int self, const std::string& extra = "") {
  std::string path = "/tmp/" + Unique() + "-" +
                     ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".memif";
  if (self == 0) unlink(path.c_str());
  return "net_memif0,role=" + std::string(self == 0 ? "server" : "client") + ",socket=" + path +
         extra;
}

// Runs both nodes; the client (node 1) starts first on purpose.
void RunPair(const std::vector<std::string>& n0, const std::vector<std::string>& n1) {
  Child b = Spawn(n1);
  Child a = Spawn(n0);
  EXPECT_EQ(Wait(a, 240), 0);
  EXPECT_EQ(Wait(b, 240), 0);
}

TEST(NetDpdkIntegrationTest, Memif100kFragmented) {
  std::string key = WriteKeyFile();  // default MTU 1500: a page takes 4 frames
  RunPair(Peer(0, key, MemifVdev(0), {"--count=100000"}),
          Peer(1, key, MemifVdev(1), {"--count=100000"}));
}

TEST(NetDpdkIntegrationTest, Memif100kJumboWithOnePercentLoss) {
  std::string key = WriteKeyFile();
  std::vector<std::string> extra = {"--count=100000", "--mtu=9000", "--loss=0.01"};
  RunPair(Peer(0, key, MemifVdev(0, ",bsize=9216"), extra),
          Peer(1, key, MemifVdev(1, ",bsize=9216"), extra));
}

TEST(NetDpdkIntegrationTest, MemifKilledPeerIsReportedDown) {
  std::string key = WriteKeyFile();
  // Server first, so that the pair is surely exchanging when the kill comes.
  Child watcher = Spawn(Peer(0, key, MemifVdev(0), {"--count=1000000000", "--expect_down"}));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  Child victim = Spawn(Peer(1, key, MemifVdev(1), {"--count=1000000000"}));
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  ASSERT_EQ(kill(victim.pid, SIGKILL), 0);
  auto killed = std::chrono::steady_clock::now();
  EXPECT_EQ(Wait(watcher, 15), 0);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  EXPECT_LT(s, 5.0) << "peer-down took " << s << " s";
  Wait(victim, 5);
}

class AfPacketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "network namespaces need root";
    for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
      if (access(p, X_OK) == 0) ip_ = p;
    }
    if (ip_.empty()) GTEST_SKIP() << "no ip(8) (iproute2)";
    prefix_ = Unique();
    Child c = Spawn({"/bin/bash", VETH_SCRIPT, "down", prefix_});
    Wait(c, 10);
    c = Spawn({"/bin/bash", VETH_SCRIPT, "up", prefix_});
    ASSERT_EQ(Wait(c, 10), 0) << "veth_netns.sh up failed";
  }
  void TearDown() override {
    if (prefix_.empty()) return;
    Child c = Spawn({"/bin/bash", VETH_SCRIPT, "down", prefix_});
    Wait(c, 10);
  }

  // node 0 in namespace -a on -va, node 1 in -b on -vb.
  std::vector<std::string> InNs(int self, const std::string& key,
                                std::vector<std::string> extra) {
    std::string side = self == 0 ? "a" : "b";
    std::string vdev = "net_af_packet0,iface=" + prefix_ + "-v" + side +
                       ",framesz=9216,blocksz=36864,framecnt=512";
    std::vector<std::string> a = {ip_, "netns", "exec", prefix_ + "-" + side};
    for (auto& x : Peer(self, key, vdev, extra)) a.push_back(x);
    return a;
  }

  std::string ip_, prefix_;
};

TEST_F(AfPacketTest, Veth100kJumbo) {
  std::string key = WriteKeyFile();
  std::vector<std::string> extra = {"--count=100000", "--mtu=9000"};
  RunPair(InNs(0, key, extra), InNs(1, key, extra));
}

TEST_F(AfPacketTest, Veth100kWithOnePercentLoss) {
  std::string key = WriteKeyFile();
  std::vector<std::string> extra = {"--count=100000", "--mtu=9000", "--loss=0.01"};
  RunPair(InNs(0, key, extra), InNs(1, key, extra));
}

}  // namespace
}  // namespace dvm::net
