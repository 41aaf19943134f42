#include "libvirt/vm_launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "dvm/log.h"
#include "dvm/mutex.h"
#include "dvm/status.h"
#include "dvm/unique_fd.h"
#include "libvirt/console_log.h"
#include "libvirt/vir_error.h"
#include "vmm/control/control.h"
#include "vmm/spec/toml_writer.h"

extern char** environ;

namespace dvm::libvirt {
namespace {

using Clock = std::chrono::steady_clock;

int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

// By pidfd, not pid: a VM that was not dvmd's child (adopted) may have ended
// and its pid been reused by another process, which must not get the signal.
int PidfdKill(int pidfd) { return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0)); }

// How often the watcher checks the VM's log size.
constexpr int kLogCheckMs = 1000;

// `dvm run --control PATH` writes how the machine ended to PATH.end.
std::string EndReportPath(const std::string& control) { return control + ".end"; }

std::optional<std::string> TakeEndReport(const std::string& control) {
  const std::string path = EndReportPath(control);
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string line;
  std::getline(in, line);
  ::unlink(path.c_str());
  return line;
}

// True once the process behind `pidfd` has exited (or within `timeout`).
bool WaitExited(int pidfd, std::chrono::milliseconds timeout) {
  pollfd p{pidfd, POLLIN, 0};
  int r;
  do {
    r = ::poll(&p, 1, static_cast<int>(timeout.count()));
  } while (r < 0 && errno == EINTR);
  return r > 0;
}

// The last few lines `dvm run` wrote after `offset`: why a start failed.
std::string LogTail(const std::string& path, off_t offset) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(offset);
  std::stringstream text;
  text << in.rdbuf();
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(text.str(), '\n', absl::SkipWhitespace())) {
    lines.emplace_back(absl::StripAsciiWhitespace(line));
  }
  const size_t keep = std::min<size_t>(lines.size(), 3);
  std::string tail = absl::StrJoin(lines.end() - keep, lines.end(), " | ");
  if (tail.size() > 1500) tail = tail.substr(tail.size() - 1500);
  return tail;
}

absl::Status MakeDir(const std::string& dir, mode_t mode) {
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) return ErrnoStatus(absl::StrCat("mkdir ", dir));
  return absl::OkStatus();
}

class ProcessVm final : public RunningVm {
 public:
  ProcessVm(pid_t pid, UniqueFd pidfd, bool child, std::string control, std::string log, uint64_t max_log_bytes)
      : pid_(pid), pidfd_(std::move(pidfd)), child_(child), control_(std::move(control)), log_(std::move(log)),
        max_log_bytes_(max_log_bytes), stop_fd_(::eventfd(0, EFD_CLOEXEC)) {}

  ~ProcessVm() override {
    const uint64_t one = 1;
    (void)!::write(stop_fd_.get(), &one, sizeof(one));
    if (watcher_.joinable()) watcher_.join();
  }

