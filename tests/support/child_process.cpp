#include "tests/support/child_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tests/support/spawn_args.h"
#include "tests/support/testing.h"

namespace landfall::testing {

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
  const pid_t parent = getpid();

  pid_ = fork();
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // The parent may have ended before prctl: then nothing would kill us.
    if (getppid() != parent) _exit(127);
    if (watchdog_entry != nullptr) {
      // WATCHDOG_PID must name the daemon itself: this very process after exec.
      char digits[24];
      int n = 0;
      for (pid_t p = getpid(); p > 0; p /= 10) digits[n++] = static_cast<char>('0' + p % 10);
      char* out = watchdog_entry + std::strlen(kWatchdogPid);
      while (n > 0) *out++ = digits[--n];
      *out = '\0';
    }
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
