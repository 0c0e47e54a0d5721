// Lineage decisions through the binary: a model whose only change is an
// upstream model's is skipped when it reads none of the columns whose values
// changed (column hashes kept with the upstream's version), and recomputed,
// naming them, when it reads one, anywhere in its query. Real PostgreSQL, a
// real DuckDB file, DuckDB's binder for the read sets.
#include <gmock/gmock.h>

#include <nlohmann/json.hpp>

#include "tests/cli/models_fixture.h"
#include "tests/support/duckdb_testing.h"

namespace landfall::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using json = nlohmann::json;

class LineageDecisionTest : public ModelsTest {
 protected:
  void SetUp() override {
    ModelsTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    Land("orders/a.parquet", 20);  // id, name, amount
    WriteModel("a", "SELECT id, amount, upper(name) AS note FROM staging.orders");
    WriteModel("b", "SELECT id, sum(amount) AS total FROM analytics.a GROUP BY id");
  }

  json RunJson() {
    const auto r = Landfall({"run", "--format", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return json::parse(r.out, nullptr, false);
  }
  json PlanJson() {
    const auto r = Landfall({"plan", "--format", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return json::parse(r.out, nullptr, false);
  }
  // Rows of the target that its SQL does not give, and the other way round.
  long long Differences(const std::string& model, const std::string& sql) {
    const std::string target = "analytics." + model;
    return QueryDuckDbInt(warehouse(), "SELECT (SELECT count(*) FROM (FROM " + target + " EXCEPT ALL " + sql +
                                           ")) + (SELECT count(*) FROM (" + sql + " EXCEPT ALL FROM " + target +
                                           "))");
  }
  static json Lineage(const json& out, const std::string& model) {
    return ModelOf(out, model).value("lineage", json(nullptr));
  }
};

TEST_F(LineageDecisionTest, EditingAColumnTheDownstreamModelDoesNotReadSkipsIt) {
  const json first = RunJson();
  ASSERT_EQ(ModelAction(first, "b"), "rebuild");

  WriteModel("a", "SELECT id, amount, lower(name) AS note FROM staging.orders");
  const json plan = PlanJson();
  EXPECT_EQ(ModelAction(plan, "a"), "rebuild");
  EXPECT_EQ(ModelAction(plan, "b"), "skip");
  EXPECT_THAT(ModelReasons(plan, "b"), ElementsAre("columns_unaffected"));
  // The plan tells from the edit (only note's expression changed); the run confirms it.
  EXPECT_EQ(Lineage(plan, "b")["decision"], "skip") << plan.dump();
  EXPECT_THAT(Lineage(plan, "b")["detail"].get<std::string>(),
              HasSubstr("reads none of analytics.a.{note} (its SQL edited)"));
  EXPECT_EQ(Lineage(plan, "b")["read_columns"], json::parse(R"({"analytics.a": ["amount", "id"]})"));

  const json run = RunJson();
  EXPECT_EQ(ModelAction(run, "a"), "rebuild");
  EXPECT_EQ(ModelAction(run, "b"), "skip") << run.dump();
  EXPECT_THAT(ModelReasons(run, "b"), ElementsAre("columns_unaffected"));
  EXPECT_EQ(ModelOf(run, "b")["reasons"][0]["detail"], "reads none of analytics.a.{note} (changed)");
  EXPECT_EQ(Lineage(run, "b")["decision"], "skip");
  EXPECT_EQ(Lineage(run, "b")["changed_columns"], json::parse(R"({"analytics.a": ["note"]})"));
  EXPECT_EQ(Differences("b", "SELECT id, sum(amount) AS total FROM analytics.a GROUP BY id"), 0);
  // The skip is remembered: nothing is left to do.
  const json again = RunJson();
  EXPECT_EQ(ModelAction(again, "a"), "skip");
  EXPECT_EQ(ModelAction(again, "b"), "skip");
  EXPECT_THAT(ModelReasons(again, "b"), ElementsAre("no_change"));
}

TEST_F(LineageDecisionTest, EditingAColumnTheDownstreamModelReadsRecomputesIt) {
  RunJson();
  WriteModel("a", "SELECT id, amount * 2 AS amount, upper(name) AS note FROM staging.orders");
  EXPECT_EQ(Lineage(PlanJson(), "b")["decision"], "recompute");
  const json run = RunJson();
  EXPECT_EQ(ModelAction(run, "b"), "run") << run.dump();
  EXPECT_THAT(ModelReasons(run, "b"), ::testing::Contains("columns_changed"));
  EXPECT_EQ(Lineage(run, "b")["decision"], "recompute");
  EXPECT_EQ(Lineage(run, "b")["detail"], "reads analytics.a.{amount} (changed)");
  EXPECT_EQ(Differences("b", "SELECT id, sum(amount) AS total FROM analytics.a GROUP BY id"), 0);
}

TEST_F(LineageDecisionTest, AStagingReloadOfTheSameRowsRecomputesTheReaderAndSkipsBelowIt) {
  RunJson();
  const auto deleted = Landfall({"state", "delete", "--table", "orders"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  // Values are not known before they are written: the decision waits for them.
  const json plan = PlanJson();
  EXPECT_EQ(Lineage(plan, "b")["decision"], "pending") << plan.dump();
  EXPECT_EQ(Lineage(plan, "b")["detail"], "waits for the column hashes of analytics.a after it is written");
  const json run = RunJson();
  EXPECT_EQ(ModelAction(run, "a"), "run") << run.dump();
  EXPECT_THAT(ModelReasons(run, "a"), ElementsAre("upstream_rebuilt"));
  EXPECT_EQ(ModelAction(run, "b"), "skip");
  EXPECT_THAT(ModelReasons(run, "b"), ElementsAre("columns_unaffected"));
  EXPECT_EQ(ModelOf(run, "b")["reasons"][0]["detail"], "no column of analytics.a changed");
}

TEST_F(LineageDecisionTest, AColumnReadOnlyInWhereOrAJoinOrThroughStarIsARead) {
  WriteModel("c", "SELECT id FROM analytics.a WHERE note <> 'X'");
  WriteModel("f", "SELECT a.id FROM analytics.a a JOIN staging.orders o ON a.note = upper(o.name)");
  WriteModel("e", "SELECT * FROM analytics.a");
  WriteModel("d", "SELECT id, random() AS r FROM analytics.a");
  RunJson();
  WriteModel("a", "SELECT id, amount, lower(name) AS note FROM staging.orders");
  const json run = RunJson();
  EXPECT_EQ(ModelAction(run, "b"), "skip") << run.dump();
  for (const char* model : {"c", "f", "e"}) {
    EXPECT_EQ(ModelAction(run, model), "run") << model << ": " << run.dump();
    EXPECT_EQ(Lineage(run, model)["detail"], "reads analytics.a.{note} (changed)") << model;
  }
  // Unknown lineage is never a skip, and says why.
  EXPECT_EQ(ModelAction(run, "d"), "run");
  EXPECT_EQ(Lineage(run, "d")["decision"], "recompute");
  EXPECT_THAT(Lineage(run, "d")["detail"].get<std::string>(), HasSubstr("random()"));
  EXPECT_EQ(Differences("f", "SELECT a.id FROM analytics.a a JOIN staging.orders o ON a.note = upper(o.name)"), 0);
}

TEST_F(LineageDecisionTest, ValuesMovedBetweenRowsRecomputeTheModelReadingThemTogether) {
  WriteModel("a", "SELECT id, row_number() OVER (ORDER BY id) AS rn FROM staging.orders");
  WriteModel("b", "SELECT id, rn FROM analytics.a");
  WriteModel("g", "SELECT sum(rn) AS total FROM analytics.a");
  RunJson();
  // Every column holds the same values as before, but rn moved between ids.
  WriteModel("a", "SELECT id, row_number() OVER (ORDER BY id DESC) AS rn FROM staging.orders");
  const json run = RunJson();
  EXPECT_EQ(ModelAction(run, "b"), "run") << run.dump();
  EXPECT_THAT(Lineage(run, "b")["detail"].get<std::string>(), HasSubstr("moved between rows"));
  EXPECT_EQ(Differences("b", "SELECT id, rn FROM analytics.a"), 0);
  EXPECT_EQ(ModelAction(run, "g"), "skip");
}

TEST_F(LineageDecisionTest, ASkipPropagatesDownstream) {
  WriteModel("h", "SELECT id, total FROM analytics.b");
  RunJson();
  WriteModel("a", "SELECT id, amount, lower(name) AS note FROM staging.orders");
  const json run = RunJson();
  EXPECT_EQ(ModelAction(run, "b"), "skip") << run.dump();
  EXPECT_EQ(ModelAction(run, "h"), "skip");
  EXPECT_THAT(ModelReasons(run, "h"), ElementsAre("columns_unaffected"));
  EXPECT_EQ(ModelOf(run, "h")["reasons"][0]["detail"], "analytics.b did not change");
}

}  // namespace
}  // namespace landfall::testing
