// The cluster config file (TOML) -> a validated VmSpec.
//
// The file's syntax and every key are documented in README.md ("Config
// reference"). Errors name the file, the line, the key and what is wrong:
//   configs/bad.toml:7: node[1].vcpus: vCPU 3 is placed on two nodes (also node[0])
#ifndef DVM_VMM_SPEC_TOML_CONFIG_H_
#define DVM_VMM_SPEC_TOML_CONFIG_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "vmm/spec/vm_spec.h"

namespace dvm::spec {

struct ConfigError {
  std::string file;
  int line = 0;     // 0 when no line applies (e.g. a missing table)
  std::string key;  // dotted key path, empty for syntax errors
  std::string message;

  std::string ToString() const;  // "file:line: key: message"
};

struct ConfigResult {
  std::optional<VmSpec> spec;  // set only when errors is empty
  std::vector<ConfigError> errors;
};

// Parses `text` as if read from `file_name`. Relative paths in the config
// resolve against `base_dir`. Never throws, whatever the input.
ConfigResult ParseConfig(const std::string& text, const std::string& file_name,
                         const std::string& base_dir, const HostLimits& host);

// Reads and parses a config file; relative paths resolve against its folder.
ConfigResult LoadConfigFile(const std::string& path, const HostLimits& host);

// The same, with every error joined into one InvalidArgument status.
absl::StatusOr<VmSpec> LoadVmSpec(const std::string& path);

// "512M", "2GiB", "4096", "0x1000" -> bytes. Units are binary (K = KiB).
std::optional<uint64_t> ParseSize(const std::string& text);

// "host:port" or "[v6]:port".
std::optional<NetAddress> ParseAddress(const std::string& text);

}  // namespace dvm::spec

#endif  // DVM_VMM_SPEC_TOML_CONFIG_H_
