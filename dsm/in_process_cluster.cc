#include "dsm/in_process_cluster.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "dvm/status.h"
#include "net/auth.h"
#include "net/free_port_for_test.h"
#include "net/tcp_transport.h"

namespace dvm::dsm {

TransportMaker TcpOnLoopback(uint32_t nodes) {
  std::vector<net::PeerAddress> addresses;
  for (uint32_t i = 0; i < nodes; ++i) {
    addresses.push_back({NodeId(i), "127.0.0.1", net::FreePort()});
  }
  return [addresses](NodeId self) -> absl::StatusOr<std::unique_ptr<net::Transport>> {
    ASSIGN_OR_RETURN(net::ClusterKey key,
                     net::ClusterKey::FromBytes(std::vector<uint8_t>(32, 0x5a)));
    net::TcpOptions options{.self = self, .nodes = addresses, .connect_deadline_ms = 10'000};
    ASSIGN_OR_RETURN(std::unique_ptr<net::TcpTransport> t,
                     net::TcpTransport::Create(options, key));
    return std::unique_ptr<net::Transport>(std::move(t));
  };
}

absl::StatusOr<std::unique_ptr<InProcessCluster>> InProcessCluster::Create(
    const Options& options, const TransportMaker& make) {
  ASSIGN_OR_RETURN(HomeMap homes, HomeMap::Create(options.nodes, options.interleave_bytes));
  std::unique_ptr<InProcessCluster> cluster(new InProcessCluster(homes));
  for (uint32_t i = 0; i < options.nodes; ++i) {
    ASSIGN_OR_RETURN(memory::GuestMemory memory,
                     memory::GuestMemory::Create(options.pages * kPageSize, "dvm-dsm-test"));
    auto node = std::make_unique<Node>(std::move(memory));
    ASSIGN_OR_RETURN(node->transport, make(NodeId(i)));
    Node* raw = node.get();
    EngineOptions engine_options{.self = NodeId(i), .homes = homes, .protocol = options.protocol};
    ASSIGN_OR_RETURN(node->engine,
                     Engine::Create(engine_options, &node->memory, node->transport.get(),
                                    [raw](const absl::Status& s) {
                                      MutexLock lock(&raw->mu);
                                      raw->errors.push_back(s.ToString());
                                    }));
    cluster->nodes_.push_back(std::move(node));
  }
  // Start blocks until every peer is connected, so all start at once.
  std::vector<absl::Status> started(options.nodes);
  std::vector<std::thread> starters;
  for (uint32_t i = 0; i < options.nodes; ++i) {
    Node* node = cluster->nodes_[i].get();
    starters.emplace_back([node, &started, i] {
      net::Callbacks callbacks{
          .on_message =
              [node](const net::Received& r) {
                if (r.channel == kDsmChannel) node->engine->OnMessage(r);
              },
          .on_peer_down = [node](NodeId peer,
                                 const absl::Status&) { node->engine->OnPeerDown(peer); },
      };
      started[i] = node->transport->Start(std::move(callbacks));
    });
  }
  for (std::thread& t : starters) t.join();
  for (uint32_t i = 0; i < options.nodes; ++i) {
    RETURN_IF_ERROR(Annotate(started[i], absl::StrCat("start node ", i)));
    RETURN_IF_ERROR(cluster->nodes_[i]->engine->Start());
  }
  return cluster;
}

InProcessCluster::~InProcessCluster() {
  for (auto& node : nodes_) node->transport->Stop();
  for (auto& node : nodes_) node->engine.reset();
  for (auto& node : nodes_) node->transport.reset();
}

std::vector<std::string> InProcessCluster::errors(uint32_t node) const {
  MutexLock lock(&nodes_[node]->mu);
  return nodes_[node]->errors;
}

void InProcessCluster::Kill(uint32_t node) { nodes_[node]->transport->Stop(); }

}  // namespace dvm::dsm
