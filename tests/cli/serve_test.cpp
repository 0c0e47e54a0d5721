// The daemon, `landfall serve`, as a child process against real PostgreSQL,
// real DuckDB and real inotify: files staged as they land (renamed in,
// written slowly, in new folders, while it was down), periodic scans,
// signals (SIGTERM, a second signal, SIGHUP reload), systemd notifications,
// waiting for the state store, the grace period before quarantine, the
// inotify watch limit, and kill -9 at random moments losing nothing.
//
// DuckDB lets one process write a database file and refuses other opens while
// it does, so the tests watch the daemon through its log and a NOTIFY_SOCKET
// while it runs, and read the warehouse only after it has stopped.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/cli/cli_fixture.h"
#include "tests/support/child_process.h"

namespace landfall::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// An AF_UNIX datagram socket standing in for systemd's notify socket. Bound to
// an abstract name, so the address never depends on the temp dir's length.
class NotifySocket {
 public:
  NotifySocket() {
    static std::atomic<int> counter{0};
    address_ =
        "@landfall-test-notify-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, address_.data(), address_.size());
    addr.sun_path[0] = '\0';
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size());
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), length), 0) << std::strerror(errno);
  }
  ~NotifySocket() { close(fd_); }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  const std::string& address() const { return address_; }

  // Every datagram received so far, in order.
  const std::vector<std::string>& Messages() {
    char buf[4096];
    for (;;) {
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n < 0) break;
      messages_.emplace_back(buf, static_cast<size_t>(n));
    }
    return messages_;
  }

  // Index of the first message with a line equal to `line`, or -1.
  int Find(const std::string& line) {
    const auto& all = Messages();
    for (size_t i = 0; i < all.size(); ++i) {
      std::istringstream lines(all[i]);
      for (std::string l; std::getline(lines, l);) {
        if (l == line) return static_cast<int>(i);
      }
    }
    return -1;
  }

  int Count(const std::string& line) {
    int n = 0;
    for (const auto& m : Messages()) n += m == line;
    return n;
  }

  bool WaitFor(const std::string& line, std::chrono::milliseconds timeout) {
    return PollUntil([&] { return Find(line) >= 0; }, timeout);
  }

 private:
  std::string address_;
  int fd_ = -1;
  std::vector<std::string> messages_;
};

class ServeTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    if (IsSkipped() || HasFailure()) return;
    WriteServeConfig();
  }

  // A config for serve: debug logs (the tests read them), a short debounce.
  void WriteServeConfig(const std::string& extra_landing = "", const std::string& extra_top = "") {
    std::ofstream out(config());
    out << "environment: " << env_ << "\n"
        << "landing:\n  dir: landing\n  quarantine_dir: quarantine\n  debounce_ms: 100\n"
        << extra_landing << "state:\n  postgres_url: ${LANDFALL_TEST_PG_URL}\n"
        << WarehouseYaml()
        << "workers: 2\n"
        // Any free port: tests run in parallel, and 8600 may be taken.
        << "api:\n  listen: 127.0.0.1:0\n"
        << extra_top << "log: {level: debug, format: text}\n";
  }

  // Starts `landfall serve`, logging to serve-<n>.log, notifying `notify_`.
  std::unique_ptr<ChildProcess> Start(std::vector<std::string> extra_env = {},
                                      bool watchdog_pid = false,
                                      std::vector<std::string> wrapper = {}) {
    extra_env.push_back("NOTIFY_SOCKET=" + notify_.address());
    log_ = dir_ / ("serve-" + std::to_string(starts_++) + ".log");
    std::vector<std::string> args = wrapper;
    args.insert(args.end(), {LandfallBinary(), "serve", "--config", config().string()});
    return std::make_unique<ChildProcess>(
        args, log_, ChildOptions{.extra_env = extra_env, .watchdog_pid = watchdog_pid});
  }

  // Starts serve and waits for READY=1 (sent after the start-up scan).
  std::unique_ptr<ChildProcess> StartReady() {
    const int before = ReadyCount();
    auto serve = Start();
    EXPECT_TRUE(PollUntil([&] { return ReadyCount() > before; }, 60s))
        << "no READY=1 within 60 s; log:\n"
        << serve->Log();
    return serve;
  }

  // READY=1 datagrams so far.
  int ReadyCount() {
    int n = 0;
    for (const auto& m : notify_.Messages()) n += m.rfind("READY=1", 0) == 0;
    return n;
  }

  // Stops serve with SIGTERM and expects a clean exit within `timeout`.
  void Stop(ChildProcess& serve, std::chrono::milliseconds timeout = 30s) {
    serve.Signal(SIGTERM);
    auto code = serve.WaitExit(timeout);
    ASSERT_TRUE(code.has_value()) << "serve did not exit within the timeout; log:\n" << serve.Log();
    EXPECT_EQ(*code, 0) << serve.Log();
  }

  // Rows of `table` as the log tells it: create and rebuild lines give the
  // table's total, append and evolve lines add to it.
  static long long LoggedRows(const std::string& log, const std::string& table) {
    static const std::regex line(
        R"(table (.+): (create|rebuild|append|evolve) (\d+) batches, (\d+) rows in)");
    long long total = 0;
    std::istringstream in(log);
    for (std::string l; std::getline(in, l);) {
      std::smatch m;
      if (!std::regex_search(l, m, line) || m[1] != table) continue;
      const long long rows = std::stoll(m[4]);
      total = (m[2] == "create" || m[2] == "rebuild") ? rows : total + rows;
    }
    return total;
  }

  // Waits until the log shows `rows` rows staged in `table`.
  bool WaitStaged(ChildProcess& serve, const std::string& table, long long rows,
                  std::chrono::milliseconds timeout = 15s) {
    return PollUntil([&] { return LoggedRows(serve.Log(), table) == rows; }, timeout);
  }

  long long DuplicateLedgerEntries() {
    return WarehouseInt(
        "SELECT count(*) FROM (SELECT table_name, batch_id FROM _landfall.ledger "
        "GROUP BY 1, 2 HAVING count(*) > 1) t");
  }

  size_t QuarantinedFiles() {
    size_t n = 0;
    std::error_code ec;
    if (!fs::exists(quarantine(), ec)) return 0;
    for (fs::recursive_directory_iterator it(quarantine(), ec), end; !ec && it != end;
         it.increment(ec)) {
      n += it->is_regular_file();
    }
    return n;
  }

  NotifySocket notify_;
  fs::path log_;
  int starts_ = 0;
};

TEST_F(ServeTest, FileDroppedWhileServingIsStagedWithinASecond) {
  Land("orders/part-0.parquet", 10);
  auto serve = StartReady();
  ASSERT_TRUE(WaitStaged(*serve, "orders", 10));

  const auto dropped = Clock::now();
  LandAtomically("orders/part-1.parquet", 1000, 10);
  ASSERT_TRUE(WaitStaged(*serve, "orders", 1010)) << serve->Log();
  const auto latency =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - dropped);
  std::cout << "[ serve    ] file landed -> staged (log line seen) in " << latency.count()
            << " ms\n";
  EXPECT_LT(latency, 3s) << "debounce is 100 ms; staging should take well under a second";
  Stop(*serve);

  EXPECT_EQ(Rows("orders"), 1010);
  EXPECT_EQ(LedgerBatches("orders"), 2);
}

