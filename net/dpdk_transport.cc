#include "net/dpdk_transport.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_mbuf.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "dvm/log.h"
#include "dvm/status.h"
#include "dvm/thread_name.h"
#include "net/datagram_core.h"

namespace dvm::net {
namespace {

constexpr uint16_t kRxDesc = 1024;
constexpr uint16_t kTxDesc = 1024;
constexpr uint32_t kPoolMbufs = 4095;
constexpr uint16_t kBurst = 32;
constexpr size_t kEthHeader = sizeof(rte_ether_hdr);
// How long Stop() keeps delivering queued messages before saying goodbye.
constexpr uint64_t kDrainNs = 1'000'000'000;
// One mbuf holds any frame we send or accept (a 9000 MTU jumbo frame plus
// the Ethernet header), so frames never need chaining on our side.
constexpr uint16_t kDataRoom = 9216 + RTE_PKTMBUF_HEADROOM;

uint64_t NowNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// rte_eal_init works once per process; remember how that went.
absl::Status InitEalOnce(const std::vector<std::string>& args) {
  static std::once_flag once;
  static absl::Status status;
  std::call_once(once, [&] {
    std::vector<std::string> owned = {"dvm"};
    owned.insert(owned.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : owned) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (rte_eal_init(static_cast<int>(argv.size() - 1), argv.data()) < 0) {
      status = absl::UnavailableError(absl::StrCat("rte_eal_init(", absl::StrJoin(args, " "),
                                                   "): ", rte_strerror(rte_errno)));
    }
  });
  return status;
}

absl::Status DpdkError(const char* what, int ret) {
  return absl::UnavailableError(absl::StrCat(what, ": ", rte_strerror(ret < 0 ? -ret : ret)));
}

}  // namespace

class DpdkTransport::Impl {
 public:
  Impl(DpdkOptions options, const ClusterKey& key)
      : options_(std::move(options)), key_(key), rng_(NowNs()) {}

  ~Impl() {
    Stop();
    // The port is stopped but neither closed nor freed, and the mempool stays:
    // closing a memif port while its peer is still connected crashed the EAL
    // interrupt thread at exit (net_memif in Debian's 22.11), and a process
    // makes few transports.
    if (port_started_) rte_eth_dev_stop(port_);
  }

