#include "vmm/spec/toml_config.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "toml.hpp"

namespace dvm::spec {
namespace {

constexpr size_t kMaxConfigBytes = 1 << 20;
// toml11 parses nested arrays and tables recursively; bound the depth so a
// hostile file cannot exhaust the stack.
constexpr int kMaxNesting = 32;

const char* TypeName(const toml::value& v) {
  switch (v.type()) {
    case toml::value_t::boolean: return "a boolean";
    case toml::value_t::integer: return "an integer";
    case toml::value_t::floating: return "a float";
    case toml::value_t::string: return "a string";
    case toml::value_t::array: return "an array";
    case toml::value_t::table: return "a table";
    case toml::value_t::empty: return "nothing";
    default: return "a date/time";
  }
}

int LineOf(const toml::value& v) {
  int line = static_cast<int>(v.location().line());
  return line > 0 ? line : 0;
}

// Walks the parsed document, filling a VmSpec and recording the line of every
// key so validation errors (which name fields) can point at the file.
class ConfigReader {
 public:
  ConfigReader(std::string file, std::string base_dir) : file_(std::move(file)), base_dir_(std::move(base_dir)) {}

  void Read(const toml::value& root) {
    const toml::table* top = AsTable(root, "");
    if (top == nullptr) return;
    CheckKeys(root, "", {"vm", "cluster", "dsm", "node", "devices"});
    if (const toml::value* vm = Find(root, "vm"); vm != nullptr) {
      ReadVm(*vm);
    } else {
      Error(0, "vm", "the [vm] table is required");
    }
    if (const toml::value* cluster = Find(root, "cluster")) ReadCluster(*cluster);
    if (const toml::value* dsm = Find(root, "dsm")) ReadDsm(*dsm);
    if (const toml::value* nodes = Find(root, "node")) ReadNodes(*nodes);
    if (const toml::value* devices = Find(root, "devices")) ReadDevices(*devices);
    AssignVcpuCounts();
  }

  void Error(int line, std::string key, std::string message) {
    errors_.push_back({file_, line, std::move(key), std::move(message)});
  }

  VmSpec& spec() { return spec_; }
  std::vector<ConfigError>& errors() { return errors_; }
  // The line where a field (as Validate() names it) was written.
  int LineOfField(const std::string& field) const {
    for (std::string f = field;;) {
      if (auto it = lines_.find(f); it != lines_.end()) return it->second;
      size_t cut = f.find_last_of(".[");
      if (cut == std::string::npos || cut == 0) return 0;
      f.resize(cut);
    }
  }

 private:
  const toml::table* AsTable(const toml::value& v, const std::string& key) {
    if (!v.is_table()) {
      Error(LineOf(v), key, absl::StrCat("expected a table, got ", TypeName(v)));
      return nullptr;
    }
    return &v.as_table();
  }

  static const toml::value* Find(const toml::value& table, const std::string& key) {
    if (!table.is_table()) return nullptr;
    auto it = table.as_table().find(key);
    return it == table.as_table().end() ? nullptr : &it->second;
  }

  static std::string Join(const std::string& prefix, const std::string& key) {
    return prefix.empty() ? key : absl::StrCat(prefix, ".", key);
  }

  void CheckKeys(const toml::value& table, const std::string& prefix, std::set<std::string> allowed) {
    if (!table.is_table()) return;
    for (const auto& [key, value] : table.as_table()) {
      if (!allowed.contains(key)) {
        std::vector<std::string> names(allowed.begin(), allowed.end());
        Error(LineOf(value), Join(prefix, key),
              absl::StrCat("unknown key; expected one of: ", absl::StrJoin(names, ", ")));
      }
    }
  }

  // Typed getters: report a type error and return nullopt; record the line.
  std::optional<std::string> GetString(const toml::value& table, const std::string& prefix, const std::string& key) {
    const toml::value* v = Find(table, key);
    if (v == nullptr) return std::nullopt;
    lines_[Join(prefix, key)] = LineOf(*v);
    if (!v->is_string()) {
      Error(LineOf(*v), Join(prefix, key), absl::StrCat("expected a string, got ", TypeName(*v)));
      return std::nullopt;
    }
    return v->as_string().str;
  }

  std::optional<int64_t> GetInt(const toml::value& table, const std::string& prefix, const std::string& key) {
    const toml::value* v = Find(table, key);
    if (v == nullptr) return std::nullopt;
    lines_[Join(prefix, key)] = LineOf(*v);
    if (!v->is_integer()) {
      Error(LineOf(*v), Join(prefix, key), absl::StrCat("expected an integer, got ", TypeName(*v)));
      return std::nullopt;
    }
    return v->as_integer();
  }

