// The warehouse under faults: no crash, bad input or outage may brick the
// warehouse, block a table, or stage a batch twice. Through the real binary.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>

#include "tests/cli/cli_fixture.h"

namespace landfall::testing {
namespace {

namespace fs = std::filesystem;

// Starts `landfall run` on `config` and kills it with SIGKILL `after` the
// first of `watched` appears (polled every 50 us), or when it exits by itself.
void RunAndKillOnceAFileAppears(const fs::path& config, const std::vector<fs::path>& watched,
                                std::chrono::microseconds after) {
  ChildProcess run({LandfallBinary(), "run", "--config", config.string()}, "/dev/null");
  for (;;) {
    if (run.WaitExit(std::chrono::milliseconds(0))) return;  // finished first
    std::error_code ec;
    if (std::any_of(watched.begin(), watched.end(),
                    [&](const fs::path& f) { return fs::exists(f, ec); })) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  std::this_thread::sleep_for(after);
}  // ~ChildProcess kills it with SIGKILL and reaps it.

class WarehouseSafetyTest : public CliTest {
 protected:
  // Every file the warehouse may have left in its folder, so the next run
  // starts from no warehouse at all.
  void RemoveWarehouse() {
    for (const char* suffix : {"", ".wal", ".creating", ".creating.wal"}) {
      fs::path file = warehouse();
      file += suffix;
      fs::remove(file);
    }
  }

  // status|error_code|error_message of the batch at `rel` in the state store
  // ("" if unknown).
  std::string BatchVerdict(const std::string& rel) {
    auto rows = PgSession().Query(
        "SELECT status || '|' || coalesce(error_code, '') || '|' || coalesce(error_message, '') "
        "FROM batches WHERE environment = $1 AND path = $2",
        {env_, rel});
    return rows.size() == 1 ? rows[0] : "";
  }
  static std::string StatusAndCode(const std::string& verdict) {
    auto second = verdict.find('|', verdict.find('|') + 1);
    return verdict.substr(0, second);
  }

  // Overwrites the middle of a Parquet file's data pages (between the leading
  // magic and the footer) with garbage; the footer stays valid, so the file
  // passes inspection and fails only when its rows are read.
  static void CorruptDataPages(const fs::path& file) {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f) << file;
    f.seekg(-8, std::ios::end);
    const auto footer_start_from_end = static_cast<long long>(f.tellg());
    uint32_t footer_len = 0;
    f.read(reinterpret_cast<char*>(&footer_len), 4);
    const long long data_end = footer_start_from_end - footer_len;  // first footer byte
    ASSERT_GT(data_end, 64) << "too little data to corrupt";
    // From the first page header on, half of the data.
    const long long from = 4, to = 4 + (data_end - 4) / 2;
    f.seekp(from);
    std::string garbage(static_cast<size_t>(to - from), '\xff');
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
    ASSERT_TRUE(f.good());
  }

  void ExpectStagedOnce(const std::string& table, long long rows, long long batches) {
    EXPECT_EQ(Rows(table), rows) << table;
    EXPECT_EQ(LedgerBatches(table), batches) << table;
    EXPECT_EQ(QueryDuckDbInt(warehouse(),
                             "SELECT count(*) FROM (SELECT batch_id FROM _landfall.ledger WHERE "
                             "table_name = '" +
                                 table + "' GROUP BY batch_id HAVING count(*) > 1)"),
              0)
        << table;
  }
};

// The first run creates the warehouse file. Killed at any instant of that, the
// next run must find either no file or a valid one, never a file DuckDB refuses.
TEST_F(WarehouseSafetyTest, FirstRunKilledWhileCreatingTheWarehouseNeverBricksIt) {
  Land("t0/part-0.parquet", 100);
  Land("t1/part-0.parquet", 250, 100);
  fs::path temp = warehouse();
  temp += ".creating";
  constexpr int kKills = 40;
  for (int i = 0; i < kKills; ++i) {
    SCOPED_TRACE("kill " + std::to_string(i));
    // A fresh warehouse and a fresh environment: every kill hits a first run.
    RemoveWarehouse();
    env_ = UniqueEnvironment("cli");
    WriteConfig();
    if (i % 2 == 0) {
      // Spread over the first 60 ms, where the process opens the state store
      // and creates the warehouse file.
      RunAndKill(std::chrono::microseconds(i * 60000 / (kKills - 2)));
    } else {
      // Within 2 ms of the moment a file of the warehouse appears: creating
      // one takes about a millisecond, easily missed by the spread above.
      RunAndKillOnceAFileAppears(config(), {warehouse(), temp},
                                 std::chrono::microseconds((i / 2) * 2000 / (kKills / 2)));
    }
    auto r = Landfall({"run"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    ExpectStagedOnce("t0", 100, 1);
    ExpectStagedOnce("t1", 250, 1);
  }
}

// ---- batches that cannot be decoded are quarantined, the rest of the table stages ----

// A data page is garbage behind a valid footer: the batch passes inspection and
// fails only when its rows are read. It is quarantined with DuckDB's error; the
// table's other batches stage in the same run, and the next run is quiet.
TEST_F(WarehouseSafetyTest, CorruptDataPageIsQuarantinedAndTheRestOfTheTableStages) {
  Land("t/p0.parquet", 100);
  Run();
  Land("t/p1.parquet", 2000, 100);
  CorruptDataPages(landing() / "t/p1.parquet");
  Land("t/p2.parquet", 30, 2100);

  auto out = Run();  // a quarantine is not a table failure: exit 0
  EXPECT_EQ(out["ok"], true) << out.dump();
  ExpectStagedOnce("t", 130, 2);
  EXPECT_EQ(
      QueryDuckDbInt(warehouse(), "SELECT count(*) FROM staging.t WHERE id >= 100 AND id < 2100"),
      0);
  EXPECT_EQ(StatusAndCode(BatchVerdict("t/p1.parquet")), "quarantined|undecodable")
      << BatchVerdict("t/p1.parquet");
  EXPECT_EQ(StatusAndCode(BatchVerdict("t/p2.parquet")), "staged|");
  EXPECT_EQ(Run()["run_id"], 0) << "the quarantined batch is not retried";
}

// The same on a table's first run (a create from every batch).
TEST_F(WarehouseSafetyTest, CorruptDataPageInANewTableIsQuarantinedAndTheTableIsCreated) {
  Land("t/p0.parquet", 100);
  Land("t/p1.parquet", 2000, 100);
  CorruptDataPages(landing() / "t/p1.parquet");
  Land("t/p2.parquet", 30, 2100);

  auto out = Run();
  EXPECT_EQ(out["ok"], true) << out.dump();
  ExpectStagedOnce("t", 130, 2);
  EXPECT_EQ(StatusAndCode(BatchVerdict("t/p1.parquet")), "quarantined|undecodable");
  EXPECT_EQ(Run()["run_id"], 0);
}

// A TIMESTAMP of 9999-12-31 cannot be cast into the table's TIMESTAMP_NS
// column (nanoseconds since 1970 end in 2262): that batch is quarantined with
// the cast error, the others stage.
TEST_F(WarehouseSafetyTest, ValueThatCannotTakeItsColumnsTypeIsQuarantinedAndTheRestStages) {
  WriteParquet(landing() / "t/p0.parquet",
               "SELECT i::INTEGER AS id, TIMESTAMP_NS '2026-01-01 00:00:00.123456789' AS ts "
               "FROM range(3) t(i)");
  Run();
  WriteParquet(landing() / "t/p1.parquet",
               "SELECT 3::INTEGER AS id, TIMESTAMP '9999-12-31 00:00:00' AS ts");
  WriteParquet(landing() / "t/p2.parquet",
               "SELECT 4::INTEGER AS id, TIMESTAMP_NS '2026-02-01 00:00:00' AS ts");

  auto out = Run();
  EXPECT_EQ(out["ok"], true) << out.dump();
  EXPECT_EQ(Rows("t"), 4);
  EXPECT_EQ(QueryDuckDb(warehouse(), "SELECT id FROM staging.t ORDER BY id"),
            (std::vector<std::string>{"0", "1", "2", "4"}));
  // No value was rounded on the way: the nanoseconds are still there.
  EXPECT_EQ(QueryDuckDb(warehouse(), "SELECT ts::VARCHAR FROM staging.t WHERE id = 0"),
            (std::vector<std::string>{"2026-01-01 00:00:00.123456789"}));
  const std::string verdict = BatchVerdict("t/p1.parquet");
  EXPECT_EQ(StatusAndCode(verdict), "quarantined|undecodable") << verdict;
  EXPECT_EQ(Run()["run_id"], 0);
}

// A column named _landfall_* could never be staged (the prefix is landfall's):
// the file is quarantined when its footer is read, and the table stages the rest.
TEST_F(WarehouseSafetyTest, ReservedColumnNameIsQuarantinedAtInspection) {
  Land("t/p0.parquet", 10);
  Land("t/p1.parquet", 5, 10, ", 'x' AS _landfall_batch");
  Land("t/p2.parquet", 7, 15);

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "t"), "create");
  auto out = Run();
  EXPECT_EQ(out["ok"], true) << out.dump();
  ExpectStagedOnce("t", 17, 2);
  const std::string verdict = BatchVerdict("t/p1.parquet");
  EXPECT_EQ(StatusAndCode(verdict), "quarantined|reserved_column_name") << verdict;
  EXPECT_NE(verdict.find("_landfall_batch"), std::string::npos) << verdict;
  EXPECT_EQ(Run()["run_id"], 0);
}

// ---- the warehouse folder made read-only mid-run ----

// Makes files immutable (chattr +i) for as long as it lives. Tests run as
// root in CI, where a chmod stops nothing; an immutable file refuses every
// write, root's too, even through descriptors opened before.
class Immutable {
 public:
  // False when chattr is unavailable or refused (not root, a filesystem
  // without the attribute).
  static bool Supported(const fs::path& probe_dir) {
    const fs::path probe = probe_dir / ".chattr-probe";
    std::ofstream(probe) << "x";
    const bool ok = Chattr("+i", probe);
    if (ok) Chattr("-i", probe);
    fs::remove(probe);
    return ok;
  }
  explicit Immutable(std::vector<fs::path> paths) {
    for (auto& p : paths) {
      if (fs::exists(p) && Chattr("+i", p)) set_.push_back(std::move(p));
    }
  }
  ~Immutable() { Release(); }
  Immutable(const Immutable&) = delete;
  Immutable& operator=(const Immutable&) = delete;
  void Release() {
    for (const auto& p : set_) Chattr("-i", p);
    set_.clear();
  }

