// dvm: the command-line front end. Exit codes: 0 success, 1 the VM or a node
// failed, 2 bad usage or a bad config; otherwise the status the guest wrote to
// the exit port.
#include <cstdio>
#include <cstring>
#include <string>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "absl/strings/numbers.h"
#include "cmd/local_nodes.h"
#include "dvm/thread_name.h"
#include "vmm/control/control.h"
#include "vmm/kvm/vcpu.h"
#include "vmm/machine/machine.h"
#include "vmm/spec/plan.h"
#include "vmm/spec/toml_config.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

constexpr char kUsage[] =
    "usage: dvm COMMAND [ARGS]\n"
    "\n"
    "dvm runs one virtual machine whose vCPUs are spread over several hosts,\n"
    "with guest memory kept coherent between them page by page.\n"
    "\n"
    "commands:\n"
    "  check-config FILE   validate a cluster config and print the plan:\n"
    "                      each node and its vCPUs, the memory map, page homes\n"
    "  run FILE [--control PATH]\n"
    "                      launch the VM described by FILE; it answers on the\n"
    "                      control socket PATH (default /run/dvm/NAME.sock)\n"
    "  node FILE --id N    run one node of the VM (started by `dvm run`, or by\n"
    "                      hand on each host)\n"
    "  status VM           show a running VM's state (VM: a name under /run/dvm\n"
    "                      or dvmd's /run/dvmd, or a control socket path)\n"
    "  stats VM            show every node's statistics: vCPU exits, DSM faults\n"
    "                      and latencies, pages moved, interrupts, I/O, links\n"
    "  shutdown VM         press the VM's ACPI power button\n"
    "  destroy VM          stop the VM at once\n"
    "  --help              show this text\n"
    "  --version           show the version\n"
    "\n"
    "exit status: 0 ok, 1 the VM failed, 2 bad usage or config\n"
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

// Turns SIGINT/SIGTERM into a clean stop of the machine, and SIGUSR2 into
// its statistics on stderr (`kill -USR2 PID` on any node). The signals are
// blocked in every thread (set before any starts) and taken here by sigwait.
class SignalThread {
 public:
  explicit SignalThread(dvm::machine::Machine* machine) {
    thread_ = std::thread([this, machine] {
      dvm::SetThreadName("signals");
      sigset_t set = Signals();
      timespec tick{0, 100'000'000};
      while (!done_.load()) {
        int sig = sigtimedwait(&set, nullptr, &tick);
        if (sig == SIGUSR2) {
          std::fputs(machine->StatsText().c_str(), stderr);
        } else if (sig > 0) {
          machine->Stop(sig == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)");
        }
      }
    });
  }
  ~SignalThread() {
    done_ = true;
    thread_.join();
  }
  static sigset_t Signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR2);
    return set;
  }

 private:
  std::atomic<bool> done_{false};
  std::thread thread_;
};

constexpr char kControlDir[] = "/run/dvm";
constexpr char kDvmdRunDir[] = "/run/dvmd";  // dvmd's VMs (its --run-dir default)
// How long `dvm stats` waits for the other nodes' statistics; a node that
// does not answer within it is named instead.
constexpr std::chrono::milliseconds kStatsWait{1000};

