#include "net/factory.h"
#include "net/free_port_for_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include "gtest/gtest.h"

namespace dvm::net {
namespace {

using spec::NetAddress;
using spec::NodeSpec;
using spec::VmSpec;

VmSpec TwoNodeSpec() {
  VmSpec spec;
  spec.name = "t";
  for (uint32_t i = 0; i < 2; ++i) {
    NodeSpec n;
    n.id = NodeId(i);
    n.address = NetAddress{"127.0.0.1", FreePort()};
    spec.nodes.push_back(n);
  }
  spec.cluster_key_file = ::testing::TempDir() + "/dvm_factory_key";
  std::ofstream(spec.cluster_key_file) << "0123456789abcdef0123456789abcdef";
  return spec;
}

TEST(FactoryTest, TcpNodesFromSpecTalk) {
  VmSpec spec = TwoNodeSpec();
  auto a = MakeTransportForNode(spec, NodeId(0));
  auto b = MakeTransportForNode(spec, NodeId(1));
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  std::atomic<int> got{0};
  absl::Status sa;
  std::thread th([&] { sa = (*a)->Start({}); });
  ASSERT_TRUE((*b)->Start({.on_message = [&](const Received& r) { got = r.type; },
                           .on_peer_down = {}})
                  .ok());
  th.join();
  ASSERT_TRUE(sa.ok()) << sa;
  ASSERT_TRUE((*a)->Send(NodeId(1), 1, 42, {}).ok());
  for (int i = 0; i < 2000 && got == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(got, 42);
}

TEST(FactoryTest, Errors) {
  VmSpec spec = TwoNodeSpec();
  EXPECT_EQ(MakeTransportForNode(spec, NodeId(5)).status().code(),
            absl::StatusCode::kInvalidArgument);
  spec.cluster_key_file = "/nonexistent/key";
  EXPECT_FALSE(MakeTransportForNode(spec, NodeId(0)).ok());
  spec.cluster_key_file.clear();
  EXPECT_FALSE(MakeTransportForNode(spec, NodeId(0)).ok());
}

}  // namespace
}  // namespace dvm::net
