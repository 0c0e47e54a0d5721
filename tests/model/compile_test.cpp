#include "lib/model/compile.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "lib/model/loader.h"
#include "lib/model/parse.h"

namespace landfall::model {
namespace {

namespace fs = std::filesystem;

const fs::path kTestData = LANDFALL_MODEL_TESTDATA;

std::string ReadFile(const fs::path& file) {
  std::ifstream in(file);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The test models (tests/model/models), loaded and parsed with DuckDB.
struct Loaded {
  std::vector<Model> models;
  Dag dag;
};
Loaded LoadTestModels() {
  config::Config config;
  config.models.dir = kTestData / "models";
  auto models = LoadModels(config);
  EXPECT_TRUE(models) << models.error().message;
  if (!models) return {};
  auto dag =
      BuildDag(*models, {"orders", "customers", "events"}, "staging", "analytics", DuckDbParseFn());
  EXPECT_TRUE(dag) << dag.error().message;
  if (!dag) return {};
  return {*models, *dag};
}

// Compares with tests/model/golden/<dialect>.sql exactly.
// LANDFALL_UPDATE_GOLDEN=1 rewrites the files instead (then review the diff).
void ExpectGolden(Dialect dialect) {
  const Loaded loaded = LoadTestModels();
  ASSERT_EQ(loaded.models.size(), 9u);
  const std::string actual = CompileModels(loaded.models, loaded.dag, dialect);
  const fs::path golden = kTestData / "golden" / (std::string(ToString(dialect)) + ".sql");
  if (std::getenv("LANDFALL_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(golden) << actual;
    return;
  }
  EXPECT_EQ(actual, ReadFile(golden)) << "differs from " << golden.string();
}

TEST(CompileTest, DuckDbMatchesItsGolden) { ExpectGolden(Dialect::kDuckDb); }
TEST(CompileTest, SnowflakeMatchesItsGolden) { ExpectGolden(Dialect::kSnowflake); }
TEST(CompileTest, DatabricksMatchesItsGolden) { ExpectGolden(Dialect::kDatabricks); }
TEST(CompileTest, BigQueryMatchesItsGolden) { ExpectGolden(Dialect::kBigQuery); }

TEST(CompileTest, DialectNamesRoundTripAndUnknownNamesAreNone) {
  for (Dialect d :
       {Dialect::kDuckDb, Dialect::kSnowflake, Dialect::kDatabricks, Dialect::kBigQuery}) {
    EXPECT_EQ(DialectFromString(ToString(d)), d);
  }
  EXPECT_EQ(DialectFromString("postgres"), std::nullopt);
}

Model Simple(Strategy strategy) {
  Model m;
  m.name = "m";
  m.sql = "SELECT 1 AS x;\n\n";
  m.strategy = strategy;
  return m;
}

TEST(CompileTest, TheTargetIsQuotedPerDialect) {
  const Model m = Simple(Strategy::kFullRefresh);
  EXPECT_NE(CompileModel(m, Dialect::kDuckDb, "a\"b", "").find("\"a\"\"b\".\"m\""),
            std::string::npos);
  EXPECT_NE(CompileModel(m, Dialect::kDatabricks, "a`b", "").find("`a``b`.`m`"), std::string::npos);
  EXPECT_NE(CompileModel(m, Dialect::kBigQuery, "ab", "").find("`ab`.`m`"), std::string::npos);
}

TEST(CompileTest, TheModelsTrailingSemicolonIsNotDoubled) {
  EXPECT_EQ(CompileModel(Simple(Strategy::kView), Dialect::kDuckDb, "analytics", ""),
            "-- model m: view\nCREATE OR REPLACE VIEW \"analytics\".\"m\" AS\nSELECT 1 AS x;\n");
}

TEST(CompileTest, DynamicTableWithoutLagOrWarehouseSaysWhatIsMissing) {
  const std::string ddl =
      CompileModel(Simple(Strategy::kDynamicTable), Dialect::kSnowflake, "analytics", "");
  EXPECT_NE(ddl.find("TARGET_LAG = DOWNSTREAM"), std::string::npos) << ddl;
  EXPECT_NE(ddl.find("-- WAREHOUSE = <name>: set dynamic_table.warehouse"), std::string::npos)
      << ddl;
}

TEST(CompileTest, WatermarkWithoutLookbackAppendsPastTheWatermark) {
  Model m = Simple(Strategy::kIncremental);
  m.incremental.by = IncrementalConfig::By::kWatermark;
  m.incremental.timestamp_column = "ts";
  const std::string ddl = CompileModel(m, Dialect::kDuckDb, "analytics", "");
  EXPECT_NE(ddl.find("WHERE \"ts\" > {watermark};"), std::string::npos) << ddl;
}

}  // namespace
}  // namespace landfall::model
