// Lineage decisions through the binary: a model whose only change is an
// upstream model's is skipped when it reads none of the columns whose values
// changed (column hashes kept with the upstream's version), and recomputed,
// naming them, when it reads one, anywhere in its query. Real PostgreSQL, a
// real DuckDB file, DuckDB's binder for the read sets.
// As postgres_warehouse.LineageDecisionTest.* the warehouse is PostgreSQL,
// where lineage is unknown by design (kLineageUnknownOnPostgres): there every
// model DuckDB's lineage skips is recomputed, saying why, and each target
// still equals its SQL.
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
    const std::string target = "SELECT * FROM analytics." + model;
    return WarehouseInt("SELECT count(*) FROM ((" + target + " EXCEPT ALL " + sql + ") UNION ALL (" + sql +
                        " EXCEPT ALL " + target + ")) AS d");
  }
  static json Lineage(const json& out, const std::string& model) {
    return ModelOf(out, model).value("lineage", json(nullptr));
  }
  // DuckDB: `model` is skipped, reading none of the changed columns. PostgreSQL:
  // lineage is unknown, so it is recomputed (run) and the plan says why.
  void ExpectSkippedByLineage(const json& out, const std::string& model) {
    if (on_postgres_) {
      EXPECT_EQ(ModelAction(out, model), "run") << model << ": " << out.dump();
      ExpectRecomputedAsLineageIsUnknown(out, model);
    } else {
      EXPECT_EQ(ModelAction(out, model), "skip") << model << ": " << out.dump();
      EXPECT_THAT(ModelReasons(out, model), ElementsAre("columns_unaffected")) << model;
    }
  }
  void ExpectRecomputedAsLineageIsUnknown(const json& out, const std::string& model) {
    EXPECT_EQ(Lineage(out, model)["decision"], "recompute") << model << ": " << out.dump();
    EXPECT_THAT(Lineage(out, model).value("detail", ""), HasSubstr("the warehouse is PostgreSQL")) << model;
  }
};

TEST_F(LineageDecisionTest, EditingAColumnTheDownstreamModelDoesNotReadSkipsIt) {
  const json first = RunJson();
  ASSERT_EQ(ModelAction(first, "b"), "rebuild");

  WriteModel("a", "SELECT id, amount, lower(name) AS note FROM staging.orders");
  const json plan = PlanJson();
  EXPECT_EQ(ModelAction(plan, "a"), "rebuild");
  ExpectSkippedByLineage(plan, "b");
  if (!on_postgres_) {
    // The plan tells from the edit (only note's expression changed); the run confirms it.
    EXPECT_EQ(Lineage(plan, "b")["decision"], "skip") << plan.dump();
    EXPECT_THAT(Lineage(plan, "b")["detail"].get<std::string>(),
                HasSubstr("reads none of analytics.a.{note} (its SQL edited)"));
    EXPECT_EQ(Lineage(plan, "b")["read_columns"], json::parse(R"({"analytics.a": ["amount", "id"]})"));
  }

  const json run = RunJson();
  EXPECT_EQ(ModelAction(run, "a"), "rebuild");
  ExpectSkippedByLineage(run, "b");
  if (!on_postgres_) {
    EXPECT_EQ(ModelOf(run, "b")["reasons"][0]["detail"], "reads none of analytics.a.{note} (changed)");
    EXPECT_EQ(Lineage(run, "b")["decision"], "skip");
    EXPECT_EQ(Lineage(run, "b")["changed_columns"], json::parse(R"({"analytics.a": ["note"]})"));
  }
  EXPECT_EQ(Differences("b", "SELECT id, sum(amount) AS total FROM analytics.a GROUP BY id"), 0);
  // The skip (or the recompute) is remembered: nothing is left to do.
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
  EXPECT_EQ(Lineage(run, "b")["decision"], "recompute");
  if (on_postgres_) {
    ExpectRecomputedAsLineageIsUnknown(run, "b");
  } else {
    EXPECT_THAT(ModelReasons(run, "b"), ::testing::Contains("columns_changed"));
    EXPECT_EQ(Lineage(run, "b")["detail"], "reads analytics.a.{amount} (changed)");
  }
  EXPECT_EQ(Differences("b", "SELECT id, sum(amount) AS total FROM analytics.a GROUP BY id"), 0);
}

