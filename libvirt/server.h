// dvmd's listener: libvirt's RPC over unix sockets, one Boost.Asio strand of
// work per client. The I/O thread reads whole frames (length-checked before
// anything is allocated), answers keepalive PINGs itself, and hands calls to a
// small worker pool, so a start that waits for a VM holds up neither the
// I/O nor other clients. A client's calls run one at a time, in order.
//
// A frame whose length or header cannot be trusted ends that connection
// (there is no way to find the next frame); a well-framed call that is wrong
// (unknown program, bad arguments, unknown procedure) gets an error reply and
// the connection goes on. Nothing a client sends stops the daemon.
#ifndef DVM_LIBVIRT_SERVER_H_
#define DVM_LIBVIRT_SERVER_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "libvirt/procedures.h"

namespace dvm::libvirt {

struct ServerOptions {
  std::string socket;     // read-write, mode 0600
  std::string socket_ro;  // read-only procedures only, mode 0666; empty: none
  size_t max_clients = 128;
  size_t workers = 4;
};

struct ServerStats {
  std::atomic<uint64_t> connections{0};
  std::atomic<uint64_t> calls{0};
  std::atomic<uint64_t> error_replies{0};
  std::atomic<uint64_t> dropped_connections{0};  // bad frames
};

class Server {
 public:
  Server(Procedures* procedures, ServerOptions options);
  ~Server();

  // Binds the sockets (replacing stale ones, refusing live ones) and starts
  // serving on background threads.
  absl::Status Start();
  void Stop();

  const ServerStats& stats() const { return stats_; }

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
  ServerStats stats_;
};

}  // namespace dvm::libvirt

#endif  // DVM_LIBVIRT_SERVER_H_
