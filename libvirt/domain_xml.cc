#include "libvirt/domain_xml.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <bitset>
#include <charconv>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "dvm/status.h"
#include "libvirt/vir_error.h"
#include "vmm/spec/toml_config.h"

namespace dvm::libvirt {
namespace {

using spec::VmSpec;

// Beyond what an RPC can carry anyway; also bounds a stored file.
constexpr size_t kMaxXmlBytes = 4 << 20;
constexpr char kDefaultCmdline[] = "console=ttyS0 pci=off";  // as in the TOML config

void IgnoreXmlMessage(void*, const char*, ...) {}

absl::Status XmlError(std::string message) { return VirError(ErrorCode::kXmlError, std::move(message)); }
absl::Status Unsupported(std::string message) { return VirError(ErrorCode::kConfigUnsupported, std::move(message)); }

struct DocDeleter {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
using DocPtr = std::unique_ptr<xmlDoc, DocDeleter>;

std::string Name(const xmlNode* n) { return reinterpret_cast<const char*>(n->name); }

bool InNamespace(const xmlNode* n, const char* href) {
  if (href == nullptr) return n->ns == nullptr;
  return n->ns != nullptr && n->ns->href != nullptr && absl::string_view(reinterpret_cast<const char*>(n->ns->href)) == href;
}

std::vector<xmlNode*> Elements(xmlNode* parent) {
  std::vector<xmlNode*> out;
  for (xmlNode* c = parent->children; c != nullptr; c = c->next) {
    if (c->type == XML_ELEMENT_NODE) out.push_back(c);
  }
  return out;
}

std::optional<std::string> Attr(const xmlNode* n, const char* name) {
  xmlChar* v = xmlGetNoNsProp(n, reinterpret_cast<const xmlChar*>(name));
  if (v == nullptr) return std::nullopt;
  std::string s(reinterpret_cast<const char*>(v));
  xmlFree(v);
  return s;
}

// Text content as written (a <description> keeps its layout).
std::string RawText(const xmlNode* n) {
  xmlChar* v = xmlNodeGetContent(n);
  if (v == nullptr) return "";
  std::string s(reinterpret_cast<const char*>(v));
  xmlFree(v);
  return s;
}

// Text content, whitespace trimmed: names, numbers, paths.
std::string Text(const xmlNode* n) { return std::string(absl::StripAsciiWhitespace(RawText(n))); }

std::optional<uint64_t> ParseU64(absl::string_view s) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// libvirt's memory units; the default is KiB.
absl::StatusOr<uint64_t> ParseMemory(const xmlNode* n, const char* what) {
  static const std::map<std::string, uint64_t> kUnits = {
      {"b", 1},          {"bytes", 1},           {"KB", 1000},          {"k", kKiB},
      {"KiB", kKiB},     {"MB", 1000 * 1000},    {"M", kMiB},           {"MiB", kMiB},
      {"GB", 1000000000}, {"G", kGiB},           {"GiB", kGiB},         {"TB", 1000ull * 1000000000},
      {"T", 1024 * kGiB}, {"TiB", 1024 * kGiB}};
  const std::string unit = Attr(n, "unit").value_or("KiB");
  auto it = kUnits.find(unit);
  if (it == kUnits.end()) return XmlError(absl::StrCat("<", what, ">: unknown unit '", unit, "'"));
  const std::string text = Text(n);
  auto value = ParseU64(text);
  if (!value || *value > UINT64_MAX / it->second) {
    return XmlError(absl::StrCat("<", what, ">: '", text, "' is not a memory size"));
  }
  return *value * it->second;
}

absl::Status RequireAbsolute(const std::string& path, const std::string& what) {
  if (path.empty()) return XmlError(absl::StrCat(what, " is empty"));
  if (path[0] != '/') return XmlError(absl::StrCat(what, " must be an absolute path, got '", path, "'"));
  return absl::OkStatus();
}

// "0-3,6" -> {0,1,2,3,6}. Into a bitset, so the work and memory are bounded
// by kMaxVcpus whatever the text's length; an id given twice is an error.
std::optional<std::vector<uint32_t>> ParseIdList(absl::string_view text) {
  std::vector<uint32_t> out;
  if (absl::StripAsciiWhitespace(text).empty()) return out;  // a node without vCPUs
  std::bitset<spec::kMaxVcpus + 1> ids;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    part = absl::StripAsciiWhitespace(part);
    std::vector<absl::string_view> range = absl::StrSplit(part, absl::MaxSplits('-', 2));
    if (range.size() > 2) return std::nullopt;
    auto lo = ParseU64(range[0]);
    auto hi = range.size() == 2 ? ParseU64(range[1]) : lo;
    if (!lo || !hi || *lo > *hi || *hi > spec::kMaxVcpus) return std::nullopt;
    for (uint64_t v = *lo; v <= *hi; ++v) {
      if (ids.test(v)) return std::nullopt;
      ids.set(v);
    }
  }
  for (uint32_t v = 0; v < ids.size(); ++v) {
    if (ids.test(v)) out.push_back(v);
  }
  return out;
}

// An element of another namespace, serialized on its own with every
// namespace it uses declared on it.
std::string SerializeForeign(xmlNode* node) {
  DocPtr tmp(xmlNewDoc(reinterpret_cast<const xmlChar*>("1.0")));
  xmlNode* copy = xmlDocCopyNode(node, tmp.get(), 1);
  if (copy == nullptr) return "";
  xmlDocSetRootElement(tmp.get(), copy);
  xmlReconciliateNs(tmp.get(), copy);
  xmlBuffer* buf = xmlBufferCreate();
  xmlNodeDump(buf, tmp.get(), copy, 0, 0);
  std::string out(reinterpret_cast<const char*>(xmlBufferContent(buf)));
  xmlBufferFree(buf);
  return out;
}

// Domain XML -> VmSpec, one element at a time; the first problem ends it.
class DomainReader {
 public:
  absl::StatusOr<DomainDef> Read(xmlNode* root) {
    if (Name(root) != "domain" || !InNamespace(root, nullptr)) {
      return XmlError(absl::StrCat("the document's root element is <", Name(root), ">, not <domain>"));
    }
    const std::string type = Attr(root, "type").value_or("");
    if (type.empty()) return XmlError("<domain> needs a type attribute (type='kvm')");
    if (type != "kvm") {
      return Unsupported(absl::StrCat("domain type '", type, "': dvm runs KVM guests only (type='kvm')"));
    }
    std::set<std::string> seen;
    for (xmlNode* e : Elements(root)) {
      const std::string name = Name(e);
      if (!InNamespace(e, nullptr)) return XmlError(absl::StrCat("unexpected element <", name, "> in a namespace"));
      if (seen.contains(name)) return XmlError(absl::StrCat("<", name, "> appears twice"));
      seen.insert(name);
      RETURN_IF_ERROR(ReadTop(e, name));
    }
    if (def_.spec.name.empty()) return XmlError("<name> is required");
    if (!seen.contains("memory")) return XmlError("<memory> is required");
    if (!seen.contains("os")) return XmlError("<os> is required: dvm boots a Linux kernel given in <os><kernel>");
    if (!seen.contains("uuid")) def_.uuid = RandomUuid();
    if (current_memory_ > def_.spec.memory_bytes) {
      return XmlError("<currentMemory> is larger than <memory>");
    }
    if (!seen.contains("vcpu")) def_.spec.vcpu_count = 1;
    RETURN_IF_ERROR(PlaceNodes());
    return std::move(def_);
  }

