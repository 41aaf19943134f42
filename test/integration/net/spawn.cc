#include "test/integration/net/spawn.h"
#include "net/free_port_for_test.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <thread>

extern char** environ;

namespace dvm::net {

Child Spawn(const std::vector<std::string>& argv, const std::string& output_path) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!output_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, 1, output_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
  }
  Child c;
  if (posix_spawn(&c.pid, args[0], &actions, nullptr, args.data(), environ) != 0) c.pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return c;
}

int Wait(Child& c, double timeout_s) {
  if (c.pid < 0) return -1;
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (true) {
    int status;
    pid_t r = waitpid(c.pid, &status, WNOHANG);
    if (r == c.pid) {
      c.pid = -1;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      return 128 + WTERMSIG(status);
    }
    if (std::chrono::steady_clock::now() > until) {
      kill(c.pid, SIGKILL);
      waitpid(c.pid, &status, 0);
      c.pid = -1;
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string TcpNodes(int nodes) {
  std::string out;
  for (int i = 0; i < nodes; ++i) {
    out += (i ? "," : "") + std::to_string(i) + "=127.0.0.1:" + std::to_string(FreePort());
  }
  return out;
}

std::string WriteKeyFile() {
  char path[] = "/tmp/dvm-net-key-XXXXXX";
  int fd = mkstemp(path);
  std::random_device rd;
  std::vector<uint8_t> key(32);
  for (auto& b : key) b = static_cast<uint8_t>(rd());
  write(fd, key.data(), key.size());
  close(fd);
  return path;
}

}  // namespace dvm::net
