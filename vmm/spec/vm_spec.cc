#include "vmm/spec/vm_spec.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace dvm::spec {
namespace {

// Collects problems with their field paths.
class Problems {
 public:
  void Add(std::string field, std::string message) {
    list_.push_back({std::move(field), std::move(message)});
  }
  std::vector<SpecError> Take() { return std::move(list_); }

 private:
  std::vector<SpecError> list_;
};

std::string NodeField(size_t index, const char* key) {
  return absl::StrCat("node[", index, "].", key);
}

// Empty when `path` names a readable regular file; otherwise why not.
std::string CheckReadableFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return absl::StrCat("cannot find '", path, "'");
  if (!S_ISREG(st.st_mode)) return absl::StrCat("'", path, "' is not a regular file");
  if (::access(path.c_str(), R_OK) != 0) return absl::StrCat("'", path, "' is not readable");
  return "";
}

// The name becomes file names (NAME.toml, NAME.sock, dvmd's NAME.xml): a
// leading '.' would make a hidden file, "." or "..", or one of dvmd's
// temporary files (.tmp-*), which its store skips or removes.
bool IsValidName(const std::string& name) {
  if (name.empty() || name.size() > 64 || name[0] == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.';
  });
}

bool IsValidMac(const std::string& mac) {
  if (mac.size() != 17) return false;
  for (size_t i = 0; i < mac.size(); ++i) {
    char c = mac[i];
    if (i % 3 == 2) {
      if (c != ':') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  // The low bit of the first octet marks multicast, which no NIC may use.
  return (std::stoi(mac.substr(0, 2), nullptr, 16) & 1) == 0;
}

void ValidateVm(const VmSpec& spec, const HostLimits& host, Problems& p) {
  if (!IsValidName(spec.name)) {
    p.Add("vm.name", "must be 1-64 characters of letters, digits, '-', '_' or '.', not starting with '.'");
  }
  if (spec.memory_bytes < kMinMemory) {
    p.Add("vm.memory", absl::StrCat("must be at least ", FormatSize(kMinMemory), ", got ",
                                    FormatSize(spec.memory_bytes)));
  } else if (spec.memory_bytes % kMemoryAlignment != 0) {
    p.Add("vm.memory", absl::StrCat("must be a multiple of 2 MiB, got ",
                                    FormatSize(spec.memory_bytes)));
  } else if (host.memory_bytes != 0 && spec.memory_bytes > host.memory_bytes) {
    p.Add("vm.memory", absl::StrCat(FormatSize(spec.memory_bytes),
                                    " is more than this host can back (",
                                    FormatSize(host.memory_bytes), " of RAM)"));
  }
  if (spec.vcpu_count == 0 || spec.vcpu_count > kMaxVcpus) {
    p.Add("vm.vcpus", absl::StrCat("must be between 1 and ", kMaxVcpus, ", got ", spec.vcpu_count));
  }
  if (spec.kernel.empty()) {
    p.Add("vm.kernel", "is required");
  } else if (std::string why = CheckReadableFile(spec.kernel); !why.empty()) {
    p.Add("vm.kernel", why);
  }
  if (!spec.initrd.empty()) {
    if (std::string why = CheckReadableFile(spec.initrd); !why.empty()) p.Add("vm.initrd", why);
  }
  if (spec.cmdline.size() > kMaxCmdline) {
    p.Add("vm.cmdline", absl::StrCat("is ", spec.cmdline.size(), " bytes; the limit is ", kMaxCmdline));
  }
}

void ValidateNodes(const VmSpec& spec, Problems& p) {
  if (spec.nodes.empty()) {
    p.Add("node", "at least one [[node]] is required");
    return;
  }
  if (spec.nodes.size() > kMaxNodes) {
    p.Add("node", absl::StrCat(spec.nodes.size(), " nodes given; at most ", kMaxNodes, " are supported"));
    return;
  }
  std::map<uint32_t, size_t> index_of_id;
  std::map<std::string, size_t> index_of_address;
  std::map<uint32_t, size_t> node_of_vcpu;  // vCPU -> index into spec.nodes
  for (size_t i = 0; i < spec.nodes.size(); ++i) {
    const NodeSpec& node = spec.nodes[i];
    uint32_t id = node.id.value();
    if (auto [it, fresh] = index_of_id.emplace(id, i); !fresh) {
      p.Add(NodeField(i, "id"), absl::StrCat("duplicate node id ", id, " (also node[", it->second, "])"));
    }
    if (id >= spec.nodes.size()) {
      p.Add(NodeField(i, "id"), absl::StrCat("node ids must be 0..", spec.nodes.size() - 1,
                                             " with no gaps, got ", id));
    }
    if (!IsValidHost(node.address.host)) {
      p.Add(NodeField(i, "address"), absl::StrCat("'", node.address.host, "' is not a valid host name or IP address"));
    }
    if (node.address.port == 0) p.Add(NodeField(i, "address"), "port must be between 1 and 65535");
    std::string addr = absl::StrCat(node.address.host, ":", node.address.port);
    if (auto [it, fresh] = index_of_address.emplace(addr, i); !fresh) {
      p.Add(NodeField(i, "address"), absl::StrCat(addr, " is also the address of node[", it->second, "]"));
    }
    for (VcpuId vcpu : node.vcpus) {
      if (vcpu.value() >= spec.vcpu_count) {
        p.Add(NodeField(i, "vcpus"), absl::StrCat("vCPU ", vcpu.value(), " does not exist (vm.vcpus = ",
                                                  spec.vcpu_count, ", so ids are 0..",
                                                  spec.vcpu_count == 0 ? 0 : spec.vcpu_count - 1, ")"));
        continue;
      }
      if (auto [it, fresh] = node_of_vcpu.emplace(vcpu.value(), i); !fresh) {
        p.Add(NodeField(i, "vcpus"), absl::StrCat("vCPU ", vcpu.value(), " is placed on two nodes (also node[",
                                                  it->second, "])"));
      }
    }
    if (spec.dsm.transport == TransportKind::kTcp && !node.dpdk_args.empty()) {
      p.Add(NodeField(i, "dpdk_args"), "only applies with dsm.transport = \"dpdk\"");
    }
    if (spec.dsm.transport == TransportKind::kDpdk && node.dpdk_args.empty() && spec.nodes.size() > 1) {
      p.Add(NodeField(i, "dpdk_args"), "is required with dsm.transport = \"dpdk\" (EAL arguments naming the port)");
    }
  }
  std::vector<std::string> unplaced;
  for (uint32_t v = 0; v < spec.vcpu_count && v <= kMaxVcpus; ++v) {
    if (!node_of_vcpu.contains(v)) unplaced.push_back(absl::StrCat(v));
  }
  if (!unplaced.empty()) {
    p.Add("node", absl::StrCat("vCPU ", absl::StrJoin(unplaced, ", "), unplaced.size() == 1 ? " is" : " are",
                               " not placed on any node"));
  }
  // Node 0 holds the devices and the PIC, whose INTR pin reaches vCPU 0.
  if (auto it = node_of_vcpu.find(0); it != node_of_vcpu.end() && spec.nodes[it->second].id.value() != 0) {
    p.Add(NodeField(it->second, "vcpus"), "vCPU 0 (the bootstrap processor) must be on node 0, which holds the devices");
  }
}

void ValidateDsm(const VmSpec& spec, Problems& p) {
  const DsmSpec& dsm = spec.dsm;
  if (dsm.interleave_bytes < kPageSize || (dsm.interleave_bytes & (dsm.interleave_bytes - 1)) != 0) {
    p.Add("dsm.interleave", absl::StrCat("must be a power of two of at least 4 KiB, got ",
                                         FormatSize(dsm.interleave_bytes)));
  }
  if (dsm.home != HomePolicy::kRange) {
    if (!dsm.ranges.empty()) p.Add("dsm.range", "only applies with dsm.home = \"range\"");
  }
  if (dsm.home == HomePolicy::kNuma && !spec.nodes.empty() &&
      spec.memory_bytes / spec.nodes.size() < kMinNumaSlice) {
    p.Add("dsm.home", absl::StrCat("\"numa\" gives each of the ", spec.nodes.size(), " nodes a slice of vm.memory (",
                                   FormatSize(spec.memory_bytes), "), less than the ", FormatSize(kMinNumaSlice),
                                   " a node needs; give the VM more memory or use \"interleave\""));
  }
  if (dsm.home != HomePolicy::kRange) return;
  if (dsm.ranges.empty()) {
    p.Add("dsm.range", "dsm.home = \"range\" needs [[dsm.range]] entries covering all guest memory");
    return;
  }
  std::vector<HomeRange> sorted = dsm.ranges;
  std::sort(sorted.begin(), sorted.end(), [](const HomeRange& a, const HomeRange& b) { return a.start < b.start; });
  uint64_t next = 0;
  for (const HomeRange& r : sorted) {
    std::string where = absl::StrFormat("dsm.range at %#x", r.start.value());
    if (!IsPageAligned(r.start.value()) || !IsPageAligned(r.size) || r.size == 0) {
      p.Add(where, "start and size must be non-zero multiples of 4 KiB");
      return;
    }
    if (r.node.value() >= spec.nodes.size()) {
      p.Add(where, absl::StrCat("node ", r.node.value(), " does not exist"));
    }
    if (r.start.value() < next) {
      p.Add(where, absl::StrFormat("overlaps the range before it (which ends at %#x)", next));
      return;
    }
    if (r.start.value() > next) {
      p.Add(where, absl::StrFormat("leaves guest memory %#x-%#x without a home", next, r.start.value() - 1));
      return;
    }
    next = r.start.value() + r.size;
  }
  if (next != spec.memory_bytes) {
    p.Add("dsm.range", absl::StrFormat("ranges cover %s but vm.memory is %s", FormatSize(next),
                                       FormatSize(spec.memory_bytes)));
  }
}

void ValidateDevicesAndKey(const VmSpec& spec, Problems& p) {
  if (spec.devices.serial.kind == SerialKind::kFile && spec.devices.serial.path.empty()) {
    p.Add("devices.serial", "file: needs a path, e.g. \"file:/tmp/console.log\"");
  }
  for (size_t i = 0; i < spec.devices.disks.size(); ++i) {
    if (std::string why = CheckReadableFile(spec.devices.disks[i].path); !why.empty()) {
      p.Add(absl::StrCat("devices.disk[", i, "].path"), why);
    }
  }
  for (size_t i = 0; i < spec.devices.nets.size(); ++i) {
    const NetDeviceSpec& net = spec.devices.nets[i];
    if (net.tap.empty() || net.tap.size() > 15) {
      p.Add(absl::StrCat("devices.net[", i, "].tap"), "must be an interface name of 1-15 characters");
    }
    if (!net.mac.empty() && !IsValidMac(net.mac)) {
      p.Add(absl::StrCat("devices.net[", i, "].mac"),
            absl::StrCat("'", net.mac, "' is not a unicast MAC address like 52:54:00:12:34:56"));
    }
  }
  if (spec.halted_tick_limit_ms > kMaxHaltedTickLimitMs) {
    p.Add("cluster.halted_tick_limit_ms",
          absl::StrCat("must be at most ", kMaxHaltedTickLimitMs, ", got ", spec.halted_tick_limit_ms));
  }
  if (spec.nodes.size() > 1 && spec.cluster_key_file.empty()) {
    p.Add("cluster.key_file", "is required when the VM has more than one node (peers authenticate with it)");
  } else if (!spec.cluster_key_file.empty()) {
    if (std::string why = CheckReadableFile(spec.cluster_key_file); !why.empty()) {
      p.Add("cluster.key_file", why);
    } else {
      struct stat st;
      if (::stat(spec.cluster_key_file.c_str(), &st) == 0 && st.st_size < 32) {
        p.Add("cluster.key_file", absl::StrCat("'", spec.cluster_key_file, "' holds ", st.st_size,
                                               " bytes; a key needs at least 32 (try: head -c 32 /dev/urandom > FILE)"));
      }
    }
  }
}

}  // namespace

const char* HomePolicyName(HomePolicy policy) {
  switch (policy) {
    case HomePolicy::kNuma:
      return "numa";
    case HomePolicy::kInterleave:
      return "interleave";
    case HomePolicy::kRange:
      return "range";
  }
  return "?";
}

std::optional<HomePolicy> ParseHomePolicy(const std::string& name) {
  for (HomePolicy p : {HomePolicy::kNuma, HomePolicy::kInterleave, HomePolicy::kRange}) {
    if (name == HomePolicyName(p)) return p;
  }
  return std::nullopt;
}

std::vector<HomeRange> NumaSlices(const VmSpec& spec) {
  std::vector<HomeRange> slices;
  if (spec.dsm.home != HomePolicy::kNuma || spec.nodes.empty()) return slices;
  const uint64_t share = spec.memory_bytes / spec.nodes.size() / kMemoryAlignment * kMemoryAlignment;
  uint64_t start = 0;
  for (size_t i = 0; i < spec.nodes.size(); ++i) {
    const uint64_t size = i + 1 == spec.nodes.size() ? spec.memory_bytes - start : share;
    slices.push_back({Gpa(start), size, spec.nodes[i].id});
    start += size;
  }
  return slices;
}

std::optional<NodeId> VmSpec::NodeOfVcpu(VcpuId vcpu) const {
  for (const NodeSpec& node : nodes) {
    if (std::find(node.vcpus.begin(), node.vcpus.end(), vcpu) != node.vcpus.end()) return node.id;
  }
  return std::nullopt;
}

const NodeSpec* VmSpec::FindNode(NodeId id) const {
  for (const NodeSpec& node : nodes) {
    if (node.id == id) return &node;
  }
  return nullptr;
}

HostLimits HostLimits::FromHost() {
  long pages = ::sysconf(_SC_PHYS_PAGES);
  long page_size = ::sysconf(_SC_PAGESIZE);
  HostLimits limits;
  if (pages > 0 && page_size > 0) limits.memory_bytes = static_cast<uint64_t>(pages) * page_size;
  return limits;
}

bool IsValidHost(const std::string& host) {
  if (host.empty() || host.size() > 253) return false;
  unsigned char buf[16];
  if (inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1) return true;
  // A DNS name: labels of letters, digits and '-', not starting or ending with '-'.
  // All-numeric dotted strings that failed inet_pton (e.g. 300.1.1.1) are rejected.
  bool all_numeric = true;
  size_t label_len = 0;
  char prev = '.';
  for (char c : host) {
    if (c == '.') {
      if (label_len == 0 || prev == '-') return false;
      label_len = 0;
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-') {
      if (label_len == 0 && c == '-') return false;
      if (++label_len > 63) return false;
      if (!std::isdigit(static_cast<unsigned char>(c))) all_numeric = false;
    } else {
      return false;
    }
    prev = c;
  }
  return label_len > 0 && prev != '-' && !all_numeric;
}

std::vector<SpecError> Validate(const VmSpec& spec, const HostLimits& host) {
  Problems p;
  ValidateVm(spec, host, p);
  ValidateNodes(spec, p);
  ValidateDsm(spec, p);
  ValidateDevicesAndKey(spec, p);
  return p.Take();
}

}  // namespace dvm::spec
