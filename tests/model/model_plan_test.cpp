// PlanModels' decisions that lineage builds on, as a pure function: a staging
// table loaded again from the same batches is a change (its batch ids alone
// would not show it), and a step whose only changes are upstream models says
// which, for the runner's column decision.
#include "lib/model/model_plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace landfall::model {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

Model M(std::string name, std::string sql) {
  Model m;
  m.name = std::move(name);
  m.sql_file = "models/" + m.name + ".sql";
  m.sql = std::move(sql);
  m.sql_hash = "h-" + m.sql;
  m.config_hash = "c";
  return m;
}

schema::Schema Columns(const std::string& amount_type) {
  schema::Schema s;
  s.columns = {{.name = "id", .type = "INTEGER"}, {.name = "amount", .type = amount_type}};
  return s;
}

class ModelPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    models_ = {M("a", "SELECT id, amount FROM staging.orders"), M("b", "SELECT id FROM analytics.a")};
    dag_.staging_schema = "staging";
    dag_.models_schema = "analytics";
    dag_.order = {"a", "b"};
    dag_.upstream["a"] = {{"staging", "orders"}};
    dag_.upstream["b"] = {{"analytics", "a"}};
    dag_.staging_readers["orders"] = {"a"};
    dag_.downstream_models["a"] = {"b"};
    orders_.exists = true;
    orders_.columns = Columns("DOUBLE");
    orders_.ledger["batch1"] = {.batch_id = "batch1", .rel_path = "orders/1.parquet", .rows = 3, .loaded_at_us = 100};
    input_.models = &models_;
    input_.dag = &dag_;
    input_.staging["orders"] = orders_;
    for (const auto& m : models_) input_.stored[m.name] = {.sql_hash = m.sql_hash, .config_hash = m.config_hash};
    // Both built: a consumed batch1 (and remembered the table's columns and
    // load time), b consumed a's version 1.
    auto& a = input_.contents["a"];
    a.exists = true;
    a.version = 1;
    a.consumed["staging.orders"] = {"batch1"};
    a.inputs["staging.orders"] = StagingInputOf(orders_);
    auto& b = input_.contents["b"];
    b.exists = true;
    b.version = 1;
    b.consumed["analytics.a"] = {"1"};
  }
  const ModelStep& Step(const std::vector<ModelStep>& steps, const std::string& name) {
    for (const auto& s : steps) {
      if (s.model == name) return s;
    }
    ADD_FAILURE() << "no step " << name;
    return steps.front();
  }

  std::vector<Model> models_;
  Dag dag_;
  warehouse::TableContents orders_;
  ModelPlanInput input_;
};

TEST_F(ModelPlanTest, NothingChangedSkipsEverything) {
  const auto steps = PlanModels(input_);
  EXPECT_EQ(Step(steps, "a").action, ModelAction::kSkip);
  EXPECT_EQ(Step(steps, "b").action, ModelAction::kSkip);
}

TEST_F(ModelPlanTest, TheSameBatchesLoadedAgainRunTheReaderWithTheDrift) {
  auto& orders = input_.staging["orders"];
  orders.ledger["batch1"].loaded_at_us = 200;
  orders.columns = Columns("DECIMAL(18,3)");
  const auto steps = PlanModels(input_);
  const ModelStep& a = Step(steps, "a");
  EXPECT_EQ(a.action, ModelAction::kRun);
  EXPECT_THAT(a.reasons, ElementsAre(ModelReason{kUpstreamRebuilt, "staging.orders: its batches were loaded again "
                                                                   "(amount: DOUBLE -> DECIMAL(18,3))"}));
  EXPECT_THAT(a.model_changes, IsEmpty());  // a staging change: no column decision
  // b waits for a: only an upstream model changed for it.
  const ModelStep& b = Step(steps, "b");
  EXPECT_EQ(b.action, ModelAction::kRun);
  EXPECT_THAT(b.model_changes, ElementsAre("analytics.a"));
}

TEST_F(ModelPlanTest, AModelThatRememberedNoInputsIsNotRunForThem) {
  // Built before inputs were kept: only its batch ids tell.
  input_.contents["a"].inputs.clear();
  input_.staging["orders"].ledger["batch1"].loaded_at_us = 200;
  const auto steps = PlanModels(input_);
  EXPECT_EQ(Step(steps, "a").action, ModelAction::kSkip);
}

TEST_F(ModelPlanTest, ANewBatchMakesTheStagingReaderRunWithoutAColumnDecision) {
  input_.staging["orders"].ledger["batch2"] = {.batch_id = "batch2", .rel_path = "orders/2.parquet", .rows = 1,
                                               .loaded_at_us = 300};
  const auto steps = PlanModels(input_);
  EXPECT_THAT(Step(steps, "a").reasons, ElementsAre(ModelReason{kUpstreamChanged, "staging.orders: 1 batch"}));
  EXPECT_THAT(Step(steps, "a").model_changes, IsEmpty());
  EXPECT_THAT(Step(steps, "b").model_changes, ElementsAre("analytics.a"));
}

TEST_F(ModelPlanTest, AReasonOfItsOwnLeavesNoColumnDecision) {
  input_.contents["a"].version = 2;  // written since b ran
  input_.stored["b"].sql_hash = "edited";
  const auto steps = PlanModels(input_);
  const ModelStep& b = Step(steps, "b");
  EXPECT_EQ(b.action, ModelAction::kRebuild);
  EXPECT_THAT(b.model_changes, IsEmpty());
}

TEST_F(ModelPlanTest, AnUpstreamWrittenSinceTheModelRanIsAColumnDecision) {
  input_.contents["a"].version = 2;
  const auto steps = PlanModels(input_);
  const ModelStep& b = Step(steps, "b");
  EXPECT_EQ(b.action, ModelAction::kRun);
  EXPECT_THAT(b.model_changes, ElementsAre("analytics.a"));
}

}  // namespace
}  // namespace landfall::model
