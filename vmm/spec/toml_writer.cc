#include "vmm/spec/toml_writer.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace dvm::spec {

std::string TomlString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += absl::StrFormat("\\u%04x", u);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string WriteTomlConfig(const VmSpec& spec) {
  std::string t = "# written by dvmd from the domain's XML\n[vm]\n";
  absl::StrAppend(&t, "name = ", TomlString(spec.name), "\n");
  absl::StrAppend(&t, "memory = ", spec.memory_bytes, "\n");
  absl::StrAppend(&t, "vcpus = ", spec.vcpu_count, "\n");
  absl::StrAppend(&t, "kernel = ", TomlString(spec.kernel), "\n");
  if (!spec.initrd.empty()) absl::StrAppend(&t, "initrd = ", TomlString(spec.initrd), "\n");
  absl::StrAppend(&t, "cmdline = ", TomlString(spec.cmdline), "\n");
  absl::StrAppend(&t, "\n[cluster]\nhalted_tick_limit_ms = ", spec.halted_tick_limit_ms, "\n");
  if (!spec.cluster_key_file.empty()) absl::StrAppend(&t, "key_file = ", TomlString(spec.cluster_key_file), "\n");
  absl::StrAppend(&t, "\n[dsm]\ntransport = \"", spec.dsm.transport == TransportKind::kDpdk ? "dpdk" : "tcp", "\"\n");
  absl::StrAppend(&t, "home = \"", HomePolicyName(spec.dsm.home), "\"\n");
  absl::StrAppend(&t, "interleave = ", spec.dsm.interleave_bytes, "\n");
  for (const HomeRange& r : spec.dsm.ranges) {
    absl::StrAppend(&t, "[[dsm.range]]\nstart = ", r.start.value(), "\nsize = ", r.size, "\nnode = ", r.node.value(), "\n");
  }
  for (const NodeSpec& node : spec.nodes) {
    std::vector<std::string> vcpus;
    for (VcpuId v : node.vcpus) vcpus.push_back(absl::StrCat(v.value()));
    const std::string host = node.address.host.find(':') != std::string::npos
                                 ? absl::StrCat("[", node.address.host, "]")
                                 : node.address.host;
    absl::StrAppend(&t, "\n[[node]]\nid = ", node.id.value(), "\naddress = ",
                    TomlString(absl::StrCat(host, ":", node.address.port)), "\nvcpus = [", absl::StrJoin(vcpus, ", "),
                    "]\n");
    if (!node.dpdk_args.empty()) {
      std::vector<std::string> args;
      for (const std::string& a : node.dpdk_args) args.push_back(TomlString(a));
      absl::StrAppend(&t, "dpdk_args = [", absl::StrJoin(args, ", "), "]\n");
    }
  }
  t += "\n[devices]\n";
  switch (spec.devices.serial.kind) {
    case SerialKind::kStdio: t += "serial = \"stdio\"\n"; break;
    case SerialKind::kNone: t += "serial = \"none\"\n"; break;
    case SerialKind::kFile: absl::StrAppend(&t, "serial = ", TomlString("file:" + spec.devices.serial.path), "\n"); break;
  }
  for (const DiskSpec& d : spec.devices.disks) {
    absl::StrAppend(&t, "[[devices.disk]]\npath = ", TomlString(d.path), "\nread_only = ", d.read_only ? "true" : "false",
                    "\n");
  }
  for (const NetDeviceSpec& n : spec.devices.nets) {
    absl::StrAppend(&t, "[[devices.net]]\ntap = ", TomlString(n.tap), "\n");
    if (!n.mac.empty()) absl::StrAppend(&t, "mac = ", TomlString(n.mac), "\n");
  }
  return t;
}

}  // namespace dvm::spec
