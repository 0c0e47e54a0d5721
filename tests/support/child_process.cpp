#include "tests/support/child_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tests/support/spawn_args.h"
#include "tests/support/testing.h"

namespace landfall::testing {

namespace {

// Starts `args` with stdin and stdout/stderr from the given descriptors
// (closed here); the child's pid, or -1 (the test failed).
pid_t Spawn(const std::vector<std::string>& args, CStringArray& envp, int stdin_fd, int log_fd) {
  // setpriv sets PR_SET_PDEATHSIG and execs the program in the same process
  // (so pid_ is the program's pid); posix_spawn runs no atfork handlers.
  std::vector<std::string> with_pdeathsig = {"/usr/bin/setpriv", "--pdeathsig", "KILL", "--"};
  with_pdeathsig.insert(with_pdeathsig.end(), args.begin(), args.end());
  CStringArray argv(with_pdeathsig);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0);
  posix_spawn_file_actions_adddup2(&actions, log_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, log_fd, 2);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv.data()[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(log_fd);
  close(stdin_fd);
  if (rc != 0) {
    ADD_FAILURE() << "posix_spawn: " << std::strerror(rc);
    return -1;
  }
  return pid;
}

}  // namespace

ChildProcess::ChildProcess(const std::vector<std::string>& args, std::filesystem::path log,
                           const ChildOptions& options)
    : log_(std::move(log)) {
  // Everything the child needs is prepared before fork(): between fork and
  // exec only async-signal-safe calls are allowed (the test may have threads).
  std::vector<std::string> extra_env = options.extra_env;
  // Room for the pid, which the child writes into this entry's buffer.
  constexpr const char* kWatchdogPid = "WATCHDOG_PID=";
  if (options.watchdog_pid) extra_env.push_back(kWatchdogPid + std::string(24, '\0'));
  CStringArray envp = EnvironWith(extra_env);
  CStringArray argv(args);
  // The WATCHDOG_PID entry is the last one.
  char* watchdog_entry = nullptr;
  for (char** e = envp.data(); options.watchdog_pid && *e; ++e) watchdog_entry = *e;
  const int log_fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int stdin_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd < 0 || stdin_fd < 0) {
    ADD_FAILURE() << "cannot open " << log_ << " or /dev/null: " << std::strerror(errno);
    if (log_fd >= 0) close(log_fd);
    if (stdin_fd >= 0) close(stdin_fd);
    return;
  }
  if (!options.watchdog_pid) {
    pid_ = Spawn(args, envp, stdin_fd, log_fd);
    return;
  }
  const pid_t parent = getpid();

  // WATCHDOG_PID must name the child itself, so the child writes it between
  // fork and exec. fork() runs the atfork handlers of every library loaded,
  // DuckDB's jemalloc among them (it takes every arena lock), which is why
  // the other children are spawned instead.
  pid_ = fork();
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // The parent may have ended before prctl: then nothing would kill us.
    if (getppid() != parent) _exit(127);
    // WATCHDOG_PID must name the daemon itself: this very process after exec.
    char digits[24];
    int n = 0;
    for (pid_t p = getpid(); p > 0; p /= 10) digits[n++] = static_cast<char>('0' + p % 10);
    char* out = watchdog_entry + std::strlen(kWatchdogPid);
    while (n > 0) *out++ = digits[--n];
    *out = '\0';
    // dup2 clears O_CLOEXEC on the copies; the originals close at exec.
    if (dup2(stdin_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0) _exit(127);
    execve(argv.data()[0], argv.data(), envp.data());
    _exit(127);
  }
  close(log_fd);
  close(stdin_fd);
  if (pid_ < 0) ADD_FAILURE() << "fork: " << std::strerror(errno);
}

ChildProcess::~ChildProcess() {
  if (!exited_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
  }
}

std::string ChildProcess::Log() const { return ReadFile(log_); }

void ChildProcess::Signal(int signo) {
  if (!exited_ && pid_ > 0) kill(pid_, signo);
}

std::optional<int> ChildProcess::WaitExit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  PollUntil(
      [&] {
        if (exited_) return true;
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
        exited_ = true;
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return true;
      },
      timeout);
  if (!exited_) return std::nullopt;
  return exit_code_;
}

bool ChildProcess::WaitForLog(const std::string& needle, std::chrono::milliseconds timeout) const {
  return PollUntil([&] { return Log().find(needle) != std::string::npos; }, timeout);
}

}  // namespace landfall::testing
