// Column lineage from DuckDB's binder, through the real PlanProbe: the read
// set of each query shape, the output side, and what makes lineage unknown.
#include "lib/model/lineage.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "lib/model/parse.h"
#include "lib/warehouse/plan_probe.h"

namespace landfall::model {
namespace {

namespace fs = std::filesystem;

const fs::path kGolden = fs::path(LANDFALL_MODEL_TESTDATA) / "golden" / "plans";

schema::Schema Columns(std::vector<std::pair<std::string, std::string>> columns) {
  schema::Schema out;
  for (auto& [name, type] : columns) out.columns.push_back({.name = name, .type = type});
  return out;
}

// staging.orders, staging.customers and model analytics.a over them.
std::map<std::string, schema::Schema> Staging() {
  return {
      {"orders", Columns({{"id", "BIGINT"},
                          {"amount", "DECIMAL(18,2)"},
                          {"note", "VARCHAR"},
                          {"customer_id", "BIGINT"},
                          {"ts", "TIMESTAMP"}})},
      {"customers", Columns({{"id", "BIGINT"}, {"name", "VARCHAR"}, {"region", "VARCHAR"}})},
  };
}

std::unique_ptr<warehouse::PlanProbe> Probe() {
  auto probe = warehouse::OpenPlanProbe();
  EXPECT_TRUE(probe) << probe.error().message;
  for (const auto& [name, columns] : Staging()) {
    EXPECT_TRUE((*probe)->AddTable("staging", name, columns));
  }
  EXPECT_TRUE((*probe)->AddTable("analytics", "a",
                                 Columns({{"id", "BIGINT"}, {"amount", "DECIMAL(18,2)"},
                                          {"note", "VARCHAR"}})));
  return std::move(*probe);
}

Lineage Analyze(const std::string& sql) {
  auto probe = Probe();
  auto functions = probe->NonDeterministicFunctions();
  EXPECT_TRUE(functions);
  auto bound = probe->Bind(sql);
  if (!bound) return UnknownLineage("does not bind: " + bound.error().message);
  std::vector<std::string> names;
  for (const auto& c : bound->columns.columns) names.push_back(c.name);
  return LineageFromPlan(bound->plan_json, names, *functions);
}

// {"table": "col,col"} for compact expectations.
std::map<std::string, std::string> Compact(const TableColumns& tables) {
  std::map<std::string, std::string> out;
  for (const auto& [table, columns] : tables) {
    std::string list;
    for (const auto& c : columns) list += (list.empty() ? "" : ",") + c;
    out[table] = list;
  }
  return out;
}

std::map<std::string, std::string> Reads(const Lineage& lineage) { return Compact(lineage.reads); }

std::map<std::string, std::string> Sources(const Lineage& lineage, const std::string& column) {
  for (const auto& c : lineage.outputs) {
    if (c.name == column) return Compact(c.sources);
  }
  ADD_FAILURE() << "no output column " << column;
  return {};
}

using ReadSet = std::map<std::string, std::string>;

// ~20 query shapes and the upstream columns each reads (columns sorted
// case-insensitively, comma-separated).
struct Shape {
  const char* name;
  const char* sql;
  ReadSet reads;
};

class ReadSetOf : public testing::TestWithParam<Shape> {};

TEST_P(ReadSetOf, QueryShape) {
  const Shape& shape = GetParam();
  const Lineage lineage = Analyze(shape.sql);
  ASSERT_TRUE(lineage.known) << lineage.unknown_reason;
  EXPECT_EQ(Reads(lineage), shape.reads) << shape.sql;
  EXPECT_EQ(lineage.outputs_unknown_reason, "") << shape.sql;
}

const Shape kShapes[] = {
    {"ProjectionReadsOnlyItsColumns", "SELECT id, upper(note) AS note FROM staging.orders",
     {{"staging.orders", "id,note"}}},
    {"ColumnOnlyInWhereIsRead", "SELECT id FROM staging.orders WHERE amount > 0",
     {{"staging.orders", "amount,id"}}},
    {"ColumnOnlyInJoinConditionIsRead",
     "SELECT o.id, c.name FROM staging.orders o JOIN staging.customers c ON o.customer_id = c.id",
     {{"staging.customers", "id,name"}, {"staging.orders", "customer_id,id"}}},
    {"LeftJoinWithFilterInCondition",
     "SELECT o.id FROM staging.orders o LEFT JOIN staging.customers c "
     "ON o.customer_id = c.id AND c.region = 'eu'",
     {{"staging.customers", "id,region"}, {"staging.orders", "customer_id,id"}}},
    {"JoinUsing", "SELECT id, name FROM staging.customers JOIN analytics.a USING (id)",
     {{"analytics.a", "id"}, {"staging.customers", "id,name"}}},
    {"SelectStarReadsEveryColumn", "SELECT * FROM staging.customers",
     {{"staging.customers", "id,name,region"}}},
    {"StarExclude", "SELECT * EXCLUDE (note, ts) FROM staging.orders",
     {{"staging.orders", "amount,customer_id,id"}}},
    {"StarReplace", "SELECT * REPLACE (name || '!' AS name) FROM staging.customers",
     {{"staging.customers", "id,name,region"}}},
    {"CteResolvedToItsTable",
     "WITH big AS (SELECT id, amount FROM staging.orders WHERE amount > 100) "
     "SELECT id FROM big",
     {{"staging.orders", "amount,id"}}},
    {"CteUsedTwice",
     "WITH x AS (SELECT id, customer_id FROM staging.orders) "
     "SELECT x.id FROM x JOIN x AS y ON x.customer_id = y.id",
     {{"staging.orders", "customer_id,id"}}},
    {"WindowPartitionAndOrderAreRead",
     "SELECT id, row_number() OVER (PARTITION BY customer_id ORDER BY ts) AS rn FROM staging.orders",
     {{"staging.orders", "customer_id,id,ts"}}},
    {"Qualify",
     "SELECT id FROM staging.orders QUALIFY row_number() OVER (PARTITION BY customer_id "
     "ORDER BY ts DESC) = 1",
     {{"staging.orders", "customer_id,id,ts"}}},
    {"GroupByAll", "SELECT customer_id, sum(amount) AS total FROM staging.orders GROUP BY ALL",
     {{"staging.orders", "amount,customer_id"}}},
    {"HavingIsRead",
     "SELECT customer_id FROM staging.orders GROUP BY customer_id HAVING max(ts) > "
     "TIMESTAMP '2020-01-01'",
     {{"staging.orders", "customer_id,ts"}}},
    {"SubqueryInWhereIn",
     "SELECT id FROM staging.orders WHERE customer_id IN "
     "(SELECT id FROM staging.customers WHERE region = 'eu')",
     {{"staging.customers", "id,region"}, {"staging.orders", "customer_id,id"}}},
    {"CorrelatedExists",
     "SELECT id FROM staging.orders o WHERE EXISTS "
     "(SELECT 1 FROM staging.customers c WHERE c.id = o.customer_id)",
     {{"staging.customers", "id"}, {"staging.orders", "customer_id,id"}}},
    {"ScalarSubqueryInSelect",
     "SELECT id, (SELECT max(amount) FROM staging.orders o WHERE o.customer_id = c.id) AS top "
     "FROM staging.customers c",
     {{"staging.customers", "id"}, {"staging.orders", "amount,customer_id"}}},
    {"UnionReadsBothSides",
     "SELECT id, note AS label FROM staging.orders UNION SELECT id, name FROM staging.customers",
     {{"staging.customers", "id,name"}, {"staging.orders", "id,note"}}},
    {"OrderByAndLimit", "SELECT id FROM staging.orders ORDER BY ts DESC LIMIT 10",
     {{"staging.orders", "id,ts"}}},
    {"CountStarReadsRowsNoColumn", "SELECT count(*) AS n FROM staging.orders",
     {{"staging.orders", ""}}},
    {"UpstreamModel", "SELECT id, sum(amount) AS total FROM analytics.a GROUP BY id",
     {{"analytics.a", "amount,id"}}},
    {"NamesAreCaseInsensitive", "SELECT ID, Amount FROM STAGING.Orders",
     {{"staging.orders", "amount,id"}}},
    {"WhereOneEqualsZeroStillReads", "SELECT id FROM staging.orders WHERE 1 = 0 AND amount > 0",
     {{"staging.orders", "amount,id"}}},
};

INSTANTIATE_TEST_SUITE_P(Lineage, ReadSetOf, testing::ValuesIn(kShapes),
                         [](const testing::TestParamInfo<Shape>& info) { return info.param.name; });

TEST(LineageTest, ReadsCompareCaseInsensitively) {
  const Lineage lineage = Analyze("SELECT id FROM staging.orders WHERE amount > 0");
  EXPECT_TRUE(lineage.MayRead("STAGING.ORDERS", "Amount"));
  EXPECT_FALSE(lineage.MayRead("staging.orders", "note"));
  EXPECT_FALSE(lineage.MayRead("staging.customers", "id"));
}

TEST(LineageTest, OutputColumnComesFromItsExpressionOnly) {
  const Lineage lineage =
      Analyze("SELECT id, amount, upper(note) AS note FROM staging.orders WHERE customer_id > 0");
  ASSERT_EQ(lineage.outputs_unknown_reason, "");
  EXPECT_EQ(Sources(lineage, "note"), (ReadSet{{"staging.orders", "note"}}));
  EXPECT_EQ(Sources(lineage, "amount"), (ReadSet{{"staging.orders", "amount"}}));
}

TEST(LineageTest, OutputColumnsThroughJoinAggregateAndUnion) {
  const Lineage lineage = Analyze(
      "WITH t AS (SELECT c.region, sum(o.amount) AS total FROM staging.orders o "
      "JOIN staging.customers c ON o.customer_id = c.id GROUP BY ALL) "
      "SELECT region, total FROM t UNION ALL SELECT name, 0 FROM staging.customers");
  ASSERT_EQ(lineage.outputs_unknown_reason, "");
  EXPECT_EQ(Sources(lineage, "region"), (ReadSet{{"staging.customers", "name,region"}}));
  EXPECT_EQ(Sources(lineage, "total"), (ReadSet{{"staging.orders", "amount"}}));
}

TEST(LineageTest, OutputColumnOfCorrelatedSubquery) {
  const Lineage lineage =
      Analyze("SELECT id, (SELECT max(amount) FROM staging.orders o WHERE o.customer_id = c.id) "
              "AS top FROM staging.customers c");
  ASSERT_EQ(lineage.outputs_unknown_reason, "");
  EXPECT_EQ(Sources(lineage, "id"), (ReadSet{{"staging.customers", "id"}}));
  EXPECT_EQ(Sources(lineage, "top")["staging.orders"], "amount");
}

TEST(LineageTest, LambdaParametersAreNotInputColumns) {
  const Lineage lineage = Analyze(
      "SELECT id, list_transform([1, 2], x -> x + customer_id) AS shifted FROM staging.orders");
  ASSERT_EQ(lineage.outputs_unknown_reason, "");
  EXPECT_EQ(Sources(lineage, "shifted"), (ReadSet{{"staging.orders", "customer_id"}}));
}

TEST(LineageTest, WindowOutputComesFromItsArguments) {
  const Lineage lineage = Analyze(
      "SELECT id, sum(amount) OVER (PARTITION BY customer_id) AS running FROM staging.orders");
  ASSERT_EQ(lineage.outputs_unknown_reason, "");
  EXPECT_EQ(Sources(lineage, "running"), (ReadSet{{"staging.orders", "amount,customer_id"}}));
}

TEST(LineageTest, RandomMakesLineageUnknown) {
  const Lineage lineage = Analyze("SELECT id, random() AS r FROM staging.orders");
  EXPECT_FALSE(lineage.known);
  EXPECT_NE(lineage.unknown_reason.find("random()"), std::string::npos) << lineage.unknown_reason;
  EXPECT_TRUE(lineage.reads.empty());
  EXPECT_TRUE(lineage.MayRead("staging.orders", "note"));
}

TEST(LineageTest, NowMakesLineageUnknown) {
  const Lineage lineage = Analyze("SELECT id FROM staging.orders WHERE ts > now() - INTERVAL 1 DAY");
  EXPECT_FALSE(lineage.known);
  EXPECT_NE(lineage.unknown_reason.find("now()"), std::string::npos) << lineage.unknown_reason;
}

TEST(LineageTest, CurrentTimestampMakesLineageUnknown) {
  const Lineage lineage = Analyze("SELECT id, current_timestamp AS at FROM staging.orders");
  EXPECT_FALSE(lineage.known) << "current_timestamp binds to get_current_timestamp";
}

TEST(LineageTest, SampleMakesLineageUnknown) {
  const Lineage lineage = Analyze("SELECT id FROM staging.orders USING SAMPLE 10%");
  EXPECT_FALSE(lineage.known);
}

TEST(LineageTest, TableFunctionMakesLineageUnknown) {
  const Lineage lineage = Analyze("SELECT * FROM range(3) r(i)");
  EXPECT_FALSE(lineage.known);
  EXPECT_NE(lineage.unknown_reason.find("range"), std::string::npos) << lineage.unknown_reason;
}

TEST(LineageTest, BinderErrorIsNotABind) {
  auto probe = Probe();
  auto bound = probe->Bind("SELECT nope FROM staging.orders");
  ASSERT_FALSE(bound);
  EXPECT_EQ(bound.error().code, "model_sql_invalid");
  EXPECT_NE(bound.error().message.find("nope"), std::string::npos);
}

TEST(LineageTest, UnrecognisedJsonIsUnknown) {
  const std::set<std::string> none;
  EXPECT_FALSE(LineageFromPlan("not json", {}, none).known);
  EXPECT_FALSE(LineageFromPlan(R"({"error":false,"plans":[{"type":"LOGICAL_TELEPORT","children":[]}]})",
                               {}, none)
                   .known);
  EXPECT_FALSE(
      LineageFromPlan(R"({"error":false,"plans":[{"type":"LOGICAL_GET","children":[],"name":"seq_scan"}]})",
                      {}, none)
          .known);
  EXPECT_FALSE(LineageFromPlan(R"({"error":true,"error_message":"boom"})", {}, none).known);
}

// The issue's example: a reads staging.orders, b reads a; a model with
// random() is unknown; a model over a model that does not bind is unknown.
TEST(LineageTest, AnalyzeFollowsTheDagInOrder) {
  std::vector<Model> models = {
      {.name = "a", .sql = "SELECT id, amount, upper(note) AS note FROM staging.orders"},
      {.name = "b", .sql = "SELECT id, sum(amount) AS total FROM analytics.a GROUP BY id"},
      {.name = "c", .sql = "SELECT id, random() AS r FROM analytics.a"},
      {.name = "d", .sql = "SELECT missing FROM staging.customers"},
      {.name = "e", .sql = "SELECT * FROM analytics.d"},
  };
  auto dag = BuildDag(models, {"orders", "customers"}, "staging", "analytics", DuckDbParseFn());
  ASSERT_TRUE(dag) << dag.error().message;
  auto probe = warehouse::OpenPlanProbe();
  ASSERT_TRUE(probe);
  auto lineages = AnalyzeLineage(models, *dag, Staging(), **probe);
  ASSERT_TRUE(lineages) << lineages.error().message;
  EXPECT_EQ(Reads(lineages->at("a")), (ReadSet{{"staging.orders", "amount,id,note"}}));
  EXPECT_EQ(Reads(lineages->at("b")), (ReadSet{{"analytics.a", "amount,id"}}));
  EXPECT_FALSE(lineages->at("b").MayRead("analytics.a", "note"));
  EXPECT_FALSE(lineages->at("c").known);
  EXPECT_FALSE(lineages->at("d").known);
  EXPECT_NE(lineages->at("d").unknown_reason.find("missing"), std::string::npos);
  EXPECT_FALSE(lineages->at("e").known);
  EXPECT_NE(lineages->at("e").unknown_reason.find("analytics.d"), std::string::npos)
      << lineages->at("e").unknown_reason;
  EXPECT_EQ(ReadersOf(*dag, *lineages, "analytics.a", "note"),
            (std::vector<std::string>{"c"}));
  EXPECT_EQ(ReadersOf(*dag, *lineages, "staging.orders", "amount"),
            (std::vector<std::string>{"a"}));
}

TEST(LineageTest, AnUpstreamViewModelIsReadAsItsOwnColumnsNotTheTablesBehindIt) {
  std::vector<Model> models = {
      {.name = "v", .sql = "SELECT id, amount FROM staging.orders", .strategy = Strategy::kView},
      {.name = "w", .sql = "SELECT * FROM analytics.v WHERE amount > 0"},
  };
  auto dag = BuildDag(models, {"orders"}, "staging", "analytics", DuckDbParseFn());
  ASSERT_TRUE(dag) << dag.error().message;
  auto probe = warehouse::OpenPlanProbe();
  ASSERT_TRUE(probe);
  auto lineages = AnalyzeLineage(models, *dag, Staging(), **probe);
  ASSERT_TRUE(lineages);
  EXPECT_EQ(Reads(lineages->at("w")), (ReadSet{{"analytics.v", "amount,id"}}));
}

TEST(LineageTest, ATimeIntervalModelIsBoundWithOneWindow) {
  std::vector<Model> models = {
      {.name = "daily",
       .sql = "SELECT id, amount FROM staging.orders WHERE ts >= @start_date AND ts < @end_date",
       .strategy = Strategy::kTimeInterval},
  };
  auto dag = BuildDag(models, {"orders"}, "staging", "analytics", DuckDbParseFn());
  ASSERT_TRUE(dag) << dag.error().message;
  auto probe = warehouse::OpenPlanProbe();
  ASSERT_TRUE(probe);
  auto lineages = AnalyzeLineage(models, *dag, Staging(), **probe);
  ASSERT_TRUE(lineages);
  ASSERT_TRUE(lineages->at("daily").known) << lineages->at("daily").unknown_reason;
  EXPECT_EQ(Reads(lineages->at("daily")), (ReadSet{{"staging.orders", "amount,id,ts"}}));
}

TEST(LineageTest, StagingTableWithoutColumnsMakesItsReadersUnknown) {
  std::vector<Model> models = {{.name = "a", .sql = "SELECT id FROM staging.orders"}};
  auto dag = BuildDag(models, {"orders"}, "staging", "analytics", DuckDbParseFn());
  ASSERT_TRUE(dag);
  auto probe = warehouse::OpenPlanProbe();
  ASSERT_TRUE(probe);
  auto lineages = AnalyzeLineage(models, *dag, {}, **probe);
  ASSERT_TRUE(lineages);
  EXPECT_FALSE(lineages->at("a").known);
  EXPECT_NE(lineages->at("a").unknown_reason.find("staging.orders"), std::string::npos);
}

TEST(LineageTest, JsonNamesReadsSourcesAndReaders) {
  std::vector<Model> models = {
      {.name = "a", .sql = "SELECT id, upper(note) AS note FROM staging.orders WHERE amount > 0"},
      {.name = "b", .sql = "SELECT count(*) AS n FROM analytics.a WHERE note IS NOT NULL"},
  };
  auto dag = BuildDag(models, {"orders"}, "staging", "analytics", DuckDbParseFn());
  ASSERT_TRUE(dag) << dag.error().message;
  auto probe = warehouse::OpenPlanProbe();
  ASSERT_TRUE(probe);
  auto lineages = AnalyzeLineage(models, *dag, Staging(), **probe);
  ASSERT_TRUE(lineages);
  EXPECT_EQ(ModelLineageJson(*dag, *lineages, "a"),
            R"({"columns":[{"name":"id","read_by":[],"sources":{"staging.orders":["id"]}},)"
            R"({"name":"note","read_by":["b"],"sources":{"staging.orders":["note"]}}],)"
            R"("columns_unknown_reason":null,"known":true,"model":"a",)"
            R"("reads":{"staging.orders":["amount","id","note"]},"unknown_reason":null})");
  EXPECT_EQ(ModelLineageJson(*dag, *lineages, "nope"), "");
  const auto all = nlohmann::json::parse(LineagesToJson(*dag, *lineages));
  ASSERT_EQ(all["models"].size(), 2u);
  EXPECT_EQ(all["models"][1]["reads"], nlohmann::json::parse(R"({"analytics.a":["note"]})"));
}

// json_serialize_plan's output is DuckDB's internal format: these goldens pin
// it for a few shapes, so a DuckDB upgrade that changes it fails here first.
// To accept a new format after checking the read sets above still hold:
// LANDFALL_UPDATE_GOLDEN=1 rewrites the files.
class RawPlanGolden : public testing::TestWithParam<std::pair<const char*, const char*>> {};

TEST_P(RawPlanGolden, MatchesDuckDb) {
  const auto& [name, sql] = GetParam();
  auto probe = Probe();
  auto bound = probe->Bind(sql);
  ASSERT_TRUE(bound) << bound.error().message;
  const nlohmann::json plan = nlohmann::json::parse(bound->plan_json);
  const fs::path file = kGolden / (std::string(name) + ".json");
  if (std::getenv("LANDFALL_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(file) << plan.dump(1) << "\n";
  }
  std::ifstream in(file);
  ASSERT_TRUE(in) << file;
  const nlohmann::json golden = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  EXPECT_EQ(plan, golden) << name << ": DuckDB's plan JSON changed:\n" << plan.dump(1);
}

INSTANTIATE_TEST_SUITE_P(
    Lineage, RawPlanGolden,
    testing::Values(
        std::pair{"where_only", "SELECT id FROM staging.orders WHERE amount > 0"},
        std::pair{"join_group_by",
                  "SELECT c.region, sum(o.amount) AS total FROM staging.orders o "
                  "JOIN staging.customers c ON o.customer_id = c.id GROUP BY ALL"},
        std::pair{"cte_window",
                  "WITH x AS (SELECT id, customer_id, ts FROM staging.orders) SELECT id, "
                  "row_number() OVER (PARTITION BY customer_id ORDER BY ts) AS rn FROM x"},
        std::pair{"exists_subquery",
                  "SELECT id FROM staging.orders o WHERE EXISTS "
                  "(SELECT 1 FROM staging.customers c WHERE c.id = o.customer_id)"},
        std::pair{"count_star", "SELECT count(*) AS n FROM staging.orders"}),
    [](const auto& info) { return std::string(info.param.first); });

}  // namespace
}  // namespace landfall::model
