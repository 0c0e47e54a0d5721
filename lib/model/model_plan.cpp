#include "lib/model/model_plan.h"

#include <algorithm>

namespace landfall::model {

const char* ToString(ModelAction action) {
  switch (action) {
    case ModelAction::kSkip:
      return "skip";
    case ModelAction::kRun:
      return "run";
    case ModelAction::kRebuild:
      return "rebuild";
    case ModelAction::kFail:
      return "fail";
  }
  return "fail";  // unreachable: every enumerator is handled above
}

namespace {

using warehouse::ModelWriteKind;

std::string Batches(size_t n) { return std::to_string(n) + (n == 1 ? " batch" : " batches"); }

// What changed in the sources of a model since its target was built.
struct Changes {
  std::vector<PartitionChange> partitions;  // time-interval models
  std::map<std::string, std::vector<std::string>> staging_tokens;
  std::vector<ModelReason> changed;  // new batches, upstream models that moved
  std::vector<ModelReason> rebuilt;  // batches gone, upstream models rebuilt
  std::set<std::string> changed_sources;  // "staging.orders", for the driver
  std::set<std::string> rebuilt_sources;
  std::vector<std::string> model_sources;  // the upstream models among them
};

// "added x T; note: VARCHAR -> INTEGER; removed y" from `before` to `after`;
// "" when they have the same columns and types.
std::string ColumnChanges(const schema::Schema& before, const schema::Schema& after) {
  std::string out;
  auto note = [&](const std::string& text) { out += (out.empty() ? "" : "; ") + text; };
  for (const auto& column : after.columns) {
    const schema::Column* old = before.Find(column.name);
    if (old == nullptr) {
      note("added " + column.name + " " + column.type);
    } else if (old->type != column.type) {
      note(column.name + ": " + old->type + " -> " + column.type);
    }
  }
  for (const auto& column : before.columns) {
    if (after.Find(column.name) == nullptr) note("removed " + column.name);
  }
  return out;
}

// ColumnChanges from the columns a model consumed (as JSON) to a staging
// table's now; "" when the old ones do not parse.
std::string Drift(const std::string& consumed_json, const schema::Schema& now) {
  auto before = schema::SchemaFromJson(consumed_json);
  return before ? ColumnChanges(*before, now) : "";
}

Changes FindChanges(const ModelPlanInput& input, const Model& model,
                    const warehouse::ModelContents& contents,
                    const std::map<std::string, ModelStep>& planned) {
  Changes out;
  static const std::set<std::string> kNone;
  const std::string& name = model.name;
  for (const TableRef& ref : input.dag->upstream.at(name)) {
    const std::string source = ToString(ref);
    auto consumed_it = contents.consumed.find(source);
    const std::set<std::string>& consumed = consumed_it == contents.consumed.end() ? kNone : consumed_it->second;
    if (ref.schema == input.dag->staging_schema) {
      size_t added = 0, removed = 0;
      PartitionChange change{.source = source};
      std::vector<std::string>& tokens = out.staging_tokens[source];
      auto table = input.staging.find(ref.name);
      if (table != input.staging.end()) {
        for (const auto& [batch_id, entry] : table->second.ledger) {
          tokens.push_back(ConsumedToken(model, entry));
          if (!consumed.contains(tokens.back())) {
            ++added;
            change.new_batches.push_back(batch_id);
          }
        }
        const std::set<std::string> current(tokens.begin(), tokens.end());
        for (const auto& token : consumed) removed += !current.contains(token);
      } else {
        removed = consumed.size();
      }
      if (removed > 0 || added > 0) {
        change.rewritten = removed > 0;
        if (change.rewritten) change.new_batches.clear();
        out.partitions.push_back(std::move(change));
      }
      if (removed > 0) {
        out.rebuilt.push_back({kUpstreamRebuilt, source + ": " + Batches(removed) + " removed"});
        out.rebuilt_sources.insert(source);
      }
      if (added > 0) {
        out.changed.push_back({kUpstreamChanged, source + ": " + Batches(added)});
        out.changed_sources.insert(source);
      } else if (auto planned = input.planned_tables.find(ref.name); planned != input.planned_tables.end()) {
        out.changed.push_back({kUpstreamChanged, source + ": " + planned->second + " planned"});
        out.changed_sources.insert(source);
      } else if (auto input_it = contents.inputs.find(source);
                 removed == 0 && table != input.staging.end() && input_it != contents.inputs.end() &&
                 input_it->second != StagingInputOf(table->second)) {
        // The same batches, loaded again (a rebuild from the same files).
        const std::string drift = Drift(input_it->second.columns_json, table->second.columns);
        out.rebuilt.push_back({kUpstreamRebuilt, source + ": its batches were loaded again" +
                                                     (drift.empty() ? "" : " (" + drift + ")")});
        out.rebuilt_sources.insert(source);
      }
      continue;
    }
    auto up = planned.find(ref.name);
    const size_t before = out.changed_sources.size() + out.rebuilt_sources.size();
    if (up != planned.end() && up->second.action == ModelAction::kRebuild) {
      out.rebuilt.push_back({kUpstreamRebuilt, source + ": rebuilt in this run"});
      out.rebuilt_sources.insert(source);
    } else if (up != planned.end() && up->second.action == ModelAction::kRun) {
      out.changed.push_back({kUpstreamChanged, source + ": runs in this run"});
      out.changed_sources.insert(source);
    } else {
      auto up_contents = input.contents.find(ref.name);
      const int64_t version = up_contents == input.contents.end() ? 0 : up_contents->second.version;
      if (consumed != std::set<std::string>{std::to_string(version)}) {
        out.changed.push_back({kUpstreamChanged, source + ": written since this model last ran"});
        out.changed_sources.insert(source);
      }
    }
    if (out.changed_sources.size() + out.rebuilt_sources.size() > before) {
      out.partitions.push_back({.source = source, .rewritten = true});
      out.model_sources.push_back(source);
    }
  }
  return out;
}

// Reasons that rebuild the model whatever its strategy.
std::vector<ModelReason> RebuildReasons(const ModelPlanInput& input, const Model& model,
                                        const warehouse::ModelContents& contents) {
  std::vector<ModelReason> out;
  if (input.full_refresh.contains(model.name)) out.push_back({kFullRefreshRequested, ""});
  auto stored = input.stored.find(model.name);
  const bool built = contents.exists || contents.version > 0;
  // A row without hashes: the model never built (its first run failed).
  if (stored == input.stored.end() || (stored->second.sql_hash.empty() && !stored->second.reset)) {
    out.push_back(built ? ModelReason{kStateDeleted, "the state store has no record of it"}
                        : ModelReason{kNewModel, ""});
  } else if (stored->second.reset) {
    out.push_back({kStateDeleted, "its state was deleted"});
  } else {
    if (stored->second.sql_hash != model.sql_hash) out.push_back({kSqlChanged, model.sql_file.string()});
    if (stored->second.config_hash != model.config_hash) out.push_back({kConfigChanged, ""});
  }
  if (built && !contents.exists) out.push_back({kTargetMissing, "its target was dropped"});
  const bool view = model.strategy == Strategy::kView;
  if (contents.exists && contents.is_view != view) {
    out.push_back({kTargetSchemaChanged, view ? "the target is a table, the model a view"
                                               : "the target is a view, the model a table"});
  }
  return out;
}

void Decide(const ModelPlanInput& input, const Model& model, const Changes& changes, ModelStep& step) {
  auto with = [&](ModelAction action, ModelWriteKind write, std::vector<ModelReason> reasons) {
    step.action = action;
    step.write = write;
    step.reasons = std::move(reasons);
  };
  std::vector<ModelReason> all = changes.rebuilt;
  all.insert(all.end(), changes.changed.begin(), changes.changed.end());
  if (model.strategy == Strategy::kTimeInterval) {
    step.partition_changes = changes.partitions;
    step.staging_tokens = changes.staging_tokens;
    if (input.partitions_requested.contains(model.name)) {
      all.insert(all.begin(), ModelReason{kPartitionsRequested, ""});
      step.partition_changes.clear();  // the flags say which partitions; the changes wait for the daemon
    }
  }
  if (all.empty()) return with(ModelAction::kSkip, ModelWriteKind::kReplaceTable, {{kNoChange, ""}});
  if (changes.model_sources.size() == changes.changed_sources.size() + changes.rebuilt_sources.size() &&
      !input.partitions_requested.contains(model.name)) {
    step.model_changes = changes.model_sources;  // the runner may skip it (lineage)
  }

  switch (model.strategy) {
    case Strategy::kView:
      return with(ModelAction::kSkip, ModelWriteKind::kReplaceView,
                  {{kNoChange, "a view reads its upstream when it is queried"}});
    case Strategy::kFullRefresh:
      return with(ModelAction::kRun, ModelWriteKind::kReplaceTable, all);
    case Strategy::kIncremental:
      if (model.incremental.by == IncrementalConfig::By::kWatermark) {
        if (!changes.rebuilt.empty()) return with(ModelAction::kRebuild, ModelWriteKind::kReplaceTable, all);
        return with(ModelAction::kRun, ModelWriteKind::kAppendAfterWatermark, all);
      }
      break;
    case Strategy::kMerge:
      break;
    case Strategy::kTimeInterval:
      return with(ModelAction::kRun, ModelWriteKind::kPartitions, all);
    case Strategy::kMaterializedView:
    case Strategy::kDynamicTable:
      return;  // failed before
  }
  // By batch: only the driver's batches drive a run.
  const std::string driver = DriverOf(*input.dag, model);
  if (changes.rebuilt_sources.contains(driver)) {
    return with(ModelAction::kRebuild, ModelWriteKind::kReplaceTable, changes.rebuilt);
  }
  if (changes.changed_sources.contains(driver)) {
    return with(ModelAction::kRun,
                model.strategy == Strategy::kMerge ? ModelWriteKind::kMergeBatches : ModelWriteKind::kAppendBatches,
                all);
  }
  std::string others;
  for (const auto& source : changes.changed_sources) others += (others.empty() ? "" : ", ") + source;
  for (const auto& source : changes.rebuilt_sources) others += (others.empty() ? "" : ", ") + source;
  with(ModelAction::kSkip, ModelWriteKind::kReplaceTable,
       {{kNoChange, "only " + others + " changed; they are read whole when " + driver + " next lands"}});
}

}  // namespace

std::string ConsumedToken(const Model& model, const warehouse::LedgerEntry& entry) {
  if (model.strategy != Strategy::kTimeInterval) return entry.batch_id;
  return entry.batch_id + "@" + std::to_string(entry.loaded_at_us);
}

warehouse::StagingInput StagingInputOf(const warehouse::TableContents& table) {
  warehouse::StagingInput out{.columns_json = schema::ToJson(table.columns)};
  for (const auto& [batch_id, entry] : table.ledger) out.loaded_at_us = std::max(out.loaded_at_us, entry.loaded_at_us);
  return out;
}

std::vector<ModelStep> PlanModels(const ModelPlanInput& input) {
  std::map<std::string, const Model*> by_name;
  for (const Model& model : *input.models) by_name[model.name] = &model;
  std::map<std::string, ModelStep> planned;
  std::vector<ModelStep> out;
  static const warehouse::ModelContents kAbsent;
  for (const std::string& name : input.dag->order) {
    const Model& model = *by_name.at(name);
    ModelStep step;
    step.model = name;
    step.strategy = model.strategy;
    step.write = model.strategy == Strategy::kView           ? ModelWriteKind::kReplaceView
                 : model.strategy == Strategy::kTimeInterval ? ModelWriteKind::kPartitions
                                                             : ModelWriteKind::kReplaceTable;
    for (const TableRef& ref : input.dag->upstream.at(name)) step.upstream.push_back(ToString(ref));

    const auto contents_it = input.contents.find(name);
    const warehouse::ModelContents& contents = contents_it == input.contents.end() ? kAbsent : contents_it->second;
    std::string failed_upstream;
    for (const TableRef& ref : input.dag->upstream.at(name)) {
      const bool staging = ref.schema == input.dag->staging_schema;
      auto up = planned.find(ref.name);
      const bool failed =
          staging ? input.failed_tables.contains(ref.name)
                  : up != planned.end() && (up->second.action == ModelAction::kFail ||
                                            (!up->second.reasons.empty() &&
                                             up->second.reasons.front().code == kUpstreamFailed));
      if (failed && failed_upstream.empty()) failed_upstream = ToString(ref);
    }

    if (input.selected && !input.selected->contains(name)) {
      step.reasons = {{kNotSelected, ""}};
    } else if (!input.warehouse_supports_models || model.strategy == Strategy::kMaterializedView ||
               model.strategy == Strategy::kDynamicTable) {
      step.action = ModelAction::kFail;
      step.reasons = {{kUnsupportedByWarehouse,
                       std::string("landfall builds no ") +
                           (model.strategy == Strategy::kDynamicTable ? "dynamic tables" : "materialized views") +
                           " (on DuckDB or PostgreSQL); `landfall compile --dialect snowflake` prints the DDL for "
                           "a warehouse that has"}};
      if (!input.warehouse_supports_models) {
        step.reasons = {{kUnsupportedByWarehouse, "this warehouse does not build models"}};
      }
    } else if (!failed_upstream.empty()) {
      step = UpstreamFailed(std::move(step), failed_upstream);
    } else if (auto rebuild = RebuildReasons(input, model, contents); !rebuild.empty()) {
      step.action = ModelAction::kRebuild;
      step.reasons = std::move(rebuild);
      // What it consumes once rebuilt.
      if (model.strategy == Strategy::kTimeInterval) {
        step.staging_tokens = FindChanges(input, model, contents, planned).staging_tokens;
      }
    } else {
      Decide(input, model, FindChanges(input, model, contents, planned), step);
    }
    planned[name] = step;
    out.push_back(std::move(step));
  }
  return out;
}

ModelStep WithTargetColumns(ModelStep step, const schema::Schema& target, const schema::Schema& query) {
  if (step.strategy == Strategy::kView ||
      (step.action != ModelAction::kRun && step.action != ModelAction::kRebuild) || target.columns.empty()) {
    return step;
  }
  const std::string detail = ColumnChanges(target, query);
  if (detail.empty()) return step;
  step.reasons.push_back({kTargetSchemaChanged, detail});
  if (step.write != warehouse::ModelWriteKind::kReplaceTable) {
    step.action = ModelAction::kRebuild;
    if (step.strategy != Strategy::kTimeInterval) step.write = warehouse::ModelWriteKind::kReplaceTable;
  }
  return step;
}

ModelStep UpstreamFailed(ModelStep step, const std::string& upstream) {
  step.action = ModelAction::kSkip;
  step.reasons = {{kUpstreamFailed, upstream}};
  return step;
}

}  // namespace landfall::model
