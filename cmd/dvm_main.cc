// dvm: the command-line front end. Exit codes: 0 success, 1 the VM or a node
// failed, 2 bad usage or a bad config, 3 the requested feature is not built yet.
#include <cstdio>
#include <cstring>
#include <string>

#include "vmm/spec/plan.h"
#include "vmm/spec/toml_config.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitUsage = 2;
constexpr int kExitNotBuilt = 3;

constexpr char kUsage[] =
    "usage: dvm COMMAND [ARGS]\n"
    "\n"
    "dvm runs one virtual machine whose vCPUs are spread over several hosts,\n"
    "with guest memory kept coherent between them page by page.\n"
    "\n"
    "commands:\n"
    "  check-config FILE   validate a cluster config and print the plan:\n"
    "                      each node and its vCPUs, the memory map, page homes\n"
    "  run FILE            launch the VM described by FILE\n"
    "  node FILE --id N    run one node of the VM (started by `dvm run`, or by\n"
    "                      hand on each host)\n"
    "  --help              show this text\n"
    "  --version           show the version\n"
    "\n"
    "exit status: 0 ok, 1 the VM failed, 2 bad usage or config, 3 not built yet\n"
    "config reference: README.md\n";

// Loads and validates; prints every error to stderr. Returns nullopt on errors.
std::optional<dvm::spec::VmSpec> LoadOrReport(const std::string& path) {
  dvm::spec::ConfigResult result = dvm::spec::LoadConfigFile(path, dvm::spec::HostLimits::FromHost());
  for (const dvm::spec::ConfigError& e : result.errors) {
    std::fprintf(stderr, "%s\n", e.ToString().c_str());
  }
  if (!result.spec) {
    std::fprintf(stderr, "dvm: %zu error(s) in %s\n", result.errors.size(), path.c_str());
  }
  return std::move(result.spec);
}

int CheckConfig(const std::string& path) {
  auto spec = LoadOrReport(path);
  if (!spec) return kExitUsage;
  std::fputs(dvm::spec::FormatPlan(*spec).c_str(), stdout);
  std::printf("config OK\n");
  return kExitOk;
}

int NotBuiltYet(const char* command, const std::string& path) {
  if (!LoadOrReport(path)) return kExitUsage;
  std::fprintf(stderr,
               "dvm %s: the config is valid, but this dvm cannot boot a VM yet: the VMM\n"
               "(issue 7) and the distributed node runtime (issue 9) are not built.\n"
               "`dvm check-config %s` shows what would run where.\n",
               command, path.c_str());
  return kExitNotBuilt;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return kExitUsage;
  }
  std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  if (command == "--version") {
    std::printf("dvm %s\n", DVM_VERSION);
    return kExitOk;
  }
  if (command == "check-config" || command == "run" || command == "node") {
    if (argc < 3) {
      std::fprintf(stderr, "dvm %s: missing the config file\n\n%s", command.c_str(), kUsage);
      return kExitUsage;
    }
    if (command == "check-config") {
      if (argc > 3) {
        std::fprintf(stderr, "dvm check-config: unexpected argument '%s'\n", argv[3]);
        return kExitUsage;
      }
      return CheckConfig(argv[2]);
    }
    return NotBuiltYet(command.c_str(), argv[2]);
  }
  std::fprintf(stderr, "dvm: unknown command '%s'\n\n%s", command.c_str(), kUsage);
  return kExitUsage;
}