  absl::Status Init() {
    RETURN_IF_ERROR(InitEalOnce(options_.eal_args));
    for (const std::string& a : options_.eal_args) {
      if (a.find("net_memif") != std::string::npos && a.find("role=client") != std::string::npos) {
        memif_client_ = true;
      }
    }
    if (options_.port_id >= 0) {
      port_ = static_cast<uint16_t>(options_.port_id);
      if (!rte_eth_dev_is_valid_port(port_)) {
        return absl::InvalidArgumentError(absl::StrCat("no DPDK port ", port_));
      }
    } else {
      if (rte_eth_dev_count_avail() == 0) {
        return absl::UnavailableError("no DPDK port (missing --vdev?)");
      }
      port_ = 0;
      uint16_t p;
      RTE_ETH_FOREACH_DEV(p) {
        port_ = p;
        break;
      }
    }
    std::string pool_name = absl::StrCat("dvm_net_", port_);
    pool_ = rte_pktmbuf_pool_create(pool_name.c_str(), kPoolMbufs, 256, 0, kDataRoom,
                                    rte_eth_dev_socket_id(port_));
    if (pool_ == nullptr) return DpdkError("rte_pktmbuf_pool_create", rte_errno);

    rte_eth_dev_info info;
    if (int r = rte_eth_dev_info_get(port_, &info); r != 0) return DpdkError("dev_info_get", r);
    rte_eth_conf conf{};
    if (int r = rte_eth_dev_configure(port_, 1, 1, &conf); r != 0) {
      return DpdkError("rte_eth_dev_configure", r);
    }
    uint16_t rxd = kRxDesc, txd = kTxDesc;
    rte_eth_dev_adjust_nb_rx_tx_desc(port_, &rxd, &txd);
    int socket = rte_eth_dev_socket_id(port_);
    if (int r = rte_eth_rx_queue_setup(port_, 0, rxd, socket, nullptr, pool_); r != 0) {
      return DpdkError("rte_eth_rx_queue_setup", r);
    }
    if (int r = rte_eth_tx_queue_setup(port_, 0, txd, socket, nullptr); r != 0) {
      return DpdkError("rte_eth_tx_queue_setup", r);
    }
    // Jumbo frames where the port takes them; otherwise what it has.
    uint16_t max_mtu = kDataRoom - RTE_PKTMBUF_HEADROOM - kEthHeader;
    if (options_.assume_mtu > 0) {
      mtu_ = static_cast<uint16_t>(std::min<uint32_t>(options_.assume_mtu, max_mtu));
    } else {
      uint16_t want = static_cast<uint16_t>(
          std::min<uint32_t>({options_.desired_mtu, info.max_mtu, max_mtu}));
      if (int r = rte_eth_dev_set_mtu(port_, want); r != 0) {
        DVM_LOG(INFO) << "port " << port_ << " refused MTU " << want << " (max_rx_pktlen "
                      << info.max_rx_pktlen << "): " << rte_strerror(-r);
      }
      if (rte_eth_dev_get_mtu(port_, &mtu_) != 0) mtu_ = RTE_ETHER_MTU;
      mtu_ = std::min(mtu_, want);
    }
    if (mtu_ <= kFrameHeaderSize + 64) {
      return absl::UnavailableError(absl::StrCat("port ", port_, " MTU ", mtu_, " too small"));
    }
    // A memif client cannot start before its server listens; start-up retries.
    if (int r = rte_eth_dev_start(port_); r == 0) {
      port_started_ = true;
    } else {
      DVM_LOG(INFO) << "node " << options_.self.value() << ": DPDK port " << port_
                    << " not started yet (" << rte_strerror(-r) << "), will retry";
    }
    rte_eth_promiscuous_enable(port_);  // unicast to a MAC we have not learned yet; best effort
    rte_eth_macaddr_get(port_, &my_mac_);

    LinkOptions link = options_.link;
    link.max_fragment = std::min<size_t>(mtu_ - kFrameHeaderSize, kMaxFramePayload);
    core_ = std::make_unique<DatagramCore>(options_.self, options_.nodes, key_, link, NowNs());
    DVM_LOG(INFO) << "node " << options_.self.value() << ": DPDK port " << port_ << " MTU "
                  << mtu_ << ", " << link.max_fragment << " payload bytes per frame";
    return absl::OkStatus();
  }

  NodeId self() const { return options_.self; }
  uint32_t mtu() const { return mtu_; }