 private:
  absl::Status ReadTop(xmlNode* e, const std::string& name) {
    VmSpec& s = def_.spec;
    if (name == "name") {
      s.name = Text(e);
      if (s.name.empty()) return XmlError("<name> is empty");
    } else if (name == "uuid") {
      auto uuid = ParseUuid(Text(e));
      if (!uuid) return XmlError(absl::StrCat("<uuid>: '", Text(e), "' is not a UUID"));
      def_.uuid = *uuid;
    } else if (name == "title") {
      def_.title = RawText(e);
    } else if (name == "description") {
      def_.description = RawText(e);
    } else if (name == "memory" || name == "maxMemory") {
      if (name == "maxMemory") return Unsupported("<maxMemory>: dvm has no memory hotplug");
      ASSIGN_OR_RETURN(s.memory_bytes, ParseMemory(e, "memory"));
    } else if (name == "currentMemory") {
      ASSIGN_OR_RETURN(current_memory_, ParseMemory(e, "currentMemory"));
    } else if (name == "vcpu") {
      auto n = ParseU64(Text(e));
      if (!n || *n == 0 || *n > spec::kMaxVcpus) {
        return XmlError(absl::StrCat("<vcpu>: '", Text(e), "' is not a vCPU count (1-", spec::kMaxVcpus, ")"));
      }
      s.vcpu_count = static_cast<uint32_t>(*n);
      if (auto current = Attr(e, "current"); current && ParseU64(*current) != n) {
        return Unsupported("<vcpu current=...> below the maximum: dvm has no vCPU hotplug");
      }
    } else if (name == "os") {
      return ReadOs(e);
    } else if (name == "devices") {
      return ReadDevices(e);
    } else if (name == "metadata") {
      return ReadMetadata(e);
    } else if (name == "features" || name == "cpu" || name == "clock" || name == "on_poweroff" ||
               name == "on_reboot" || name == "on_crash" || name == "pm" || name == "resource" ||
               name == "seclabel") {
      // Accepted and dropped: dvm's machine is fixed (ACPI and APIC on, host
      // CPU model, UTC clock) and it never reboots or restarts a guest.
    } else {
      return Unsupported(absl::StrCat("<", name, "> is not supported by dvm"));
    }
    return absl::OkStatus();
  }