TEST_F(LineageDecisionTest, AStagingReloadOfTheSameRowsRecomputesTheReaderAndSkipsBelowIt) {
  RunJson();
  const auto deleted = Landfall({"state", "delete", "--table", "orders"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  // Values are not known before they are written: the decision waits for them.
  const json plan = PlanJson();
  if (on_postgres_) {
    ExpectRecomputedAsLineageIsUnknown(plan, "b");
  } else {
    EXPECT_EQ(Lineage(plan, "b")["decision"], "pending") << plan.dump();
    EXPECT_EQ(Lineage(plan, "b")["detail"], "waits for the column hashes of analytics.a after it is written");
  }
  const json run = RunJson();
  EXPECT_EQ(ModelAction(run, "a"), "run") << run.dump();
  EXPECT_THAT(ModelReasons(run, "a"), ElementsAre("upstream_rebuilt"));
  ExpectSkippedByLineage(run, "b");
  if (!on_postgres_) EXPECT_EQ(ModelOf(run, "b")["reasons"][0]["detail"], "no column of analytics.a changed");
  EXPECT_EQ(Differences("b", "SELECT id, sum(amount) AS total FROM analytics.a GROUP BY id"), 0);
}

TEST_F(LineageDecisionTest, AColumnReadOnlyInWhereOrAJoinOrThroughStarIsARead) {
  WriteModel("c", "SELECT id FROM analytics.a WHERE note <> 'X'");
  WriteModel("f", "SELECT a.id FROM analytics.a a JOIN staging.orders o ON a.note = upper(o.name)");
  WriteModel("e", "SELECT * FROM analytics.a");
  WriteModel("d", "SELECT id, random() AS r FROM analytics.a");
  RunJson();
  WriteModel("a", "SELECT id, amount, lower(name) AS note FROM staging.orders");
  const json run = RunJson();
  ExpectSkippedByLineage(run, "b");
  for (const char* model : {"c", "f", "e"}) {
    EXPECT_EQ(ModelAction(run, model), "run") << model << ": " << run.dump();
    if (on_postgres_) {
      ExpectRecomputedAsLineageIsUnknown(run, model);
    } else {
      EXPECT_EQ(Lineage(run, model)["detail"], "reads analytics.a.{note} (changed)") << model;
    }
  }
  // Unknown lineage is never a skip, and says why.
  EXPECT_EQ(ModelAction(run, "d"), "run");
  EXPECT_EQ(Lineage(run, "d")["decision"], "recompute");
  EXPECT_THAT(Lineage(run, "d")["detail"].get<std::string>(),
              HasSubstr(on_postgres_ ? "the warehouse is PostgreSQL" : "random()"));
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
  EXPECT_THAT(Lineage(run, "b")["detail"].get<std::string>(),
              HasSubstr(on_postgres_ ? "the warehouse is PostgreSQL" : "moved between rows"));
  EXPECT_EQ(Differences("b", "SELECT id, rn FROM analytics.a"), 0);
  ExpectSkippedByLineage(run, "g");
  EXPECT_EQ(Differences("g", "SELECT sum(rn) AS total FROM analytics.a"), 0);
}

TEST_F(LineageDecisionTest, ASkipPropagatesDownstream) {
  WriteModel("h", "SELECT id, total FROM analytics.b");
  RunJson();
  WriteModel("a", "SELECT id, amount, lower(name) AS note FROM staging.orders");
  const json run = RunJson();
  ExpectSkippedByLineage(run, "b");
  ExpectSkippedByLineage(run, "h");
  if (!on_postgres_) EXPECT_EQ(ModelOf(run, "h")["reasons"][0]["detail"], "analytics.b did not change");
  EXPECT_EQ(Differences("h", "SELECT id, total FROM analytics.b"), 0);
}

}  // namespace
}  // namespace landfall::testing
