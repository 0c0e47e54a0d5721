// The model phase of a run: after staging, plans every model (model_plan.h)
// against what the warehouse now holds, and runs the models that need it in
// DAG order on the worker pool (independent models in parallel), recording
// each outcome in the state store.
//
// One model phase at a time (a mutex): the daemon's runs over disjoint tables
// may end together, and a model must never be written by two of them.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "lib/common/clock.h"
#include "lib/common/result.h"
#include "lib/common/thread_pool.h"
#include "lib/config/config.h"
#include "lib/model/dag.h"
#include "lib/model/model.h"
#include "lib/model/model_plan.h"
#include "lib/state/state_store.h"
#include "lib/warehouse/warehouse.h"

namespace landfall::exec {

struct ModelRunRequest {
  // `--models`: "a,b", "a+" (and its downstream), "+a" (and its upstream);
  // "" selects every model.
  std::string selection;
  bool full_refresh = false;             // rebuild the selected models (every model when none is)
  std::set<std::string> failed_tables;  // staging tables that failed in this run
  // Tables the landing directory holds: for the graph, besides the staging
  // tables the warehouse holds (a plan before their first run).
  std::set<std::string> landing_tables;
  // A dry run: the staging plan's changes (table -> action), see ModelPlanInput.
  std::map<std::string, std::string> planned_tables;
  // Time-interval models: the partitions asked for (--partition, --from/--to,
  // --latest, --missing, --lookback); none: the partitions whose upstream changed.
  model::PartitionSelection partitions;
};

// How one partition (or batch of partitions) of a time-interval model ended.
struct PartitionOutcome {
  model::PartitionPick pick;
  bool ok = true;
  int64_t rows = 0;
  int64_t duration_us = 0;  // of its batch
  std::string error;
};

struct ModelOutcome {
  model::ModelStep step;  // as it ran: a run whose target's columns changed became a rebuild
  warehouse::ModelWriteStats stats;
  int64_t duration_us = 0;
  std::string error;  // when step.action is kFail
  std::vector<PartitionOutcome> partitions;  // time-interval models, by key
  // A time-interval model failed in some partitions but its target is built
  // from its SQL and config (the failed partitions are recorded as failed).
  bool built = false;
  // The model's data checks and row-count anomaly test (model_checks.h),
  // run after its write, or again on a skipped model whose error check
  // failed before; empty when none ran.
  std::vector<state::CheckRecord> checks;
  // An error check failed: the write stands, but the model counts as failed
  // (the run fails) and its downstream models skip with upstream_check_failed.
  bool check_failed = false;
  bool failed() const { return step.action == model::ModelAction::kFail || check_failed; }
};

// The models and their graph as one plan saw them.
struct ModelPlan {
  std::vector<model::Model> models;
  model::Dag dag;
  std::vector<model::ModelStep> steps;  // one per model, in DAG order
  model::PartitionSelection partitions;  // as requested
  // What the warehouse held when planned: the upstream columns of
  // time-interval models' checksums.
  std::map<std::string, warehouse::TableContents> staging;
  std::map<std::string, warehouse::ModelContents> contents;
  // Column lineage of every model (when a step needed it: see Plan), and per
  // model the column sets its downstream models read of it, hashed after
  // its writes for their lineage decisions.
  std::map<std::string, model::Lineage> lineages;
  std::map<std::string, std::vector<std::vector<std::string>>> hash_sets;
  bool HasWork() const;                 // a step that runs, rebuilds or fails
};

class ModelRunner {
 public:
  ModelRunner(const config::Config& config, state::StateStore& state, warehouse::Warehouse& warehouse,
              ThreadPool& pool, const Clock& clock);

  // False when the config has no `models.dir`: then the runner does nothing.
  bool enabled() const { return config_.models.dir.has_value(); }

  // Prepares the warehouse (the models schema, the bookkeeping) and, unless
  // in a cluster, takes the models over (TakeOver). Call once, after the
  // warehouse's own Init.
  Status Start();
  // Marks the partitions a process that died left in progress interrupted,
  // and the models dirty. A cluster member calls it when it wins the models
  // lease. "model_conflict", without waiting, while a phase of this runner
  // is still running.
  Status TakeOver();

  // Loads the model files, builds the DAG against the staging tables the
  // warehouse holds, and plans each model. Errors: the models' own
  // ("model_invalid", "model_cycle", "model_unknown_table",
  // "model_sql_invalid", "model_selection_invalid"), the warehouse's and the
  // state store's. `selection`: a --models spec ("" = every model).
  Result<ModelPlan> Plan(const ModelRunRequest& request);

  // Runs `plan`'s steps and records them under `run_id` (0: not recorded),
  // then, with a run_id, the DAG the plan saw (DagToJson) as the run's DAG
  // snapshot (stored only when it changed). A model that fails fails alone;
  // the models downstream of it skip with upstream_failed (with
  // upstream_check_failed when an error check of it failed). Returns one
  // outcome per model, in DAG order.
  std::vector<ModelOutcome> Execute(const ModelPlan& plan, int64_t run_id);

  // Fills in the partitions each time-interval step would compute (for
  // `landfall plan`; a run finds them as it runs each model, after its
  // upstream models). A step whose partitions cannot be found fails.
  void ResolvePartitions(ModelPlan& plan);

  // Plan and Execute under the runner's mutex (one model phase at a time).
  Result<std::vector<ModelOutcome>> PlanAndExecute(const ModelRunRequest& request, int64_t run_id);

