// Fault injection: PostgreSQL stopped (fast, then immediate) and started again
// while `landfall serve` stages, quarantines and records. Whatever the
// interleaving, once PostgreSQL is back every batch is staged exactly once
// (warehouse ledger and staging rows), every quarantined file is recorded and
// visible over the API, and the daemon never went down.
//
// The test runs its own PostgreSQL (it must stop and start it), on a free
// port on 127.0.0.1 in a temp dir, as tests/with-postgres.sh does.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <set>

#include "tests/api/daemon_fixture.h"

namespace landfall::testing {
namespace {

namespace fs = std::filesystem;

std::string PgBin() {
  const char* bin = std::getenv("PG_BIN");
  return bin ? bin : "/usr/lib/postgresql/15/bin";
}

// Single-quotes `s` for /bin/sh.
std::string Sh(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// A PostgreSQL server of the test's own. As root it runs as `postgres`.
class OwnPostgres {
 public:
  ~OwnPostgres() {
    if (started_) Ctl("-m immediate -w stop");
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }

  // initdb, start on a free port, create the database. Errors in `error`.
  bool Init(std::string* error) {
    char templ[] = "/tmp/landfall-pgfault.XXXXXX";
    if (!mkdtemp(templ)) return Failed(error, "mkdtemp failed");
    dir_ = templ;
    if (getuid() == 0) {
      const passwd* pg = getpwnam("postgres");
      if (!pg) return Failed(error, "running as root without a 'postgres' user");
      if (chown(dir_.c_str(), pg->pw_uid, pg->pw_gid) != 0) return Failed(error, "chown failed");
      as_user_ = "/usr/sbin/runuser -u postgres -- ";
    }
    if (Shell("mkdir -p " + Sh(dir_ + "/socket")) != 0) return Failed(error, "mkdir failed");
    if (Shell(PgBin() + "/initdb -D " + Sh(dir_ + "/data") +
              " -U postgres -A trust -E UTF8 --locale=C") != 0) {
      return Failed(error, "initdb failed");
    }
    // Durable commits (synchronous_commit stays on): an immediate stop must
    // not lose what PostgreSQL acknowledged, or the test would blame landfall.
    std::ofstream conf(dir_ + "/data/postgresql.conf", std::ios::app);
    conf << "listen_addresses = '127.0.0.1'\n"
         << "unix_socket_directories = '" << dir_ << "/socket'\n"
         << "max_connections = 50\n";
    conf.close();
    std::mt19937 rng(std::random_device{}());
    for (int attempt = 0; attempt < 30 && !started_; ++attempt) {
      port_ = 20000 + static_cast<int>(rng() % 40000);
      if (Ctl("-w -t 60 -o " + Sh("-p " + std::to_string(port_)) + " start") == 0) started_ = true;
      else Ctl("-m immediate -w stop");
    }
    if (!started_) return Failed(error, "could not start PostgreSQL");
    if (Shell(PgBin() + "/createdb -h 127.0.0.1 -p " + std::to_string(port_) +
              " -U postgres landfall_test") != 0) {
      return Failed(error, "createdb failed");
    }
    return true;
  }

  std::string url() const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/landfall_test";
  }

  // mode: "fast" or "immediate" (no shutdown checkpoint: crash recovery next start).
  bool Stop(const std::string& mode) {
    const bool ok = Ctl("-m " + mode + " -w -t 60 stop") == 0;
    if (ok) started_ = false;
    return ok;
  }
  // On the same port: the daemon's URL does not change.
  bool Start() {
    started_ = Ctl("-w -t 60 -o " + Sh("-p " + std::to_string(port_)) + " start") == 0;
    return started_;
  }

 private:
  static bool Failed(std::string* error, const std::string& why) {
    *error = why;
    return false;
  }
  int Shell(const std::string& command) {
    auto r = RunCommand({"/bin/sh", "-c", as_user_ + command + " >>" + Sh(dir_ + "/ctl.log") + " 2>&1"});
    return r.exit_code;
  }
  int Ctl(const std::string& args) {
    return Shell(PgBin() + "/pg_ctl -D " + Sh(dir_ + "/data") + " -l " + Sh(dir_ + "/server.log") +
                 " " + args);
  }

  std::string dir_;
  std::string as_user_;
  int port_ = 0;
  bool started_ = false;
};

class PgOutageTest : public DaemonTest {
 protected:
  void SetUp() override {
    if (access((PgBin() + "/pg_ctl").c_str(), X_OK) != 0) {
      if (InCi()) FAIL() << PgBin() << "/pg_ctl not found";
      GTEST_SKIP() << PgBin() << "/pg_ctl not found";
    }
    std::string error;
    ASSERT_TRUE(pg_.Init(&error)) << error;
    // The daemon's config reads ${LANDFALL_TEST_PG_URL}: this server's.
    setenv("LANDFALL_TEST_PG_URL", pg_.url().c_str(), 1);
    DaemonTest::SetUp();
  }

  // A file that is not Parquet, landed atomically.
  void LandBad(const std::string& rel) {
    const auto temp = dir_ / "staging-area" / rel;
    fs::create_directories(temp.parent_path());
    std::ofstream(temp) << "this is not a parquet file";
    fs::create_directories((landing() / rel).parent_path());
    fs::rename(temp, landing() / rel);
  }