  std::optional<bool> GetBool(const toml::value& table, const std::string& prefix, const std::string& key) {
    const toml::value* v = Find(table, key);
    if (v == nullptr) return std::nullopt;
    lines_[Join(prefix, key)] = LineOf(*v);
    if (!v->is_boolean()) {
      Error(LineOf(*v), Join(prefix, key), absl::StrCat("expected true or false, got ", TypeName(*v)));
      return std::nullopt;
    }
    return v->as_boolean();
  }

  // A size is a string with a binary unit ("512M", "2GiB") or an integer in bytes.
  std::optional<uint64_t> GetSize(const toml::value& table, const std::string& prefix, const std::string& key) {
    const toml::value* v = Find(table, key);
    if (v == nullptr) return std::nullopt;
    std::string field = Join(prefix, key);
    lines_[field] = LineOf(*v);
    if (v->is_integer()) {
      if (v->as_integer() < 0) {
        Error(LineOf(*v), field, "must not be negative");
        return std::nullopt;
      }
      return static_cast<uint64_t>(v->as_integer());
    }
    if (v->is_string()) {
      if (auto size = ParseSize(v->as_string().str)) return size;
      Error(LineOf(*v), field,
            absl::StrCat("'", v->as_string().str, "' is not a size; write e.g. \"512M\", \"2G\" or \"0x100000\""));
      return std::nullopt;
    }
    Error(LineOf(*v), field, absl::StrCat("expected a size such as \"512M\", got ", TypeName(*v)));
    return std::nullopt;
  }

  std::optional<std::vector<std::string>> GetStringArray(const toml::value& table, const std::string& prefix,
                                                         const std::string& key) {
    const toml::value* v = Find(table, key);
    if (v == nullptr) return std::nullopt;
    std::string field = Join(prefix, key);
    lines_[field] = LineOf(*v);
    if (!v->is_array()) {
      Error(LineOf(*v), field, absl::StrCat("expected an array of strings, got ", TypeName(*v)));
      return std::nullopt;
    }
    std::vector<std::string> out;
    for (const toml::value& item : v->as_array()) {
      if (!item.is_string()) {
        Error(LineOf(item), field, absl::StrCat("expected an array of strings, found ", TypeName(item)));
        return std::nullopt;
      }
      out.push_back(item.as_string().str);
    }
    return out;
  }

  std::string ResolvePath(const std::string& path) const {
    if (path.empty() || path[0] == '/') return path;
    return (std::filesystem::path(base_dir_) / path).lexically_normal().string();
  }

  void ReadVm(const toml::value& vm) {
    if (AsTable(vm, "vm") == nullptr) return;
    CheckKeys(vm, "vm", {"name", "memory", "vcpus", "kernel", "initrd", "cmdline"});
    int table_line = LineOf(vm);
    if (auto name = GetString(vm, "vm", "name")) {
      spec_.name = *name;
    } else if (!Find(vm, "name")) {
      Error(table_line, "vm.name", "is required");
    }
    if (auto memory = GetSize(vm, "vm", "memory")) {
      spec_.memory_bytes = *memory;
    } else if (!Find(vm, "memory")) {
      Error(table_line, "vm.memory", "is required (e.g. memory = \"1G\")");
    }
    if (auto vcpus = GetInt(vm, "vm", "vcpus")) {
      if (*vcpus <= 0 || *vcpus > kMaxVcpus) {
        Error(lines_["vm.vcpus"], "vm.vcpus", absl::StrCat("must be between 1 and ", kMaxVcpus, ", got ", *vcpus));
        skip_vcpu_checks_ = true;
      } else {
        spec_.vcpu_count = static_cast<uint32_t>(*vcpus);
      }
    } else if (!Find(vm, "vcpus")) {
      Error(table_line, "vm.vcpus", "is required");
      skip_vcpu_checks_ = true;
    } else {
      skip_vcpu_checks_ = true;
    }
    if (auto kernel = GetString(vm, "vm", "kernel")) {
      spec_.kernel = ResolvePath(*kernel);
      if (kernel->empty()) Error(lines_["vm.kernel"], "vm.kernel", "must not be empty");
    } else if (!Find(vm, "kernel")) {
      Error(table_line, "vm.kernel", "is required (path to a bzImage, e.g. /boot/vmlinuz)");
    }
    if (auto initrd = GetString(vm, "vm", "initrd")) spec_.initrd = ResolvePath(*initrd);
    spec_.cmdline = GetString(vm, "vm", "cmdline").value_or("console=ttyS0 pci=off");
  }