// What the control socket (vmm/control) asks of the running machine.
class MachineControl final : public dvm::control::Handler {
 public:
  MachineControl(dvm::machine::Machine* machine, const dvm::spec::VmSpec& spec) : machine_(machine), spec_(spec) {}
  dvm::control::VmStatus Status() override {
    return {"running", spec_.name, spec_.vcpu_count, static_cast<uint32_t>(spec_.nodes.size()), getpid()};
  }
  absl::Status Shutdown() override { return machine_->PressPowerButton(); }
  absl::Status Destroy() override {
    machine_->Stop("destroyed through the control socket");
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> Stats() override { return machine_->GatherStatsText(kStatsWait); }

 private:
  dvm::machine::Machine* machine_;
  const dvm::spec::VmSpec& spec_;
};

// Serves the control socket: the one given (its failure is fatal), or the
// default one under /run/dvm (best effort: a warning).
std::unique_ptr<dvm::control::Server> StartControl(const std::string& given, const dvm::spec::VmSpec& spec,
                                                   MachineControl* handler, bool* failed) {
  std::string path = given;
  if (path.empty()) {
    ::mkdir(kControlDir, 0700);
    path = std::string(kControlDir) + "/" + spec.name + ".sock";
  }
  auto server = dvm::control::Server::Start(path, handler);
  if (server.ok()) return std::move(*server);
  std::fprintf(stderr, "dvm run: %s control socket %s: %s\n", given.empty() ? "no" : "cannot serve the",
               path.c_str(), std::string(server.status().message()).c_str());
  *failed = !given.empty();
  return nullptr;
}

// With --control PATH (as dvmd runs VMs), how the machine ended goes to
// PATH.end: the exit status alone cannot tell, since the guest picks the
// status it writes to the exit port (130 would look like a destroy).
void WriteEndReport(const std::string& control, const dvm::machine::MachineEnd& end) {
  using dvm::machine::EndReason;
  const char* reason = "stopped";
  switch (end.reason) {
    case EndReason::kPowerOff: reason = "poweroff"; break;
    case EndReason::kExitPort: reason = "exit-port"; break;
    case EndReason::kReset: reason = "reset"; break;
    case EndReason::kTripleFault: reason = "triple-fault"; break;
    case EndReason::kFailed: reason = "failed"; break;
    case EndReason::kStopped: reason = "stopped"; break;
  }
  if (FILE* f = std::fopen((control + ".end").c_str(), "we")) {
    std::fprintf(f, "%s %s\n", reason, end.detail.c_str());
    std::fclose(f);
  }
}

// Runs one node of the VM in this process until the guest ends; returns the
// exit status. `who` prefixes messages ("dvm run", "dvm node 1"). Node 0
// serves the control socket (`control`: its path, empty for the default).
int RunNode(const dvm::spec::VmSpec& spec, dvm::NodeId node, const std::string& who,
            const std::string& control = "") {
  sigset_t signals = SignalThread::Signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  if (absl::Status s = dvm::kvm::InstallKickSignalHandler(); !s.ok()) {
    std::fprintf(stderr, "%s: %s\n", who.c_str(), std::string(s.message()).c_str());
    return kExitFailed;
  }
  dvm::machine::MachineOptions options;
  options.node = node;
  if (node.value() != 0) options.console_in_fd = -1;  // the console is node 0's
  auto machine = dvm::machine::Machine::Create(spec, options);
  if (!machine.ok()) {
    std::fprintf(stderr, "%s: %s\n", who.c_str(), std::string(machine.status().message()).c_str());
    bool bad_input = absl::IsInvalidArgument(machine.status()) || absl::IsResourceExhausted(machine.status());
    return bad_input ? kExitUsage : kExitFailed;
  }
  dvm::machine::MachineEnd end;
  {
    MachineControl handler(machine->get(), spec);
    std::unique_ptr<dvm::control::Server> control_server;
    if (node.value() == 0) {
      bool failed = false;
      control_server = StartControl(control, spec, &handler, &failed);
      if (failed) return kExitFailed;
    }
    SignalThread signal_thread(machine->get());
    end = (*machine)->Run();
  }
  if (!control.empty()) WriteEndReport(control, end);
  std::fprintf(stderr, "%s: %s (exit status %d)\n", who.c_str(), end.detail.c_str(), end.exit_status);
  if (std::getenv("DVM_STATS") != nullptr) std::fputs((*machine)->StatsText().c_str(), stderr);
  if (end.threads_stuck) {
    // A vCPU thread waits for good on a page or reply a dead node held: the
    // machine cannot be taken apart under it. Leave now.
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(end.exit_status);
  }
  return end.exit_status;
}

int Run(const std::string& path, const std::string& control) {
  auto spec = LoadOrReport(path);
  if (!spec) return kExitUsage;
  if (spec->nodes.size() == 1) return RunNode(*spec, dvm::NodeId(0), "dvm run", control);
  // The other local nodes are started before node 0 (this process) creates
  // any thread; node 0 then waits for all of them to connect.
  dvm::cmd::LocalNodes nodes;
  char self_exe[4096];
  ssize_t n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
  self_exe[n > 0 ? n : 0] = '\0';
  if (absl::Status s = nodes.Start(self_exe, path, *spec); !s.ok()) {
    std::fprintf(stderr, "dvm run: %s\n", std::string(s.message()).c_str());
    return kExitFailed;
  }
  int status = RunNode(*spec, dvm::NodeId(0), "dvm run", control);
  for (const std::string& problem : nodes.Finish(std::chrono::seconds(30))) {
    std::fprintf(stderr, "dvm run: %s\n", problem.c_str());
  }
  return status;
}

int Node(const std::string& path, int argc, char** argv) {
  uint32_t id = 0;
  if (argc != 5 || std::strcmp(argv[3], "--id") != 0 || !absl::SimpleAtoi(argv[4], &id)) {
    std::fprintf(stderr, "usage: dvm node FILE --id N\n");
    return kExitUsage;
  }
  auto spec = LoadOrReport(path);
  if (!spec) return kExitUsage;
  if (spec->FindNode(dvm::NodeId(id)) == nullptr) {
    std::fprintf(stderr, "dvm node: %s has no node %u (ids are 0..%zu)\n", path.c_str(), id,
                 spec->nodes.size() - 1);
    return kExitUsage;
  }
  return RunNode(*spec, dvm::NodeId(id), "dvm node " + std::to_string(id));
}

// The control socket of VM: a path as given, else a VM started by hand,
// else one that dvmd started.
std::string ControlPath(const std::string& vm) {
  if (vm.find('/') != std::string::npos) return vm;
  std::string path = std::string(kControlDir) + "/" + vm + ".sock";
  const std::string dvmd_path = std::string(kDvmdRunDir) + "/" + vm + ".sock";
  if (::access(path.c_str(), F_OK) != 0 && ::access(dvmd_path.c_str(), F_OK) == 0) path = dvmd_path;
  return path;
}

// `dvm stats VM`: every node's statistics, as many lines as they take.
int Stats(const std::string& vm) {
  // Node 0 waits up to kStatsWait for the others: give it that and more.
  auto text = dvm::control::CallForLines(ControlPath(vm), "stats", kStatsWait + std::chrono::seconds(5));
  if (!text.ok()) {
    std::fprintf(stderr, "dvm stats: %s\n", std::string(text.status().message()).c_str());
    return kExitFailed;
  }
  std::fputs(text->c_str(), stdout);
  return kExitOk;
}

// `dvm status|shutdown|destroy VM`: one request on the VM's control socket.
int Control(const std::string& command, const std::string& vm) {
  const std::string path = ControlPath(vm);
  auto reply = dvm::control::Call(path, command);
  if (!reply.ok()) {
    std::fprintf(stderr, "dvm %s: %s\n", command.c_str(), std::string(reply.status().message()).c_str());
    return kExitFailed;
  }
  if (reply->starts_with("error ")) {
    std::fprintf(stderr, "dvm %s: %s\n", command.c_str(), reply->substr(6).c_str());
    return kExitFailed;
  }
  std::printf("%s\n", reply->c_str());
  return kExitOk;
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
    if (command == "run") {
      if (argc == 3) return Run(argv[2], "");
      if (argc == 5 && std::strcmp(argv[3], "--control") == 0) return Run(argv[2], argv[4]);
      std::fprintf(stderr, "usage: dvm run FILE [--control PATH]\n");
      return kExitUsage;
    }
    return Node(argv[2], argc, argv);
  }
  if (command == "status" || command == "stats" || command == "shutdown" || command == "destroy") {
    if (argc != 3) {
      std::fprintf(stderr, "usage: dvm %s VM (a name under /run/dvm or /run/dvmd, or a control socket path)\n", command.c_str());
      return kExitUsage;
    }
    return command == "stats" ? Stats(argv[2]) : Control(command, argv[2]);
  }
  std::fprintf(stderr, "dvm: unknown command '%s'\n\n%s", command.c_str(), kUsage);
  return kExitUsage;
}