  absl::Status ReadOs(xmlNode* os) {
    VmSpec& s = def_.spec;
    bool have_type = false;
    bool have_cmdline = false;
    for (xmlNode* e : Elements(os)) {
      const std::string name = Name(e);
      if (name == "type") {
        have_type = true;
        if (Text(e) != "hvm") return Unsupported(absl::StrCat("<os><type>", Text(e), "</type>: only hvm guests"));
        if (auto arch = Attr(e, "arch"); arch && *arch != "x86_64") {
          return Unsupported(absl::StrCat("arch '", *arch, "': dvm runs x86_64 guests"));
        }
      } else if (name == "kernel") {
        s.kernel = Text(e);
        RETURN_IF_ERROR(RequireAbsolute(s.kernel, "<os><kernel>"));
      } else if (name == "initrd") {
        s.initrd = Text(e);
        if (!s.initrd.empty()) RETURN_IF_ERROR(RequireAbsolute(s.initrd, "<os><initrd>"));
      } else if (name == "cmdline") {
        s.cmdline = Text(e);
        have_cmdline = true;
      } else if (name == "boot" || name == "bootmenu" || name == "smbios" || name == "bios") {
        // Ignored: with a kernel given there is nothing to choose.
      } else if (name == "loader" || name == "nvram") {
        return Unsupported(absl::StrCat("<os><", name, ">: dvm has no firmware; it boots <kernel> directly"));
      } else {
        return Unsupported(absl::StrCat("<os><", name, "> is not supported by dvm"));
      }
    }
    if (!have_type) return XmlError("<os> needs <type>hvm</type>");
    if (s.kernel.empty()) return Unsupported("dvm boots Linux directly: <os><kernel> is required");
    if (!have_cmdline) s.cmdline = kDefaultCmdline;
    return absl::OkStatus();
  }