  void ReadCluster(const toml::value& cluster) {
    if (AsTable(cluster, "cluster") == nullptr) return;
    CheckKeys(cluster, "cluster", {"key_file", "halted_tick_limit_ms"});
    if (auto key = GetString(cluster, "cluster", "key_file")) spec_.cluster_key_file = ResolvePath(*key);
    if (auto ms = GetInt(cluster, "cluster", "halted_tick_limit_ms")) {
      if (*ms < 0 || *ms > kMaxHaltedTickLimitMs) {
        Error(lines_["cluster.halted_tick_limit_ms"], "cluster.halted_tick_limit_ms",
              absl::StrCat("must be between 0 and ", kMaxHaltedTickLimitMs, ", got ", *ms));
      } else {
        spec_.halted_tick_limit_ms = static_cast<uint32_t>(*ms);
      }
    }
  }

  void ReadDsm(const toml::value& dsm) {
    if (AsTable(dsm, "dsm") == nullptr) return;
    CheckKeys(dsm, "dsm", {"home", "interleave", "range", "transport"});
    if (auto home = GetString(dsm, "dsm", "home")) {
      if (std::optional<HomePolicy> policy = ParseHomePolicy(*home)) {
        spec_.dsm.home = *policy;
      } else {
        Error(lines_["dsm.home"], "dsm.home",
              absl::StrCat("'", *home, "' is not a home policy; use \"numa\", \"interleave\" or \"range\""));
      }
    }
    if (auto granule = GetSize(dsm, "dsm", "interleave")) spec_.dsm.interleave_bytes = *granule;
    if (auto transport = GetString(dsm, "dsm", "transport")) {
      if (*transport == "tcp") {
        spec_.dsm.transport = TransportKind::kTcp;
      } else if (*transport == "dpdk") {
        spec_.dsm.transport = TransportKind::kDpdk;
      } else {
        Error(lines_["dsm.transport"], "dsm.transport", absl::StrCat("'", *transport, "' is not a transport; use \"tcp\" or \"dpdk\""));
      }
    }
    if (const toml::value* ranges = Find(dsm, "range")) {
      lines_["dsm.range"] = LineOf(*ranges);
      if (!ranges->is_array()) {
        Error(LineOf(*ranges), "dsm.range", "expected [[dsm.range]] tables");
        return;
      }
      for (const toml::value& r : ranges->as_array()) ReadRange(r);
    }
  }

  void ReadRange(const toml::value& r) {
    if (AsTable(r, "dsm.range") == nullptr) return;
    CheckKeys(r, "dsm.range", {"start", "size", "node"});
    auto start = GetSize(r, "dsm.range", "start");
    auto size = GetSize(r, "dsm.range", "size");
    auto node = GetInt(r, "dsm.range", "node");
    if (!start || !size || !node) {
      if (!Find(r, "start") || !Find(r, "size") || !Find(r, "node")) {
        Error(LineOf(r), "dsm.range", "each range needs start, size and node");
      }
      return;
    }
    if (*node < 0 || *node >= kMaxNodes) {
      Error(LineOf(r), "dsm.range.node", absl::StrCat("node ", *node, " does not exist"));
      return;
    }
    HomeRange range{Gpa(*start), *size, NodeId(static_cast<uint32_t>(*node))};
    lines_[absl::StrFormat("dsm.range at %#x", *start)] = LineOf(r);
    spec_.dsm.ranges.push_back(range);
  }

  void ReadNodes(const toml::value& nodes) {
    if (!nodes.is_array()) {
      Error(LineOf(nodes), "node", "expected [[node]] tables");
      return;
    }
    const auto& list = nodes.as_array();
    if (list.size() > kMaxNodes) {
      Error(LineOf(list[kMaxNodes]), "node", absl::StrCat(list.size(), " nodes given; at most ", kMaxNodes, " are supported"));
      return;
    }
    lines_["node"] = list.empty() ? 0 : LineOf(list[0]);
    for (size_t i = 0; i < list.size(); ++i) ReadNode(list[i], i, list.size());
  }

