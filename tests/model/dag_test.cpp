#include "lib/model/dag.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

namespace landfall::model {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A fake parser: the tables are the words after FROM and JOIN ("s.t" or
// "t"); SQL containing "BAD" fails on its second line.
Result<std::vector<TableRef>> FakeParse(const std::string& sql) {
  if (sql.find("BAD") != std::string::npos)
    return Fail("model_sql_invalid", "line 2: syntax error at BAD");
  std::istringstream in(sql);
  std::vector<TableRef> out;
  std::string word, previous;
  while (in >> word) {
    if (previous == "FROM" || previous == "JOIN") {
      const auto dot = word.find('.');
      out.push_back(dot == std::string::npos ? TableRef{"", word}
                                             : TableRef{word.substr(0, dot), word.substr(dot + 1)});
    }
    previous = word;
  }
  return out;
}

Model M(std::string name, std::string sql) {
  Model m;
  m.name = std::move(name);
  m.sql_file = "models/" + m.name + ".sql";
  m.sql = std::move(sql);
  return m;
}

const std::set<std::string> kStaging = {"orders", "customers", "events"};

Result<Dag> Build(const std::vector<Model>& models) {
  return BuildDag(models, kStaging, "staging", "analytics", FakeParse);
}

Dag BuildOk(const std::vector<Model>& models) {
  auto dag = Build(models);
  EXPECT_TRUE(dag) << dag.error().message;
  return dag ? *dag : Dag{};
}

Error ErrorOf(const std::vector<Model>& models) {
  auto dag = Build(models);
  if (dag) {
    ADD_FAILURE() << "expected an error";
    return {};
  }
  return dag.error();
}

// c reads b reads a reads staging.orders; d reads staging.customers; e reads a and d.
std::vector<Model> Chain() {
  return {M("a", "SELECT * FROM staging.orders"), M("b", "SELECT * FROM analytics.a"),
          M("c", "SELECT * FROM analytics.b"), M("d", "SELECT * FROM staging.customers"),
          M("e", "SELECT * FROM analytics.a JOIN analytics.d")};
}

TEST(DagTest, UpstreamComesFirstAndTiesGoByName) {
  // z reads nothing and comes first by its readiness, after a by name.
  auto models = Chain();
  models.push_back(M("z", "SELECT 1"));
  models.insert(models.begin(), M("y", "SELECT * FROM analytics.c"));
  EXPECT_THAT(BuildOk(models).order, ElementsAre("a", "b", "c", "d", "e", "y", "z"));
}

TEST(DagTest, EdgesListStagingTablesAndModelsBothWays) {
  const Dag dag = BuildOk(Chain());
  EXPECT_THAT(dag.upstream.at("e"),
              ElementsAre(TableRef{"analytics", "a"}, TableRef{"analytics", "d"}));
  EXPECT_THAT(dag.upstream.at("a"), ElementsAre(TableRef{"staging", "orders"}));
  EXPECT_THAT(dag.downstream_models.at("a"), ElementsAre("b", "e"));
  EXPECT_THAT(dag.downstream_models.at("c"), IsEmpty());
  EXPECT_THAT(dag.staging_readers.at("orders"), ElementsAre("a"));
  EXPECT_FALSE(dag.staging_readers.contains("events"));
}

TEST(DagTest, NamesCompareCaseInsensitivelyAndTakeTheKnownSpelling) {
  const Dag dag = BuildOk({M("a", "SELECT * FROM STAGING.Orders")});
  EXPECT_THAT(dag.upstream.at("a"), ElementsAre(TableRef{"staging", "orders"}));
}

TEST(DagTest, DependsOnAddsAnEdgeTheSqlDoesNotShow) {
  auto models = Chain();
  models[3].depends_on = {{"analytics", "c"}};  // d after c
  const Dag dag = BuildOk(models);
  EXPECT_THAT(dag.order, ElementsAre("a", "b", "c", "d", "e"));
  EXPECT_THAT(dag.downstream_models.at("c"), ElementsAre("d"));
}

TEST(DagTest, ACycleNamesItsModelsInOrderAndTheirFiles) {
  auto models = Chain();
  models[0] = M("a", "SELECT * FROM analytics.c");
  const Error error = ErrorOf(models);
  EXPECT_EQ(error.code, "model_cycle");
  EXPECT_THAT(error.message, HasSubstr("a -> c -> b -> a"));
  EXPECT_THAT(error.message, HasSubstr("models/a.sql, models/c.sql, models/b.sql"));
}

TEST(DagTest, AModelReadingItselfIsACycle) {
  const Error error = ErrorOf({M("a", "SELECT * FROM analytics.a")});
  EXPECT_EQ(error.code, "model_cycle");
  EXPECT_THAT(error.message, HasSubstr("a -> a"));
}

TEST(DagTest, AnUnknownStagingTableNamesTheModelAndFile) {
  const Error error = ErrorOf({M("a", "SELECT * FROM staging.refunds")});
  EXPECT_EQ(error.code, "model_unknown_table");
  EXPECT_EQ(error.message,
            "model a (models/a.sql): reads staging.refunds, which is no staging table");
}

TEST(DagTest, AnUnknownModelNamesTheModelAndFile) {
  const Error error = ErrorOf({M("a", "SELECT * FROM analytics.nothing")});
  EXPECT_EQ(error.code, "model_unknown_table");
  EXPECT_THAT(error.message,
              HasSubstr("model a (models/a.sql): reads analytics.nothing, which is no model"));
}

TEST(DagTest, AnUnknownDependsOnNamesTheYamlFile) {
  Model m = M("a", "SELECT 1");
  m.yaml_file = "models/a.yaml";
  m.depends_on = {{"staging", "nothing"}};
  const Error error = ErrorOf({m});
  EXPECT_EQ(error.code, "model_unknown_table");
  EXPECT_THAT(error.message, HasSubstr("models/a.yaml: depends_on: staging.nothing"));
}

TEST(DagTest, ASchemaLessReferenceMustBeQualified) {
  const Error error = ErrorOf({M("a", "SELECT * FROM orders")});
  EXPECT_EQ(error.code, "model_invalid");
  EXPECT_THAT(error.message, HasSubstr("reads orders without a schema; write staging.orders"));
}

TEST(DagTest, AnotherSchemaIsInvalid) {
  const Error error = ErrorOf({M("a", "SELECT * FROM main.orders")});
  EXPECT_EQ(error.code, "model_invalid");
  EXPECT_THAT(error.message, HasSubstr("reads main.orders; a model reads only staging.<table>"));
}

TEST(DagTest, AParseErrorNamesTheFileAndLine) {
  const Error error = ErrorOf({M("a", "SELECT\nBAD")});
  EXPECT_EQ(error.code, "model_sql_invalid");
  EXPECT_EQ(error.message, "model a: models/a.sql:2: syntax error at BAD");
}

TEST(DagTest, IncrementalByBatchOverTwoStagingTablesNeedsADriver) {
  Model m = M("a", "SELECT * FROM staging.orders JOIN staging.customers");
  m.strategy = Strategy::kIncremental;
  const Error error = ErrorOf({m});
  EXPECT_EQ(error.code, "model_invalid");
  EXPECT_THAT(error.message,
              HasSubstr("reads 2 staging tables (staging.customers, staging.orders)"));
  m.incremental.driver = "staging.orders";
  const Dag dag = BuildOk({m});
  EXPECT_EQ(DriverOf(dag, m), "staging.orders");
  m.incremental.driver = "staging.events";
  EXPECT_THAT(
      ErrorOf({m}).message,
      HasSubstr("incremental.driver: staging.events is not a staging table the model reads"));
}

TEST(DagTest, TheDriverIsTheOneStagingTableAModelReads) {
  const auto models = Chain();
  const Dag dag = BuildOk(models);
  EXPECT_EQ(DriverOf(dag, models[0]), "staging.orders");
  EXPECT_EQ(DriverOf(dag, models[1]), "");  // reads a model only
}

// ---- selection ----

std::vector<std::string> Selected(const Dag& dag, std::string_view spec) {
  auto selected = Select(dag, spec);
  EXPECT_TRUE(selected) << selected.error().message;
  return selected ? InDagOrder(dag, *selected) : std::vector<std::string>{};
}

TEST(SelectTest, NamesSelectThoseModels) {
  const Dag dag = BuildOk(Chain());
  EXPECT_THAT(Selected(dag, "c,a"), ElementsAre("a", "c"));
  EXPECT_THAT(Selected(dag, " b "), ElementsAre("b"));
}

TEST(SelectTest, APlusAfterANameAddsEverythingDownstream) {
  const Dag dag = BuildOk(Chain());
  EXPECT_THAT(Selected(dag, "a+"), ElementsAre("a", "b", "c", "e"));
}

TEST(SelectTest, APlusBeforeANameAddsEverythingUpstream) {
  const Dag dag = BuildOk(Chain());
  EXPECT_THAT(Selected(dag, "+e"), ElementsAre("a", "d", "e"));
  EXPECT_THAT(Selected(dag, "+b+"), ElementsAre("a", "b", "c"));
}

TEST(SelectTest, AnUnknownNameOrAnEmptyTermIsAnError) {
  const Dag dag = BuildOk(Chain());
  auto unknown = Select(dag, "a,nope+");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, "model_selection_invalid");
  EXPECT_THAT(unknown.error().message, HasSubstr("no model named 'nope'"));
  EXPECT_FALSE(Select(dag, "a,,b"));
  EXPECT_FALSE(Select(dag, ""));
}

TEST(DownstreamOfStagingTest, ModelsReadingChangedTablesTransitivelyInDagOrder) {
  const Dag dag = BuildOk(Chain());
  EXPECT_THAT(DownstreamOfStaging(dag, {"customers"}), ElementsAre("d", "e"));
  EXPECT_THAT(DownstreamOfStaging(dag, {"orders", "customers"}),
              ElementsAre("a", "b", "c", "d", "e"));
  EXPECT_THAT(DownstreamOfStaging(dag, {"events"}), IsEmpty());
}

}  // namespace
}  // namespace landfall::model
