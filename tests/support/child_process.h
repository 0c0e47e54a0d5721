// A child process for tests that run landfall as a process of its own
// (`landfall serve`, a `landfall run` to kill mid-run): stdout and stderr to a
// log file, stdin from /dev/null, and never outliving the test.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace landfall::testing {

struct ChildOptions {
  // "NAME=value" entries added after this process's environment.
  std::vector<std::string> extra_env;
  // Set WATCHDOG_PID to the child's own pid, as systemd does for the daemon
  // it watches (the pid is known only after the fork).
  bool watchdog_pid = false;
};

// Starts `args` (args[0] is the program's path; no PATH search) at
// construction, with stdout and stderr to `log` (created, or truncated). The
// child is killed with SIGKILL and reaped at destruction if it is still
// running, and killed by the kernel when the thread that started it ends
// (PR_SET_PDEATHSIG, set by setpriv(1) before it execs the program, which
// keeps the pid), so a test run that is killed leaves no child behind. It is
// spawned (posix_spawn), not forked: fork() would run every loaded library's
// atfork handlers in the test process (DuckDB's jemalloc locks all its arenas
// there). A failure to start fails the current test (ADD_FAILURE); an exec
// failure is a non-zero exit code (126 or 127).
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& args, std::filesystem::path log,
               const ChildOptions& options = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Everything the child has logged so far.
  std::string Log() const;
  // Sends `signo` unless the child has been reaped.
  void Signal(int signo);
  // The exit code (128 + the signal when killed by one), or nullopt if the
  // child is still running after `timeout`. Once it has exited, returns the
  // same code at once.
  std::optional<int> WaitExit(std::chrono::milliseconds timeout);
  // Whether `needle` appears in the log within `timeout`.
  bool WaitForLog(const std::string& needle, std::chrono::milliseconds timeout) const;

 private:
  std::filesystem::path log_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
};

}  // namespace landfall::testing