  void ReadNode(const toml::value& n, size_t index, size_t count) {
    std::string prefix = absl::StrCat("node[", index, "]");
    if (AsTable(n, prefix) == nullptr) return;
    CheckKeys(n, prefix, {"id", "address", "vcpus", "vcpu_count", "dpdk_args"});
    lines_[prefix] = LineOf(n);
    NodeSpec node;
    if (auto id = GetInt(n, prefix, "id")) {
      if (*id < 0 || *id >= kMaxNodes) {
        Error(lines_[prefix + ".id"], prefix + ".id", absl::StrCat("must be between 0 and ", kMaxNodes - 1, ", got ", *id));
      } else {
        node.id = NodeId(static_cast<uint32_t>(*id));
      }
    } else if (!Find(n, "id")) {
      Error(LineOf(n), prefix + ".id", "is required");
    }
    if (auto address = GetString(n, prefix, "address")) {
      if (auto parsed = ParseAddress(*address)) {
        node.address = *parsed;
      } else {
        Error(lines_[prefix + ".address"], prefix + ".address",
              absl::StrCat("'", *address, "' is not host:port (e.g. \"10.0.0.2:7100\" or \"[fd00::2]:7100\")"));
        node.address = {"127.0.0.1", 1};  // reported already; keep Validate quiet
      }
    } else if (!Find(n, "address")) {
      if (count > 1) {
        Error(LineOf(n), prefix + ".address", "is required when the VM has more than one node");
      }
      node.address = {"127.0.0.1", static_cast<uint16_t>(7100 + node.id.value())};
    }
    const toml::value* list = Find(n, "vcpus");
    auto vcpu_count = GetInt(n, prefix, "vcpu_count");
    if (list != nullptr && Find(n, "vcpu_count") != nullptr) {
      Error(LineOf(*list), prefix, "give either vcpus (a list) or vcpu_count (a number), not both");
    } else if (list != nullptr) {
      ReadVcpuList(*list, prefix, node);
    } else if (vcpu_count) {
      if (*vcpu_count < 0 || *vcpu_count > kMaxVcpus) {
        Error(lines_[prefix + ".vcpu_count"], prefix + ".vcpu_count",
              absl::StrCat("must be between 0 and ", kMaxVcpus, ", got ", *vcpu_count));
      } else {
        pending_counts_.push_back({index, static_cast<uint32_t>(*vcpu_count)});
      }
    }
    if (auto args = GetStringArray(n, prefix, "dpdk_args")) node.dpdk_args = *args;
    spec_.nodes.push_back(std::move(node));
  }

  void ReadVcpuList(const toml::value& list, const std::string& prefix, NodeSpec& node) {
    std::string field = prefix + ".vcpus";
    lines_[field] = LineOf(list);
    if (!list.is_array()) {
      Error(LineOf(list), field, absl::StrCat("expected an array of vCPU ids, got ", TypeName(list)));
      return;
    }
    for (const toml::value& item : list.as_array()) {
      if (!item.is_integer() || item.as_integer() < 0 || item.as_integer() > 0xffff) {
        Error(LineOf(item), field, "vCPU ids are non-negative integers");
        return;
      }
      node.vcpus.push_back(VcpuId(static_cast<uint32_t>(item.as_integer())));
    }
    std::sort(node.vcpus.begin(), node.vcpus.end());
    if (auto dup = std::adjacent_find(node.vcpus.begin(), node.vcpus.end()); dup != node.vcpus.end()) {
      Error(LineOf(list), field, absl::StrCat("vCPU ", dup->value(), " is listed twice"));
    }
  }

  // `vcpu_count = N` takes the next N vCPU ids that no explicit list claimed,
  // in node order, so "2 + 2" configs need no lists.
  void AssignVcpuCounts() {
    if (pending_counts_.empty()) return;
    std::set<uint32_t> taken;
    for (const NodeSpec& node : spec_.nodes) {
      for (VcpuId v : node.vcpus) taken.insert(v.value());
    }
    uint32_t next = 0;
    for (auto [index, count] : pending_counts_) {
      for (uint32_t k = 0; k < count; ++k) {
        while (taken.contains(next)) ++next;
        if (!skip_vcpu_checks_ && next >= spec_.vcpu_count) {
          std::string field = absl::StrCat("node[", index, "].vcpu_count");
          Error(lines_[field], field,
                absl::StrCat("no vCPU left to place: vm.vcpus = ", spec_.vcpu_count,
                             " and the nodes ask for more"));
          return;
        }
        spec_.nodes[index].vcpus.push_back(VcpuId(next));
        taken.insert(next);
      }
      std::sort(spec_.nodes[index].vcpus.begin(), spec_.nodes[index].vcpus.end());
    }
  }