 private:
  static bool Chattr(const std::string& flag, const fs::path& path) {
    return RunCommand({"/usr/bin/chattr", flag, path.string()}).exit_code == 0;
  }
  std::vector<fs::path> set_;
};

// Starts `landfall run` on `config` with stderr to `err_file`; returns its pid.
// The files are opened before the fork: the test freezes the folder they are
// in right after, and a child that opened them itself could find it frozen
// and write its error to the test's own stderr instead.
pid_t StartRun(const fs::path& config, const fs::path& err_file) {
  const std::string binary = LandfallBinary();
  const std::string config_path = config.string();
  const int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  const int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (devnull < 0 || err < 0) {
    ADD_FAILURE() << "cannot open " << err_file << " or /dev/null";
    return -1;
  }
  pid_t pid = fork();
  if (pid == 0) {
    const char* argv[] = {binary.c_str(), "run", "--config", config_path.c_str(), nullptr};
    dup2(devnull, 1);
    dup2(err, 2);
    execv(argv[0], const_cast<char* const*>(argv));
    _exit(127);
  }
  close(devnull);
  close(err);
  return pid;
}

// The warehouse folder, file and WAL become immutable at varying instants of a
// run that stages new batches into four tables. The run must end by itself with
// exit 0 (it finished first), 1 or 3 (a clear error), never a crash; the
// warehouse must hold whole batches only (each table's rows are its ledger's);
// and once writable again, the next run must stage every batch exactly once.
TEST_F(WarehouseSafetyTest, WarehouseMadeReadOnlyMidRunFailsCleanlyAndTheNextRunConverges) {
  if (!Immutable::Supported(dir_.path())) {
    GTEST_SKIP()
        << "chattr +i is unavailable here (needs root and a filesystem with the "
           "immutable attribute, e.g. ext4); chmod cannot make a folder read-only for root";
  }
  long long expected_rows[4] = {0, 0, 0, 0};
  int batches = 0, file = 0;
  auto land_round = [&](int rows) {
    for (int t = 0; t < 4; ++t) {
      Land("t" + std::to_string(t) + "/part-" + std::to_string(file++) + ".parquet", rows, 0);
      expected_rows[t] += rows;
    }
    ++batches;
  };
  land_round(10);
  Run();
  constexpr int kRounds = 12;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    land_round(20000 + round);
    const fs::path err_file = dir_ / "run.err";
    pid_t pid = StartRun(config(), err_file);
    ASSERT_GT(pid, 0);
    // From at once to well after the run has started writing.
    std::this_thread::sleep_for(std::chrono::milliseconds(round * 25));
    fs::path wal = warehouse();
    wal += ".wal";
    Immutable frozen({warehouse(), wal, dir_.path()});
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    std::ifstream err_in(err_file);
    const std::string err((std::istreambuf_iterator<char>(err_in)), {});
    // What the run printed last says why it died (libstdc++ names an
    // exception that escaped, glibc a heap error).
    ASSERT_TRUE(WIFEXITED(status)) << "the run crashed instead of failing: status " << status
                                   << "; its stderr:\n" << err;
    const int code = WEXITSTATUS(status);
    EXPECT_TRUE(code == 0 || code == 1 || code == 3) << code << ": " << err;
    if (code != 0) {
      EXPECT_FALSE(err.empty()) << "a failed run says why";
    }
    // Whole batches only, whatever was cut off: every table holds exactly the
    // rows its ledger lists.
    for (int t = 0; t < 4; ++t) {
      const std::string table = "t" + std::to_string(t);
      EXPECT_EQ(Rows(table), QueryDuckDbInt(warehouse(),
                                            "SELECT sum(rows) FROM _landfall.ledger "
                                            "WHERE table_name = '" +
                                                table + "'"))
          << table;
    }
    frozen.Release();
    auto next = Landfall({"run"});
    ASSERT_EQ(next.exit_code, 0) << next.out << next.err;
    for (int t = 0; t < 4; ++t)
      ExpectStagedOnce("t" + std::to_string(t), expected_rows[t], batches);
  }
}

// A warehouse whose storage fails under a commit (its WAL can be neither
// synced nor truncated, as on a file system remounted read-only or a failing
// disk) makes DuckDB stop the process from inside its commit. The run says
// so and exits 3 instead of aborting, loses nothing, and the next run stages
// every batch exactly once.
TEST_F(WarehouseSafetyTest, StorageFailingUnderACommitEndsTheRunWithExitThreeAndLosesNothing) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "an ASan build's runtime must be the first library loaded, so the fault shim "
                  "cannot be preloaded before it; the plain build runs this test";
#endif
  Land("t0/part-0.parquet", 100, 0);
  Run();
  Land("t0/part-1.parquet", 50, 100);
  auto failed = RunCommand({LandfallBinary(), "run", "--config", config().string()},
                           {std::string("LD_PRELOAD=") + LANDFALL_STORAGE_FAULT_SHIM,
                            "LANDFALL_FAULT_SUFFIX=" + warehouse().filename().string() + ".wal"});
  EXPECT_EQ(failed.exit_code, 3) << failed.err;
  EXPECT_NE(failed.err.find("warehouse_storage_failed"), std::string::npos) << failed.err;
  EXPECT_NE(failed.err.find("Could not truncate file"), std::string::npos) << failed.err;
  auto next = Landfall({"run"});
  ASSERT_EQ(next.exit_code, 0) << next.out << next.err;
  ExpectStagedOnce("t0", 150, 2);
}

}  // namespace
}  // namespace landfall::testing
