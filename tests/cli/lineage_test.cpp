// `landfall lineage` through the binary, working alone: real PostgreSQL (the
// staging tables' columns as the last run recorded them), the model files,
// and DuckDB's binder in a scratch database.
#include <gmock/gmock.h>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_fixture.h"

namespace landfall::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using json = nlohmann::json;

class LineageCliTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    std::ofstream(config(), std::ios::app) << "models:\n  dir: models\n";
    // staging.orders: id, name, amount.
    Land("orders/a.parquet", 3);
    WriteModel("a.sql", "SELECT id, amount, upper(name) AS note FROM staging.orders");
    WriteModel("b.sql", "SELECT id, sum(amount) AS total FROM analytics.a GROUP BY id");
    WriteModel("c.sql", "SELECT id FROM analytics.a WHERE note <> ''");
    WriteModel("d.sql", "SELECT id, random() AS r FROM analytics.a");
    WriteModel("e.sql", "SELECT * FROM staging.orders");
    const auto run = Landfall({"run"});
    ASSERT_EQ(run.exit_code, 0) << run.err;
  }
  void WriteModel(const std::string& rel, const std::string& text) {
    fs::create_directories(dir_ / "models");
    std::ofstream(dir_ / "models" / rel) << text;
  }
  json LineageJson(const std::string& model) {
    const auto r = Landfall({"lineage", model, "--format", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out, nullptr, false);
  }
};

TEST_F(LineageCliTest, AColumnComesFromItsSourceAndIsReadByTheModelsUsingItAnywhere) {
  const auto r = Landfall({"lineage", "a", "--column", "note"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("analytics.a.note\n"));
  EXPECT_THAT(r.out, HasSubstr("comes from: staging.orders.name\n"));
  // c uses note only in WHERE; d's lineage is unknown (random()), so it may.
  EXPECT_THAT(r.out, HasSubstr("read by:    c, d\n"));
}

TEST_F(LineageCliTest, AModelReadsOnlyTheColumnsItUses) {
  EXPECT_EQ(LineageJson("b")["reads"], json::parse(R"({"analytics.a":["amount","id"]})"));
}

TEST_F(LineageCliTest, SelectStarReadsEveryColumn) {
  const json reads = LineageJson("e")["reads"]["staging.orders"];
  for (const char* column : {"id", "name", "amount"}) {
    EXPECT_NE(std::find(reads.begin(), reads.end(), column), reads.end()) << column;
  }
}

TEST_F(LineageCliTest, RandomMakesLineageUnknownWithTheReason) {
  const auto r = Landfall({"lineage", "d"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("analytics.d: lineage unknown: calls random()"));
}

TEST_F(LineageCliTest, AnUnknownModelOrColumnExitsTwo) {
  EXPECT_EQ(Landfall({"lineage", "nope"}).exit_code, 2);
  const auto r = Landfall({"lineage", "a", "--column", "nope"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("no column 'nope'"));
}

}  // namespace
}  // namespace landfall::testing
