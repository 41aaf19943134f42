// libFuzzer target: any bytes as a config file must yield a spec or errors,
// never a crash, hang or sanitizer report.
#include <cstddef>
#include <cstdint>
#include <string>

#include "vmm/spec/toml_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  dvm::spec::HostLimits host;
  host.memory_bytes = 64ull << 30;
  dvm::spec::ConfigResult result = dvm::spec::ParseConfig(text, "fuzz.toml", "/nonexistent", host);
  for (const auto& e : result.errors) (void)e.ToString();
  return 0;
}