  absl::Status ReadDevices(xmlNode* devices) {
    bool have_serial = false;
    for (xmlNode* e : Elements(devices)) {
      const std::string name = Name(e);
      if (name == "disk") {
        RETURN_IF_ERROR(ReadDisk(e));
      } else if (name == "interface") {
        RETURN_IF_ERROR(ReadInterface(e));
      } else if (name == "serial") {
        if (have_serial) return Unsupported("dvm has one serial port: give one <serial>");
        have_serial = true;
        RETURN_IF_ERROR(ReadSerial(e));
      } else if (name == "emulator" || name == "console" || name == "input" || name == "controller" ||
                 name == "memballoon" || name == "rng" || name == "video" || name == "channel") {
        // Accepted and dropped: the console is the serial port; the rest are
        // devices dvm does not give the guest, which Linux does not need.
      } else if (name == "graphics") {
        return Unsupported("<graphics>: dvm has no display (virt-install: --graphics none)");
      } else {
        return Unsupported(absl::StrCat("device <", name, "> is not supported by dvm"));
      }
    }
    return absl::OkStatus();
  }

  absl::Status ReadDisk(xmlNode* e) {
    const std::string type = Attr(e, "type").value_or("file");
    const std::string device = Attr(e, "device").value_or("disk");
    if (device != "disk") return Unsupported(absl::StrCat("<disk device='", device, "'>: only device='disk'"));
    if (type != "file") {
      // Block devices: spec::Validate wants a regular file (dvm's disk backend
      // sizes and maps the image as one).
      return Unsupported(absl::StrCat("<disk type='", type, "'>: only file disks (a disk image)"));
    }
    spec::DiskSpec disk;
    for (xmlNode* c : Elements(e)) {
      const std::string name = Name(c);
      if (name == "source") {
        disk.path = Attr(c, "file").value_or("");
      } else if (name == "readonly") {
        disk.read_only = true;
      } else if (name == "shareable") {
        return Unsupported("<disk><shareable/>: not supported by dvm");
      }  // target, driver, address, alias, serial: dvm names disks itself
    }
    const std::string what = absl::StrCat("<disk> ", def_.spec.devices.disks.size(), " <source file>");
    RETURN_IF_ERROR(RequireAbsolute(disk.path, what));
    def_.spec.devices.disks.push_back(disk);
    return absl::OkStatus();
  }

  absl::Status ReadInterface(xmlNode* e) {
    const std::string type = Attr(e, "type").value_or("");
    if (type != "ethernet") {
      return Unsupported(absl::StrCat("<interface type='", type,
                                      "'>: dvm attaches to an existing tap device: "
                                      "<interface type='ethernet'><target dev='TAP'/></interface>"));
    }
    spec::NetDeviceSpec net;
    for (xmlNode* c : Elements(e)) {
      const std::string name = Name(c);
      if (name == "target") net.tap = Attr(c, "dev").value_or("");
      if (name == "mac") net.mac = absl::AsciiStrToLower(Attr(c, "address").value_or(""));
    }
    if (net.tap.empty()) return XmlError("<interface type='ethernet'> needs <target dev='TAP'/>");
    def_.spec.devices.nets.push_back(net);
    return absl::OkStatus();
  }

  absl::Status ReadSerial(xmlNode* e) {
    spec::SerialSpec& serial = def_.spec.devices.serial;
    const std::string type = Attr(e, "type").value_or("pty");
    if (type == "file") {
      serial.kind = spec::SerialKind::kFile;
      for (xmlNode* c : Elements(e)) {
        if (Name(c) == "source") serial.path = Attr(c, "path").value_or("");
      }
      return RequireAbsolute(serial.path, "<serial type='file'> <source path>");
    }
    if (type == "null") {
      serial.kind = spec::SerialKind::kNone;
    } else if (type == "pty" || type == "stdio") {
      serial.kind = spec::SerialKind::kStdio;  // dvmd keeps it in the domain's log
    } else {
      return Unsupported(absl::StrCat("<serial type='", type, "'>: use file, null or pty"));
    }
    return absl::OkStatus();
  }