TEST_F(ServeTest, WriteThenRenameAndSlowWritersAreStagedOnceAndComplete) {
  auto serve = StartReady();

  // Write-then-rename: only the rename makes it a batch.
  LandAtomically("orders/renamed.parquet", 300);

  // Slow writers: the whole file is made elsewhere, then written into the
  // landing directory in pieces with pauses.
  WriteParquet(dir_ / "scratch/one.parquet",
               "SELECT (i + 1000)::INTEGER AS id, 'n' || i AS name, i * 1.5 AS amount "
               "FROM range(5000) t(i)");
  WriteParquet(dir_ / "scratch/two.parquet",
               "SELECT (i + 9000)::INTEGER AS id, 'n' || i AS name, i * 1.5 AS amount "
               "FROM range(4000) t(i)");
  auto write_in_pieces = [](const fs::path& from, const fs::path& to, bool reopen_each_piece) {
    const std::string bytes = ReadFile(from);
    const size_t piece = bytes.size() / 5 + 1;
    int fd = -1;
    for (size_t off = 0; off < bytes.size(); off += piece) {
      if (fd < 0) fd = open(to.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      ASSERT_GE(fd, 0);
      const size_t n = std::min(piece, bytes.size() - off);
      ASSERT_EQ(write(fd, bytes.data() + off, n), static_cast<ssize_t>(n));
      if (reopen_each_piece) {
        // Each close is an IN_CLOSE_WRITE of a file that is not complete yet.
        close(fd);
        fd = -1;
      }
      std::this_thread::sleep_for(300ms);
    }
    if (fd >= 0) close(fd);
  };
  // One open, many writes: a single IN_CLOSE_WRITE at the end, but runs of
  // the table (for the renamed file) may scan it half-written.
  write_in_pieces(dir_ / "scratch/one.parquet", landing() / "orders/slow-open.parquet", false);
  // Open, write, close, again and again: every close announces a file whose
  // footer is not there yet.
  write_in_pieces(dir_ / "scratch/two.parquet", landing() / "orders/slow-reopen.parquet", true);

  ASSERT_TRUE(WaitStaged(*serve, "orders", 300 + 5000 + 4000)) << serve->Log();
  const std::string log = serve->Log();
  EXPECT_NE(log.find("still being written"), std::string::npos)
      << "a half-written file should have been deferred, not quarantined:\n"
      << log;
  Stop(*serve);

  EXPECT_EQ(Rows("orders"), 9300);
  EXPECT_EQ(LedgerBatches("orders"), 3);
  EXPECT_EQ(DuplicateLedgerEntries(), 0);
  EXPECT_EQ(QuarantinedFiles(), 0u) << serve->Log();
  EXPECT_EQ(WarehouseInt("SELECT count(DISTINCT id) FROM staging.orders"), 9300);
}

TEST_F(ServeTest, NewTableFolderAndNewNestedPartitionFolderArePickedUp) {
  Land("orders/part-0.parquet", 10);
  auto serve = StartReady();

  // Folders and files created at once (mkdir -p, then write): the files may
  // land before the watch on their folder exists.
  Land("customers/region=eu/part-0.parquet", 7);
  Land("orders/date=2026-11-02/hour=01/part-0.parquet", 20, 10);
  ASSERT_TRUE(WaitStaged(*serve, "customers", 7)) << serve->Log();
  ASSERT_TRUE(WaitStaged(*serve, "orders", 30)) << serve->Log();
  // And a file into the now-watched nested folder later.
  LandAtomically("orders/date=2026-11-02/hour=01/part-1.parquet", 5, 30);
  ASSERT_TRUE(WaitStaged(*serve, "orders", 35)) << serve->Log();
  Stop(*serve);

  EXPECT_EQ(Rows("customers"), 7);
  EXPECT_EQ(Rows("orders"), 35);
}

TEST_F(ServeTest, StartUpScanReconcilesFilesThatLandedWhileTheDaemonWasDown) {
  Land("orders/part-0.parquet", 10);
  auto serve = StartReady();
  ASSERT_TRUE(WaitStaged(*serve, "orders", 10));
  Stop(*serve);

  // While it is down: new batches, a new table, a nested folder.
  Land("orders/part-1.parquet", 20, 10);
  Land("orders/2026/11/part-2.parquet", 30, 30);
  Land("events/part-0.parquet", 40);
  serve = StartReady();
  // READY=1 comes after the start-up scan and its run: everything is staged.
  const std::string log = serve->Log();
  EXPECT_EQ(LoggedRows(log, "orders"), 50) << log;  // appended by this daemon
  EXPECT_EQ(LoggedRows(log, "events"), 40) << log;
  Stop(*serve);

  EXPECT_EQ(Rows("orders"), 60);
  EXPECT_EQ(Rows("events"), 40);
  EXPECT_EQ(LedgerBatches("orders"), 3);
}

TEST_F(ServeTest, PeriodicScanFindsWhatTheWatcherCannotSee) {
  WriteServeConfig("  scan_interval_s: 1\n");
  Land("orders/part-0.parquet", 10);
  auto serve = StartReady();
  ASSERT_TRUE(WaitStaged(*serve, "orders", 10));
  // A file published with link(2) raises only IN_CREATE, which the watcher
  // does not take as "ready" (a created file is usually still empty): only a
  // scan can find it.
  WriteParquet(dir_ / "outside/part-1.parquet",
               "SELECT (i + 10)::INTEGER AS id, 'n' || i AS name, i * 1.5 AS amount "
               "FROM range(25) t(i)");
  fs::create_hard_link(dir_ / "outside/part-1.parquet", landing() / "orders/part-1.parquet");
  ASSERT_TRUE(WaitStaged(*serve, "orders", 35, 10s)) << serve->Log();
  EXPECT_NE(serve->Log().find("run started: full scan (scan)"), std::string::npos);
  Stop(*serve);
  EXPECT_EQ(Rows("orders"), 35);
}

TEST_F(ServeTest, SigtermDuringARunExitsZeroAndTheNextRunStagesExactlyTheMissingBatches) {
  auto serve = StartReady();
  long long expected = 0;
  int files = 0;
  for (int t = 0; t < 3; ++t) {
    for (int b = 0; b < 2; ++b) {
      Land("t" + std::to_string(t) + "/part-" + std::to_string(b) + ".parquet", 200'000,
           b * 1'000'000);
      expected += 200'000;
      ++files;
    }
  }
  ASSERT_TRUE(serve->WaitForLog("run started: table", 10s)) << serve->Log();
  serve->Signal(SIGTERM);
  auto code = serve->WaitExit(30s);
  ASSERT_TRUE(code.has_value()) << serve->Log();
  EXPECT_EQ(*code, 0) << serve->Log();
  EXPECT_NE(serve->Log().find("SIGTERM: stopping"), std::string::npos);

  const long long staged_by_serve = WarehouseInt("SELECT count(*) FROM _landfall.ledger");
  auto out = Run();
  long long staged_by_run = 0;
  for (const auto& t : out["tables"]) staged_by_run += t["batches"].get<long long>();
  std::cout << "[ serve    ] SIGTERM mid-run: serve staged " << staged_by_serve
            << " batches, the next `landfall run` " << staged_by_run << " of " << files << "\n";
  EXPECT_EQ(staged_by_serve + staged_by_run, files);
  long long rows = 0;
  for (int t = 0; t < 3; ++t) rows += Rows("t" + std::to_string(t));
  EXPECT_EQ(rows, expected);
  EXPECT_EQ(DuplicateLedgerEntries(), 0);
  EXPECT_EQ(Run()["run_id"], 0);
}

TEST_F(ServeTest, SecondSignalExitsAtOnceAndNothingIsHalfStaged) {
  auto serve = StartReady();
  for (int b = 0; b < 4; ++b) {
    Land("big/part-" + std::to_string(b) + ".parquet", 500'000, b * 1'000'000);
  }
  ASSERT_TRUE(serve->WaitForLog("run started: table big", 10s)) << serve->Log();
  serve->Signal(SIGINT);
  ASSERT_TRUE(serve->WaitForLog("SIGINT: stopping", 5s));
  serve->Signal(SIGINT);
  auto code = serve->WaitExit(10s);
  ASSERT_TRUE(code.has_value());
  // 130 when the second signal came while the run was in flight; 0 when the
  // run had already finished (the machine was fast).
  EXPECT_TRUE(*code == 130 || *code == 0) << *code << "\n" << serve->Log();
  std::cout << "[ serve    ] second SIGINT: exit code " << *code << "\n";

  auto out = Run();
  EXPECT_EQ(out["ok"], true);
  EXPECT_EQ(Rows("big"), 2'000'000);
  EXPECT_EQ(LedgerBatches("big"), 4);
  EXPECT_EQ(DuplicateLedgerEntries(), 0);
}

TEST_F(ServeTest, SighupWithABrokenConfigKeepsRunningWithTheOldOne) {
  auto serve = StartReady();
  std::ofstream(config()) << "landing: [this is: not valid\n";
  serve->Signal(SIGHUP);
  ASSERT_TRUE(serve->WaitForLog("config not reloaded, keeping the running one", 5s))
      << serve->Log();

  Land("orders/part-0.parquet", 10);
  ASSERT_TRUE(WaitStaged(*serve, "orders", 10)) << serve->Log();

  // A valid config: live keys apply, the others wait for a restart.
  WriteServeConfig("  scan_interval_s: 60\n");
  {
    std::string text = ReadFile(config());
    text.replace(text.find("workers: 2"), 10, "workers: 3");
    text.replace(text.find("level: debug"), 12, "level: info");
    std::ofstream(config()) << text;
  }
  serve->Signal(SIGHUP);
  ASSERT_TRUE(serve->WaitForLog("applied: log.level, landing.scan_interval_s", 5s)) << serve->Log();
  ASSERT_TRUE(
      serve->WaitForLog("need a restart to take effect (still using the old values): workers", 5s))
      << serve->Log();
  Land("orders/part-1.parquet", 5, 10);
  ASSERT_TRUE(WaitStaged(*serve, "orders", 15)) << serve->Log();
  // log.level is now info: debug lines stop.
  const std::string log = serve->Log();
  const auto reloaded = log.find("applied: log.level");
  EXPECT_EQ(log.find("debug", reloaded), std::string::npos) << log.substr(reloaded);
  Stop(*serve);
  EXPECT_EQ(Rows("orders"), 15);
}

TEST_F(ServeTest, NotifySocketGetsReadyAfterTheFirstScanThenWatchdogStatusAndStopping) {
  Land("orders/part-0.parquet", 10);
  auto serve = Start({"WATCHDOG_USEC=200000"}, /*watchdog_pid=*/true);
  ASSERT_TRUE(notify_.WaitFor("READY=1", 60s)) << serve->Log();
  // READY=1 only after migrations, reconciliation and the first scan's run.
  EXPECT_EQ(LoggedRows(serve->Log(), "orders"), 10) << serve->Log();
  const int ready = notify_.Find("READY=1");
  EXPECT_NE(notify_.Messages()[ready].find("STATUS="), std::string::npos)
      << notify_.Messages()[ready];
  // WATCHDOG=1 every 100 ms (half of WATCHDOG_USEC); from the start, too.
  ASSERT_TRUE(PollUntil([&] { return notify_.Count("WATCHDOG=1") >= 5; }, 5s));
  EXPECT_LT(notify_.Find("WATCHDOG=1"), ready) << "the watchdog is fed during start-up as well";

  Stop(*serve);
  const int stopping = notify_.Find("STOPPING=1");
  EXPECT_GT(stopping, ready);
  std::string all;
  for (const auto& m : notify_.Messages()) {
    if (m != "WATCHDOG=1") all += "  " + m + "\n";
  }
  std::cout << "[ serve    ] notifications (WATCHDOG=1 x" << notify_.Count("WATCHDOG=1")
            << " not shown):\n"
            << all;
}

TEST_F(ServeTest, StartUpWaitsForTheStateStoreAndStopsCleanlyWhileWaiting) {
  // Nothing listens on port 1: connection refused, a transient error.
  std::string text = ReadFile(config());
  text.replace(text.find("${LANDFALL_TEST_PG_URL}"), std::strlen("${LANDFALL_TEST_PG_URL}"),
               "postgresql://postgres@127.0.0.1:1/none");
  std::ofstream(config()) << text;
  auto serve = Start();
  ASSERT_TRUE(serve->WaitForLog("state store unreachable", 10s)) << serve->Log();
  ASSERT_TRUE(serve->WaitForLog("retrying in", 10s));
  EXPECT_EQ(notify_.Find("READY=1"), -1);
  Stop(*serve, 10s);
}

TEST_F(ServeTest, TruncatedFileIsQuarantinedOnlyAfterTheGracePeriod) {
  Land("orders/good.parquet", 10);
  // A Parquet file cut short: the header is there, the footer is not, and
  // nobody is writing it any more.
  Land("orders/whole.parquet", 1000);
  std::string bytes = ReadFile(landing() / "orders/whole.parquet");
  fs::remove(landing() / "orders/whole.parquet");
  std::ofstream(landing() / "orders/cut.parquet", std::ios::binary)
      << bytes.substr(0, bytes.size() / 2);
  const auto written = Clock::now();

  auto serve = StartReady();
  EXPECT_EQ(LoggedRows(serve->Log(), "orders"), 10) << "the good file stages at once";
  ASSERT_TRUE(serve->WaitForLog("quarantined orders/cut.parquet", 30s)) << serve->Log();
  const auto waited = Clock::now() - written;
  std::cout << "[ serve    ] truncated file quarantined after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count() << " ms\n";
  EXPECT_GE(waited, 9s) << "quarantined before the 10 s grace";
  Stop(*serve);
  EXPECT_TRUE(fs::exists(quarantine() / "orders/cut.parquet"));
  EXPECT_EQ(Rows("orders"), 10);
}

TEST_F(ServeTest, WatchLimitFallsBackToPeriodicScanning) {
  // A user namespace with its own inotify watch limit: 2 watches (the landing
  // directory and orders/), so a new table folder cannot be watched.
  if (RunCommand({"/usr/bin/unshare", "-Ur", "true"}).exit_code != 0) {
    GTEST_SKIP() << "unshare -Ur (user namespaces) not available";
  }
  WriteServeConfig("  scan_interval_s: 1\n");
  Land("orders/part-0.parquet", 10);
  auto serve = Start({}, false,
                     {"/usr/bin/unshare", "-Ur", "/bin/sh", "-c",
                      "echo 2 > /proc/sys/user/max_inotify_watches && exec \"$0\" \"$@\""});
  ASSERT_TRUE(serve->WaitForLog("ready:", 60s)) << serve->Log();

  fs::create_directories(landing() / "customers");
  ASSERT_TRUE(serve->WaitForLog("inotify watch limit is reached", 5s)) << serve->Log();
  EXPECT_TRUE(serve->WaitForLog("fs.inotify.max_user_watches", 1s));
  // The folder's own scan has run; this file raises no event at all.
  std::this_thread::sleep_for(500ms);
  LandAtomically("customers/part-0.parquet", 7);
  ASSERT_TRUE(WaitStaged(*serve, "customers", 7, 10s)) << serve->Log();
  EXPECT_NE(serve->Log().find("degraded"), std::string::npos);
  Stop(*serve);
  EXPECT_EQ(Rows("customers"), 7);
}

// The crash-safety proof: files keep landing in several tables while the
// daemon is killed with SIGKILL at random moments and restarted; in the end
// every staging table holds exactly the rows of its Parquet files and no batch
// is in the ledger twice.
TEST_F(ServeTest, KillDashNineLoopLosesAndDuplicatesNothing) {
  constexpr int kTables = 4;
  constexpr int kKills = 15;
  std::mutex mu;
  std::map<std::string, long long> expected_rows;
  std::map<std::string, int> expected_files;
  std::atomic<bool> stop_landing{false};
  std::thread lander([&] {
    std::mt19937 rng(20261121);
    for (int n = 0; !stop_landing; ++n) {
      const std::string table = "t" + std::to_string(rng() % kTables);
      const int rows = 100 + static_cast<int>(rng() % 5000);
      std::string rel = table + (n % 4 == 3 ? "/day=" + std::to_string(n % 3) : "") + "/part-" +
                        std::to_string(n) + ".parquet";
      if (n % 2 == 0) {
        LandAtomically(rel, rows, n * 100'000);
      } else {
        Land(rel, rows, n * 100'000);  // written in place
      }
      {
        std::lock_guard lock(mu);
        expected_rows[table] += rows;
        ++expected_files[table];
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(30 + rng() % 120));
    }
  });

  std::mt19937 rng(42);
  int kills_after_ready = 0, kills_mid_run = 0;
  auto count = [](const std::string& text, const std::string& needle) {
    int n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
      ++n;
    return n;
  };
  for (int k = 0; k < kKills; ++k) {
    auto serve = Start();
    // A third of the kills hit start-up (migrations, reconciliation, the first
    // scan), the rest a daemon that is staging what keeps landing.
    const auto delay = k % 3 == 0 ? 20 + rng() % 400 : 400 + rng() % 2600;
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    serve->Signal(SIGKILL);
    const std::string log = serve->Log();
    kills_after_ready += log.find("ready:") != std::string::npos;
    kills_mid_run += count(log, "run started:") > count(log, "run finished:");
    auto code = serve->WaitExit(10s);
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(*code, 128 + SIGKILL) << serve->Log();
  }
  stop_landing = true;
  lander.join();

  // Restart once more: the start-up scan must make everything right.
  auto serve = StartReady();
  Stop(*serve);

  long long files = 0, rows = 0;
  for (int t = 0; t < kTables; ++t) {
    const std::string table = "t" + std::to_string(t);
    EXPECT_EQ(Rows(table), expected_rows[table]) << table;
    EXPECT_EQ(LedgerBatches(table), expected_files[table]) << table;
    files += expected_files[table];
    rows += expected_rows[table];
  }
  EXPECT_EQ(DuplicateLedgerEntries(), 0);
  EXPECT_EQ(QuarantinedFiles(), 0u);
  EXPECT_EQ(Run()["run_id"], 0) << "a run after the daemon has nothing left to do";
  std::cout << "[ serve    ] kill -9 loop: " << kKills << " kills (" << kKills - kills_after_ready
            << " before READY, " << kills_mid_run << " with a run in flight), " << files
            << " files, " << rows << " rows in " << kTables << " tables; staged exactly once\n";
}

}  // namespace
}  // namespace landfall::testing
