// Data safety through the landfall binary: a dry run changes
// nothing, and a file name that is not UTF-8 stalls nothing.

#include <fstream>

#include "tests/cli/cli_fixture.h"

namespace landfall::testing {
namespace {

namespace fs = std::filesystem;

class DataSafetyTest : public CliTest {
 protected:
  // The first column of every row of `sql` against the state store; $1 is
  // this test's environment.
  std::vector<std::string> Pg(const std::string& sql) {
    return PgQuery(sql, env_);
  }
  // "status error_code" of the batch at `path`, or "" when there is no record.
  std::string Record(const std::string& path) {
    auto rows = Pg("SELECT status || ' ' || coalesce(error_code, '') FROM batches WHERE environment = $1 "
                   "AND path = '" + path + "'");
    return rows.empty() ? "" : rows[0];
  }

  // Land() at a path DuckDB cannot be given (SQL text is UTF-8): written
  // under a plain name, then renamed byte for byte.
  void LandAs(const std::string& raw_rel, int rows, int offset = 0) {
    Land("plain/landed.parquet", rows, offset);
    fs::create_directories((landing() / raw_rel).parent_path());
    fs::rename(landing() / "plain/landed.parquet", landing() / raw_rel);
    fs::remove(landing() / "plain");
  }

  // A Parquet file cut in half, as a producer writing in place leaves it.
  void LandTruncated(const std::string& rel) {
    Land(rel, 100);
    const auto file = landing() / rel;
    fs::resize_file(file, fs::file_size(file) / 2);
  }
};

TEST_F(DataSafetyTest, PlanLeavesATruncatedFileInPlaceUnrecordedAndRunQuarantinesIt) {
  WriteConfig("  quarantine_dir: quarantine\n");
  Land("a/1.parquet", 10);
  LandTruncated("a/2.parquet");

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "a"), "create");
  EXPECT_TRUE(fs::exists(landing() / "a/2.parquet")) << "a plan moved a file";
  EXPECT_FALSE(fs::exists(quarantine() / "a/2.parquet"));
  EXPECT_EQ(Record("a/2.parquet"), "") << "a plan recorded a verdict a run would act on";
  EXPECT_EQ(Pg("SELECT count(*) FROM batches WHERE environment = $1 AND status = 'quarantined'"),
            std::vector<std::string>{"0"});

  // A run deals with it as usual: quarantined (the CLI gives no grace), moved.
  auto run = Run();
  EXPECT_EQ(run["quarantined"], 1);
  EXPECT_EQ(Record("a/2.parquet"), "quarantined truncated");
  EXPECT_FALSE(fs::exists(landing() / "a/2.parquet"));
  EXPECT_TRUE(fs::exists(quarantine() / "a/2.parquet"));
  EXPECT_EQ(Rows("a"), 10);
}

TEST_F(DataSafetyTest, FileNameThatIsNotUtf8IsQuarantinedAndEverythingElseStages) {
  WriteConfig("  quarantine_dir: quarantine\n");
  Land("a/1.parquet", 10);
  Land("b/1.parquet", 5);
  const std::string raw = "a/caf\xe9-%41.parquet";  // Latin-1 é, and a literal %41
  LandAs(raw, 3, 100);

  auto r = Landfall({"run", "--format", "json"});
  ASSERT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.exit_code << "\n" << r.out << r.err;
  auto run = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(run.is_discarded()) << r.out;
  EXPECT_EQ(run["quarantined"], 1);
  EXPECT_EQ(Rows("a"), 10);
  EXPECT_EQ(Rows("b"), 5);

  // Recorded under a name that maps back to the bytes, and moved aside.
  const std::string escaped = "a/caf%E9-%2541.parquet";
  EXPECT_EQ(Record(escaped), "quarantined invalid_file_name");
  EXPECT_FALSE(fs::exists(landing() / raw));
  EXPECT_TRUE(fs::exists(quarantine() / raw));

  // Nothing stalls: the next run is quiet, and plan works.
  EXPECT_EQ(Run()["run_id"], 0);
  EXPECT_EQ(ActionOf(Plan(), "a"), "skip");
}

TEST_F(DataSafetyTest, TableFolderNameThatIsNotUtf8IsNoTableAndStallsNothing) {
  Land("a/1.parquet", 10);
  const std::string raw = "t\xff/1.parquet";
  LandAs(raw, 3);

  auto r = Landfall({"run", "--format", "json"});
  ASSERT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.exit_code << "\n" << r.out << r.err;
  EXPECT_EQ(Rows("a"), 10);
  EXPECT_EQ(Record("t%FF/1.parquet"), "quarantined invalid_file_name");
  EXPECT_TRUE(fs::exists(landing() / raw));  // no quarantine_dir: left in place
  EXPECT_EQ(Run()["run_id"], 0);
}

}  // namespace
}  // namespace landfall::testing

namespace landfall::testing {
namespace {

TEST_F(DataSafetyTest, CheckConfigRejectsAQuarantineDirInsideTheLandingDir) {
  WriteConfig("  quarantine_dir: landing/quarantine\n");
  auto r = Landfall({"check-config"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("landfall.yaml:4: landing.quarantine_dir: must not be inside landing.dir"),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace landfall::testing
