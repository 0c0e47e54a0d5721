// check-config and compile through the binary: models on disk, their DAG over
// the landing directory's tables, and the DDL compile prints.
#include <gmock/gmock.h>

#include <fstream>
#include <sstream>

#include "tests/cli/cli_fixture.h"

namespace landfall::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const fs::path kModelTestData = LANDFALL_MODEL_TESTDATA;

class ModelsCliTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    std::ofstream(config(), std::ios::app) << "models:\n  dir: models\n";
  }
  fs::path models() const { return dir_ / "models"; }
  void WriteModel(const std::string& rel, const std::string& text) {
    fs::create_directories((models() / rel).parent_path());
    std::ofstream(models() / rel) << text;
  }
  static std::string ReadFile(const fs::path& file) {
    std::ifstream in(file);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }
};

TEST_F(ModelsCliTest, CheckConfigCountsTheModelsWhenTheyAreValid) {
  Land("orders/a.parquet", 3);
  WriteModel("a.sql", "SELECT id, amount FROM staging.orders");
  WriteModel("marts/b.sql", "SELECT sum(amount) AS total FROM analytics.a");
  const auto r = Landfall({"check-config"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("2 models)"));
}

TEST_F(ModelsCliTest, CheckConfigExitsTwoOnACycleNamingItsModels) {
  Land("orders/a.parquet", 3);
  WriteModel("a.sql", "SELECT * FROM analytics.b");
  WriteModel("b.sql", "SELECT * FROM analytics.a JOIN staging.orders USING (id)");
  const auto r = Landfall({"check-config"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("a -> b -> a"));
}

TEST_F(ModelsCliTest, CheckConfigExitsTwoOnAnUnknownTableNamingModelAndFile) {
  Land("orders/a.parquet", 3);
  WriteModel("a.sql", "SELECT * FROM staging.refunds");
  const auto r = Landfall({"check-config"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("model a (" + (models() / "a.sql").string() +
                               "): reads staging.refunds, which is no staging table"));
}

TEST_F(ModelsCliTest, CheckConfigExitsTwoOnSqlThatDoesNotParseNamingFileAndLine) {
  Land("orders/a.parquet", 3);
  WriteModel("a.sql", "SELECT id\nFROM staging.orders\nWHERE WHERE");
  const auto r = Landfall({"check-config"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr((models() / "a.sql").string() + ":3: syntax error"));
}

TEST_F(ModelsCliTest, CheckConfigExitsTwoOnABadModelYaml) {
  WriteModel("a.sql", "SELECT 1");
  WriteModel("a.yaml", "strategy: snapshot\n");
  const auto r = Landfall({"check-config"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr((models() / "a.yaml").string() + ":1: strategy: must be one of"));
}

// The test models of tests/model compile through the binary to the same
// golden text as through the library.
TEST_F(ModelsCliTest, CompilePrintsEveryModelsDdlForTheDialect) {
  fs::copy(kModelTestData / "models", models(), fs::copy_options::recursive);
  for (const char* table : {"orders", "customers", "events"})
    fs::create_directories(landing() / table);
  for (const char* dialect : {"duckdb", "snowflake", "databricks", "bigquery"}) {
    const auto r = Landfall({"compile", "--dialect", dialect});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, ReadFile(kModelTestData / "golden" / (std::string(dialect) + ".sql")))
        << dialect;
  }
}

TEST_F(ModelsCliTest, CompileWithModelsPrintsOnlyTheSelectionInDagOrder) {
  fs::copy(kModelTestData / "models", models(), fs::copy_options::recursive);
  for (const char* table : {"orders", "customers", "events"})
    fs::create_directories(landing() / table);
  const auto r = Landfall({"compile", "--dialect", "duckdb", "--models", "+daily_revenue"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("-- model orders_clean: "));
  EXPECT_THAT(r.out, HasSubstr("\n-- model daily_revenue: full_refresh\n"));
  EXPECT_EQ(r.out.find("-- model customers_current"), std::string::npos);
}

TEST_F(ModelsCliTest, CompileWithoutAKnownDialectOrWithAnUnknownModelExitsTwo) {
  WriteModel("a.sql", "SELECT 1");
  EXPECT_EQ(Landfall({"compile", "--dialect", "oracle"}).exit_code, 2);
  const auto r = Landfall({"compile", "--dialect", "duckdb", "--models", "b"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("no model named 'b'"));
}

}  // namespace
}  // namespace landfall::testing