  absl::Status ReadMetadata(xmlNode* metadata) {
    for (xmlNode* e : Elements(metadata)) {
      if (InNamespace(e, kDvmNamespace)) {
        if (Name(e) != "cluster") return XmlError(absl::StrCat("unknown element <dvm:", Name(e), "> in <metadata>"));
        if (cluster_ != nullptr) return XmlError("<dvm:cluster> appears twice");
        cluster_ = e;
      } else if (e->ns == nullptr) {
        return XmlError(absl::StrCat("<metadata><", Name(e), ">: metadata elements need their own namespace"));
      } else {
        def_.foreign_metadata.push_back(SerializeForeign(e));
      }
    }
    return absl::OkStatus();
  }

  // The nodes from <dvm:cluster>, or one node running every vCPU.
  absl::Status PlaceNodes() {
    VmSpec& s = def_.spec;
    if (cluster_ == nullptr) {
      spec::NodeSpec node;
      node.address = {"127.0.0.1", 7100};
      for (uint32_t v = 0; v < s.vcpu_count; ++v) node.vcpus.push_back(VcpuId(v));
      s.nodes.push_back(node);
      return absl::OkStatus();
    }
    const std::string transport = Attr(cluster_, "transport").value_or("tcp");
    if (transport == "tcp") {
      s.dsm.transport = spec::TransportKind::kTcp;
    } else if (transport == "dpdk") {
      s.dsm.transport = spec::TransportKind::kDpdk;
    } else {
      return XmlError(absl::StrCat("<dvm:cluster transport='", transport, "'>: use tcp or dpdk"));
    }
    if (auto key = Attr(cluster_, "key_file")) {
      RETURN_IF_ERROR(RequireAbsolute(*key, "<dvm:cluster key_file>"));
      s.cluster_key_file = *key;
    }
    std::vector<xmlNode*> nodes;
    for (xmlNode* e : Elements(cluster_)) {
      if (!InNamespace(e, kDvmNamespace)) return XmlError("<dvm:cluster> holds only dvm: elements");
      if (Name(e) == "node") {
        nodes.push_back(e);
      } else if (Name(e) == "home") {
        RETURN_IF_ERROR(ReadHome(e));
      } else {
        return XmlError(absl::StrCat("unknown element <dvm:", Name(e), "> in <dvm:cluster>"));
      }
    }
    if (nodes.empty()) return XmlError("<dvm:cluster> needs at least one <dvm:node>");
    if (nodes.size() > spec::kMaxNodes) {
      return Unsupported(absl::StrCat(nodes.size(), " nodes; dvm supports at most ", spec::kMaxNodes));
    }
    std::vector<std::pair<size_t, uint32_t>> counts;  // node index, vcpu_count
    for (size_t i = 0; i < nodes.size(); ++i) {
      const std::string where = absl::StrCat("<dvm:node> ", i);
      spec::NodeSpec node;
      auto id = ParseU64(Attr(nodes[i], "id").value_or(""));
      if (!id || *id >= spec::kMaxNodes) return XmlError(absl::StrCat(where, ": id must be 0-", spec::kMaxNodes - 1));
      node.id = NodeId(static_cast<uint32_t>(*id));
      if (auto address = Attr(nodes[i], "address")) {
        auto parsed = spec::ParseAddress(*address);
        if (!parsed) return XmlError(absl::StrCat(where, ": address '", *address, "' is not host:port"));
        node.address = *parsed;
      } else if (nodes.size() > 1) {
        return XmlError(absl::StrCat(where, ": address is required when the VM has more than one node"));
      } else {
        node.address = {"127.0.0.1", static_cast<uint16_t>(7100 + *id)};
      }
      auto list = Attr(nodes[i], "vcpus");
      auto count = Attr(nodes[i], "vcpu_count");
      if (list && count) return XmlError(absl::StrCat(where, ": give vcpus or vcpu_count, not both"));
      if (list) {
        auto ids = ParseIdList(*list);
        if (!ids) {
          return XmlError(absl::StrCat(where, ": vcpus '", list->substr(0, 64),
                                       "' is not a list like 0-3,6 (each vCPU once)"));
        }
        for (uint32_t v : *ids) node.vcpus.push_back(VcpuId(v));
      } else if (count) {
        auto n = ParseU64(*count);
        if (!n || *n > spec::kMaxVcpus) return XmlError(absl::StrCat(where, ": vcpu_count '", *count, "'"));
        counts.push_back({i, static_cast<uint32_t>(*n)});
      }
      for (xmlNode* c : Elements(nodes[i])) {
        if (!InNamespace(c, kDvmNamespace) || Name(c) != "dpdk_arg") {
          return XmlError(absl::StrCat(where, ": unknown element <", Name(c), ">"));
        }
        node.dpdk_args.push_back(Text(c));
      }
      s.nodes.push_back(std::move(node));
    }
    // vcpu_count = N takes the next N ids no list claimed, in node order.
    std::set<uint32_t> taken;
    for (const spec::NodeSpec& n : s.nodes) {
      for (VcpuId v : n.vcpus) taken.insert(v.value());
    }
    uint32_t next = 0;
    for (auto [index, count] : counts) {
      for (uint32_t k = 0; k < count; ++k) {
        while (taken.contains(next)) ++next;
        if (next >= s.vcpu_count) {
          return Unsupported(absl::StrCat("<dvm:node> ", index, ": vcpu_count asks for more vCPUs than <vcpu> gives"));
        }
        s.nodes[index].vcpus.push_back(VcpuId(next));
        taken.insert(next);
      }
      std::sort(s.nodes[index].vcpus.begin(), s.nodes[index].vcpus.end());
    }
    std::sort(s.nodes.begin(), s.nodes.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return absl::OkStatus();
  }

  absl::Status ReadHome(xmlNode* e) {
    spec::DsmSpec& dsm = def_.spec.dsm;
    const std::string policy = Attr(e, "policy").value_or("numa");
    if (auto granule = Attr(e, "interleave")) {
      auto bytes = spec::ParseSize(*granule);
      if (!bytes) return XmlError(absl::StrCat("<dvm:home interleave='", *granule, "'> is not a size"));
      dsm.interleave_bytes = *bytes;
    }
    if (std::optional<spec::HomePolicy> home = spec::ParseHomePolicy(policy)) {
      dsm.home = *home;
    } else {
      return XmlError(absl::StrCat("<dvm:home policy='", policy, "'>: use numa, interleave or range"));
    }
    for (xmlNode* r : Elements(e)) {
      if (!InNamespace(r, kDvmNamespace) || Name(r) != "range") {
        return XmlError(absl::StrCat("<dvm:home> holds only <dvm:range>, not <", Name(r), ">"));
      }
      auto start = spec::ParseSize(Attr(r, "start").value_or(""));
      auto size = spec::ParseSize(Attr(r, "size").value_or(""));
      auto node = ParseU64(Attr(r, "node").value_or(""));
      if (!start || !size || !node || *node >= spec::kMaxNodes) {
        return XmlError("<dvm:range> needs start, size (sizes) and node (a node id)");
      }
      dsm.ranges.push_back({Gpa(*start), *size, NodeId(static_cast<uint32_t>(*node))});
    }
    return absl::OkStatus();
  }

  DomainDef def_;
  uint64_t current_memory_ = 0;
  xmlNode* cluster_ = nullptr;
};

// Validate() names fields the TOML way; say them the XML way.
std::string XmlField(const std::string& field) {
  static const std::map<std::string, std::string> kTop = {
      {"vm.name", "<name>"},         {"vm.memory", "<memory>"},       {"vm.vcpus", "<vcpu>"},
      {"vm.kernel", "<os><kernel>"}, {"vm.initrd", "<os><initrd>"},   {"vm.cmdline", "<os><cmdline>"},
      {"node", "<dvm:cluster>"},     {"cluster.key_file", "<dvm:cluster key_file>"},
      {"devices.serial", "<serial>"}};
  if (auto it = kTop.find(field); it != kTop.end()) return it->second;
  if (field.starts_with("node[")) return absl::StrCat("<dvm:node> ", field.substr(5));  // "1].vcpus"
  if (field.starts_with("dsm")) return absl::StrCat("<dvm:home> (", field, ")");
  if (field.starts_with("devices.disk[")) return absl::StrCat("<disk> ", field.substr(13));
  if (field.starts_with("devices.net[")) return absl::StrCat("<interface> ", field.substr(12));
  return field;
}

}  // namespace

absl::StatusOr<DomainDef> ParseDomainXml(absl::string_view xml, const spec::HostLimits& host, bool validate) {
  static std::once_flag init;
  std::call_once(init, [] { xmlInitParser(); });
  // libxml2 prints some errors (bad encodings) through its per-thread generic
  // handler whatever the parse options say; the reason goes to the client.
  xmlSetGenericErrorFunc(nullptr, IgnoreXmlMessage);
  if (xml.size() > kMaxXmlBytes) return XmlError(absl::StrCat("the domain XML is ", xml.size(), " bytes; the limit is 4 MiB"));
  if (xml.find("<!DOCTYPE") != absl::string_view::npos || xml.find("<!ENTITY") != absl::string_view::npos) {
    return XmlError("document type declarations and entities are not accepted");
  }
  xmlParserCtxt* ctxt = xmlNewParserCtxt();
  if (ctxt == nullptr) return VirError(ErrorCode::kInternalError, "cannot allocate an XML parser");
  DocPtr doc(xmlCtxtReadMemory(ctxt, xml.data(), static_cast<int>(xml.size()), "domain.xml", nullptr,
                               XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA));
  if (doc == nullptr) {
    std::string why = "not well-formed";
    int line = 0;
    if (const xmlError* e = xmlCtxtGetLastError(ctxt); e != nullptr && e->message != nullptr) {
      why = std::string(absl::StripAsciiWhitespace(e->message));
      line = e->line;
    }
    xmlFreeParserCtxt(ctxt);
    return XmlError(line > 0 ? absl::StrCat("line ", line, ": ", why) : why);
  }
  xmlFreeParserCtxt(ctxt);
  // The substring test above misses a DTD in another encoding (UTF-16):
  // what libxml2 built is what counts.
  if (doc->intSubset != nullptr || doc->extSubset != nullptr) {
    return XmlError("document type declarations and entities are not accepted");
  }
  xmlNode* root = xmlDocGetRootElement(doc.get());
  if (root == nullptr) return XmlError("the document is empty");
  ASSIGN_OR_RETURN(DomainDef def, DomainReader().Read(root));
  // What dvmd stores and dumps must fit the same limit, or the domain could
  // not be read back at the next start nor sent to a client.
  if (const size_t formatted = FormatDomainXml(def).size(); formatted > kMaxXmlBytes) {
    return XmlError(absl::StrCat("the domain XML as dvmd writes it would be ", formatted,
                                 " bytes; the limit is 4 MiB"));
  }
  if (!validate) return def;
  RETURN_IF_ERROR(ValidateDomain(def, host));
  return def;
}

absl::Status ValidateDomain(const DomainDef& def, const spec::HostLimits& host) {
  std::vector<std::string> problems;
  for (const spec::SpecError& e : spec::Validate(def.spec, host)) {
    problems.push_back(absl::StrCat(XmlField(e.field), ": ", e.message));
  }
  if (!problems.empty()) {
    return Unsupported(absl::StrCat("dvm cannot run this domain: ", absl::StrJoin(problems, "; ")));
  }
  return absl::OkStatus();
}

}  // namespace dvm::libvirt
