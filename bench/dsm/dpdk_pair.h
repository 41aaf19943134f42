// DPDK transports for bench/dsm, all in this process over net_memif.
//
// EAL initializes once per process, with the arguments of the first transport
// made, and DpdkTransport drives one point-to-point port: so every memif port
// the run needs is named up front, in pairs that share a socket (server and
// client), and each pair joins two nodes. Four ports: 0-1 for the round-trip
// floor, 2-3 for the two-node DSM cluster. Ports are never reused (a memif
// socket name reused in one process breaks).
#ifndef DVM_BENCH_DSM_DPDK_PAIR_H_
#define DVM_BENCH_DSM_DPDK_PAIR_H_

#include <string>
#include <vector>

#include "dsm/in_process_cluster.h"

namespace dvm::dsm::bench {

// False when dvm was built without DPDK.
bool HaveDpdk();

// EAL arguments naming `pairs` memif pairs (ports 2k and 2k+1 share one
// socket under /tmp named after `tag`); the lcore may run on either CPU.
std::vector<std::string> MemifEalArgs(const std::string& tag, int pairs);

// Node i (0 or 1) on port `first_port + i`, MTU 9000 (one frame per page).
TransportMaker DpdkMemifPair(std::vector<std::string> eal_args, int first_port);

}  // namespace dvm::dsm::bench

#endif  // DVM_BENCH_DSM_DPDK_PAIR_H_