  void ReadDevices(const toml::value& devices) {
    if (AsTable(devices, "devices") == nullptr) return;
    CheckKeys(devices, "devices", {"serial", "disk", "net"});
    if (auto serial = GetString(devices, "devices", "serial")) {
      if (*serial == "stdio") {
        spec_.devices.serial.kind = SerialKind::kStdio;
      } else if (*serial == "none") {
        spec_.devices.serial.kind = SerialKind::kNone;
      } else if (serial->starts_with("file:")) {
        spec_.devices.serial.kind = SerialKind::kFile;
        spec_.devices.serial.path = ResolvePath(serial->substr(5));
      } else {
        Error(lines_["devices.serial"], "devices.serial",
              absl::StrCat("'", *serial, "' is not a console; use \"stdio\", \"none\" or \"file:PATH\""));
      }
    }
    ForEachTable(devices, "disk", [&](const toml::value& d, const std::string& prefix) {
      CheckKeys(d, prefix, {"path", "read_only"});
      DiskSpec disk;
      if (auto path = GetString(d, prefix, "path")) {
        disk.path = ResolvePath(*path);
      } else if (!Find(d, "path")) {
        Error(LineOf(d), prefix + ".path", "is required");
      }
      disk.read_only = GetBool(d, prefix, "read_only").value_or(false);
      spec_.devices.disks.push_back(disk);
    });
    ForEachTable(devices, "net", [&](const toml::value& t, const std::string& prefix) {
      CheckKeys(t, prefix, {"tap", "mac"});
      NetDeviceSpec net;
      if (auto tap = GetString(t, prefix, "tap")) {
        net.tap = *tap;
      } else if (!Find(t, "tap")) {
        Error(LineOf(t), prefix + ".tap", "is required");
        net.tap = "missing";
      }
      net.mac = GetString(t, prefix, "mac").value_or("");
      spec_.devices.nets.push_back(net);
    });
  }

  template <typename Fn>
  void ForEachTable(const toml::value& parent, const std::string& key, Fn fn) {
    const toml::value* list = Find(parent, key);
    if (list == nullptr) return;
    std::string base = absl::StrCat("devices.", key);
    if (!list->is_array()) {
      Error(LineOf(*list), base, absl::StrCat("expected [[", base, "]] tables"));
      return;
    }
    for (size_t i = 0; i < list->as_array().size(); ++i) {
      const toml::value& item = list->as_array()[i];
      std::string prefix = absl::StrCat(base, "[", i, "]");
      lines_[prefix] = LineOf(item);
      if (AsTable(item, prefix) != nullptr) fn(item, prefix);
    }
  }

