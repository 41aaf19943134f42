// Two net_peer processes talk over a real transport: 100,000 messages each
// way (half with a 4 KiB page) must arrive in order, none lost or duplicated;
// a peer killed mid-run must be reported down within a bounded time.
#include "test/integration/net/spawn.h"

#include <signal.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace dvm::net {
namespace {

std::vector<std::string> PeerArgs(int self, const std::string& nodes, const std::string& key,
                                  std::vector<std::string> extra) {
  std::vector<std::string> a = {NET_PEER, "--self=" + std::to_string(self), "--nodes=" + nodes,
                                "--key=" + key};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

TEST(NetIntegrationTest, Tcp100kMessagesEachWay) {
  std::string key = WriteKeyFile();
  std::string nodes = TcpNodes();
  Child a = Spawn(PeerArgs(0, nodes, key, {"--count=100000"}));
  Child b = Spawn(PeerArgs(1, nodes, key, {"--count=100000"}));
  EXPECT_EQ(Wait(a, 300), 0);
  EXPECT_EQ(Wait(b, 300), 0);
}

TEST(NetIntegrationTest, TcpKilledPeerIsReportedDown) {
  std::string key = WriteKeyFile();
  std::string nodes = TcpNodes();
  Child watcher = Spawn(PeerArgs(0, nodes, key, {"--count=1000000000", "--expect_down"}));
  Child victim = Spawn(PeerArgs(1, nodes, key, {"--count=1000000000"}));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_EQ(kill(victim.pid, SIGKILL), 0);
  auto killed = std::chrono::steady_clock::now();
  EXPECT_EQ(Wait(watcher, 10), 0);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  EXPECT_LT(s, 5.0) << "peer-down took " << s << " s";
  Wait(victim, 5);
}

}  // namespace
}  // namespace dvm::net