  // Paths of batches with `status`, per the API (a PostgreSQL read).
  std::set<std::string> Batches(const std::string& status) {
    std::set<std::string> out;
    const json body = JsonOf(Get("/v1/batches?status=" + status + "&limit=1000"));
    if (!body.is_object()) return out;
    for (const auto& b : body.value("batches", json::array())) out.insert(b.value("path", ""));
    return out;
  }

  // The whole scenario, with PostgreSQL stopped in `mode`.
  void Scenario(const std::string& mode) {
    Start();
    Land("a/1.parquet", 10, 0);
    ASSERT_TRUE(WaitForRows("a", 10)) << ReadFile(log());

    // New work lands, and PostgreSQL goes down while the daemon takes it on.
    Land("a/2.parquet", 10, 10);
    LandBad("a/bad1.parquet");
    Land("b/1.parquet", 5, 0);
    ASSERT_TRUE(pg_.Stop(mode));
    Land("a/3.parquet", 10, 20);
    LandBad("b/bad2.parquet");
    Land("c/1.parquet", 7, 0);

    // The daemon notices, and stays up meanwhile.
    ASSERT_TRUE(PollUntil(
        [&] { return ReadFile(log()).find("state_unavailable") != std::string::npos; }, 60s))
        << ReadFile(log());
    // ...and has taken on what landed during the outage (the table list
    // comes from its memory): from here on only the state store lags.
    EXPECT_TRUE(PollUntil(
        [&] {
          const json b = Table("b"), c = Table("c");
          return b.contains("batches") && b["batches"]["quarantined"] == 1 && c.contains("batches") &&
                 c["batches"]["pending"] == 1;
        },
        60s))
        << JsonOf(Get("/v1/tables")).dump() << "\n" << ReadFile(log());
    EXPECT_EQ(Get("/healthz").status, 200);
    ASSERT_EQ(serve_->WaitExit(0ms), std::nullopt) << "landfall serve exited:\n" << ReadFile(log());

    ASSERT_TRUE(pg_.Start());
    const std::set<std::string> staged = {"a/1.parquet", "a/2.parquet", "a/3.parquet", "b/1.parquet",
                                          "c/1.parquet"};
    const std::set<std::string> quarantined = {"a/bad1.parquet", "b/bad2.parquet"};
    // Backoff after a transient error is at most 30 s.
    EXPECT_TRUE(PollUntil([&] { return Batches("staged") == staged; }, 120s))
        << JsonOf(Get("/v1/batches?limit=1000")).dump() << "\n" << ReadFile(log());
    EXPECT_TRUE(PollUntil([&] { return Batches("quarantined") == quarantined; }, 60s))
        << JsonOf(Get("/v1/batches?limit=1000")).dump() << "\n" << ReadFile(log());
    EXPECT_TRUE(PollUntil([&] { return Batches("pending").empty(); }, 60s));
    EXPECT_TRUE(WaitForRows("a", 30));
    EXPECT_TRUE(WaitForRows("b", 5));
    EXPECT_TRUE(WaitForRows("c", 7));
    // Moved aside, and only once recorded.
    EXPECT_TRUE(PollUntil([&] { return fs::exists(quarantine() / "a/bad1.parquet"); }, 60s));
    EXPECT_TRUE(PollUntil([&] { return fs::exists(quarantine() / "b/bad2.parquet"); }, 60s));
    EXPECT_FALSE(fs::exists(landing() / "a/bad1.parquet"));
    EXPECT_FALSE(fs::exists(landing() / "b/bad2.parquet"));
    EXPECT_EQ(Stop(), 0) << ReadFile(log());

    // The warehouse: each batch once, each row once.
    const auto db = dir_ / "warehouse.duckdb";
    for (const auto& [table, batches, rows] :
         std::vector<std::tuple<std::string, int, int>>{{"a", 3, 30}, {"b", 1, 5}, {"c", 1, 7}}) {
      SCOPED_TRACE(table);
      EXPECT_EQ(QueryDuckDbInt(db, "SELECT count(*) FROM _landfall.ledger WHERE table_name = '" +
                                       table + "'"),
                batches);
      EXPECT_EQ(QueryDuckDbInt(db, "SELECT count(*) FROM staging.\"" + table + "\""), rows);
      EXPECT_EQ(QueryDuckDbInt(db, "SELECT count(DISTINCT id) FROM staging.\"" + table + "\""), rows);
    }

    // A restart agrees: nothing left to stage, the quarantined files listed.
    Start();
    EXPECT_TRUE(WaitForRows("a", 30));
    EXPECT_EQ(Batches("quarantined"), quarantined);
    EXPECT_EQ(Batches("staged"), staged);
  }

  OwnPostgres pg_;
};

TEST_F(PgOutageTest, FastStopWhileServeStagesLosesAndDoublesNothing) { Scenario("fast"); }

TEST_F(PgOutageTest, ImmediateStopWhileServeStagesLosesAndDoublesNothing) { Scenario("immediate"); }

}  // namespace
}  // namespace landfall::testing
