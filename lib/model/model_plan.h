// What a run does to each model, and why: a pure function of the models, the
// DAG, what the state store remembers of each model, and what the warehouse
// holds (each target, what it consumed, the staging ledger after staging).
//
// A model runs when something it reads changed since it last ran: a staging
// table's ledger holds batches the model has not consumed (or lost some it
// had), or an upstream model's version moved (or the upstream runs in this
// run). The warehouse's bookkeeping (model_warehouse.h) is the truth about what
// each target was built from, so a crash or a lost state store never makes a
// model skip a change; the state store only tells whether the SQL or config
// changed since the target was built.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "lib/model/dag.h"
#include "lib/model/lineage.h"
#include "lib/model/model.h"
#include "lib/model/partition.h"
#include "lib/warehouse/model_warehouse.h"
#include "lib/warehouse/warehouse.h"

namespace landfall::model {

enum class ModelAction {
  kSkip,     // nothing it reads changed, or it must not run (reasons say which)
  kRun,      // apply its strategy to what changed
  kRebuild,  // build the target from scratch
  kFail,     // it cannot run (reasons say why)
};
const char* ToString(ModelAction action);

// Reason codes (ModelReason::code).
inline constexpr const char* kNewModel = "new_model";
inline constexpr const char* kNoChange = "no_change";
inline constexpr const char* kUpstreamChanged = "upstream_changed";
inline constexpr const char* kUpstreamRebuilt = "upstream_rebuilt";
inline constexpr const char* kSqlChanged = "sql_changed";
inline constexpr const char* kConfigChanged = "config_changed";
inline constexpr const char* kTargetMissing = "target_missing";
inline constexpr const char* kTargetSchemaChanged = "target_schema_changed";
inline constexpr const char* kStateDeleted = "state_deleted";
inline constexpr const char* kFullRefreshRequested = "full_refresh_requested";
inline constexpr const char* kUpstreamFailed = "upstream_failed";
inline constexpr const char* kNotSelected = "not_selected";
inline constexpr const char* kUnsupportedByWarehouse = "unsupported_by_warehouse";
inline constexpr const char* kModelFailed = "model_failed";
inline constexpr const char* kPartitionsRequested = "partitions_requested";  // --partition, --from, ...
// Lineage decisions: no column the model reads changed upstream (a skip), or some did.
inline constexpr const char* kColumnsUnaffected = "columns_unaffected";
inline constexpr const char* kColumnsChanged = "columns_changed";

// The column-level decision of a model whose only changes are upstream
// models' (README "Lineage decisions").
struct StepLineage {
  // "": not taken (something else makes the model run or skip); "pending":
  // the run takes it once the upstream models' column hashes are known;
  // "skip"; "recompute".
  std::string decision;
  std::string detail;              // why (unknown lineage, hashes not kept, ...)
  TableColumns changed_columns;    // per upstream, the columns that changed
  TableColumns read_columns;       // per changed upstream, what the model reads of it
};

// A time-interval model's source that changed: which partitions that makes
// the run compute is found against the warehouse (the runner).
struct PartitionChange {
  std::string source;  // "staging.events"
  // Batches gone or reloaded, or an upstream model written: the partitions
  // whose checksum of this source changed.
  bool rewritten = false;
  // Otherwise, the batch ids new to the model: the partitions their rows give.
  std::vector<std::string> new_batches;
};

struct ModelReason {
  std::string code;
  std::string detail;
  bool operator==(const ModelReason&) const = default;
};

struct ModelStep {
  std::string model;
  Strategy strategy = Strategy::kFullRefresh;
  ModelAction action = ModelAction::kSkip;
  std::vector<ModelReason> reasons;
  std::vector<std::string> upstream;  // "staging.orders", "analytics.daily", as the DAG has them
  // kRun, kRebuild: the write to run (kRebuild always replaces the target).
  warehouse::ModelWriteKind write = warehouse::ModelWriteKind::kReplaceTable;
  // Time-interval models (kPartitions): what changed, what the run consumes
  // once every partition succeeded (per staging source, its ledger's tokens),
  // and the partitions to compute (the runner fills these in).
  std::vector<PartitionChange> partition_changes;
  std::map<std::string, std::vector<std::string>> staging_tokens;
  std::vector<PartitionPick> partitions;
  // The upstream models ("analytics.a") whose change alone makes it run or
  // rebuild (no staging table changed, no reason of its own): the lineage
  // decision may skip it. Empty otherwise.
  std::vector<std::string> model_changes;
  StepLineage lineage;
};

// What the state store remembers of a model (state::ModelRecord, mapped by the caller).
struct StoredModel {
  std::string sql_hash;
  std::string config_hash;
  bool reset = false;  // its state was deleted by an operator: the next run rebuilds it
};

struct ModelPlanInput {
  const std::vector<Model>* models = nullptr;  // as LoadModels returns them
  const Dag* dag = nullptr;
  bool warehouse_supports_models = true;  // false: every model fails with unsupported_by_warehouse
  std::map<std::string, StoredModel> stored;                   // by model name
  std::map<std::string, warehouse::ModelContents> contents;    // InspectModels
  std::map<std::string, warehouse::TableContents> staging;     // Inspect, after staging
  std::set<std::string> failed_tables;  // staging tables whose action failed in this run
  // A dry run before staging: tables the staging plan changes, with the
  // action it plans ("append"); their models count them as changed.
  std::map<std::string, std::string> planned_tables;
  std::optional<std::set<std::string>> selected;  // nullopt: every model
  std::set<std::string> full_refresh;             // models to rebuild from scratch
  // Time-interval models asked for partitions by flags (--partition, ...):
  // they run even when nothing they read changed.
  std::set<std::string> partitions_requested;
};

// What a time-interval model consumed of a staging batch (its model ledger
// token): the batch id and when it was loaded, so a table rebuilt from the
// same files shows as rewritten. Other models consume the batch id alone.
std::string ConsumedToken(const Model& model, const warehouse::LedgerEntry& entry);

// What a model remembers of staging table `table` when it consumes it.
warehouse::StagingInput StagingInputOf(const warehouse::TableContents& table);

// One step per model, in DAG order.
std::vector<ModelStep> PlanModels(const ModelPlanInput& input);

// The step `step` becomes once the query's output columns are known (DESCRIBE,
// just before it runs, its upstream models built): a target whose columns
// differ from the query's is rebuilt (target_schema_changed, naming the
// columns). Views and steps that do not run are returned as they are.
ModelStep WithTargetColumns(ModelStep step, const schema::Schema& target, const schema::Schema& query);

// The step of a model whose upstream failed in this run: skip, upstream_failed.
ModelStep UpstreamFailed(ModelStep step, const std::string& upstream);

}  // namespace landfall::model
