// Operating landfall for real: `landfall serve` as a child process
// on a fixed free loopback port (so the CLI, reading the same config, can find
// it), with helpers to read the test PostgreSQL directly.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <optional>
#include <sstream>
#include <thread>

#include "tests/cli/cli_fixture.h"
#include "tests/support/spawn_args.h"

extern char** environ;

namespace landfall::testing {

using namespace std::chrono_literals;

// Polls `done` every 20 ms until it holds or `timeout` passes.
inline bool PollUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
}

inline std::string Slurp(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A port that was free a moment ago (bound to 0 and released).
inline int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// A child process (landfall serve or run) with stdout and stderr in `log`.
class Child {
 public:
  Child(const std::vector<std::string>& args, const std::filesystem::path& log,
        const std::vector<std::string>& extra_env = {})
      : log_(log) {
    CStringArray envp = EnvironWith(extra_env);
    CStringArray argv(args);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    EXPECT_EQ(posix_spawn(&pid_, argv.data()[0], &actions, nullptr, argv.data(), envp.data()), 0);
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Child() {
    if (!exited_ && pid_ > 0) {
      kill(pid_, SIGKILL);
      int status;
      waitpid(pid_, &status, 0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  std::string Log() const { return Slurp(log_); }
  void Signal(int signo) {
    if (!exited_) kill(pid_, signo);
  }
  // The exit code (128 + signal when killed), or nullopt if still running after `timeout`.
  std::optional<int> WaitExit(std::chrono::milliseconds timeout) {
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
  bool WaitForLog(const std::string& needle, std::chrono::milliseconds timeout) {
    return PollUntil([&] { return Log().find(needle) != std::string::npos; }, timeout);
  }

 private:
  std::filesystem::path log_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
};

class OperateTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    if (IsSkipped() || HasFailure()) return;
    port_ = FreePort();
    WriteServeConfig();
  }

  // The config both `serve` and the CLI read: the API on port_.
  void WriteServeConfig(int debounce_ms = 100, const std::string& api_extra = "") {
    std::ofstream out(config());
    out << "environment: " << env_ << "\n"
        << "landing:\n  dir: landing\n  debounce_ms: " << debounce_ms << "\n"
        << "state:\n  postgres_url: ${LANDFALL_TEST_PG_URL}\n"
        << "warehouse:\n  path: warehouse.duckdb\n"
        << "workers: 2\n"
        << "api:\n  listen: 127.0.0.1:" << port_ << "\n"
        << api_extra << "log: {level: info, format: text}\n";
  }

  // Another config of the same environment: its own warehouse file and no API,
  // so the CLI never finds a daemon through it.
  std::filesystem::path WriteOtherWriterConfig() {
    const auto path = dir_ / "other.yaml";
    std::ofstream out(path);
    out << "environment: " << env_ << "\n"
        << "landing:\n  dir: landing\n"
        << "state:\n  postgres_url: ${LANDFALL_TEST_PG_URL}\n"
        << "warehouse:\n  path: other.duckdb\n"
        << "api:\n  enabled: false\n"
        << "log: {level: warn, format: text}\n";
    return path;
  }

  // Starts `landfall serve` with config() and waits for its "ready:" line
  // (after the start-up scan and run), or only for its API when `ready` is
  // false (with a long debounce, the start-up scan waits for it).
  std::unique_ptr<Child> StartServe(bool ready = true) {
    auto serve = std::make_unique<Child>(
        std::vector<std::string>{LandfallBinary(), "serve", "--config", config().string()},
        dir_ / ("serve-" + std::to_string(starts_++) + ".log"));
    EXPECT_TRUE(serve->WaitForLog(ready ? "ready: watching" : "api: listening", 60s))
        << serve->Log();
    return serve;
  }

  void StopServe(Child& serve) {
    serve.Signal(SIGTERM);
    auto code = serve.WaitExit(30s);
    ASSERT_TRUE(code.has_value()) << serve.Log();
    EXPECT_EQ(*code, 0) << serve.Log();
  }

  // Runs `sql` on the test PostgreSQL with $1 = this test's environment;
  // the first column of every row ("NULL" for NULL).
  std::vector<std::string> Pg(const std::string& sql) {
    return PgQuery(sql, env_);
  }

  int port_ = 0;
  int starts_ = 0;
};

}  // namespace landfall::testing