  // Whether a run would do anything to a model. For the daemon's quiet
  // cycles: once a plan found nothing to do, the answer is "no" without a
  // warehouse statement until the model files change, Dirty() is called, or
  // the request asks for something.
  // `steps` gets the plan's steps (all skips when the answer is no).
  Result<bool> HasWork(const ModelRunRequest& request, std::vector<model::ModelStep>& steps);
  // Something models read changed (a table action ran, a model's state was deleted).
  void Dirty();

  // Forgets `model`'s state (StateStore::DeleteModel) and marks the runner
  // dirty. "model_conflict", and nothing deleted, while a model phase or plan
  // holds the phase mutex: its outcome would write the row again.
  Result<bool> DeleteState(const std::string& model);

 private:
  // Runs one step (`done`: the outcomes of the models of lower depth) and records it.
  ModelOutcome RunOne(const ModelPlan& plan, const model::Model& model, model::ModelStep step,
                      const std::map<std::string, ModelOutcome>& done, int64_t run_id);
  // DESCRIBE, the drift check against the target (which may turn `step` into
  // a rebuild), and the write; `columns` gets the query's columns.
  Result<warehouse::ModelWriteStats> Write(const ModelPlan& plan, const model::Model& model,
                                           model::ModelStep& step, schema::Schema& columns);
  // The columns `sql` (the model's SQL, its window in it for a time-interval
  // model) returns, after the drift check against the target, which may turn
  // `step` into a rebuild.
  Result<schema::Schema> DescribeAndCheckDrift(const model::Model& model, const std::string& sql,
                                               model::ModelStep& step);
  warehouse::ModelWrite WriteFor(const model::Model& model, const model::Dag& dag,
                                 const model::ModelStep& step, const schema::Schema& query) const;
  // The model's checks after its write (or again, see the .cpp), into `out`;
  // a failed error check adds reason check_failed to `step`.
  void CheckAfterWrite(const model::Model& model, model::ModelStep& step, ModelOutcome& out, int64_t run_id);
  void Record(const model::Model& model, const ModelOutcome& outcome, const schema::Schema& columns,
              int64_t run_id);
  // A time-interval model's run: the drift check, its partitions found and
  // computed batch by batch, each recorded as it ends.
  Result<warehouse::ModelWriteStats> WritePartitioned(const ModelPlan& plan, const model::Model& model,
                                                      model::ModelStep& step, schema::Schema& columns,
                                                      ModelOutcome& out, int64_t run_id);
  // Lineage: the models' column lineage and the hash sets into `plan`, and
  // each step whose only changes are upstream models marked "pending" (or
  // "recompute" when its lineage is unknown). Analyzed again only when the
  // models or the staging tables' columns changed.
  void AddLineage(ModelPlan& plan);
  // For `landfall plan`: a pending step whose changed upstreams are all
  // rebuilt for their SQL alone gets the decision their edits predict (the
  // output columns whose expressions changed, as SQLMesh categorises
  // changes); left pending when the edit touched more than the select list.
  // `steps` and `models` by name.
  void PredictFromSqlEdits(const ModelPlan& plan, const std::map<std::string, const model::ModelStep*>& steps,
                           const std::map<std::string, const model::Model*>& models, model::ModelStep& step);
  // At run time, once its upstream models are written: skips `step` (and
  // records that it consumed their new versions) when it reads none of the
  // columns whose values changed, else says which it reads.
  void DecideByColumns(const ModelPlan& plan, const model::Model& model, model::ModelStep& step,
                       const std::map<std::string, ModelOutcome>& done);
  // The partitions `step` computes (step.partitions when already found).
  Result<std::vector<model::PartitionPick>> Pick(const ModelPlan& plan, const model::Model& model,
                                                 const model::ModelStep& step);

  const config::Config& config_;
  state::StateStore& state_;
  warehouse::Warehouse& warehouse_;
  ThreadPool& pool_;
  const Clock& clock_;
  std::mutex phase_mu_;  // one model phase at a time

  std::mutex mu_;  // guards the fields below
  std::map<std::string, state::ModelRecord> stored_;  // as last read or written
  // The models' names and hashes when a plan last found nothing to do.
  std::optional<std::string> clean_;
  std::vector<model::ModelStep> clean_steps_;  // that plan's steps
  // The last lineage analysis and what it was of (models and staging columns).
  std::string lineage_key_;
  std::map<std::string, model::Lineage> lineages_;
};

// {"model", "strategy", "action", "reasons": [{"code", "detail"}], "upstream",
// "lineage": {"decision", "detail", "changed_columns", "read_columns"} (only
// when a lineage decision was taken or waits)} per step, and for outcomes also "rows_inserted", "rows_updated",
// "rows_deleted", "batches", "duration_ms", "error", "check_failed" and
// "checks": [{"check", "severity", "passed", "observed", "detail"}]: the "models" array of
// `landfall plan` and `landfall run --format json`.
std::string StepsToJson(const std::vector<model::ModelStep>& steps);
// `landfall plan`'s text lines for the models, one a model:
// "model <name> <action> <reason> (<detail>), ...".
std::string StepsToText(const std::vector<model::ModelStep>& steps);
std::string OutcomesToJson(const std::vector<ModelOutcome>& outcomes);

// The graph as nodes and edges: {"nodes": [{"id": "staging.orders", "kind":
// "staging", "schema", "name"}, {"id": "analytics.daily", "kind": "model",
// "schema", "name", "strategy"}], "edges": [{"from": "staging.orders", "to":
// "analytics.daily"}]}. Staging tables first (by name), then models in DAG
// order; edges by model in DAG order, then by upstream. The same graph gives
// the same text: a run's DAG snapshot (StateStore::SaveDagSnapshot) and
// GET /v1/dag.
std::string DagToJson(const std::vector<model::Model>& models, const model::Dag& dag);

}  // namespace landfall::exec
