// VmSpec: everything dvm needs to know to run one distributed VM, validated.
//
// Two front ends produce it: the TOML cluster config (toml_config.h) and, later,
// libvirt domain XML (libvirt/). Both fill a VmSpec and call Validate(), so the
// rules live here once and each front end only maps its syntax onto fields.
#ifndef DVM_VMM_SPEC_VM_SPEC_H_
#define DVM_VMM_SPEC_VM_SPEC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "dvm/types.h"

namespace dvm::spec {

// Limits. vCPU ids are xAPIC ids (8 bits, 0xff is broadcast); 64 nodes keeps
// a directory's sharer set in one machine word.
inline constexpr uint32_t kMaxNodes = 64;
inline constexpr uint32_t kMaxVcpus = 254;
inline constexpr uint64_t kMinMemory = 64 * kMiB;
inline constexpr uint64_t kMemoryAlignment = 2 * kMiB;
// The least RAM a node's NUMA slice may have (HomePolicy::kNuma): Linux
// ignores NUMA nodes smaller than 4 MiB, and a node needs room for its own
// memory map and per-CPU areas.
inline constexpr uint64_t kMinNumaSlice = 16 * kMiB;
inline constexpr size_t kMaxCmdline = 2047;  // boot protocol's cmdline_size on modern kernels
inline constexpr uint32_t kDefaultHaltedTickLimitMs = 100;
inline constexpr uint32_t kMaxHaltedTickLimitMs = 10'000;

enum class TransportKind { kTcp, kDpdk };
// Where each page of guest RAM has its home (see DsmSpec).
enum class HomePolicy { kNuma, kInterleave, kRange };
enum class SerialKind { kStdio, kNone, kFile };

struct NetAddress {
  std::string host;  // name or IPv4/IPv6 literal (no brackets)
  uint16_t port = 0;
};

struct NodeSpec {
  NodeId id;
  NetAddress address;
  std::vector<VcpuId> vcpus;        // sorted, the vCPUs this node runs
  std::vector<std::string> dpdk_args;  // EAL arguments, only with TransportKind::kDpdk
};

// A range of guest RAM whose pages are homed on one node (HomePolicy::kRange).
// `start` is an offset into guest RAM, not a guest-physical address: RAM is
// one run of bytes to the DSM, wherever the 32-bit hole splits it for the guest.
struct HomeRange {
  Gpa start;
  uint64_t size = 0;
  NodeId node;
};

// Page homes:
//  kNuma (the default): guest RAM is cut into one contiguous slice per node,
//    in node order (NumaSlices), each slice homed on its node, and the guest
//    is told so: with 2+ nodes the ACPI tables give it a NUMA node per dvm
//    node, holding that node's vCPUs and slice. Linux then keeps a node's
//    tasks, their memory and its per-CPU data on that node, and balances
//    work across nodes rarely, which is what keeps pages from bouncing.
//    Every page starts on its home, so a node's first touch of its own
//    memory is local; what the loader writes must fit in node 0's slice.
//    (A kernel with KASLR may still decompress itself into another node's
//    slice; that costs a page transfer per page, once.)
//  kInterleave: block i of interleave_bytes is homed on node i mod N; the
//    guest sees one NUMA node; every page starts on node 0 (the loader's).
//  kRange: explicit ranges; otherwise as kInterleave.
struct DsmSpec {
  HomePolicy home = HomePolicy::kNuma;
  uint64_t interleave_bytes = kPageSize;  // granule of the round-robin over nodes
  std::vector<HomeRange> ranges;          // kRange: must tile guest RAM exactly
  TransportKind transport = TransportKind::kTcp;
};

struct SerialSpec {
  SerialKind kind = SerialKind::kStdio;
  std::string path;  // kFile only
};

struct DiskSpec {
  std::string path;
  bool read_only = false;
};

struct NetDeviceSpec {
  std::string tap;  // host tap interface name
  std::string mac;  // "52:54:00:12:34:56"; empty = derived from the VM name
};

struct DeviceSpec {
  SerialSpec serial;
  std::vector<DiskSpec> disks;
  std::vector<NetDeviceSpec> nets;
};

struct VmSpec {
  std::string name;
  uint64_t memory_bytes = 0;
  uint32_t vcpu_count = 0;
  std::string kernel;   // absolute path after parsing
  std::string initrd;   // empty = none
  std::string cmdline;
  std::vector<NodeSpec> nodes;  // sorted by id; ids are 0..N-1
  DsmSpec dsm;
  DeviceSpec devices;
  std::string cluster_key_file;  // empty only for a single-node VM
  // While a vCPU on a node other than node 0 is halted, its LAPIC's periodic
  // timer fires at most once per this many ms (0: every period); see
  // irq::Lapic::SetHaltedTickLimit.
  uint32_t halted_tick_limit_ms = kDefaultHaltedTickLimitMs;

  // The node that runs `vcpu`, or nullopt if none does.
  std::optional<NodeId> NodeOfVcpu(VcpuId vcpu) const;
  const NodeSpec* FindNode(NodeId id) const;
};

// "numa", "interleave" or "range"; and back (nullopt for another name).
const char* HomePolicyName(HomePolicy policy);
std::optional<HomePolicy> ParseHomePolicy(const std::string& name);

// With HomePolicy::kNuma, each node's slice of guest RAM, in node order:
// equal shares in 2 MiB units, the last node taking what is left. Offsets
// into RAM, like HomeRange. Empty for the other policies.
std::vector<HomeRange> NumaSlices(const VmSpec& spec);

// Where a validation problem is, so front ends can map it back to their syntax:
// `field` is a dotted path such as "node[1].vcpus" or "vm.memory".
struct SpecError {
  std::string field;
  std::string message;
};

// Host facts that validation checks against; injectable for tests.
struct HostLimits {
  uint64_t memory_bytes = 0;  // 0 = do not check
  static HostLimits FromHost();
};

// Checks every rule that does not depend on the syntax it came from. Returns
// all problems found (empty = valid). Checks files (kernel, initrd, key, disks)
// for existence and readability on this host.
std::vector<SpecError> Validate(const VmSpec& spec, const HostLimits& host);

// True for an IPv4/IPv6 literal or a plausible DNS name.
bool IsValidHost(const std::string& host);

}  // namespace dvm::spec

#endif  // DVM_VMM_SPEC_VM_SPEC_H_
