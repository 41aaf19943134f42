#include "test/integration/net/transport_factory.h"

#include <string_view>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "net/tcp_transport.h"
#ifdef DVM_HAVE_DPDK
#include "net/dpdk_transport.h"
#endif

namespace dvm::net {
namespace {

absl::StatusOr<std::vector<PeerAddress>> ParseNodes(std::string_view s) {
  std::vector<PeerAddress> out;
  for (absl::string_view item : absl::StrSplit(absl::string_view(s.data(), s.size()), ',')) {
    std::vector<absl::string_view> kv = absl::StrSplit(item, '=');
    std::vector<absl::string_view> hp = absl::StrSplit(kv.size() == 2 ? kv[1] : "", ':');
    uint32_t id, port;
    if (kv.size() != 2 || hp.size() != 2 || !absl::SimpleAtoi(kv[0], &id) ||
        !absl::SimpleAtoi(hp[1], &port) || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("bad --nodes entry '", item, "'"));
    }
    out.push_back(PeerAddress{NodeId(id), std::string(hp[0]), static_cast<uint16_t>(port)});
  }
  return out;
}

}  // namespace

absl::StatusOr<Flags> ParseFlags(int argc, char** argv, std::vector<std::string>* rest) {
  Flags f;
  bool have_self = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](std::string_view name) -> std::string_view {
      return a.substr(name.size());
    };
    uint32_t n;
    if (a.starts_with("--self=") && absl::SimpleAtoi(std::string(value("--self=")), &n)) {
      f.self = NodeId(n);
      have_self = true;
    } else if (a.starts_with("--nodes=")) {
      auto nodes = ParseNodes(value("--nodes="));
      if (!nodes.ok()) return nodes.status();
      f.nodes = *nodes;
    } else if (a.starts_with("--key=")) {
      f.key_file = value("--key=");
    } else if (a.starts_with("--transport=")) {
      f.transport = value("--transport=");
    } else if (a.starts_with("--count=")) {
      if (!absl::SimpleAtoi(std::string(value("--count=")), &f.count)) {
        return absl::InvalidArgumentError("bad --count");
      }
    } else if (a == "--expect_down") {
      f.expect_down = true;
    } else if (a.starts_with("--dpdk_arg=")) {
      f.dpdk_args.emplace_back(value("--dpdk_arg="));
    } else if (a.starts_with("--loss=")) {
      if (!absl::SimpleAtod(std::string(value("--loss=")), &f.loss)) {
        return absl::InvalidArgumentError("bad --loss");
      }
    } else if (a.starts_with("--mtu=")) {
      if (!absl::SimpleAtoi(std::string(value("--mtu=")), &f.mtu)) {
        return absl::InvalidArgumentError("bad --mtu");
      }
    } else if (a == "--poll") {
      f.poll = true;
    } else if (rest != nullptr) {
      rest->emplace_back(a);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag ", std::string(a)));
    }
  }
  if (!have_self || f.nodes.size() < 2 || f.key_file.empty()) {
    return absl::InvalidArgumentError("need --self, --nodes (two or more) and --key");
  }
  for (const PeerAddress& p : f.nodes) {
    if (p.id != f.self) f.peer = p.id;
  }
  return f;
}

absl::StatusOr<std::unique_ptr<Transport>> MakeTransport(const Flags& flags,
                                                         const ClusterKey& key) {
  if (flags.transport == "tcp") {
    auto t = TcpTransport::Create(
        TcpOptions{.self = flags.self, .nodes = flags.nodes, .own_thread = !flags.poll}, key);
    if (!t.ok()) return t.status();
    return std::unique_ptr<Transport>(std::move(*t));
  }
#ifdef DVM_HAVE_DPDK
  if (flags.transport == "dpdk") {
    DpdkOptions o{.self = flags.self, .eal_args = flags.dpdk_args, .assume_mtu = flags.mtu,
                  .tx_loss = flags.loss, .own_thread = !flags.poll};
    for (const PeerAddress& p : flags.nodes) o.nodes.push_back(p.id);
    auto t = DpdkTransport::Create(o, key);
    if (!t.ok()) return t.status();
    return std::unique_ptr<Transport>(std::move(*t));
  }
#endif
  return absl::InvalidArgumentError(absl::StrCat("unknown transport '", flags.transport, "'"));
}

}  // namespace dvm::net
