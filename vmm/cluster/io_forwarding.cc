#include "vmm/cluster/io_forwarding.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "dvm/log.h"
#include "dvm/thread_name.h"

namespace dvm::cluster {

absl::Status IoForwarder::Forward(VcpuId vcpu, IoSpace space, uint64_t address,
                                  std::span<uint8_t> data, bool is_write) {
  if (data.empty() || data.size() > 8) {
    return absl::InvalidArgumentError(absl::StrCat("I/O access of ", data.size(), " bytes"));
  }
  IoRequest request{.vcpu = vcpu,
                    .space = space,
                    .is_write = is_write,
                    .size = static_cast<uint8_t>(data.size()),
                    .address = address};
  if (is_write) std::memcpy(request.data.data(), data.data(), data.size());
  MutexLock lock(&mu_);
  if (device_node_down_) {
    return absl::UnavailableError(absl::StrCat("device node ", device_node_.value(), " is down"));
  }
  request.id = next_id_++;
  pending_[request.id] = Pending{};
  absl::Status sent = transport_->Send(device_node_, kIoChannel, kIoRequest, EncodeIoRequest(request));
  if (!sent.ok()) {
    pending_.erase(request.id);
    return sent;
  }
  forwarded_.fetch_add(1, std::memory_order_relaxed);
  cv_.Wait(&mu_, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return pending_[request.id].done || device_node_down_;
  });
  Pending result = pending_[request.id];
  pending_.erase(request.id);
  if (!result.done) {
    return absl::UnavailableError(
        absl::StrCat("device node ", device_node_.value(), " went down during an I/O access"));
  }
  if (!is_write) std::memcpy(data.data(), result.data.data(), data.size());
  return absl::OkStatus();
}

void IoForwarder::OnReply(const net::Received& message) {
  absl::StatusOr<IoReply> reply = DecodeIoReply(message.body);
  MutexLock lock(&mu_);
  auto it = reply.ok() && message.from == device_node_ ? pending_.find(reply->id) : pending_.end();
  if (it == pending_.end() || it->second.done) {
    bad_replies_.fetch_add(1, std::memory_order_relaxed);
    DVM_LOG_EVERY_SEC(WARNING, 1.0) << "dropped an I/O reply from node " << message.from.value()
                                    << (reply.ok() ? ": no such request" : ": malformed");
    return;
  }
  it->second.done = true;
  it->second.data = reply->data;
  cv_.NotifyAll();
}

void IoForwarder::OnPeerDown(NodeId node) {
  if (node != device_node_) return;
  MutexLock lock(&mu_);
  device_node_down_ = true;
  cv_.NotifyAll();
}

IoServer::IoServer(net::Transport* transport, Executor execute)
    : transport_(transport), execute_(std::move(execute)), worker_([this] {
        SetThreadName("io-server");
        Work();
      }) {}

IoServer::~IoServer() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
    cv_.NotifyAll();
  }
  worker_.join();
}

void IoServer::OnRequest(const net::Received& message) {
  absl::StatusOr<IoRequest> request = DecodeIoRequest(message.body);
  if (!request.ok()) {
    bad_requests_.fetch_add(1, std::memory_order_relaxed);
    DVM_LOG_EVERY_SEC(WARNING, 1.0) << "dropped an I/O request from node " << message.from.value()
                                    << ": " << request.status().message();
    return;
  }
  MutexLock lock(&mu_);
  jobs_.push_back(Job{message.from, *request});
  cv_.NotifyAll();
}

void IoServer::Work() {
  for (;;) {
    Job job;
    {
      MutexLock lock(&mu_);
      cv_.Wait(&mu_, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || !jobs_.empty(); });
      if (stop_) return;
      job = jobs_.front();
      jobs_.pop_front();
    }
    IoRequest& r = job.request;
    IoReply reply{.id = r.id};
    std::span<uint8_t> data(r.is_write ? r.data.data() : reply.data.data(), r.size);
    execute_(r.vcpu, r.space, r.address, data, r.is_write);
    served_.fetch_add(1, std::memory_order_relaxed);
    // A requester that died meanwhile needs no answer.
    transport_->Send(job.from, kIoChannel, kIoReply, EncodeIoReply(reply)).IgnoreError();
  }
}

}  // namespace dvm::cluster
