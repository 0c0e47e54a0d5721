// Operating landfall for real: `landfall serve` as a child process
// on a fixed free loopback port (so the CLI, reading the same config, can find
// it), with helpers to read the test PostgreSQL directly.
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "tests/cli/cli_fixture.h"
#include "tests/support/child_process.h"

namespace landfall::testing {

using namespace std::chrono_literals;

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

class OperateTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    if (IsSkipped() || HasFailure()) return;
    port_ = FreePort();
    WriteServeConfig();
  }

  // The config both `serve` and the CLI read: the API on port_.
  void WriteServeConfig(int debounce_ms = 100, const std::string& api_extra = "",
                        const std::string& warehouse_extra = "") {
    std::ofstream out(config());
    out << "environment: " << env_ << "\n"
        << "landing:\n  dir: landing\n  debounce_ms: " << debounce_ms << "\n"
        << "state:\n  postgres_url: ${LANDFALL_TEST_PG_URL}\n"
        << "warehouse:\n  path: warehouse.duckdb\n" << warehouse_extra
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
  std::unique_ptr<ChildProcess> StartServe(bool ready = true) {
    auto serve = std::make_unique<ChildProcess>(
        std::vector<std::string>{LandfallBinary(), "serve", "--config", config().string()},
        dir_ / ("serve-" + std::to_string(starts_++) + ".log"));
    EXPECT_TRUE(serve->WaitForLog(ready ? "ready: watching" : "api: listening", 60s))
        << serve->Log();
    return serve;
  }

  void StopServe(ChildProcess& serve) {
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
