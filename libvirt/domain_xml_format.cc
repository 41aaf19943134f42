// Domain XML from a DomainDef: the document ParseDomainXml accepts unchanged.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "libvirt/domain_xml.h"

namespace dvm::libvirt {
namespace {

using spec::VmSpec;

std::string FormatIdList(const std::vector<VcpuId>& ids) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < ids.size();) {
    size_t j = i;
    while (j + 1 < ids.size() && ids[j + 1].value() == ids[j].value() + 1) ++j;
    parts.push_back(i == j ? absl::StrCat(ids[i].value()) : absl::StrCat(ids[i].value(), "-", ids[j].value()));
    i = j + 1;
  }
  return absl::StrJoin(parts, ",");
}

// Text content needs only & < > escaped; quotes are escaped in attribute
// values alone (text made of quotes would otherwise grow sixfold and no longer
// fit the 4 MiB limits of the store and of a client's string).
std::string Esc(absl::string_view s, bool attribute = false) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '\'': out += attribute ? "&apos;" : "'"; break;
      case '"': out += attribute ? "&quot;" : "\""; break;
      default: out += c;
    }
  }
  return out;
}

std::string EscAttr(absl::string_view s) { return Esc(s, /*attribute=*/true); }

std::string FormatAddress(const spec::NetAddress& a) {
  if (a.host.find(':') != std::string::npos) return absl::StrCat("[", a.host, "]:", a.port);
  return absl::StrCat(a.host, ":", a.port);
}

// libvirt's disk names: vda..vdz, then vdaa, vdab, ...
std::string DiskTarget(size_t index) {
  std::string suffix;
  for (size_t i = index + 1; i > 0; i = (i - 1) / 26) suffix.insert(suffix.begin(), static_cast<char>('a' + (i - 1) % 26));
  return "vd" + suffix;
}

}  // namespace

std::string FormatDomainXml(const DomainDef& def) {
  const VmSpec& s = def.spec;
  std::string x = "<domain type='kvm'>\n";
  absl::StrAppend(&x, "  <name>", Esc(s.name), "</name>\n");
  absl::StrAppend(&x, "  <uuid>", UuidToString(def.uuid), "</uuid>\n");
  if (!def.title.empty()) absl::StrAppend(&x, "  <title>", Esc(def.title), "</title>\n");
  if (!def.description.empty()) absl::StrAppend(&x, "  <description>", Esc(def.description), "</description>\n");
  absl::StrAppend(&x, "  <metadata>\n    <dvm:cluster xmlns:dvm='", kDvmNamespace, "' transport='",
                  s.dsm.transport == spec::TransportKind::kDpdk ? "dpdk" : "tcp", "'");
  if (!s.cluster_key_file.empty()) absl::StrAppend(&x, " key_file='", EscAttr(s.cluster_key_file), "'");
  x += ">\n";
  if (s.dsm.home != spec::HomePolicy::kRange) {
    absl::StrAppend(&x, "      <dvm:home policy='", spec::HomePolicyName(s.dsm.home), "' interleave='",
                    s.dsm.interleave_bytes, "'/>\n");
  } else {
    absl::StrAppend(&x, "      <dvm:home policy='range' interleave='", s.dsm.interleave_bytes, "'>\n");
    for (const spec::HomeRange& r : s.dsm.ranges) {
      absl::StrAppendFormat(&x, "        <dvm:range start='%#x' size='%#x' node='%u'/>\n", r.start.value(), r.size,
                            r.node.value());
    }
    x += "      </dvm:home>\n";
  }
  for (const spec::NodeSpec& n : s.nodes) {
    absl::StrAppend(&x, "      <dvm:node id='", n.id.value(), "' address='", EscAttr(FormatAddress(n.address)), "'");
    if (!n.vcpus.empty()) absl::StrAppend(&x, " vcpus='", FormatIdList(n.vcpus), "'");
    if (n.dpdk_args.empty()) {
      x += "/>\n";
    } else {
      x += ">\n";
      for (const std::string& arg : n.dpdk_args) absl::StrAppend(&x, "        <dvm:dpdk_arg>", Esc(arg), "</dvm:dpdk_arg>\n");
      x += "      </dvm:node>\n";
    }
  }
  x += "    </dvm:cluster>\n";
  for (const std::string& foreign : def.foreign_metadata) absl::StrAppend(&x, "    ", foreign, "\n");
  x += "  </metadata>\n";
  absl::StrAppend(&x, "  <memory unit='KiB'>", s.memory_bytes / kKiB, "</memory>\n");
  absl::StrAppend(&x, "  <currentMemory unit='KiB'>", s.memory_bytes / kKiB, "</currentMemory>\n");
  absl::StrAppend(&x, "  <vcpu placement='static'>", s.vcpu_count, "</vcpu>\n");
  x += "  <os>\n    <type arch='x86_64'>hvm</type>\n";
  absl::StrAppend(&x, "    <kernel>", Esc(s.kernel), "</kernel>\n");
  if (!s.initrd.empty()) absl::StrAppend(&x, "    <initrd>", Esc(s.initrd), "</initrd>\n");
  absl::StrAppend(&x, "    <cmdline>", Esc(s.cmdline), "</cmdline>\n");
  x += "  </os>\n";
  // dvm never restarts a guest: every way a guest ends stops the domain.
  x += "  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>destroy</on_reboot>\n  <on_crash>destroy</on_crash>\n";
  x += "  <devices>\n";
  for (size_t i = 0; i < s.devices.disks.size(); ++i) {
    const spec::DiskSpec& d = s.devices.disks[i];
    absl::StrAppend(&x, "    <disk type='file' device='disk'>\n      <source file='", EscAttr(d.path), "'/>\n",
                    "      <target dev='", DiskTarget(i), "' bus='virtio'/>\n");
    if (d.read_only) x += "      <readonly/>\n";
    x += "    </disk>\n";
  }
  for (const spec::NetDeviceSpec& n : s.devices.nets) {
    x += "    <interface type='ethernet'>\n";
    if (!n.mac.empty()) absl::StrAppend(&x, "      <mac address='", EscAttr(n.mac), "'/>\n");
    absl::StrAppend(&x, "      <target dev='", EscAttr(n.tap), "'/>\n      <model type='virtio'/>\n    </interface>\n");
  }
  switch (s.devices.serial.kind) {
    case spec::SerialKind::kFile:
      absl::StrAppend(&x, "    <serial type='file'>\n      <source path='", EscAttr(s.devices.serial.path),
                      "'/>\n    </serial>\n");
      break;
    case spec::SerialKind::kNone: x += "    <serial type='null'/>\n"; break;
    case spec::SerialKind::kStdio: break;  // the default: the console goes to dvmd's log of the domain
  }
  x += "  </devices>\n</domain>\n";
  return x;
}

}  // namespace dvm::libvirt
