// dvmd's listener: libvirt's RPC over unix sockets. The I/O thread reads
// whole frames (length-checked before anything is allocated, the buffer grown
// as the bytes arrive), answers keepalive PINGs itself and hands calls to
// workers, so a start that waits for a VM holds up neither the I/O nor other
// clients. A client's calls run one at a time, in order.
//
// Two pools run calls: lifecycle operations that wait for a VM (start,
// destroy, shutdown: seconds) run on their own, so even when all of those are
// busy, quick calls (list, lookups, dumpxml) of every client still run.
//
// What one client may hold is bounded, so no client can pin the daemon's
// memory or its connection slots:
//  - at most kMaxCallsInFlight calls and replies, and kMaxQueuedBytes of
//    call arguments and unsent replies; past that the client is not read
//    until its replies drain (a client that never reads stops being read);
//  - frames up to kMaxIncomingFrame on the read-write socket, kMaxReadOnlyFrame
//    on the read-only one (0666: any local user);
//  - a connection must complete CONNECT_OPEN within kHandshakeTime and send a
//    frame it has begun within kFrameTime;
//  - each socket has its own connection limit, so read-only users cannot take
//    the read-write socket's slots.
//
// A frame whose length or header cannot be trusted ends that connection
// (there is no way to find the next frame); a well-framed call that is wrong
// (unknown program, bad arguments, unknown procedure) gets an error reply and
// the connection goes on. Nothing a client sends stops the daemon.
#ifndef DVM_LIBVIRT_SERVER_H_
#define DVM_LIBVIRT_SERVER_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "libvirt/procedures.h"

namespace dvm::libvirt {

inline constexpr size_t kMaxCallsInFlight = 8;
inline constexpr size_t kMaxQueuedBytes = 1 << 20;
inline constexpr size_t kMaxReadOnlyFrame = 64 << 10;

struct ServerOptions {
  std::string socket;     // read-write, mode 0600
  std::string socket_ro;  // read-only procedures only, mode 0666; empty: none
  size_t max_clients = 64;     // on the read-write socket
  size_t max_clients_ro = 64;  // on the read-only socket
  size_t workers = 2;            // quick calls
  size_t lifecycle_workers = 4;  // calls that wait for a VM
  std::chrono::milliseconds handshake_time{10'000};
  std::chrono::milliseconds frame_time{10'000};
};

struct ServerStats {
  std::atomic<uint64_t> connections{0};
  std::atomic<uint64_t> refused_connections{0};  // over a socket's limit
  std::atomic<uint64_t> calls{0};
  std::atomic<uint64_t> error_replies{0};
  std::atomic<uint64_t> dropped_connections{0};  // bad frames
  std::atomic<uint64_t> timed_out_connections{0};  // no CONNECT_OPEN, or a frame left half-sent
  std::atomic<uint64_t> paused_reads{0};  // a client's calls or replies reached a limit

  std::string ToString() const;
};

class Server {
 public:
  Server(Procedures* procedures, ServerOptions options);
  ~Server();

  // Binds the sockets (replacing stale ones, refusing live ones or paths too
  // long for a unix socket). Nothing is accepted before Start().
  absl::Status Listen();
  // Starts serving on background threads (Listen() first if not done).
  absl::Status Start();
  void Stop();

  const ServerStats& stats() const { return stats_; }

  class Impl;

 private:
  ServerStats stats_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dvm::libvirt

#endif  // DVM_LIBVIRT_SERVER_H_
