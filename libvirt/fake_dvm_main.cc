// A stand-in for `dvm run CONFIG --control SOCKET` that needs no KVM, so the
// real ProcessLauncher (spawn, control socket, pidfd, exit status, log cap)
// is tested as it runs under dvmd. What it does follows the VM's name:
//
//   fail-*      exits 2 at once, saying why on stderr (a start that fails)
//   stubborn-*  answers destroy with "ok" but does not stop (dvmd kills it)
//   chatty-*    writes ~64 KiB to its log every 50 ms (the guest's console)
//   exit130-*   ends after half a second as a guest that wrote 130 to the
//               exit port
//   anything    serves status; shutdown ends it with exit status 0 (the
//               guest powered off), destroy with 130
// Like dvm run, it writes how the machine ended to SOCKET.end.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "vmm/control/control.h"

namespace {

std::atomic<int> g_exit{-1};
std::string g_report;  // set before g_exit

class Handler final : public dvm::control::Handler {
 public:
  explicit Handler(std::string name) : name_(std::move(name)) {}
  dvm::control::VmStatus Status() override { return {"running", name_, 1, 1, getpid()}; }
  absl::Status Shutdown() override {
    g_report = "poweroff the guest powered off";
    g_exit = 0;
    return absl::OkStatus();
  }
  absl::Status Destroy() override {
    if (name_.rfind("stubborn-", 0) == 0) return absl::OkStatus();
    g_report = "stopped destroyed through the control socket";
    g_exit = 130;
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> Stats() override { return absl::UnimplementedError("fake_dvm keeps no statistics"); }

 private:
  std::string name_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5 || std::string(argv[1]) != "run" || std::string(argv[3]) != "--control") {
    std::fprintf(stderr, "usage: fake_dvm run CONFIG --control SOCKET\n");
    return 2;
  }
  std::ifstream config(argv[2]);
  std::string name;
  for (std::string line; std::getline(config, line);) {
    if (line.rfind("name = \"", 0) == 0) name = line.substr(8, line.size() - 9);
  }
  if (name.rfind("fail-", 0) == 0) {
    std::fprintf(stderr, "fake_dvm: cannot open /dev/kvm\n");
    return 2;
  }
  Handler handler(name);
  auto server = dvm::control::Server::Start(argv[4], &handler);
  if (!server.ok()) return 1;
  std::printf("fake_dvm: %s running\n", name.c_str());
  std::fflush(stdout);
  const std::string chunk(64 << 10, 'c');
  for (int tick = 0; g_exit < 0; ++tick) {
    if (name.rfind("exit130-", 0) == 0 && tick == 10) {  // after dvmd saw it run
      g_report = "exit-port the guest wrote 130 to the exit port";
      g_exit = 130;
      break;
    }
    if (name.rfind("chatty-", 0) == 0) {
      std::fwrite(chunk.data(), 1, chunk.size(), stdout);
      std::fflush(stdout);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  server->reset();
  if (FILE* f = std::fopen((std::string(argv[4]) + ".end").c_str(), "w")) {
    std::fprintf(f, "%s\n", g_report.c_str());
    std::fclose(f);
  }
  return g_exit;
}
