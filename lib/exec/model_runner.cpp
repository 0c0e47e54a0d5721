#include "lib/exec/model_runner.h"

#include <algorithm>
#include <chrono>
#include <future>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "lib/exec/model_checks.h"
#include "lib/model/lineage.h"
#include "lib/model/loader.h"
#include "lib/model/parse.h"
#include "lib/warehouse/plan_probe.h"
#include "lib/warehouse/sql_parse.h"

namespace landfall::exec {

namespace {

using model::ModelAction;
using model::ModelStep;
using nlohmann::json;

json ReasonsJson(const std::vector<model::ModelReason>& reasons) {
  json out = json::array();
  for (const auto& reason : reasons) out.push_back({{"code", reason.code}, {"detail", reason.detail}});
  return out;
}

json ColumnsJson(const model::TableColumns& tables) {
  json out = json::object();
  for (const auto& [table, columns] : tables) out[table] = std::vector<std::string>(columns.begin(), columns.end());
  return out;
}

// A plan's step as shown: one whose lineage decision the plan predicts is a
// skip shows as one (the run confirms it with the column hashes).
ModelStep Shown(ModelStep step) {
  if (step.lineage.decision == "skip" && step.action != ModelAction::kSkip) {
    step.action = ModelAction::kSkip;
    step.reasons = {{model::kColumnsUnaffected, step.lineage.detail}};
  }
  return step;
}

json StepJson(const ModelStep& shown) {
  const ModelStep step = Shown(shown);
  json out = {{"model", step.model},
              {"strategy", model::ToString(step.strategy)},
              {"action", model::ToString(step.action)},
              {"reasons", ReasonsJson(step.reasons)},
              {"upstream", step.upstream}};
  if (!step.lineage.decision.empty()) {
    out["lineage"] = {{"decision", step.lineage.decision},
                      {"detail", step.lineage.detail},
                      {"changed_columns", ColumnsJson(step.lineage.changed_columns)},
                      {"read_columns", ColumnsJson(step.lineage.read_columns)}};
  }
  if (step.strategy == model::Strategy::kTimeInterval) {
    json partitions = json::array();
    for (const auto& p : step.partitions) {
      partitions.push_back({{"key", p.key}, {"reason", p.reason}, {"detail", p.detail}});
    }
    out["partitions"] = std::move(partitions);
  }
  return out;
}

// "analytics.a.{amount, note}".
std::string Columns(const std::string& table, const model::ColumnSet& columns) {
  std::string out;
  for (const auto& c : columns) out += (out.empty() ? "" : ", ") + c;
  return table + ".{" + out + "}";
}

// A model's depth in the graph: 0 when it reads no model, else one more than
// the deepest model it reads. Models of one depth never read each other.
std::map<std::string, int> Depths(const model::Dag& dag) {
  std::map<std::string, int> depth;
  for (const auto& name : dag.order) {
    int d = 0;
    for (const auto& ref : dag.upstream.at(name)) {
      if (ref.schema == dag.models_schema) d = std::max(d, depth[ref.name] + 1);
    }
    depth[name] = d;
  }
  return depth;
}

}  // namespace

bool ModelPlan::HasWork() const {
  return std::any_of(steps.begin(), steps.end(),
                     [](const ModelStep& step) { return step.action != ModelAction::kSkip; });
}

std::string StepsToJson(const std::vector<ModelStep>& steps) {
  json out = json::array();
  for (const auto& step : steps) out.push_back(StepJson(step));
  return out.dump();
}

std::string StepsToText(const std::vector<ModelStep>& steps) {
  std::string out;
  for (const auto& planned : steps) {
    const ModelStep step = Shown(planned);
    std::string reasons;
    for (const auto& r : step.reasons) {
      reasons += (reasons.empty() ? "" : ", ") + r.code + (r.detail.empty() ? "" : " (" + r.detail + ")");
    }
    // Padded like printf's "%-18s %-8s": a longer name pushes the columns right.
    auto padded = [](std::string text, size_t width) {
      if (text.size() < width) text.resize(width, ' ');
      return text;
    };
    out += "model " + padded(step.model, 18) + " " + padded(model::ToString(step.action), 8) + " " +
           reasons + "\n";
    for (const auto& p : step.partitions) {
      out += "  partition " + padded(p.key, 14) + " " + p.reason + (p.detail.empty() ? "" : " (" + p.detail + ")") +
             "\n";
    }
  }
  return out;
}

std::string DagToJson(const std::vector<model::Model>& models, const model::Dag& dag) {
  std::map<std::string, const model::Model*> by_name;
  for (const auto& m : models) by_name[m.name] = &m;
  json nodes = json::array();
  for (const auto& [table, readers] : dag.staging_readers) {
    nodes.push_back({{"id", dag.staging_schema + "." + table},
                     {"kind", "staging"},
                     {"schema", dag.staging_schema},
                     {"name", table}});
  }
  json edges = json::array();
  for (const auto& name : dag.order) {
    auto m = by_name.find(name);
    nodes.push_back({{"id", dag.models_schema + "." + name},
                     {"kind", "model"},
                     {"schema", dag.models_schema},
                     {"name", name},
                     {"strategy", m == by_name.end() ? "" : model::ToString(m->second->strategy)}});
    for (const auto& ref : dag.upstream.at(name)) {
      edges.push_back({{"from", model::ToString(ref)}, {"to", dag.models_schema + "." + name}});
    }
  }
  return json{{"nodes", std::move(nodes)}, {"edges", std::move(edges)}}.dump();
}

std::string OutcomesToJson(const std::vector<ModelOutcome>& outcomes) {
  json out = json::array();
  for (const auto& outcome : outcomes) {
    json item = StepJson(outcome.step);
    item["rows_inserted"] = outcome.stats.inserted;
    item["rows_updated"] = outcome.stats.updated;
    item["rows_deleted"] = outcome.stats.deleted;
    item["batches"] = outcome.stats.batches;
    item["duration_ms"] = outcome.duration_us / 1000.0;
    item["hash_ms"] = outcome.stats.hash_us / 1000.0;
    item["error"] = outcome.error;
    if (outcome.step.strategy == model::Strategy::kTimeInterval) {
      json partitions = json::array();
      for (const auto& p : outcome.partitions) {
        partitions.push_back({{"key", p.pick.key},
                              {"reason", p.pick.reason},
                              {"detail", p.pick.detail},
                              {"status", p.ok ? "computed" : "failed"},
                              {"rows", p.rows},
                              {"duration_ms", p.duration_us / 1000.0},
                              {"error", p.error}});
      }
      item["partitions"] = std::move(partitions);
    }
    item["check_failed"] = outcome.check_failed;
    item["checks"] = json::array();
    for (const auto& c : outcome.checks) {
      item["checks"].push_back({{"check", c.check},
                                {"severity", c.severity},
                                {"passed", c.passed},
                                {"observed", c.observed ? json(*c.observed) : json(nullptr)},
                                {"detail", c.detail}});
    }
    out.push_back(std::move(item));
  }
  return out.dump();
}

ModelRunner::ModelRunner(const config::Config& config, state::StateStore& state,
                         warehouse::Warehouse& warehouse, ThreadPool& pool, const Clock& clock)
    : config_(config), state_(state), warehouse_(warehouse), pool_(pool), clock_(clock) {}

Status ModelRunner::Start() {
  if (!enabled() || warehouse_.Models() == nullptr) return Ok();
  if (auto s = warehouse_.Models()->InitModels(config_.models.schema); !s) return s;
  // In a cluster another member may be computing partitions now: the member
  // that takes the models lease over marks what its holder left (TakeOver).
  if (config_.cluster.enabled) return Ok();
  return TakeOver();
}

Status ModelRunner::TakeOver() {
  if (!enabled() || warehouse_.Models() == nullptr) return Ok();
  // A phase of this member's own still running (it lost the lease and won it
  // back meanwhile) is not interrupted: the caller tries again later rather
  // than waiting here.
  std::unique_lock phase(phase_mu_, std::try_to_lock);
  if (!phase) return Fail("model_conflict", "a model phase of this member is still running");
  Dirty();
  auto interrupted = state_.MarkPartitionsInterrupted();
  if (!interrupted) return Fail(interrupted.error());
  if (*interrupted > 0) spdlog::warn("models: {} partition(s) left in progress are now interrupted", *interrupted);
  return Ok();
}

namespace {
// The names and hashes of every model: changes whenever a model file does.
std::string Fingerprint(const std::vector<model::Model>& models) {
  std::string out;
  for (const auto& m : models) out += m.name + ':' + m.sql_hash + ':' + m.config_hash + ';';
  return out;
}
}  // namespace

Result<bool> ModelRunner::HasWork(const ModelRunRequest& request, std::vector<ModelStep>& steps) {
  if (!enabled()) return false;
  // Invalid model files are reported by one run (its models_error), not by
  // every quiet cycle after it: they count as clean until they change.
  auto models = model::LoadModels(config_);
  const std::string fingerprint = models ? Fingerprint(*models) : "invalid: " + models.error().message;
  const bool asked = request.full_refresh || !request.selection.empty() || !request.failed_tables.empty();
  auto remember = [&](const std::vector<ModelStep>& clean_steps) {
    std::lock_guard lock(mu_);
    if (asked) return;
    clean_ = fingerprint;
    clean_steps_ = clean_steps;
  };
  {
    std::lock_guard lock(mu_);
    if (!asked && clean_ == fingerprint) {
      steps = clean_steps_;
      return false;
    }
  }
  if (!models) {
    remember({});
    return true;
  }
  std::lock_guard phase(phase_mu_);
  auto plan = Plan(request);
  if (!plan) {
    // A graph that cannot be built (an unknown table, a cycle) is the files'
    // error too; the warehouse or state store being away is tried again.
    if (plan.error().code.starts_with("model_")) remember({});
    return true;
  }
  if (plan->HasWork()) return true;
  steps = plan->steps;
  remember(plan->steps);
  return false;
}

void ModelRunner::Dirty() {
  std::lock_guard lock(mu_);
  clean_.reset();
}

Result<bool> ModelRunner::DeleteState(const std::string& model) {
  // Not waiting: a phase may take long, and the caller (the API) can retry.
  std::unique_lock phase(phase_mu_, std::try_to_lock);
  if (!phase.owns_lock()) {
    return Fail("model_conflict", "models are running; try again when the model phase ends");
  }
  auto deleted = state_.DeleteModel(model);
  if (deleted && *deleted) {
    Dirty();
    std::lock_guard lock(mu_);
    stored_.erase(model);
  }
  return deleted;
}

Result<ModelPlan> ModelRunner::Plan(const ModelRunRequest& request) {
  ModelPlan out;
  auto models = model::LoadModels(config_);
  if (!models) return Fail(models.error());
  out.models = std::move(*models);
  auto staging = warehouse_.Inspect();
  if (!staging) return Fail(staging.error());
  std::set<std::string> tables = request.landing_tables;
  for (const auto& [name, contents] : *staging) {
    if (contents.exists) tables.insert(name);
  }
  auto dag = model::BuildDag(out.models, tables, config_.warehouse.staging_schema, config_.models.schema,
                             model::DuckDbParseFn());
  if (!dag) return Fail(dag.error());
  out.dag = std::move(*dag);

  model::ModelPlanInput input;
  input.models = &out.models;
  input.dag = &out.dag;
  input.staging = std::move(*staging);
  input.failed_tables = request.failed_tables;
  input.planned_tables = request.planned_tables;
  if (!request.selection.empty()) {
    auto selected = model::Select(out.dag, request.selection);
    if (!selected) return Fail(selected.error());
    input.selected = std::move(*selected);
  }
  if (request.full_refresh) {
    for (const auto& m : out.models) {
      if (!input.selected || input.selected->contains(m.name)) input.full_refresh.insert(m.name);
    }
  }
  out.partitions = request.partitions;
  if (request.partitions.Any() || request.partitions.lookback) {
    for (const auto& m : out.models) {
      if (m.strategy == model::Strategy::kTimeInterval && (!input.selected || input.selected->contains(m.name))) {
        input.partitions_requested.insert(m.name);
      }
    }
    if (input.partitions_requested.empty()) {
      return Fail("partition_invalid",
                  "--partition, --from, --to, --latest, --missing and --lookback choose partitions of "
                  "time_interval models, and no selected model is one (select them with --models)");
    }
    // Flags that name no partition of a model fail the plan, before anything runs.
    for (const auto& m : out.models) {
      if (!input.partitions_requested.contains(m.name)) continue;
      auto picks = model::PickPartitions({.granularity = m.time_interval.granularity,
                                          .first_partition = m.time_interval.first_partition,
                                          .now = std::chrono::floor<std::chrono::seconds>(clock_.Now()),
                                          .selection = request.partitions});
      if (!picks) return Fail(picks.error().code, "model " + m.name + ": " + picks.error().message);
    }
    if (!request.partitions.Any()) input.partitions_requested.clear();  // --lookback alone
  }
  warehouse::ModelWarehouse* models_wh = warehouse_.Models();
  input.warehouse_supports_models = models_wh != nullptr;
  if (models_wh != nullptr) {
    auto contents = models_wh->InspectModels(config_.models.schema);
    if (!contents) return Fail(contents.error());
    input.contents = std::move(*contents);
  }
  auto records = state_.Models();
  if (!records) return Fail(records.error());
  {
    std::lock_guard lock(mu_);
    stored_.clear();
    for (auto& record : *records) {
      input.stored[record.name] = {.sql_hash = record.sql_hash,
                                   .config_hash = record.config_hash,
                                   .reset = record.status == state::ModelStatus::kReset};
      stored_[record.name] = std::move(record);
    }
  }
  out.steps = model::PlanModels(input);
  out.staging = std::move(input.staging);
  out.contents = std::move(input.contents);
  AddLineage(out);
  return out;
}

void ModelRunner::AddLineage(ModelPlan& plan) {
  // Needed when a model that writes has a model downstream (its hashes), or
  // a step waits for a decision.
  const bool needed = std::any_of(plan.steps.begin(), plan.steps.end(), [&](const ModelStep& step) {
    auto readers = plan.dag.downstream_models.find(step.model);
    return !step.model_changes.empty() ||
           ((step.action == ModelAction::kRun || step.action == ModelAction::kRebuild) &&
            readers != plan.dag.downstream_models.end() && !readers->second.empty());
  });
  if (!needed) return;
  std::map<std::string, schema::Schema> staging_columns;
  std::string key = Fingerprint(plan.models);
  for (const auto& [name, contents] : plan.staging) {
    if (!contents.exists) continue;
    staging_columns[name] = contents.columns;
    key += name + '=' + schema::ToJson(contents.columns) + ';';
  }
  {
    std::lock_guard lock(mu_);
    if (key == lineage_key_) plan.lineages = lineages_;
  }
  if (plan.lineages.empty() && config_.warehouse.type == "postgres") {
    // Lineage is read from DuckDB's binder; the model's SQL is PostgreSQL's,
    // which it may bind differently or not at all. Unknown: every decision recomputes.
    for (const auto& m : plan.models) plan.lineages[m.name] = model::UnknownLineage(std::string(model::kLineageUnknownOnPostgres));
  }
  if (plan.lineages.empty()) {
    auto probe = warehouse::OpenPlanProbe();
    Result<std::map<std::string, model::Lineage>> lineages = Fail("warehouse_error", "no probe");
    if (probe) {
      lineages = model::AnalyzeLineage(plan.models, plan.dag, staging_columns, **probe);
    } else {
      lineages = Fail(probe.error());
    }
    if (!lineages) {
      // Unknown lineage is never a skip: every decision below recomputes.
      spdlog::warn("models: column lineage: {}", lineages.error().ToString());
      for (const auto& m : plan.models) plan.lineages[m.name] = model::UnknownLineage(lineages.error().message);
    } else {
      plan.lineages = std::move(*lineages);
      std::lock_guard lock(mu_);
      lineage_key_ = key;
      lineages_ = plan.lineages;
    }
  }
  for (const auto& name : plan.dag.order) {
    const model::Lineage& lineage = plan.lineages.at(name);
    if (!lineage.known) continue;  // its upstream's hashes could not decide anything for it
    for (const auto& ref : plan.dag.upstream.at(name)) {
      if (ref.schema != plan.dag.models_schema) continue;
      auto reads = lineage.reads.find(model::ToString(ref));
      std::vector<std::string> set;
      if (reads != lineage.reads.end()) set.assign(reads->second.begin(), reads->second.end());
      plan.hash_sets[ref.name].push_back(std::move(set));
    }
  }
  // The loop below adds lineage to steps, never their action or reasons.
  std::map<std::string, const ModelStep*> steps;
  for (const auto& s : plan.steps) steps[s.model] = &s;
  std::map<std::string, const model::Model*> models;
  for (const auto& m : plan.models) models[m.name] = &m;
  for (ModelStep& step : plan.steps) {
    if (step.model_changes.empty() || (step.action != ModelAction::kRun && step.action != ModelAction::kRebuild)) {
      continue;
    }
    const model::Lineage& lineage = plan.lineages.at(step.model);
    if (!lineage.known) {
      step.lineage = {.decision = "recompute", .detail = "lineage unknown: " + lineage.unknown_reason};
      continue;
    }
    step.lineage.decision = "pending";
    std::string upstream;
    for (const auto& source : step.model_changes) {
      auto reads = lineage.reads.find(source);
      step.lineage.read_columns[source] = reads != lineage.reads.end() ? reads->second : model::ColumnSet{};
      upstream += (upstream.empty() ? "" : ", ") + source;
    }
    step.lineage.detail = "waits for the column hashes of " + upstream + " after it is written";
    PredictFromSqlEdits(plan, steps, models, step);
  }
}

void ModelRunner::PredictFromSqlEdits(const ModelPlan& plan, const std::map<std::string, const ModelStep*>& steps,
                                      const std::map<std::string, const model::Model*>& models, ModelStep& step) {
  std::string skip, recompute;
  for (const auto& source : step.model_changes) {
    const std::string name = source.substr(source.find('.') + 1);
    // Only an upstream rebuilt for its SQL alone, whose values its SQL fixes.
    const ModelStep& up = *steps.at(name);
    auto contents = plan.contents.find(name);
    if (up.action != ModelAction::kRebuild || up.reasons.size() != 1 || up.reasons.front().code != model::kSqlChanged ||
        !plan.lineages.at(name).known || contents == plan.contents.end() || contents->second.version <= 0) {
      return;
    }
    auto old = warehouse_.Models()->HashesAt(name, contents->second.version);
    auto now = warehouse::FingerprintSelect(models.at(name)->sql);
    if (!old || !*old || (*old)->expressions.empty() || !now || !*now) return;
    const auto& before = (*old)->expressions;
    const warehouse::SelectFingerprints& after = **now;
    if (before.at("") != after.rest) return;  // FROM, WHERE, GROUP BY... edited: any column may change
    model::ColumnSet edited;
    for (const auto& [column, fingerprint] : after.columns) {
      auto was = before.find(column);
      if (was == before.end() || was->second != fingerprint) edited.insert(column);
    }
    for (const auto& [column, fingerprint] : before) {
      if (!column.empty() && !after.columns.contains(column)) edited.insert(column);
    }
    step.lineage.changed_columns[source] = edited;
    model::ColumnSet read_edited;
    for (const auto& c : step.lineage.read_columns[source]) {
      if (edited.contains(c)) read_edited.insert(c);
    }
    if (!read_edited.empty()) {
      recompute += (recompute.empty() ? "" : "; ") + std::string("reads ") + Columns(source, read_edited) +
                   " (its SQL edited)";
    } else {
      skip += (skip.empty() ? "" : "; ") + std::string("reads none of ") + Columns(source, edited) +
              " (its SQL edited)";
    }
  }
  step.lineage.decision = recompute.empty() ? "skip" : "recompute";
  step.lineage.detail = (recompute.empty() ? skip : recompute) + "; the run confirms it with the column hashes";
}

void ModelRunner::ResolvePartitions(ModelPlan& plan) {
  std::map<std::string, const model::Model*> by_name;
  for (const auto& m : plan.models) by_name[m.name] = &m;
  for (ModelStep& step : plan.steps) {
    if (step.strategy != model::Strategy::kTimeInterval ||
        (step.action != ModelAction::kRun && step.action != ModelAction::kRebuild)) {
      continue;
    }
    auto picks = Pick(plan, *by_name.at(step.model), step);
    if (picks) {
      step.partitions = std::move(*picks);
    } else {
      step.action = ModelAction::kFail;
      step.reasons.push_back({model::kModelFailed, picks.error().message});
    }
  }
}

std::vector<ModelOutcome> ModelRunner::Execute(const ModelPlan& plan, int64_t run_id) {
  std::map<std::string, const model::Model*> by_name;
  for (const auto& m : plan.models) by_name[m.name] = &m;
  const auto depth = Depths(plan.dag);
  int max_depth = 0;
  for (const auto& [name, d] : depth) max_depth = std::max(max_depth, d);

  std::map<std::string, ModelOutcome> done;
  for (int level = 0; level <= max_depth; ++level) {
    std::vector<std::pair<const ModelStep*, std::future<Result<ModelOutcome>>>> jobs;
    for (const ModelStep& step : plan.steps) {
      if (depth.at(step.model) != level) continue;
      const model::Model& m = *by_name.at(step.model);
      jobs.emplace_back(&step, pool_.Submit([this, &m, &plan, &step, &done, run_id]() -> Result<ModelOutcome> {
                          return CallCatching(
                              [&]() -> Result<ModelOutcome> { return RunOne(plan, m, step, done, run_id); },
                              "model " + step.model);
                        }));
    }
    // Every job of this level reads `done` of earlier levels only; they are
    // collected once all have finished.
    std::vector<ModelOutcome> finished;
    for (auto& [step, future] : jobs) {
      auto outcome = future.get();
      if (!outcome) {
        ModelOutcome failed;
        failed.step = *step;
        failed.step.action = ModelAction::kFail;
        failed.step.reasons = {{model::kModelFailed, outcome.error().message}};
        failed.error = outcome.error().ToString();
        finished.push_back(std::move(failed));
      } else {
        finished.push_back(std::move(*outcome));
      }
    }
    for (auto& outcome : finished) {
      const model::StepLineage& lineage = outcome.step.lineage;
      if (outcome.step.action != ModelAction::kSkip || outcome.failed() || lineage.decision == "skip") {
        spdlog::info("model {}: {} ({}){}{}", outcome.step.model, model::ToString(outcome.step.action),
                     outcome.step.reasons.empty() ? "" : outcome.step.reasons.front().code,
                     lineage.decision == "skip" || lineage.decision == "recompute"
                         ? "; lineage: " + lineage.decision + ", " + lineage.detail
                         : "",
                     outcome.error.empty() ? "" : ": " + outcome.error);
      }
      std::string name = outcome.step.model;
      done.emplace(std::move(name), std::move(outcome));
    }
  }
  std::vector<ModelOutcome> out;
  for (const ModelStep& step : plan.steps) out.push_back(std::move(done.at(step.model)));
  if (run_id > 0) {
    // What this run's models read, for the API's history of the graph; a lost
    // snapshot loses only that (the next run whose graph differs stores one).
    if (auto saved = state_.SaveDagSnapshot(run_id, DagToJson(plan.models, plan.dag)); !saved) {
      spdlog::warn("models: saving the DAG snapshot of run {}: {}", run_id, saved.error().ToString());
    }
  }
  return out;
}

Result<std::vector<ModelOutcome>> ModelRunner::PlanAndExecute(const ModelRunRequest& request, int64_t run_id) {
  std::lock_guard phase(phase_mu_);
  auto plan = Plan(request);
  if (!plan) return Fail(plan.error());
  return Execute(*plan, run_id);
}

ModelOutcome ModelRunner::RunOne(const ModelPlan& plan, const model::Model& m, ModelStep step,
                                 const std::map<std::string, ModelOutcome>& done, int64_t run_id) {
  const model::Dag& dag = plan.dag;
  ModelOutcome out;
  const auto started = std::chrono::steady_clock::now();
  // An upstream model that failed (or skipped for that reason) in this run.
  for (const auto& ref : dag.upstream.at(m.name)) {
    auto up = done.find(ref.name);
    if (ref.schema != dag.models_schema || up == done.end()) continue;
    const ModelStep& up_step = up->second.step;
    const std::string up_reason =
        up_step.action == ModelAction::kSkip && !up_step.reasons.empty() ? up_step.reasons.front().code : "";
    const bool up_check_failed = up->second.check_failed || up_reason == model::kUpstreamCheckFailed;
    if (up_step.action == ModelAction::kFail || up_reason == model::kUpstreamFailed || up_check_failed) {
      if (step.action != ModelAction::kSkip || step.reasons.empty() ||
          step.reasons.front().code != model::kNotSelected) {
        step = model::UpstreamFailed(std::move(step), model::ToString(ref));
        if (up_check_failed) step.reasons.front().code = model::kUpstreamCheckFailed;
      }
      break;
    }
  }
  // Pending, or predicted by the plan: the hashes decide (unknown lineage always recomputes).
  if (!step.model_changes.empty() && plan.lineages.at(m.name).known &&
      (step.action == ModelAction::kRun || step.action == ModelAction::kRebuild)) {
    DecideByColumns(plan, m, step, done);
  }
  schema::Schema columns;
  if (step.action == ModelAction::kRun || step.action == ModelAction::kRebuild) {
    auto written = m.strategy == model::Strategy::kTimeInterval ? WritePartitioned(plan, m, step, columns, out, run_id)
                                                                : Write(plan, m, step, columns);
    if (written) {
      out.stats = *written;
    } else {
      step.action = ModelAction::kFail;
      step.reasons.push_back({model::kModelFailed, written.error().message});
      out.error = written.error().ToString();
    }
  }
  CheckAfterWrite(m, step, out, run_id);
  out.step = std::move(step);
  out.duration_us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count();
  Record(m, out, columns, run_id);
  return out;
}

namespace {

// The columns of `before` and `after` that differ: added, dropped, retyped,
// or with other values.
model::ColumnSet ChangedColumns(const warehouse::TargetHashes& before, const warehouse::TargetHashes& after) {
  model::ColumnSet out;
  for (const auto& [name, value] : after.columns) {
    auto old = before.columns.find(name);
    if (old == before.columns.end() || old->second != value) out.insert(name);
  }
  for (const auto& [name, value] : before.columns) {
    if (!after.columns.contains(name)) out.insert(name);
  }
  return out;
}

}  // namespace

void ModelRunner::DecideByColumns(const ModelPlan& plan, const model::Model& m, ModelStep& step,
                                  const std::map<std::string, ModelOutcome>& done) {
  warehouse::ModelWarehouse& wh = *warehouse_.Models();
  auto contents = plan.contents.find(m.name);
  std::string recompute;  // why not a skip, "" while none
  std::string unaffected;
  std::vector<warehouse::ModelSource> upstream;
  for (const auto& source : step.model_changes) {
    const std::string name = source.substr(source.find('.') + 1);
    upstream.push_back({.schema = plan.dag.models_schema, .name = name, .is_model = true});
    const model::ColumnSet& reads = step.lineage.read_columns[source];
    // The version it consumed, and the upstream's now.
    int64_t consumed = -1;
    if (contents != plan.contents.end()) {
      auto tokens = contents->second.consumed.find(source);
      if (tokens != contents->second.consumed.end() && tokens->second.size() == 1) {
        consumed = std::strtoll(tokens->second.begin()->c_str(), nullptr, 10);
      }
    }
    auto up_contents = plan.contents.find(name);
    int64_t now = up_contents != plan.contents.end() ? up_contents->second.version : 0;
    if (auto up = done.find(name); up != done.end() && up->second.step.action != ModelAction::kSkip) {
      now = up->second.stats.version > 0 ? up->second.stats.version : -1;  // -1: written, version not known
    }
    if (consumed <= 0 || now < 0) {
      recompute = source + ": the version it read is not known";
      break;
    }
    if (now == consumed) {
      unaffected += (unaffected.empty() ? "" : "; ") + source + " did not change";
      continue;
    }
    auto before = wh.HashesAt(name, consumed);
    auto after = wh.HashesAt(name, now);
    if (!before || !after || !*before || !*after) {
      recompute = source + ": no column hashes kept of version " + std::to_string(!before || !*before ? consumed : now);
      if (!before || !after) recompute += " (" + (!before ? before.error() : after.error()).message + ")";
      break;
    }
    const model::ColumnSet changed = ChangedColumns(**before, **after);
    step.lineage.changed_columns[source] = changed;
    if ((*before)->rows != (*after)->rows) {
      recompute = source + ": its row count changed (" + std::to_string((*before)->rows) + " -> " +
                  std::to_string((*after)->rows) + ")";
      break;
    }
    model::ColumnSet read_changed;
    for (const auto& c : reads) {
      if (changed.contains(c)) read_changed.insert(c);
    }
    if (!read_changed.empty()) {
      recompute = "reads " + Columns(source, read_changed) + " (changed)";
      break;
    }
    const std::string key = warehouse::ColumnSetKey(std::vector<std::string>(reads.begin(), reads.end()));
    auto set_before = (*before)->sets.find(key);
    auto set_after = (*after)->sets.find(key);
    if (set_before == (*before)->sets.end() || set_after == (*after)->sets.end() ||
        set_before->second != set_after->second) {
      recompute = "the rows of " + Columns(source, reads) + " changed together (values moved between rows)";
      break;
    }
    unaffected += (unaffected.empty() ? "" : "; ") +
                  (changed.empty() ? "no column of " + source + " changed"
                                   : "reads none of " + Columns(source, changed) + " (changed)");
  }
  if (!recompute.empty()) {
    step.lineage.decision = "recompute";
    step.lineage.detail = recompute;
    step.reasons.push_back({model::kColumnsChanged, recompute});
    return;
  }
  if (auto s = wh.ConsumeUnchanged(m.name, upstream); !s) {
    step.lineage.decision = "recompute";
    step.lineage.detail = "recording the skip failed: " + s.error().message;
    step.reasons.push_back({model::kColumnsChanged, step.lineage.detail});
    return;
  }
  step.lineage.decision = "skip";
  step.lineage.detail = unaffected;
  step.action = ModelAction::kSkip;
  step.reasons = {{model::kColumnsUnaffected, unaffected}};
}

Result<warehouse::ModelWriteStats> ModelRunner::Write(const ModelPlan& plan, const model::Model& m,
                                                      ModelStep& step, schema::Schema& columns) {
  auto query = DescribeAndCheckDrift(m, m.sql, step);
  if (!query) return Fail(query.error());
  columns = *query;
  warehouse::ModelWrite write = WriteFor(m, plan.dag, step, *query);
  for (const auto& source : write.sources) {
    if (source.is_model) continue;
    if (auto table = plan.staging.find(source.name); table != plan.staging.end()) {
      write.inputs[source.Key()] = model::StagingInputOf(table->second);
    }
  }
  if (auto sets = plan.hash_sets.find(m.name); sets != plan.hash_sets.end()) {
    write.hash_sets = sets->second;
    if (auto fingerprints = warehouse::FingerprintSelect(m.sql); fingerprints && *fingerprints) {
      write.expressions = std::move((*fingerprints)->columns);
      write.expressions[""] = (*fingerprints)->rest;
    }
  }
  return warehouse_.Models()->WriteModel(write);
}

Result<schema::Schema> ModelRunner::DescribeAndCheckDrift(const model::Model& m, const std::string& sql,
                                                          ModelStep& step) {
  warehouse::ModelWarehouse& wh = *warehouse_.Models();
  auto query = wh.DescribeQuery(sql);
  if (!query) return Fail(query.error());
  // The target as it is now: its upstream models of this run are built.
  auto target = wh.TargetColumns(config_.models.schema, m.name);
  if (!target) return Fail(target.error());
  step = model::WithTargetColumns(std::move(step), *target, *query);
  return query;
}

warehouse::ModelWrite ModelRunner::WriteFor(const model::Model& m, const model::Dag& dag, const ModelStep& step,
                                            const schema::Schema& query) const {
  warehouse::ModelWrite write;
  write.schema = config_.models.schema;
  write.name = m.name;
  write.sql = m.sql;
  write.kind = step.action == ModelAction::kRebuild
                   ? (m.strategy == model::Strategy::kView ? warehouse::ModelWriteKind::kReplaceView
                                                           : warehouse::ModelWriteKind::kReplaceTable)
                   : step.write;
  for (const auto& ref : dag.upstream.at(m.name)) {
    write.sources.push_back({.schema = ref.schema, .name = ref.name, .is_model = ref.schema == dag.models_schema});
  }
  const std::string driver = model::DriverOf(dag, m);
  write.driver = driver.substr(driver.find('.') + 1);
  if (m.strategy == model::Strategy::kMerge) {
    write.unique_key = m.merge.unique_key;
    write.update_columns = m.merge.update_columns;
    if (write.update_columns.empty()) {
      for (const auto& column : query.columns) {
        const bool key = std::any_of(m.merge.unique_key.begin(), m.merge.unique_key.end(), [&](const auto& k) {
          return schema::FoldName(k) == schema::FoldName(column.name);
        });
        if (!key) write.update_columns.push_back(column.name);
      }
    }
    if (m.merge.dedupe == "latest") write.dedupe_order_by = m.merge.order_by;
  } else if (m.strategy == model::Strategy::kIncremental &&
             m.incremental.by == model::IncrementalConfig::By::kWatermark) {
    write.timestamp_column = m.incremental.timestamp_column;
    write.lookback = m.incremental.lookback;
    write.unique_key = m.incremental.unique_key;
  }
  return write;
}

namespace {

warehouse::PartitionLayout LayoutOf(const model::Model& m) {
  return {.time_column = m.time_interval.time_column,
          .unit = model::TruncUnit(m.time_interval.granularity),
          .format = model::KeyFormat(m.time_interval.granularity)};
}

// An upstream of a time-interval model, with the column its checksums go by.
warehouse::PartitionSource SourceOf(const ModelPlan& plan, const model::Model& m, const model::TableRef& ref) {
  warehouse::PartitionSource out;
  out.source = {.schema = ref.schema, .name = ref.name, .is_model = ref.schema == plan.dag.models_schema};
  const schema::Schema* columns = nullptr;
  if (out.source.is_model) {
    if (auto it = plan.contents.find(ref.name); it != plan.contents.end()) columns = &it->second.columns;
  } else if (auto it = plan.staging.find(ref.name); it != plan.staging.end()) {
    columns = &it->second.columns;
  }
  if (columns == nullptr) return out;
  for (const auto& c : columns->columns) out.columns.push_back(c.name);
  auto named = m.time_interval.source_columns.find(model::ToString(ref));
  const std::string wanted = named != m.time_interval.source_columns.end() ? named->second : m.time_interval.time_column;
  if (const schema::Column* c = columns->Find(wanted)) out.column = c->name;
  return out;
}

}  // namespace

Result<std::vector<model::PartitionPick>> ModelRunner::Pick(const ModelPlan& plan, const model::Model& m,
                                                             const ModelStep& step) {
  const model::TimeIntervalConfig& ti = m.time_interval;
  const model::Granularity g = ti.granularity;
  model::PartitionPickInput in{.granularity = g,
                               .first_partition = ti.first_partition,
                               .lookback = ti.lookback,
                               .now = std::chrono::floor<std::chrono::seconds>(clock_.Now()),
                               .selection = plan.partitions};
  auto first = model::ParseKey(g, ti.first_partition);
  if (!first) return Fail(first.error());
  const model::TimePoint end = model::NextPartition(g, model::PartitionStart(g, in.now));
  // Only --missing asks what is known of each partition: the daemon's runs
  // do not read the model's partition rows.
  if (plan.partitions.missing) {
    auto known = state_.Partitions(m.name, {});
    if (!known) return Fail(known.error());
    for (const auto& p : *known) {
      in.known[p.key] = {.status = state::ToString(p.status), .window_closed = p.window_closed};
    }
  }
  if (step.action == ModelAction::kRebuild && !plan.partitions.Any()) {
    in.everything = true;
  } else if (!plan.partitions.Any()) {
    warehouse::ModelWarehouse& wh = *warehouse_.Models();
    const std::string window_sql = model::WithWindow(m.sql, *first, end);
    const auto layout = LayoutOf(m);
    for (const auto& change : step.partition_changes) {
      const auto dot = change.source.find('.');
      const model::TableRef ref{change.source.substr(0, dot), change.source.substr(dot + 1)};
      if (!change.rewritten) {
        auto keys = wh.TouchedPartitions(window_sql, ref.name, change.new_batches, layout);
        if (!keys) return Fail(keys.error());
        const std::string detail = change.source + ": " + std::to_string(change.new_batches.size()) +
                                   (change.new_batches.size() == 1 ? " new batch" : " new batches");
        for (const auto& key : *keys) in.changed.try_emplace(key, model::kPartitionUpstreamRows, detail);
        continue;
      }
      const warehouse::PartitionSource source = SourceOf(plan, m, ref);
      if (source.column.empty()) {
        // Nothing to tell which partitions its rows feed: every one.
        for (auto t : model::PartitionsBetween(g, *first, model::PartitionStart(g, in.now))) {
          in.changed.try_emplace(model::FormatKey(g, t), model::kPartitionChecksumChanged,
                                 change.source + " was rewritten and has no column " + ti.time_column +
                                     " to checksum by (see time_interval.source_columns)");
        }
        continue;
      }
      auto keys = wh.ChangedPartitions(m.name, source, layout, model::SqlTimestamp(*first), model::SqlTimestamp(end));
      if (!keys) return Fail(keys.error());
      for (const auto& key : *keys) {
        in.changed.try_emplace(key, model::kPartitionChecksumChanged, change.source + " rewritten");
      }
    }
  }
  return model::PickPartitions(in);
}

Result<warehouse::ModelWriteStats> ModelRunner::WritePartitioned(const ModelPlan& plan, const model::Model& m,
                                                                 ModelStep& step, schema::Schema& columns,
                                                                 ModelOutcome& out, int64_t run_id) {
  warehouse::ModelWarehouse& wh = *warehouse_.Models();
  const model::TimeIntervalConfig& ti = m.time_interval;
  const model::Granularity g = ti.granularity;
  auto first = model::ParseKey(g, ti.first_partition);
  if (!first) return Fail(first.error());
  const std::string probe = model::WithWindow(m.sql, *first, model::NextPartition(g, *first));
  auto query = DescribeAndCheckDrift(m, probe, step);
  if (!query) return Fail(query.error());
  const schema::Column* time = query->Find(ti.time_column);
  if (time == nullptr || !(time->type == "DATE" || time->type.starts_with("TIMESTAMP"))) {
    return Fail(warehouse::kModelSqlFailed,
                "time_interval.time_column " + ti.time_column +
                    (time == nullptr ? " is not a column of the model's query"
                                     : " is " + time->type + "; it must be a DATE or TIMESTAMP"));
  }
  columns = *query;
  if (step.action == ModelAction::kRebuild) {
    if (auto s = wh.ResetPartitions(config_.models.schema, m.name, probe); !s) return Fail(s.error());
    out.built = true;
    if (auto s = state_.DeletePartitions(m.name); !s) return Fail(s.error());
  }
  auto picks = Pick(plan, m, step);
  if (!picks) return Fail(picks.error());
  step.partitions = *picks;

  std::vector<state::PartitionRecord> starting;
  for (const auto& p : *picks) {
    starting.push_back({.model = m.name,
                        .key = p.key,
                        .window_start_us = model::ToMicros(p.start),
                        .window_end_us = model::ToMicros(p.end),
                        .status = state::PartitionStatus::kInProgress,
                        .run_id = run_id});
  }
  if (auto s = state_.SavePartitions(starting); !s) return Fail(s.error());

  warehouse::PartitionWrite write{.schema = config_.models.schema, .name = m.name, .layout = LayoutOf(m)};
  for (const auto& c : query->columns) write.columns.push_back(c.name);
  std::vector<warehouse::ModelSource> sources;
  for (const auto& ref : plan.dag.upstream.at(m.name)) {
    auto source = SourceOf(plan, m, ref);
    sources.push_back(source.source);
    if (!source.column.empty()) write.sources.push_back(std::move(source));
  }
  warehouse::ModelWriteStats stats;
  std::optional<Error> first_error;
  for (const auto& batch : model::BatchPartitions(*picks, ti.batch_size)) {
    write.sql = model::WithWindow(m.sql, batch.front().start, batch.back().end);
    write.start = model::SqlTimestamp(batch.front().start);
    write.end = model::SqlTimestamp(batch.back().end);
    write.keys.clear();
    for (const auto& p : batch) write.keys.push_back(p.key);
    const auto started = std::chrono::steady_clock::now();
    auto written = wh.WritePartitions(write);
    const int64_t us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count();
    const int64_t now_us = clock_.NowMicros();
    std::vector<state::PartitionRecord> records;
    for (const auto& p : batch) {
      state::PartitionRecord r{.model = m.name,
                               .key = p.key,
                               .window_start_us = model::ToMicros(p.start),
                               .window_end_us = model::ToMicros(p.end),
                               .duration_us = us,
                               .run_id = run_id};
      PartitionOutcome po{.pick = p, .ok = written.has_value(), .duration_us = us};
      if (written) {
        const warehouse::PartitionStats& ps = written->partitions[p.key];
        r.status = state::PartitionStatus::kComputed;
        r.computed_at_us = now_us;
        r.window_closed = now_us >= r.window_end_us;
        r.row_count = po.rows = ps.rows;
        r.checksum = ps.checksum;
      } else {
        r.status = state::PartitionStatus::kFailed;
        r.error = po.error = written.error().message;
      }
      records.push_back(std::move(r));
      out.partitions.push_back(std::move(po));
    }
    if (auto s = state_.SavePartitions(records); !s) {
      spdlog::warn("model {}: recording partitions {}..{}: {}", m.name, batch.front().key, batch.back().key,
                   s.error().ToString());
    }
    if (written) {
      stats.inserted += written->inserted;
      stats.deleted += written->deleted;
      out.built = true;
    } else if (!first_error) {
      first_error = written.error();
    }
  }
  // The daemon's case consumes what it found changed; partitions asked for by
  // flags leave the changes to it. A failed partition stays failed until
  // `--missing` or a new batch touching it computes it again.
  const bool by_flags = plan.partitions.Any();
  const bool wrote = std::any_of(out.partitions.begin(), out.partitions.end(), [](auto& p) { return p.ok; });
  if (!by_flags || wrote) {
    warehouse::PartitionsFinish finish{.schema = config_.models.schema,
                                       .name = m.name,
                                       .sources = sources,
                                       .consumed = by_flags ? nullptr : &step.staging_tokens,
                                       .wrote = wrote};
    if (auto sets = plan.hash_sets.find(m.name); sets != plan.hash_sets.end()) finish.hash_sets = sets->second;
    auto finished = wh.FinishPartitions(finish);
    if (!finished) return Fail(finished.error());
    stats.version = finished->version;
    stats.hash_us = finished->hash_us;
  }
  if (first_error) return Fail(*first_error);
  return stats;
}

void ModelRunner::CheckAfterWrite(const model::Model& m, ModelStep& step, ModelOutcome& out, int64_t run_id) {
  const bool wrote = step.action == ModelAction::kRun || step.action == ModelAction::kRebuild;
  // A model whose error check failed stays failed, and its downstream models
  // blocked, until its checks pass: when nothing made it run again, they run
  // again on the target as it is (the data may have been fixed at the source,
  // or the checks edited: they are not in the config hash).
  bool recheck = false;
  if (!wrote && step.action == ModelAction::kSkip && !step.reasons.empty() &&
      step.reasons.front().code == model::kNoChange && !m.checks.empty()) {
    std::lock_guard lock(mu_);
    auto it = stored_.find(m.name);
    recheck = it != stored_.end() && it->second.status == state::ModelStatus::kFailed;
  }
  if ((!wrote && !recheck) || warehouse_.Models() == nullptr) return;
  out.checks = RunModelChecks(m, config_.models.schema, /*anomaly=*/wrote && m.strategy != model::Strategy::kView,
                              *warehouse_.Models(), state_, run_id);
  out.check_failed = ErrorCheckFailed(out.checks);
  if (out.check_failed) step.reasons.push_back({model::kCheckFailed, FailedErrorChecks(out.checks)});
}

void ModelRunner::Record(const model::Model& m, const ModelOutcome& outcome, const schema::Schema& columns,
                         int64_t run_id) {
  const ModelStep& step = outcome.step;
  const bool wrote = step.action == ModelAction::kRun || step.action == ModelAction::kRebuild || outcome.built;
  std::optional<state::ModelRecord> record;
  {
    std::lock_guard lock(mu_);
    auto it = stored_.find(m.name);
    state::ModelRecord next = it != stored_.end() ? it->second : state::ModelRecord{.name = m.name};
    next.strategy = model::ToString(m.strategy);
    if (wrote) {
      next.sql_hash = m.sql_hash;
      next.config_hash = m.config_hash;
      next.columns_json = schema::ToJson(columns);
      next.status = outcome.failed() ? state::ModelStatus::kFailed : state::ModelStatus::kActive;
      next.last_error = outcome.failed() ? outcome.error : "";
      if (step.action == ModelAction::kRebuild) next.applied_batches = 0;
      next.applied_batches += outcome.stats.batches;
      if (!outcome.stats.watermark.empty()) next.watermark = outcome.stats.watermark;
      record = next;
    } else if (step.action == ModelAction::kFail) {
      // The hashes stay those of the last build: the next run still sees the change.
      if (it == stored_.end()) next.status = state::ModelStatus::kNew;
      if (next.status != state::ModelStatus::kReset) next.status = state::ModelStatus::kFailed;
      next.last_error = outcome.error.empty() && !step.reasons.empty() ? step.reasons.front().detail : outcome.error;
      record = next;
    }
    if (!outcome.checks.empty() && step.action != ModelAction::kFail) {
      // A failed error check leaves the write in place (hashes and all) but
      // the model failed, until a run whose checks pass (CheckAfterWrite).
      if (!record) record = next;
      record->status = outcome.check_failed ? state::ModelStatus::kFailed : state::ModelStatus::kActive;
      record->last_error = outcome.check_failed ? std::string(model::kCheckFailed) + ": " + step.reasons.back().detail : "";
    }
    if (record) {
      record->updated_at_us = 0;
      stored_[m.name] = *record;
    }
  }
  // Skips are in the run's JSON, not recorded, but for a lineage decision's.
  if (!record && step.action == ModelAction::kSkip && step.lineage.decision != "skip") return;
  state::ModelRunRecord run;
  run.model = m.name;
  run.action = model::ToString(step.action);
  run.reasons_json = ReasonsJson(step.reasons).dump();
  run.status = outcome.failed() ? state::ModelRunStatus::kFailed : state::ModelRunStatus::kSucceeded;
  run.rows_inserted = outcome.stats.inserted;
  run.rows_updated = outcome.stats.updated;
  run.rows_deleted = outcome.stats.deleted;
  run.duration_us = outcome.duration_us;
  run.error = outcome.error;
  if (auto s = state_.RecordModelOutcome(record, run_id, run_id > 0 ? &run : nullptr); !s) {
    // The warehouse is the truth about what the target holds; a lost record
    // makes the next run see the change again (and rebuild at worst).
    spdlog::warn("model {}: recording the outcome: {}", m.name, s.error().ToString());
  }
}

}  // namespace landfall::exec
