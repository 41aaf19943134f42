// The two ends of each bench/transport measurement, run as separate processes
// by the orchestrator in transport_bench.cc.
#ifndef DVM_BENCH_TRANSPORT_ROLES_H_
#define DVM_BENCH_TRANSPORT_ROLES_H_

#include <string>

#include "test/integration/net/transport_factory.h"

namespace dvm::net::bench {

inline constexpr size_t kRequestBytes = 64;
inline constexpr int kWarmup = 200;
inline constexpr int kRoundTrips = 3000;
inline constexpr double kThroughputSeconds = 1.0;
inline constexpr int kInFlight = 32;

// Plain unix-socket ping-pong: the baseline (blocking reads and writes).
int UnixServer(const std::string& path);
int UnixClient(const std::string& path);

// The same exchange over a net::Transport: a 64 B request answered by a message
// carrying a 4 KiB page.
int TransportServer(const Flags& flags);
int TransportClient(const Flags& flags);

// Prints the line the orchestrator parses: "RESULT <median_us> <p99_us> <pages_per_s>".
void PrintResult(std::vector<double> rtt_us, double pages_per_s);

}  // namespace dvm::net::bench

#endif  // DVM_BENCH_TRANSPORT_ROLES_H_
