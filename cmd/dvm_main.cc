// dvm: the command-line front end. Exit codes: 0 success, 1 the VM or a node
// failed, 2 bad usage or a bad config, 3 the requested feature is not built yet.
#include <cstdio>
#include <cstring>
#include <string>

#include <signal.h>

#include <atomic>
#include <thread>

#include "vmm/kvm/vcpu.h"
#include "vmm/machine/machine.h"
#include "vmm/spec/plan.h"
#include "vmm/spec/toml_config.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
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
               "dvm %s: the config is valid, but this dvm cannot run a VM on several nodes\n"
               "yet: the distributed node runtime (issue 9) is not built. Single-node\n"
               "configs run with `dvm run`. `dvm check-config %s` shows the plan.\n",
               command, path.c_str());
  return kExitNotBuilt;
}

// Turns SIGINT/SIGTERM into a clean stop of the machine. The signals are
// blocked in every thread (set before any starts) and taken here by sigwait.
class StopOnSignal {
 public:
  explicit StopOnSignal(dvm::machine::Machine* machine) {
    thread_ = std::thread([this, machine] {
      sigset_t set = Signals();
      timespec tick{0, 100'000'000};
      while (!done_.load()) {
        int sig = sigtimedwait(&set, nullptr, &tick);
        if (sig > 0) machine->Stop(sig == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)");
      }
    });
  }
  ~StopOnSignal() {
    done_ = true;
    thread_.join();
  }
  static sigset_t Signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    return set;
  }

 private:
  std::atomic<bool> done_{false};
  std::thread thread_;
};

int Run(const std::string& path) {
  auto spec = LoadOrReport(path);
  if (!spec) return kExitUsage;
  if (spec->nodes.size() > 1) return NotBuiltYet("run", path);
  sigset_t signals = StopOnSignal::Signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  if (absl::Status s = dvm::kvm::InstallKickSignalHandler(); !s.ok()) {
    std::fprintf(stderr, "dvm run: %s\n", std::string(s.message()).c_str());
    return kExitFailed;
  }
  auto machine = dvm::machine::Machine::Create(*spec, dvm::machine::MachineOptions{});
  if (!machine.ok()) {
    std::fprintf(stderr, "dvm run: %s\n", std::string(machine.status().message()).c_str());
    bool bad_input = absl::IsInvalidArgument(machine.status()) || absl::IsResourceExhausted(machine.status());
    return bad_input ? kExitUsage : kExitFailed;
  }
  dvm::machine::MachineEnd end;
  {
    StopOnSignal stop_on_signal(machine->get());
    end = (*machine)->Run();
  }
  std::fprintf(stderr, "dvm run: %s (exit status %d)\n", end.detail.c_str(), end.exit_status);
  if (std::getenv("DVM_STATS") != nullptr) std::fputs((*machine)->StatsText().c_str(), stderr);
  return end.exit_status;
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
    if (command == "run") return Run(argv[2]);
    return NotBuiltYet(command.c_str(), argv[2]);
  }
  std::fprintf(stderr, "dvm: unknown command '%s'\n\n%s", command.c_str(), kUsage);
  return kExitUsage;
}