  std::string file_;
  std::string base_dir_;
  VmSpec spec_;
  std::vector<ConfigError> errors_;
  std::map<std::string, int> lines_;
  std::vector<std::pair<size_t, uint32_t>> pending_counts_;
  bool skip_vcpu_checks_ = false;
};

// Conservative pre-check of bracket depth, ignoring quoting: a deeper file is
// rejected before toml11 recurses into it.
bool NestingWithinLimit(const std::string& text) {
  int depth = 0;
  for (char c : text) {
    if (c == '[' || c == '{') {
      if (++depth > kMaxNesting) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}

// The line of the first byte that is not well-formed UTF-8, or 0 if all are.
// TOML files must be UTF-8, and toml11 3.7's own check of literal strings reads
// past its buffer on bad input (found by our fuzzer), so bad bytes never reach it.
int FirstInvalidUtf8Line(const std::string& text) {
  int line = 1;
  for (size_t i = 0; i < text.size();) {
    auto byte = static_cast<unsigned char>(text[i]);
    size_t extra;
    uint32_t min_code;
    if (byte < 0x80) {
      if (byte == '\n') ++line;
      ++i;
      continue;
    } else if ((byte & 0xe0) == 0xc0) {
      extra = 1, min_code = 0x80;
    } else if ((byte & 0xf0) == 0xe0) {
      extra = 2, min_code = 0x800;
    } else if ((byte & 0xf8) == 0xf0) {
      extra = 3, min_code = 0x10000;
    } else {
      return line;
    }
    if (i + extra >= text.size()) return line;  // truncated sequence
    uint32_t code = byte & (0x3f >> extra);
    for (size_t k = 1; k <= extra; ++k) {
      auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return line;
      code = (code << 6) | (next & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if (code < min_code || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) return line;
    i += extra + 1;
  }
  return 0;
}

}  // namespace

std::string ConfigError::ToString() const {
  std::string out = file;
  if (line > 0) absl::StrAppend(&out, ":", line);
  absl::StrAppend(&out, ": ");
  if (!key.empty()) absl::StrAppend(&out, key, ": ");
  absl::StrAppend(&out, message);
  return out;
}

std::optional<uint64_t> ParseSize(const std::string& raw) {
  std::string text(absl::StripAsciiWhitespace(raw));
  if (text.empty()) return std::nullopt;
  int base = 10;
  size_t pos = 0;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    pos = 2;
  }
  uint64_t number = 0;
  auto [end, ec] = std::from_chars(text.data() + pos, text.data() + text.size(), number, base);
  if (ec != std::errc() || end == text.data() + pos) return std::nullopt;
  const char* unit_begin = end;
  std::string unit(absl::StripAsciiWhitespace(std::string(unit_begin, text.c_str() + text.size())));
  if (base == 16 && !unit.empty()) return std::nullopt;
  static const std::map<std::string, uint64_t> kUnits = {
      {"", 1},           {"B", 1},          {"K", kKiB},       {"KiB", kKiB},    {"M", kMiB},
      {"MiB", kMiB},     {"G", kGiB},       {"GiB", kGiB},     {"T", 1024 * kGiB}, {"TiB", 1024 * kGiB}};
  auto it = kUnits.find(unit);
  if (it == kUnits.end()) return std::nullopt;
  if (number > UINT64_MAX / it->second) return std::nullopt;
  return number * it->second;
}

std::optional<NetAddress> ParseAddress(const std::string& text) {
  std::string host;
  std::string port;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || port.empty() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  if (!IsValidHost(host)) return std::nullopt;
  return NetAddress{host, static_cast<uint16_t>(value)};
}

ConfigResult ParseConfig(const std::string& text, const std::string& file_name, const std::string& base_dir,
                         const HostLimits& host) {
  ConfigResult result;
  if (text.size() > kMaxConfigBytes) {
    result.errors.push_back({file_name, 0, "", absl::StrCat("file is ", text.size(), " bytes; a config is at most 1 MiB")});
    return result;
  }
  if (!NestingWithinLimit(text)) {
    result.errors.push_back({file_name, 0, "", absl::StrCat("arrays or tables nest deeper than ", kMaxNesting, " levels")});
    return result;
  }
  if (int line = FirstInvalidUtf8Line(text); line != 0) {
    result.errors.push_back({file_name, line, "", "the file is not valid UTF-8 (TOML requires it)"});
    return result;
  }
  toml::value root;
  try {
    std::istringstream stream(text);
    root = toml::parse(stream, file_name);
  } catch (const toml::exception& e) {
    // toml11's message spans several lines with a source excerpt; keep it whole
    // after the location, which it knows precisely.
    std::string what = e.what();
    if (what.starts_with("[error] ")) what = what.substr(8);
    result.errors.push_back({file_name, static_cast<int>(e.location().line()), "", "syntax error: " + what});
    return result;
  } catch (const std::exception& e) {
    result.errors.push_back({file_name, 0, "", absl::StrCat("syntax error: ", e.what())});
    return result;
  }
  ConfigReader reader(file_name, base_dir);
  try {
    reader.Read(root);
  } catch (const std::exception& e) {
    reader.Error(0, "", absl::StrCat("cannot read config: ", e.what()));
  }
  result.errors = std::move(reader.errors());
  if (!result.errors.empty()) return result;
  for (SpecError& e : Validate(reader.spec(), host)) {
    result.errors.push_back({file_name, reader.LineOfField(e.field), e.field, e.message});
  }
  if (result.errors.empty()) result.spec = std::move(reader.spec());
  return result;
}

ConfigResult LoadConfigFile(const std::string& path, const HostLimits& host) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ConfigResult result;
    result.errors.push_back({path, 0, "", "cannot open the config file"});
    return result;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  dir = std::filesystem::absolute(dir).lexically_normal().string();
  return ParseConfig(text, path, dir, host);
}

absl::StatusOr<VmSpec> LoadVmSpec(const std::string& path) {
  ConfigResult result = LoadConfigFile(path, HostLimits::FromHost());
  if (result.spec) return std::move(*result.spec);
  std::vector<std::string> lines;
  for (const ConfigError& e : result.errors) lines.push_back(e.ToString());
  return absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
}

}  // namespace dvm::spec