  absl::Status Start(Callbacks callbacks) {
    if (started_) return absl::FailedPreconditionError("transport already started");
    core_->SetCallbacks(std::move(callbacks));
    started_ = true;
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(options_.connect_deadline_ms);
    if (options_.own_thread) {
      thread_ = std::thread([this] {
        SetThreadName("net-dpdk");
        Run();
      });
      while (!core_->AllPeersHeard() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    } else {
      while (!core_->AllPeersHeard() && std::chrono::steady_clock::now() < deadline) {
        if (!Poll()) sched_yield();
      }
    }
    if (core_->AllPeersHeard()) return absl::OkStatus();
    std::vector<std::string> names;
    for (NodeId id : core_->UnheardPeers()) names.push_back(absl::StrCat(id.value()));
    Stop();
    rte_eth_link link{};
    rte_eth_link_get_nowait(port_, &link);
    rte_eth_stats st{};
    rte_eth_stats_get(port_, &st);
    return absl::DeadlineExceededError(absl::StrCat(
        "node(s) ", absl::StrJoin(names, ", "), " not heard on DPDK port ", port_, " within ",
        options_.connect_deadline_ms, " ms (link ", link.link_status ? "up" : "down",
        ", frames in ", st.ipackets, ", out ", st.opackets, ", tx errors ", st.oerrors, ")"));
  }

  absl::Status Send(NodeId to, uint16_t channel, uint16_t type, std::span<const uint8_t> body,
                    const uint8_t* page) {
    if (!started_ || stopped_) return absl::FailedPreconditionError("transport not running");
    return core_->Send(to, channel, type, body, page);
  }

  void Flush() {
    if (!options_.own_thread && started_ && !stopped_) Pump(NowNs());
  }

  bool Poll() {
    if (stopped_.load(std::memory_order_relaxed)) return false;
    uint64_t now = NowNs();
    bool did = false;
    if (!port_started_) {
      RetryPort(now);
      return false;
    }
    rte_mbuf* rx[kBurst];
    uint16_t n = rte_eth_rx_burst(port_, 0, rx, kBurst);
    for (uint16_t i = 0; i < n; ++i) {
      HandleRx(rx[i], now);
      rte_pktmbuf_free(rx[i]);
    }
    if (n > 0) did = true;
    if (Pump(now)) did = true;
    if (!did) RetryPort(now);
    return did;
  }

  // Delivers what is queued (bounded by kDrainNs), says goodbye, stops.
  void Stop() {
    if (!started_ || stopped_.load()) return;
    drain_until_ns_ = NowNs() + kDrainNs;
    stop_requested_ = true;
    if (thread_.joinable()) {
      thread_.join();
    } else {
      while (!Drained()) {
        if (!Poll()) sched_yield();
      }
    }
    rte_eth_stats st{};
    rte_eth_stats_get(port_, &st);
    DVM_LOG(INFO) << "node " << options_.self.value() << ": DPDK port " << port_
                  << " stats: in " << st.ipackets << " out " << st.opackets << " missed "
                  << st.imissed << " rx errors " << st.ierrors << " tx errors " << st.oerrors;
    if (!stopped_.exchange(true)) {
      core_->SayBye([this](NodeId to, std::span<const uint8_t> h, std::span<const uint8_t> p) {
        Transmit(to, h, p, /*may_drop=*/false);
      });
      FlushTx();
    }
  }

  PeerCounters counters(NodeId peer) const { return core_->counters(peer); }
  PeerCounters unknown_counters() const { return core_->unknown_counters(); }

 private:
  bool Drained() { return core_->AllAcked() || NowNs() > drain_until_ns_; }

  void Run() {
    uint64_t idle_since = 0;
    while (!(stop_requested_.load(std::memory_order_acquire) && Drained())) {
      if (Poll()) {
        idle_since = 0;
        continue;
      }
      // Poll mode burns a core; on a shared machine yield at once, and sleep
      // once idle for a while, so idle nodes leave the CPU to others.
      uint64_t now = NowNs();
      if (idle_since == 0) idle_since = now;
      if (now - idle_since < 2'000'000) {
        sched_yield();
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    }
  }

  // Start-up only. A memif client cannot start while its server is not
  // listening (Debian's 22.11 fails rte_eth_dev_start), and one that connected
  // too early can be left with its link down for good; both are retried so
  // nodes can start in any order. Only memif clients are restarted: restarting
  // a memif server whose client had not connected yet raced with that client
  // and crashed the driver.
  void RetryPort(uint64_t now) {
    if (now - last_start_try_ns_ < (port_started_ ? 2'000'000'000 : 100'000'000)) return;
    last_start_try_ns_ = now;
    if (port_started_) {
      rte_eth_link link{};
      if (!memif_client_ || core_->AllPeersHeard() ||
          rte_eth_link_get_nowait(port_, &link) != 0 || link.link_status) {
        return;
      }
      DVM_LOG(INFO) << "node " << options_.self.value() << ": memif link still down, restarting";
      rte_eth_dev_stop(port_);
    }
    port_started_ = rte_eth_dev_start(port_) == 0;
  }

  void HandleRx(rte_mbuf* m, uint64_t now) {
    uint32_t len = rte_pktmbuf_pkt_len(m);
    if (len < kEthHeader) return;
    const uint8_t* data = static_cast<const uint8_t*>(rte_pktmbuf_read(m, 0, len, rx_scratch_));
    if (data == nullptr) return;
    rte_ether_hdr eh;
    std::memcpy(&eh, data, kEthHeader);
    if (eh.ether_type != rte_cpu_to_be_16(kDvmEtherType)) return;  // not ours: ignore silently
    std::span<const uint8_t> frame(data + kEthHeader, len - kEthHeader);
    if (std::optional<NodeId> from = core_->OnWireFrame(frame, now)) {
      macs_[from->value()] = eh.src_addr;
    }
  }

  bool Pump(uint64_t now) {
    bool did = core_->Pump(now, kBurst, [this](NodeId to, std::span<const uint8_t> h,
                                               std::span<const uint8_t> p) {
      Transmit(to, h, p, /*may_drop=*/true);
    });
    FlushTx();
    return did;
  }

  void Transmit(NodeId to, std::span<const uint8_t> header, std::span<const uint8_t> payload,
                bool may_drop) {
    if (may_drop && options_.tx_loss > 0 &&
        std::uniform_real_distribution<double>(0, 1)(rng_) < options_.tx_loss) {
      return;  // injected loss: the reliability layer must recover
    }
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    if (m == nullptr) return;  // out of buffers: behaves like loss
    size_t len = kEthHeader + header.size() + payload.size();
    auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(len)));
    if (p == nullptr) {
      rte_pktmbuf_free(m);
      return;
    }
    rte_ether_hdr eh;
    auto mac = macs_.find(to.value());
    if (mac != macs_.end()) {
      eh.dst_addr = mac->second;
    } else {
      std::memset(eh.dst_addr.addr_bytes, 0xff, RTE_ETHER_ADDR_LEN);
    }
    eh.src_addr = my_mac_;
    eh.ether_type = rte_cpu_to_be_16(kDvmEtherType);
    std::memcpy(p, &eh, kEthHeader);
    std::memcpy(p + kEthHeader, header.data(), header.size());
    if (!payload.empty()) std::memcpy(p + kEthHeader + header.size(), payload.data(), payload.size());
    tx_[tx_count_++] = m;
    if (tx_count_ == kBurst) FlushTx();
  }

  void FlushTx() {
    if (!port_started_) {
      for (uint16_t i = 0; i < tx_count_; ++i) rte_pktmbuf_free(tx_[i]);
      tx_count_ = 0;
      return;
    }
    uint16_t sent = 0;
    int stalls = 0;
    while (sent < tx_count_ && stalls < 100) {
      uint16_t n = rte_eth_tx_burst(port_, 0, tx_ + sent, tx_count_ - sent);
      sent += n;
      if (n == 0) ++stalls;
    }
    // The ring stayed full: drop the rest; retransmission covers it.
    for (uint16_t i = sent; i < tx_count_; ++i) rte_pktmbuf_free(tx_[i]);
    tx_count_ = 0;
  }

  DpdkOptions options_;
  ClusterKey key_;
  uint16_t port_ = 0;
  uint16_t mtu_ = RTE_ETHER_MTU;
  rte_mempool* pool_ = nullptr;
  rte_ether_addr my_mac_{};
  std::unique_ptr<DatagramCore> core_;
  std::map<uint32_t, rte_ether_addr> macs_;  // poller thread only
  std::mt19937_64 rng_;
  rte_mbuf* tx_[kBurst];
  uint16_t tx_count_ = 0;
  uint8_t rx_scratch_[kDataRoom];
  bool port_started_ = false;       // poller thread only (after Init)
  uint64_t last_start_try_ns_ = NowNs();  // poller thread only
  bool memif_client_ = false;
  std::thread thread_;
  bool started_ = false;
  std::atomic<bool> stop_requested_{false};
  std::atomic<uint64_t> drain_until_ns_{0};
  std::atomic<bool> stopped_{false};
};

absl::StatusOr<std::unique_ptr<DpdkTransport>> DpdkTransport::Create(DpdkOptions options,
                                                                     const ClusterKey& key) {
  auto impl = std::make_unique<Impl>(std::move(options), key);
  RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<DpdkTransport>(new DpdkTransport(std::move(impl)));
}

DpdkTransport::DpdkTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DpdkTransport::~DpdkTransport() = default;
NodeId DpdkTransport::self() const { return impl_->self(); }
absl::Status DpdkTransport::Start(Callbacks callbacks) {
  return impl_->Start(std::move(callbacks));
}
absl::Status DpdkTransport::Send(NodeId to, uint16_t channel, uint16_t type,
                                 std::span<const uint8_t> body, const uint8_t* page) {
  return impl_->Send(to, channel, type, body, page);
}
void DpdkTransport::Flush() { impl_->Flush(); }
bool DpdkTransport::Poll() { return impl_->Poll(); }
void DpdkTransport::Stop() { impl_->Stop(); }
PeerCounters DpdkTransport::counters(NodeId peer) const { return impl_->counters(peer); }
PeerCounters DpdkTransport::unknown_counters() const { return impl_->unknown_counters(); }
uint32_t DpdkTransport::mtu() const { return impl_->mtu(); }

}  // namespace dvm::net
