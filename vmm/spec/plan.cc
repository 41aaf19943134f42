#include "vmm/spec/plan.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace dvm::spec {
namespace {

// Guest-physical layout: RAM runs up to the 32-bit hole, which holds the
// IOAPIC, the LAPIC and device windows; the rest of RAM continues at 4 GiB.
constexpr uint64_t kHoleStart = 3 * kGiB;
constexpr uint64_t kHoleEnd = 4 * kGiB;

std::string FileSize(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return "?";
  return FormatSize(static_cast<uint64_t>(st.st_size) / kKiB * kKiB);
}

const char* TransportName(TransportKind kind) { return kind == TransportKind::kTcp ? "tcp" : "dpdk"; }

std::string SerialName(const SerialSpec& serial) {
  switch (serial.kind) {
    case SerialKind::kStdio: return "stdio";
    case SerialKind::kNone: return "none";
    case SerialKind::kFile: return "file " + serial.path;
  }
  return "?";
}

void AppendMemoryMap(const VmSpec& spec, std::string& out) {
  absl::StrAppend(&out, "Guest memory map:\n");
  uint64_t low = std::min(spec.memory_bytes, kHoleStart);
  absl::StrAppendFormat(&out, "  0x%016x-0x%016x  RAM   %s\n", 0, low - 1, FormatSize(low));
  absl::StrAppendFormat(&out, "  0x%016x-0x%016x  hole  IOAPIC 0xfec00000, LAPIC 0xfee00000, devices\n", kHoleStart,
                        kHoleEnd - 1);
  if (spec.memory_bytes > kHoleStart) {
    uint64_t high = spec.memory_bytes - kHoleStart;
    absl::StrAppendFormat(&out, "  0x%016x-0x%016x  RAM   %s\n", kHoleEnd, kHoleEnd + high - 1, FormatSize(high));
  }
}

void AppendHomes(const VmSpec& spec, std::string& out) {
  std::vector<uint64_t> bytes = HomeBytesPerNode(spec);
  if (spec.dsm.home == HomePolicy::kInterleave) {
    absl::StrAppend(&out, "Page homes: interleaved over ", spec.nodes.size(), " node(s) in ",
                    FormatSize(spec.dsm.interleave_bytes), " blocks (block i -> node i mod ",
                    spec.nodes.size(), "); offsets count guest RAM, not addresses\n");
  } else {
    const bool numa = spec.dsm.home == HomePolicy::kNuma;
    absl::StrAppend(&out, numa ? "Page homes: one slice of guest RAM per node, which the guest sees as that node's "
                                 "NUMA memory (offsets into guest RAM)\n"
                               : "Page homes: by range (offsets into guest RAM)\n");
    for (const HomeRange& r : numa ? NumaSlices(spec) : spec.dsm.ranges) {
      absl::StrAppendFormat(&out, "  0x%016x-0x%016x  node %u\n", r.start.value(), r.start.value() + r.size - 1,
                            r.node.value());
    }
  }
  for (size_t i = 0; i < bytes.size(); ++i) {
    absl::StrAppend(&out, "  node ", i, " is home for ", FormatSize(bytes[i]), " (", bytes[i] / kPageSize,
                    " pages)\n");
  }
}

}  // namespace

std::string FormatVcpuList(const std::vector<VcpuId>& vcpus) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < vcpus.size();) {
    size_t j = i;
    while (j + 1 < vcpus.size() && vcpus[j + 1].value() == vcpus[j].value() + 1) ++j;
    parts.push_back(j == i ? absl::StrCat(vcpus[i].value())
                           : absl::StrCat(vcpus[i].value(), "-", vcpus[j].value()));
    i = j + 1;
  }
  return parts.empty() ? "none" : absl::StrJoin(parts, ", ");
}

std::vector<uint64_t> HomeBytesPerNode(const VmSpec& spec) {
  std::vector<uint64_t> bytes(spec.nodes.size(), 0);
  if (spec.nodes.empty()) return bytes;
  if (spec.dsm.home != HomePolicy::kInterleave) {
    for (const HomeRange& r : spec.dsm.home == HomePolicy::kNuma ? NumaSlices(spec) : spec.dsm.ranges) {
      if (r.node.value() < bytes.size()) bytes[r.node.value()] += r.size;
    }
    return bytes;
  }
  uint64_t blocks = spec.memory_bytes / spec.dsm.interleave_bytes;
  for (size_t i = 0; i < bytes.size(); ++i) {
    uint64_t mine = blocks / bytes.size() + (i < blocks % bytes.size() ? 1 : 0);
    bytes[i] = mine * spec.dsm.interleave_bytes;
  }
  return bytes;
}

std::string FormatPlan(const VmSpec& spec) {
  std::string out;
  absl::StrAppend(&out, "VM '", spec.name, "': ", spec.vcpu_count, " vCPU(s), ", FormatSize(spec.memory_bytes),
                  " of RAM on ", spec.nodes.size(), " node(s)\n");
  absl::StrAppend(&out, "  kernel  ", spec.kernel, " (", FileSize(spec.kernel), ")\n");
  if (!spec.initrd.empty()) absl::StrAppend(&out, "  initrd  ", spec.initrd, " (", FileSize(spec.initrd), ")\n");
  absl::StrAppend(&out, "  cmdline \"", spec.cmdline, "\"\n");
  absl::StrAppend(&out, "Transport: ", TransportName(spec.dsm.transport));
  if (!spec.cluster_key_file.empty()) absl::StrAppend(&out, ", peers authenticated with ", spec.cluster_key_file);
  absl::StrAppend(&out, "\nNodes:\n");
  for (const NodeSpec& node : spec.nodes) {
    absl::StrAppendFormat(&out, "  node %-2u %-22s vCPUs %s", node.id.value(),
                          absl::StrCat(node.address.host, ":", node.address.port), FormatVcpuList(node.vcpus));
    if (node.id == NodeId(0)) absl::StrAppend(&out, "  (devices: serial ", SerialName(spec.devices.serial), ")");
    if (!node.dpdk_args.empty()) absl::StrAppend(&out, "\n          EAL: ", absl::StrJoin(node.dpdk_args, " "));
    absl::StrAppend(&out, "\n");
  }
  for (const DiskSpec& disk : spec.devices.disks) {
    absl::StrAppend(&out, "  disk ", disk.path, disk.read_only ? " (read-only)" : "", " on node 0\n");
  }
  for (const NetDeviceSpec& net : spec.devices.nets) {
    absl::StrAppend(&out, "  net tap ", net.tap, net.mac.empty() ? "" : " mac " + net.mac, " on node 0\n");
  }
  AppendMemoryMap(spec, out);
  AppendHomes(spec, out);
  return out;
}

}  // namespace dvm::spec
