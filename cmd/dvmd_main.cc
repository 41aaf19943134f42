// dvmd: a libvirt driver for dvm. It speaks libvirt's remote RPC protocol on
// a unix socket, so unmodified virsh, virt-install and libvirt-python manage
// dvm VMs through libvirt's own remote driver:
//
//   virsh -c dvm:///system list --all                     (the default sockets)
//   virsh -c 'dvm+unix:///system?socket=/path/sock' ...   (any socket)
//
// Everything lives in libvirt/; this only reads options and wires it up.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "dvm/log.h"
#include "libvirt/daemon_files.h"
#include "libvirt/domain_registry.h"
#include "libvirt/domain_store.h"
#include "libvirt/procedures.h"
#include "libvirt/server.h"
#include "libvirt/vm_launcher.h"

namespace {

constexpr char kUsage[] =
    "usage: dvmd [OPTIONS]\n"
    "\n"
    "Serves libvirt's remote protocol for dvm VMs (virsh -c dvm:///system).\n"
    "\n"
    "  --socket PATH      read-write socket, root only (default /run/libvirt/virtdvmd-sock)\n"
    "  --socket-ro PATH   read-only socket (default: the read-write path + \"-ro\")\n"
    "  --state-dir DIR    defined domains, one file each (default /var/lib/dvm/domains)\n"
    "  --run-dir DIR      running VMs' configs and control sockets (default /run/dvmd;\n"
    "                     not /run/dvm, where `dvm run` puts VMs started by hand)\n"
    "  --log-dir DIR      each VM's output and console, NAME.log (default /var/log/dvm)\n"
    "  --dvm PATH         the dvm command (default: dvm next to dvmd)\n"
    "  --no-autostart     do not start the domains marked autostart (they start\n"
    "                     once per host boot: the first dvmd after a boot)\n"
    "SIGUSR1 prints the server's counters.\n"
    "  --help | --version\n";

struct Options {
  std::string socket = "/run/libvirt/virtdvmd-sock";
  std::string socket_ro;
  std::string state_dir = "/var/lib/dvm/domains";
  std::string run_dir = "/run/dvmd";
  std::string log_dir = "/var/log/dvm";
  std::string dvm;
  bool autostart = true;
};

std::string SelfDir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string path(buf, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/'));
}

dvm::libvirt::DaemonInfo HostInfo(const std::string& dvm_binary) {
  dvm::libvirt::DaemonInfo info;
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  info.hostname = host;
  info.dvm_binary = dvm_binary;
  std::vector<std::string> version = absl::StrSplit(DVM_VERSION, '.');
  uint64_t scale = 1000000;
  for (const std::string& part : version) {
    uint64_t v = 0;
    if (absl::SimpleAtoi(part, &v)) info.hv_version += v * scale;
    scale /= 1000;
  }
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  info.node.model = "x86_64";
  info.node.cpus = static_cast<int32_t>(cpus > 0 ? cpus : 1);
  info.node.cores = info.node.cpus;
  info.node.memory_kib = static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE) / 1024;
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.starts_with("cpu MHz")) {
      double mhz = 0;
      if (absl::SimpleAtod(line.substr(line.find(':') + 1), &mhz)) info.node.mhz = static_cast<int32_t>(mhz);
      break;
    }
  }
  std::ifstream machine_id("/etc/machine-id");
  std::string id;
  machine_id >> id;
  auto uuid = dvm::libvirt::ParseUuid(id);
  info.host_uuid = uuid ? *uuid : dvm::libvirt::RandomUuid();
  return info;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "dvmd: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      *out = argv[++i];
    };
    if (arg == "--socket") {
      value(&o.socket);
    } else if (arg == "--socket-ro") {
      value(&o.socket_ro);
    } else if (arg == "--state-dir") {
      value(&o.state_dir);
    } else if (arg == "--run-dir") {
      value(&o.run_dir);
    } else if (arg == "--log-dir") {
      value(&o.log_dir);
    } else if (arg == "--dvm") {
      value(&o.dvm);
    } else if (arg == "--no-autostart") {
      o.autostart = false;
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--version") {
      std::printf("dvmd %s\n", DVM_VERSION);
      return 0;
    } else {
      std::fprintf(stderr, "dvmd: unknown option '%s'\n\n%s", arg.c_str(), kUsage);
      return 2;
    }
  }
  if (o.socket_ro.empty()) o.socket_ro = o.socket + "-ro";
  if (o.dvm.empty()) o.dvm = SelfDir() + "/dvm";
  if (access(o.dvm.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "dvmd: cannot run the dvm command at %s (give --dvm PATH)\n", o.dvm.c_str());
    return 2;
  }
  // Signals come to the main thread only: block them before any thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  if (o.socket.find('/') != std::string::npos) {
    mkdir(o.socket.substr(0, o.socket.rfind('/')).c_str(), 0755);  // /run/libvirt
  }
  mkdir(o.state_dir.substr(0, o.state_dir.rfind('/')).c_str(), 0755);  // /var/lib/dvm

  // One dvmd per state directory, then the sockets, then the domains: a
  // second dvmd stops before it touches the first one's files or VMs.
  absl::StatusOr<dvm::UniqueFd> lock = dvm::libvirt::LockStateDir(o.state_dir);
  if (!lock.ok()) {
    std::fprintf(stderr, "dvmd: %s\n", std::string(lock.status().message()).c_str());
    return 1;
  }
  dvm::libvirt::FileDomainStore store(o.state_dir);
  // What running domains run with, and their ids: on the run folder's tmpfs,
  // so it goes with the VMs at a host reboot.
  mkdir(o.run_dir.c_str(), 0700);
  dvm::libvirt::FileDomainStore live(o.run_dir + "/domains");
  dvm::libvirt::ProcessLauncher launcher({.dvm_binary = o.dvm, .run_dir = o.run_dir, .log_dir = o.log_dir});
  dvm::libvirt::DomainRegistry registry(&store, &launcher, dvm::spec::HostLimits::FromHost(), &live);
  dvm::libvirt::Procedures procedures(&registry, HostInfo(o.dvm));
  dvm::libvirt::Server server(&procedures, {.socket = o.socket, .socket_ro = o.socket_ro});
  if (absl::Status s = server.Listen(); !s.ok()) {
    std::fprintf(stderr, "dvmd: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  for (const std::string& problem : registry.Load()) std::fprintf(stderr, "dvmd: %s\n", problem.c_str());
  if (absl::Status s = server.Start(); !s.ok()) {
    std::fprintf(stderr, "dvmd: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::fprintf(stderr, "dvmd %s: %zu domain(s) defined; listening on %s (read-write) and %s (read-only)\n",
               DVM_VERSION, registry.List().size(), o.socket.c_str(), o.socket_ro.c_str());
  std::thread autostart;
  if (o.autostart && dvm::libvirt::FirstStartSinceBoot(o.run_dir)) {
    autostart = std::thread([&registry] {
      for (const std::string& problem : registry.StartAutostartDomains()) {
        std::fprintf(stderr, "dvmd: %s\n", problem.c_str());
      }
    });
  }
  int sig = 0;
  while (sigwait(&stop_signals, &sig) == 0 && sig == SIGUSR1) {
    std::fprintf(stderr, "dvmd: %s\n", server.stats().ToString().c_str());
  }
  std::fprintf(stderr, "dvmd: stopping (%s); running VMs keep running; %s\n", strsignal(sig),
               server.stats().ToString().c_str());
  if (autostart.joinable()) autostart.join();
  server.Stop();
  return 0;
}
