#include "cmd/local_nodes.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "dvm/status.h"

extern char** environ;

namespace dvm::cmd {

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

absl::Status LocalNodes::Start(const std::string& self_exe, const std::string& config_path,
                               const spec::VmSpec& spec) {
  for (const spec::NodeSpec& node : spec.nodes) {
    if (node.id.value() == 0) continue;
    if (!IsLoopback(node.address.host)) {
      std::fprintf(stderr, "dvm run: expecting node %u at %s:%u (start `dvm node %s --id %u` there)\n",
                   node.id.value(), node.address.host.c_str(), node.address.port, config_path.c_str(),
                   node.id.value());
      continue;
    }
    std::string id = std::to_string(node.id.value());
    std::vector<std::string> argv = {self_exe, "node", config_path, "--id", id};
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    // The node inherits stdout/stderr: it has no console, only its messages.
    pid_t pid = -1;
    if (int err = posix_spawn(&pid, self_exe.c_str(), nullptr, nullptr, args.data(), environ); err != 0) {
      Kill();
      return ErrnoStatus(absl::StrCat("starting node ", id, " (", self_exe, ")"), err);
    }
    nodes_.push_back({node.id.value(), pid});
  }
  return absl::OkStatus();
}

std::vector<std::string> LocalNodes::Finish(std::chrono::seconds timeout) {
  std::vector<std::string> problems;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (Node& node : nodes_) {
    int status = 0;
    pid_t r = 0;
    while ((r = waitpid(node.pid, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (r == 0) {
      kill(node.pid, SIGKILL);
      waitpid(node.pid, &status, 0);
      problems.push_back(absl::StrCat("node ", node.id, " (pid ", node.pid, ") did not exit within ",
                                      timeout.count(), " s and was killed"));
    } else if (WIFSIGNALED(status)) {
      problems.push_back(absl::StrCat("node ", node.id, " (pid ", node.pid, ") was killed by signal ",
                                      WTERMSIG(status)));
    } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
      problems.push_back(absl::StrCat("node ", node.id, " (pid ", node.pid, ") exited with status ",
                                      WEXITSTATUS(status)));
    }
  }
  nodes_.clear();
  return problems;
}

void LocalNodes::Kill() {
  for (Node& node : nodes_) kill(node.pid, SIGKILL);
  Finish(std::chrono::seconds(5));
}

}  // namespace dvm::cmd