  void Watch(std::function<void(VmExit)> on_exit) override {
    watcher_ = std::thread([this, on_exit = std::move(on_exit)] {
      pollfd fds[2] = {{pidfd_.get(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
      while (true) {
        const int ready = ::poll(fds, 2, kLogCheckMs);
        if (ready > 0) break;
        if (ready < 0 && errno != EINTR) break;
        if (absl::Status s = CapLog(log_, max_log_bytes_); !s.ok()) {
          DVM_LOG_EVERY_SEC(WARNING, 60.0) << "VM log " << log_ << ": " << s.message();
        }
      }
      // Only the stop event: dvmd stops watching and the VM runs on. (If the
      // VM ended too, reap it all the same, or it stays a zombie.)
      if (fds[0].revents == 0) return;
      VmExit exit{kShutoffUnknown, "the VM's process ended (started before dvmd's restart: no exit status)"};
      int status = 0;
      const bool reaped = child_ && ::waitpid(pid_, &status, 0) == pid_;
      if (std::optional<std::string> report = TakeEndReport(control_)) {
        exit = ExitOfReport(*report);
      } else if (reaped) {
        exit = ExitOfStatus(status);
      }
      on_exit(exit);
    });
  }

  absl::Status Shutdown() override {
    absl::StatusOr<std::string> reply = control::Call(control_, "shutdown");
    if (!reply.ok()) return VirError(ErrorCode::kOperationFailed, std::string(reply.status().message()));
    if (*reply != "ok") return VirError(ErrorCode::kOperationFailed, absl::StrCat("the VM says: ", *reply));
    return absl::OkStatus();
  }

  absl::Status Destroy(std::chrono::milliseconds grace) override {
    // Ask `dvm run` to stop the machine (it cleans up after itself); kill it
    // if it does not answer or does not finish in time.
    absl::StatusOr<std::string> reply = control::Call(control_, "destroy", std::chrono::milliseconds(2000));
    if (!reply.ok() || *reply != "ok" || !WaitExited(pidfd_.get(), grace)) {
      DVM_LOG(WARNING) << "VM process " << pid_ << " did not stop when asked; killing it";
      if (PidfdKill(pidfd_.get()) != 0 && errno != ESRCH) {
        return ErrnoStatus(absl::StrCat("kill VM process ", pid_));
      }
      if (!WaitExited(pidfd_.get(), std::chrono::seconds(10))) {
        return VirError(ErrorCode::kOperationFailed, absl::StrCat("process ", pid_, " survived SIGKILL for 10 s"));
      }
    }
    return absl::OkStatus();
  }

  uint64_t CpuTimeNs() const override {
    std::ifstream in(absl::StrCat("/proc/", pid_, "/stat"));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Fields after the command (which may hold spaces) start after the last ')'.
    const size_t close = text.rfind(')');
    if (close == std::string::npos) return 0;
    std::vector<absl::string_view> fields = absl::StrSplit(absl::string_view(text).substr(close + 2), ' ');
    uint64_t utime = 0, stime = 0;
    // utime and stime are fields 14 and 15 of the whole line; 12 and 13 here.
    if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) || !absl::SimpleAtoi(fields[12], &stime)) return 0;
    const long hz = ::sysconf(_SC_CLK_TCK);
    return (utime + stime) * (1'000'000'000 / static_cast<uint64_t>(hz > 0 ? hz : 100));
  }

 private:
  const pid_t pid_;
  UniqueFd pidfd_;
  const bool child_;
  const std::string control_;
  const std::string log_;
  const uint64_t max_log_bytes_;
  UniqueFd stop_fd_;
  std::thread watcher_;
};

}  // namespace

VmExit ExitOfReport(absl::string_view report) {
  report = absl::StripAsciiWhitespace(report);
  const absl::string_view reason = report.substr(0, report.find(' '));
  std::string detail(absl::StripAsciiWhitespace(report.substr(reason.size())));
  if (detail.empty()) detail = std::string(reason);
  if (reason == "poweroff" || reason == "exit-port") return {kShutoffShutdown, detail};
  if (reason == "stopped") return {kShutoffDestroyed, detail};
  if (reason == "reset" || reason == "triple-fault" || reason == "failed") return {kShutoffCrashed, detail};
  return {kShutoffUnknown, absl::StrCat("dvm run's end report says '", report.substr(0, 200), "'")};
}

VmExit ExitOfStatus(int status) {
  if (WIFSIGNALED(status)) {
    return {kShutoffCrashed, absl::StrCat("dvm run was killed by signal ", WTERMSIG(status))};
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code == 0) return {kShutoffShutdown, "dvm run ended"};
  return {kShutoffFailed, absl::StrCat("dvm run ended with exit status ", code, " before the VM ran (see its log)")};
}

absl::StatusOr<std::unique_ptr<RunningVm>> ProcessLauncher::Launch(const DomainDef& def) {
  const std::string& name = def.spec.name;
  RETURN_IF_ERROR(MakeDir(options_.run_dir, 0700));
  RETURN_IF_ERROR(MakeDir(options_.log_dir, 0750));
  const std::string control = ControlPath(name);
  if (control::QueryStatus(control, std::chrono::milliseconds(500)).ok()) {
    return VirError(ErrorCode::kOperationInvalid, absl::StrCat("a VM named '", name, "' already answers on ", control));
  }
  ::unlink(EndReportPath(control).c_str());  // an earlier run's
  const std::string config = options_.run_dir + "/" + name + ".toml";
  {
    std::ofstream out(config, std::ios::trunc);
    out << spec::WriteTomlConfig(def.spec);
    if (!out) return VirError(ErrorCode::kOperationFailed, absl::StrCat("cannot write ", config));
  }
  const std::string log_path = LogPath(name);
  UniqueFd log(::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!log) return ErrnoStatus(absl::StrCat("open ", log_path));
  const std::time_t now = std::time(nullptr);
  char when[64];
  std::tm local{};
  std::strftime(when, sizeof(when), "%F %T", ::localtime_r(&now, &local));
  const std::string header = absl::StrCat("---- dvmd: starting ", name, " (", UuidToString(def.uuid), ") at ", when, "\n");
  (void)!::write(log.get(), header.data(), header.size());
  const off_t log_start = ::lseek(log.get(), 0, SEEK_END);

  std::vector<std::string> argv = {options_.dvm_binary, "run", config, "--control", control};
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&files, log.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&files, log.get(), STDERR_FILENO);
  // Nothing else of dvmd's: Asio's sockets are not close-on-exec, and a VM
  // holding dvmd's listening socket would make a restarted dvmd think
  // another daemon answers there.
  posix_spawn_file_actions_addclosefrom_np(&files, STDERR_FILENO + 1);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own session (a signal to dvmd's terminal does not reach the VM), no
  // blocked signals, default actions for what dvmd may ignore.
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGUSR2}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const int err = posix_spawn(&pid, options_.dvm_binary.c_str(), &files, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  posix_spawnattr_destroy(&attr);
  if (err != 0) {
    return VirError(ErrorCode::kOperationFailed,
                    absl::StrCat("cannot run ", options_.dvm_binary, ": ", std::strerror(err)));
  }
  UniqueFd pidfd(PidfdOpen(pid));
  if (!pidfd) {
    ::kill(pid, SIGKILL);  // our child, not reaped yet: its pid is still its own
    ::waitpid(pid, nullptr, 0);
    return ErrnoStatus("pidfd_open");
  }
  // Running means: its control socket answers for this process.
  const Clock::time_point deadline = Clock::now() + options_.start_timeout;
  while (true) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      const std::string why = LogTail(log_path, log_start);
      return VirError(ErrorCode::kOperationFailed,
                      absl::StrCat("dvm run exited with status ",
                                   WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                                   why.empty() ? "" : ": ", why, " (log: ", log_path, ")"));
    }
    absl::StatusOr<control::VmStatus> vm = control::QueryStatus(control, std::chrono::milliseconds(500));
    if (vm.ok() && vm->pid == pid) break;
    if (Clock::now() > deadline) {
      PidfdKill(pidfd.get());
      ::waitpid(pid, nullptr, 0);
      return VirError(ErrorCode::kOperationFailed,
                      absl::StrCat("the VM did not come up within ", options_.start_timeout.count() / 1000,
                                   " s (log: ", log_path, ")"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return std::unique_ptr<RunningVm>(
      new ProcessVm(pid, std::move(pidfd), /*child=*/true, control, log_path, options_.max_log_bytes));
}

absl::StatusOr<std::unique_ptr<RunningVm>> ProcessLauncher::Adopt(const DomainDef& def) {
  const std::string control = ControlPath(def.spec.name);
  absl::StatusOr<control::VmStatus> vm = control::QueryStatus(control, std::chrono::milliseconds(1000));
  if (!vm.ok()) return absl::NotFoundError(absl::StrCat("no VM answers on ", control));
  if (vm->name != def.spec.name) {
    return absl::FailedPreconditionError(absl::StrCat(control, " is VM '", vm->name, "', not '", def.spec.name, "'"));
  }
  UniqueFd pidfd(PidfdOpen(vm->pid));
  if (!pidfd) return absl::NotFoundError(absl::StrCat("VM process ", vm->pid, " is gone"));
  return std::unique_ptr<RunningVm>(new ProcessVm(vm->pid, std::move(pidfd), /*child=*/false, control,
                                                  LogPath(def.spec.name), options_.max_log_bytes));
}

}  // namespace dvm::libvirt
