#include "daemon/api_backend.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "api/security.h"
#include "daemon/http_client.h"
#include "daemon/model_lineage.h"
#include "daemon/remote.h"
#include "daemon/runtime.h"
#include "lib/exec/model_runner.h"
#include "lib/model/loader.h"
#include "lib/plan/plan.h"

namespace landfall::daemon {

model::PartitionSelection SelectionOf(const api::PartitionFlags& flags) {
  model::PartitionSelection out{.partition = flags.partition,
                                .from = flags.from,
                                .to = flags.to,
                                .latest = flags.latest,
                                .missing = flags.missing};
  if (flags.lookback >= 0) out.lookback = flags.lookback;
  return out;
}

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// RFC 3339 UTC with milliseconds, or null for "never" (0).
json Time(int64_t us) {
  if (us <= 0) return nullptr;
  const std::time_t secs = static_cast<std::time_t>(us / 1'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>((us / 1000) % 1000));
  return out;
}

// Stored JSON text as JSON (it was valid when stored); `fallback` if empty or broken.
json Parse(const std::string& text, json fallback) {
  if (text.empty()) return fallback;
  json j = json::parse(text, nullptr, false);
  return j.is_discarded() ? fallback : j;
}

json Columns(const std::string& schema_json) {
  return Parse(schema_json, json::object()).value("columns", json::array());
}

json TableRunJson(const state::TableRunRecord& r) {
  return {{"run_id", r.run_id},
          {"table", r.table},
          {"action", r.action},
          {"reasons", Parse(r.reasons_json, json::array())},
          {"status", state::ToString(r.status)},
          {"rows", r.rows},
          {"batches", r.batches},
          {"duration_ms", r.duration_us / 1000.0},
          {"error", r.error},
          {"at", Time(r.recorded_at_us)}};
}

json BatchJson(const state::BatchRecord& b) {
  return {{"id", b.path},
          {"table", b.table},
          {"path", b.path},
          {"status", state::ToString(b.status)},
          {"fingerprint", b.fingerprint},
          {"size", b.size},
          {"rows", b.rows},
          {"error_code", b.error_code},
          {"error_message", b.error_message},
          {"duplicate_of", b.duplicate_of},
          {"discovered_at", Time(b.discovered_at_us)},
          {"staged_at", Time(b.staged_at_us)}};
}

json RunJson(const state::RunSummary& r) {
  json duration = nullptr;
  if (r.finished_at_us > 0 && r.started_at_us > 0)
    duration = (r.finished_at_us - r.started_at_us) / 1000.0;
  return {{"id", r.id},
          {"trigger", r.trigger},
          {"status", r.status},
          {"started_at", Time(r.started_at_us)},
          {"finished_at", Time(r.finished_at_us)},
          {"duration_ms", duration},
          {"error", r.error}};
}

// What GET /v1/tables lists of a table; GET /v1/tables/{name} adds to it.
json SummaryJson(const state::TableSummary& s, json last_run, const config::Config& config) {
  const auto& t = s.table;
  return {{"name", t.name},
          // Known only by its batches: found, never run yet.
          {"status", state::ToString(t.status)},
          {"rows", s.rows_staged},
          {"batches",
           {{"staged", s.staged},
            {"pending", s.pending},
            {"quarantined", s.quarantined},
            {"duplicate", s.duplicate}}},
          {"schema_hash", t.schema_hash},
          {"policy", t.policy.empty() ? config::ToString(config.PolicyFor(t.name).schema_evolution)
                                      : t.policy},
          {"last_error", t.last_error},
          {"last_run", std::move(last_run)},
          {"updated_at", Time(t.updated_at_us)}};
}

json ModelRunJson(const state::ModelRunRecord& r) {
  return {{"run_id", r.run_id},
          {"action", r.action},
          {"reasons", Parse(r.reasons_json, json::array())},
          {"status", state::ToString(r.status)},
          {"rows_inserted", r.rows_inserted},
          {"rows_updated", r.rows_updated},
          {"rows_deleted", r.rows_deleted},
          {"duration_ms", r.duration_us / 1000.0},
          {"error", r.error},
          {"at", Time(r.recorded_at_us)}};
}

json PartitionJson(const state::PartitionRecord& p) {
  return {{"key", p.key},
          {"status", state::ToString(p.status)},
          {"window_start", Time(p.window_start_us)},
          {"window_end", Time(p.window_end_us)},
          {"computed_at", Time(p.computed_at_us)},
          {"window_closed", p.window_closed},
          {"rows", p.row_count},
          {"checksum", p.checksum},
          {"duration_ms", p.duration_us / 1000.0},
          {"run_id", p.run_id > 0 ? json(p.run_id) : json(nullptr)},
          {"error", p.error},
          {"updated_at", Time(p.updated_at_us)}};
}

// What GET /v1/models lists of a model; GET /v1/models/{name} adds to it.
// `file`: the model as its files define it (null when only the state store
// knows it); `record`, `last`, `rows`: what the state store and the
// warehouse hold (null when nothing).
json ModelSummaryJson(const std::string& name, const model::Model* file, const ModelGraph* graph,
                      const state::ModelRecord* record, const state::ModelRunRecord* last,
                      const std::map<std::string, int64_t>* rows, const config::Config& config) {
  json upstream = json::array();
  json downstream = json::array();
  if (graph != nullptr && graph->dag.Contains(name)) {
    for (const auto& ref : graph->dag.upstream.at(name)) upstream.push_back(model::ToString(ref));
    if (auto it = graph->dag.downstream_models.find(name);
        it != graph->dag.downstream_models.end()) {
      for (const auto& m : it->second) downstream.push_back(config.models.schema + "." + m);
    }
  }
  json row_count = nullptr;
  if (rows != nullptr) {
    if (auto it = rows->find(name); it != rows->end()) row_count = it->second;
  }
  json file_path = nullptr;
  if (file != nullptr && config.models.dir) {
    file_path = file->sql_file.lexically_relative(*config.models.dir).generic_string();
  }
  return {{"name", name},
          {"strategy", file != nullptr ? model::ToString(file->strategy)
                                       : (record != nullptr ? record->strategy : "")},
          // No row yet: known from its files, never run.
          {"status", record != nullptr ? state::ToString(record->status) : "new"},
          {"file", std::move(file_path)},
          {"last_error", record != nullptr ? record->last_error : ""},
          {"last_run", last != nullptr ? ModelRunJson(*last) : json(nullptr)},
          {"rows", std::move(row_count)},
          {"upstream", std::move(upstream)},
          {"downstream", std::move(downstream)},
          {"updated_at", record != nullptr ? Time(record->updated_at_us) : json(nullptr)}};
}

// A table name from a client: one folder name.
Status CheckTableName(const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos) {
    return Fail("invalid_request", "'" + name + "' is not a table name");
  }
  return Ok();
}

}  // namespace

DaemonApiBackend::DaemonApiBackend(const config::Config& config, DaemonControl& daemon)
    : config_(config), daemon_(daemon) {}

DaemonApiBackend::~DaemonApiBackend() = default;

Result<state::StateStore*> DaemonApiBackend::Reads() {
  std::lock_guard lock(mu_);
  if (!reads_) {
    auto store = state::OpenPostgres({config_.state.postgres_url, config_.environment});
    if (!store) return Fail(store.error());
    reads_ = std::move(*store);
  }
  return reads_.get();
}

Result<exec::Engine*> DaemonApiBackend::Engine() {
  if (auto* engine = daemon_.StartedEngine()) return engine;
  return Fail("daemon_unavailable", "landfall is starting (state store, warehouse, reconciliation)",
              true);
}

Result<std::string> DaemonApiBackend::ListTables() {
  if (auto* cluster = daemon_.Cluster()) {
    // The engine knows only the tables this member holds: every member's
    // tables come from the state store, with their lease holders.
    auto reads = Reads();
    if (!reads) return Fail(reads.error());
    auto summaries = (*reads)->TableSummaries("");
    if (!summaries) return Fail(summaries.error());
    auto leases = cluster->Leases();
    if (!leases) return Fail(leases.error());
    std::map<std::string, std::string> owners;
    for (const auto& lease : *leases) owners[lease.table] = lease.owner;
    return TablesJson(*summaries, &owners);
  }
  if (auto* engine = daemon_.StartedEngine()) {
    // Read before the list: a change while rendering leaves an older number,
    // so the next request renders again.
    const uint64_t generation = engine->Generation();
    {
      std::lock_guard lock(mu_);
      if (tables_cached_ && tables_generation_ == generation) return tables_body_;
    }
    std::string body = TablesJson(engine->TableSummaries());
    std::lock_guard lock(mu_);
    tables_body_ = body;
    tables_generation_ = generation;
    tables_cached_ = true;
    return body;
  }
  // Starting: what the state store remembers.
  auto reads = Reads();
  if (!reads) return Fail(reads.error());
  auto summaries = (*reads)->TableSummaries("");
  if (!summaries) return Fail(summaries.error());
  return TablesJson(*summaries);
}

std::string DaemonApiBackend::TablesJson(const std::vector<state::TableSummary>& summaries,
                                         const std::map<std::string, std::string>* owners) const {
  json tables = json::array();
  for (const auto& s : summaries) {
    json last = nullptr;
    if (s.last_action) {
      last = {{"run_id", s.last_action->run_id},
              {"action", s.last_action->action},
              {"status", state::ToString(s.last_action->status)},
              {"at", Time(s.last_action->recorded_at_us)}};
    }
    json table = SummaryJson(s, std::move(last), config_);
    if (owners != nullptr) {
      auto it = owners->find(s.table.name);
      table["owner"] = it == owners->end() ? json(nullptr) : json(it->second);
    }
    tables.push_back(std::move(table));
  }
  return Dump({{"tables", std::move(tables)}});
}

Result<std::string> DaemonApiBackend::GetTable(const std::string& name) {
  auto reads = Reads();
  if (!reads) return Fail(reads.error());
  auto& store = **reads;
  auto summaries = store.TableSummaries(name);
  if (!summaries) return Fail(summaries.error());
  if (summaries->empty()) return Fail("table_not_found", "no table '" + name + "'");
  const auto& s = summaries->front();
  auto history = store.SchemaHistory(name, 20);
  if (!history) return Fail(history.error());
  auto batches = store.FindBatches({name, std::nullopt, 50, /*newest_first=*/true});
  if (!batches) return Fail(batches.error());
  auto actions = store.TableHistory(name, 20);
  if (!actions) return Fail(actions.error());

  json schema_history = json::array();
  for (const auto& v : *history) {
    schema_history.push_back({{"schema_hash", v.schema_hash},
                              {"recorded_at", Time(v.recorded_at_us)},
                              {"columns", Columns(v.schema_json)}});
  }
  json recent_batches = json::array();
  for (const auto& b : *batches) recent_batches.push_back(BatchJson(b));
  json recent_actions = json::array();
  for (const auto& a : *actions) recent_actions.push_back(TableRunJson(a));
  json last = nullptr;
  if (s.last_action) last = TableRunJson(*s.last_action);
  json out = SummaryJson(s, std::move(last), config_);
  out["columns"] = Columns(s.table.schema_json);
  out["schema_history"] = std::move(schema_history);
  out["recent_batches"] = std::move(recent_batches);
  out["recent_actions"] = std::move(recent_actions);
  return Dump(out);
}

Result<std::string> DaemonApiBackend::Plan(const api::PlanQuery& query) {
  auto engine = Engine();
  if (!engine) return Fail(engine.error());
  // Table names as `landfall plan --table` takes them: the engine decides.
  exec::RunRequest request;
  request.tables = query.tables;
  request.full_refresh = query.full_refresh;
  request.trigger = "api";
  request.models = query.models;
  request.partitions = SelectionOf(query.partitions);
  auto plan = (*engine)->Plan(request);
  if (!plan) return Fail(plan.error());
  // The models' steps as `landfall plan` prints them, after the tables'.
  std::vector<model::ModelStep> steps;
  if (config_.models.dir) {
    auto models = (*engine)->PlanModels(request, *plan);
    if (!models) return Fail(models.error());
    steps = std::move(models->steps);
  }
  if (query.text) return Dump({{"text", plan::ToText(*plan) + exec::StepsToText(steps)}});
  json out = json::parse(plan::ToJson(*plan));
  // As `landfall plan --format json` prints it: "models" only with models.dir.
  if (config_.models.dir) out["models"] = json::parse(exec::StepsToJson(steps));
  return Dump(out);
}

Result<std::string> DaemonApiBackend::Info() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return Dump({{"environment", config_.environment},
               {"pid", static_cast<int64_t>(getpid())},
               {"host", host},
               {"warehouse", config_.warehouse.Describe()},
               {"landing", config_.landing.dir.string()},
               {"writer", daemon_.WriterIdentity()}});
}

Result<std::string> DaemonApiBackend::Cluster() {
  if (!config_.cluster.enabled) {
    return Dump({{"enabled", false},
                 {"node", nullptr},
                 {"lease_ttl_s", nullptr},
                 {"members", json::array()}});
  }
  auto* cluster = daemon_.Cluster();
  if (cluster == nullptr) {
    return Fail("daemon_unavailable", "this member is joining the cluster", true);
  }
  auto members = cluster->Members();
  if (!members) return Fail(members.error());
  json list = json::array();
  for (const auto& m : *members) {
    list.push_back({{"node", m.node},
                    {"host", m.host},
                    {"pid", m.pid},
                    {"api", m.api.empty() ? json(nullptr) : json(m.api)},
                    {"started_at", Time(m.started_at_us)},
                    {"heartbeat_at", Time(m.heartbeat_at_us)},
                    {"live", m.live},
                    {"tables", m.tables},
                    {"models", m.models}});
  }
  return Dump({{"enabled", true},
               {"node", cluster->options().node},
               {"lease_ttl_s", config_.cluster.lease_ttl_s},
               {"members", std::move(list)}});
}

Result<api::Reply> DaemonApiBackend::RunOutcome(int64_t id) { return daemon_.RunOutcome(id); }

Status DaemonApiBackend::CheckTables(const std::vector<std::string>& tables) {
  if (tables.empty()) return Ok();
  auto reads = Reads();
  if (!reads) return Fail(reads.error());
  for (const auto& table : tables) {
    if (auto s = CheckTableName(table); !s) return Fail(s.error());
    std::error_code ec;
    if (fs::is_directory(config_.landing.dir / table, ec)) continue;
    // Gone from the landing dir but remembered: a run orphans or drops it.
    auto known = (*reads)->TableSummaries(table);
    if (!known) return Fail(known.error());
    if (known->empty()) return Fail("table_not_found", "no table '" + table + "'");
  }
  return Ok();
}

Status DaemonApiBackend::CheckModelSelection(const std::string& spec) {
  if (spec.empty()) return Ok();
  if (!config_.models.dir) {
    return Fail("invalid_request", "models were named but the config has no models (models.dir)");
  }
  auto engine = Engine();
  if (!engine) return Fail(engine.error());
  auto graph = Graph(**engine);
  if (!graph) return Fail(graph.error());
  if (auto selected = model::Select(graph->dag, spec); !selected) return Fail(selected.error());
  return Ok();
}

Result<api::Reply> DaemonApiBackend::TriggerRun(const api::RunTrigger& trigger) {
  if (auto s = CheckTables(trigger.tables); !s) return Fail(s.error());
  // A bad --models is the client's to fix (400), before any table runs.
  if (auto s = CheckModelSelection(trigger.models); !s) return Fail(s.error());
  auto* cluster = daemon_.Cluster();
  // In a cluster the member holding the tables (and, for a run naming
  // models, the models lease) runs them; its reply is the answer.
  std::vector<std::string> leases = trigger.tables;
  if (!trigger.models.empty()) leases.push_back(state::kModelsLease);
  if (cluster == nullptr || leases.empty()) return daemon_.StartRun(trigger);
  auto holder = HolderOf(*cluster, leases);
  if (!holder) return Fail(holder.error());
  if (*holder == cluster->options().node) return daemon_.StartRun(trigger);
  return AskMember(
      *cluster, *holder,
      {.method = "POST",
       .target = "/v1/runs",
       .body = RunRequestBody(trigger),
       .bearer_token = config_.api.tokens.empty() ? "" : config_.api.tokens.front()});
}

Result<std::string> DaemonApiBackend::HolderOf(state::ClusterStore& cluster,
                                               const std::vector<std::string>& tables) {
  auto leases = cluster.Leases();
  if (!leases) return Fail(leases.error());
  std::map<std::string, std::string> owner_of;
  for (const auto& lease : *leases) owner_of[lease.table] = lease.owner;
  std::set<std::string> owners;
  for (const auto& table : tables) {
    auto it = owner_of.find(table);
    if (it == owner_of.end()) {
      return Fail("run_conflict", "no member holds " +
                                      (table == state::kModelsLease ? std::string("the models")
                                                                    : "table '" + table + "'") +
                                      "' now; one takes it on within cluster.lease_ttl_s (" +
                                      std::to_string(config_.cluster.lease_ttl_s) +
                                      " s): try again");
    }
    owners.insert(it->second);
  }
  if (owners.size() > 1) {
    return Fail("run_conflict",
                "the tables (and models) are held by " + std::to_string(owners.size()) +
                    " members (GET /v1/tables shows each table's owner, GET /v1/cluster who "
                    "runs the models): start one run per member");
  }
  return *owners.begin();
}

std::optional<Result<api::Reply>> DaemonApiBackend::AskHolder(const std::string& lease,
                                                             const std::string& method,
                                                             const std::string& target) {
  auto* cluster = daemon_.Cluster();
  if (cluster == nullptr) return std::nullopt;
  auto holder = HolderOf(*cluster, {lease});
  if (!holder) return Fail(holder.error());
  if (*holder == cluster->options().node) return std::nullopt;
  return AskMember(*cluster, *holder,
                   {.method = method,
                    .target = target,
                    .bearer_token = config_.api.tokens.empty() ? "" : config_.api.tokens.front()});
}

Result<api::Reply> DaemonApiBackend::AskMember(state::ClusterStore& cluster,
                                               const std::string& node, HttpCall call) {
  auto members = cluster.Members();
  if (!members) return Fail(members.error());
  auto member = std::ranges::find(*members, node, &state::ClusterMember::node);
  const auto colon = member == members->end() ? std::string::npos : member->api.rfind(':');
  if (colon == std::string::npos) {
    return Fail("daemon_unavailable", "member " + node + " holds the tables but has no API to ask",
                true);
  }
  call.host = member->api.substr(0, colon);
  call.port = std::atoi(member->api.c_str() + colon + 1);
  auto reply = Call(call);
  if (!reply) {
    return Fail("daemon_unavailable",
                "member " + node + " at " + member->api +
                    " holds the tables and cannot be asked: " + reply.error().message,
                true);
  }
  json body = json::parse(reply->body, nullptr, false);
  if (!body.is_object()) return api::Reply{reply->status, reply->body};
  body["member"] = node;
  return api::Reply{reply->status, Dump(body)};
}

Result<std::string> DaemonApiBackend::ListRuns(int limit, const std::string& status) {
  auto reads = Reads();
  if (!reads) return Fail(reads.error());
  auto runs = (*reads)->FindRuns(limit, status);
  if (!runs) return Fail(runs.error());
  json out = json::array();
  for (const auto& r : *runs) out.push_back(RunJson(r));
  return Dump({{"runs", std::move(out)}});
}

Result<std::string> DaemonApiBackend::GetRun(int64_t id) {
  auto reads = Reads();
  if (!reads) return Fail(reads.error());
  auto run = (*reads)->GetRun(id);
  if (!run) return Fail(run.error());
  if (!*run) return Fail("run_not_found", "no run " + std::to_string(id));
  auto records = (*reads)->TableRuns(id);
  if (!records) return Fail(records.error());

  json out = RunJson(**run);
  json plan = Parse((*run)->plan_json, json::object());
  json tables = json::array();
  std::set<std::string> done;
  for (const auto& r : *records) {
    done.insert(r.table);
    tables.push_back(TableRunJson(r));
  }
  // Progress: the plan's actionable tables, and which of them have a record.
  json pending = json::array();
  int total = 0;
  for (const auto& t : plan.value("tables", json::array())) {
    if (t.value("action", "skip") == "skip") continue;
    ++total;
    const std::string name = t.value("table", "");
    if (!done.contains(name)) pending.push_back(name);
  }
  out["tables"] = std::move(tables);
  out["progress"] = {{"tables_total", total},
                     {"tables_done", static_cast<int>(done.size())},
                     {"pending", std::move(pending)}};
  out["plan"] = std::move(plan);
  return Dump(out);
}

Result<std::string> DaemonApiBackend::ListBatches(const std::string& table,
                                                  const std::string& status, int limit) {
  auto reads = Reads();
  if (!reads) return Fail(reads.error());
  state::BatchFilter filter;
  filter.table = table;
  if (!status.empty()) filter.status = state::BatchStatusFromString(status);
  filter.limit = limit;
  auto batches = (*reads)->FindBatches(filter);
  if (!batches) return Fail(batches.error());
  json out = json::array();
  for (const auto& b : *batches) out.push_back(BatchJson(b));
  return Dump({{"batches", std::move(out)}});
}

Result<api::Reply> DaemonApiBackend::RetryBatch(const std::string& path) {
  auto engine = Engine();
  if (!engine) return Fail(engine.error());
  auto table = (*engine)->RetryQuarantined(path);
  if (!table) return Fail(table.error());
  daemon_.Touch(*table, "retry");
  return api::Reply{202, Dump({{"batch", path}, {"table", *table}, {"scheduled", true}})};
}

Result<api::Reply> DaemonApiBackend::DeleteTableState(const std::string& table) {
  if (auto s = CheckTableName(table); !s) return Fail(s.error());
  if (auto engine = Engine(); !engine) return Fail(engine.error());
  if (auto forwarded = AskHolder(table, "DELETE", "/v1/state/tables/" + UrlEncode(table)))
    return std::move(*forwarded);
  auto deleted = daemon_.DeleteTableStateIfIdle(table);
  if (!deleted) return Fail(deleted.error());
  if (!*deleted) return Fail("table_not_found", "no state for table '" + table + "'");
  spdlog::info("api: state of table {} deleted; its next run rebuilds it", table);
  return api::Reply{200, Dump({{"table", table}, {"deleted", true}})};
}

Result<api::Reply> DaemonApiBackend::FileArrived(const std::string& table,
                                                 const std::string& rel_path) {
  if (!daemon_.StartedEngine()) {
    return Fail("daemon_unavailable", "landfall is starting; its first scan will see the file",
                true);
  }
  if (auto* cluster = daemon_.Cluster()) {
    // The member holding the table is told, signed as the sender signed it
    // (the members share api.webhook_secret).
    auto holder = HolderOf(*cluster, {table});
    if (!holder) return Fail(holder.error());
    if (*holder != cluster->options().node) {
      const std::string body =
          rel_path.empty() ? json{{"table", table}}.dump() : json{{"path", rel_path}}.dump();
      const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
      return AskMember(*cluster, *holder,
                       {.method = "POST",
                        .target = "/v1/webhooks/file-arrived",
                        .body = body,
                        .headers = {{"X-Landfall-Signature",
                                     api::SignWebhook(config_.api.webhook_secret, now, body)}}});
    }
  }
  daemon_.Touch(table, "webhook");
  spdlog::info("webhook: {} arrived; scanning table {}", rel_path.empty() ? table : rel_path,
               table);
  json out = {{"table", table}, {"scheduled", true}};
  if (!rel_path.empty()) out["path"] = rel_path;
  return api::Reply{202, Dump(out)};
}

Result<ModelGraph> DaemonApiBackend::Graph(exec::Engine& engine) {
  // The staging tables the engine knows (from memory, no scan): a model
  // reading any other table fails the graph as it would fail a run.
  std::set<std::string> tables;
  if (daemon_.Cluster() != nullptr) {
    // A member's engine knows only the tables it holds: the environment's
    // come from the state store.
    auto reads = Reads();
    if (!reads) return Fail(reads.error());
    auto summaries = (*reads)->TableSummaries("");
    if (!summaries) return Fail(summaries.error());
    for (const auto& summary : *summaries) tables.insert(summary.table.name);
  } else {
    for (const auto& summary : engine.TableSummaries()) tables.insert(summary.table.name);
  }
  std::optional<ModelGraph> previous;
  {
    std::lock_guard lock(mu_);
    previous = graph_;
  }
  auto graph = LoadModelGraph(config_, std::move(tables), previous ? &*previous : nullptr);
  if (!graph) return Fail(graph.error());
  std::lock_guard lock(mu_);
  graph_ = *graph;
  return graph;
}

struct DaemonApiBackend::ModelSources {
  exec::Engine* engine = nullptr;
  state::StateStore* reads = nullptr;
  std::vector<state::ModelRecord> records;
  // Row counts are a nicety: nullopt when the warehouse could not say.
  std::optional<std::map<std::string, int64_t>> rows;
  // Invalid model files still leave what the state store knows, and the error.
  Result<ModelGraph> graph;
  const std::map<std::string, int64_t>* Rows() const { return rows ? &*rows : nullptr; }
  const ModelGraph* Graph() const { return graph ? &*graph : nullptr; }
};

Result<DaemonApiBackend::ModelSources> DaemonApiBackend::ReadModelSources() {
  ModelSources out;
  auto engine = Engine();
  if (!engine) return Fail(engine.error());
  out.engine = *engine;
  auto reads = Reads();
  if (!reads) return Fail(reads.error());
  out.reads = *reads;
  auto records = out.reads->Models();
  if (!records) return Fail(records.error());
  out.records = std::move(*records);
  if (auto rows = out.engine->ModelTargetRows(); rows) {
    out.rows = std::move(*rows);
  } else {
    spdlog::warn("api: model row counts: {}", rows.error().ToString());
  }
  out.graph = Graph(*out.engine);
  return out;
}

Result<std::string> DaemonApiBackend::ListModels() {
  if (!config_.models.dir) return Dump({{"models", json::array()}, {"models_error", nullptr}});
  auto sources = ReadModelSources();
  if (!sources) return Fail(sources.error());
  const auto& records = sources->records;
  const auto& graph = sources->graph;
  auto last_runs = sources->reads->LastModelRuns();
  if (!last_runs) return Fail(last_runs.error());

  std::map<std::string, const state::ModelRecord*> by_name;
  for (const auto& r : records) by_name[r.name] = &r;
  std::map<std::string, const state::ModelRunRecord*> last_by_name;
  for (const auto& r : *last_runs) last_by_name[r.model] = &r;
  auto find = [](const auto& map, const std::string& name) {
    auto it = map.find(name);
    return it == map.end() ? nullptr : it->second;
  };
  json models = json::array();
  std::set<std::string> listed;
  if (graph) {
    std::map<std::string, const model::Model*> files;
    for (const auto& m : graph->models) files[m.name] = &m;
    for (const auto& name : graph->dag.order) {
      listed.insert(name);
      models.push_back(ModelSummaryJson(name, files.at(name), &*graph, find(by_name, name),
                                        find(last_by_name, name), sources->Rows(), config_));
    }
  }
  for (const auto& [name, record] : by_name) {
    if (listed.contains(name)) continue;
    models.push_back(ModelSummaryJson(name, nullptr, nullptr, record, find(last_by_name, name),
                                      sources->Rows(), config_));
  }
  return Dump({{"models", std::move(models)},
               {"models_error", graph ? json(nullptr) : json(graph.error().message)}});
}

Result<std::string> DaemonApiBackend::ModelChecks(const std::string& name) {
  auto reads = Reads();
  if (!reads) return Fail(reads.error());
  auto checks = (*reads)->ModelChecks(name, "", 200);
  if (!checks) return Fail(checks.error());
  if (checks->empty()) {
    auto records = (*reads)->Models();
    if (!records) return Fail(records.error());
    const bool known = std::any_of(records->begin(), records->end(),
                                   [&](const state::ModelRecord& r) { return r.name == name; });
    if (!known)
      return Fail("model_not_found", "no model '" + name + "' with state or check results");
  }
  json out = json::array();
  for (const auto& c : *checks) {
    out.push_back({{"run_id", c.run_id},
                   {"check", c.check},
                   {"severity", c.severity},
                   {"passed", c.passed},
                   {"observed", c.observed ? json(*c.observed) : json(nullptr)},
                   {"detail", c.detail},
                   {"at", Time(c.checked_at_us)}});
  }
  return Dump({{"model", name}, {"checks", std::move(out)}});
}

Result<std::string> DaemonApiBackend::GetModel(const std::string& name) {
  if (!config_.models.dir)
    return Fail("model_not_found", "no model '" + name + "' (no models.dir)");
  auto sources = ReadModelSources();
  if (!sources) return Fail(sources.error());
  const auto& graph = sources->graph;
  const model::Model* file = nullptr;
  if (graph) {
    for (const auto& m : graph->models) {
      if (m.name == name) file = &m;
    }
  }
  const state::ModelRecord* record = nullptr;
  for (const auto& r : sources->records) {
    if (r.name == name) record = &r;
  }
  if (file == nullptr && record == nullptr) {
    // Invalid files hide the model: say why rather than "not found".
    if (!graph) return Fail(graph.error());
    return Fail("model_not_found", "no model '" + name + "'");
  }
  auto history = sources->reads->ModelHistory(name, 20);
  if (!history) return Fail(history.error());

  json out =
      ModelSummaryJson(name, file, sources->Graph(), record,
                       history->empty() ? nullptr : &history->front(), sources->Rows(), config_);
  out["sql"] = file != nullptr ? json(file->sql) : json(nullptr);
  out["config"] = file != nullptr ? Parse(model::CanonicalConfig(*file), nullptr) : json(nullptr);
  out["columns"] = record != nullptr ? Columns(record->columns_json) : json::array();
  out["watermark"] =
      record != nullptr && !record->watermark.empty() ? json(record->watermark) : json(nullptr);
  out["applied_batches"] = record != nullptr ? record->applied_batches : 0;
  out["strategy_state"] =
      record != nullptr ? Parse(record->strategy_state_json, nullptr) : json(nullptr);
  json recent = json::array();
  for (const auto& r : *history) recent.push_back(ModelRunJson(r));
  out["recent_runs"] = std::move(recent);
  if (!graph) out["models_error"] = graph.error().message;
  return Dump(out);
}

Result<std::string> DaemonApiBackend::Dag() {
  if (!config_.models.dir) return Dump({{"nodes", json::array()}, {"edges", json::array()}});
  auto engine = Engine();
  if (!engine) return Fail(engine.error());
  // Built from the files now (not the newest run's snapshot): an edit shows
  // before the next run, as GET /v1/models shows it.
  auto graph = Graph(**engine);
  if (!graph) return Fail(graph.error());
  return exec::DagToJson(graph->models, graph->dag);
}

Result<std::string> DaemonApiBackend::ListPartitions(const std::string& model,
                                                     const std::string& status,
                                                     const std::string& from, const std::string& to,
                                                     int limit) {
  // The state store alone: partitions are state, and a model whose files are
  // gone (or invalid) still has them to show.
  auto reads = Reads();
  if (!reads) return Fail(reads.error());
  auto models = (*reads)->Models();
  if (!models) return Fail(models.error());
  if (std::none_of(models->begin(), models->end(),
                   [&](const state::ModelRecord& r) { return r.name == model; })) {
    return Fail("model_not_found", "no state for model '" + model + "'");
  }
  auto partitions =
      (*reads)->Partitions(model, {.status = status, .from = from, .to = to, .limit = limit});
  if (!partitions) return Fail(partitions.error());
  json out = json::array();
  for (const auto& p : *partitions) out.push_back(PartitionJson(p));
  return Dump({{"model", model}, {"partitions", std::move(out)}});
}

struct DaemonApiBackend::LineageView {
  ModelGraph graph;
  std::map<std::string, model::Lineage> lineages;
};

Result<DaemonApiBackend::LineageView> DaemonApiBackend::ReadLineage() {
  LineageView out;
  if (!config_.models.dir) return out;
  // Without a daemon (`landfall lineage` working alone) there is no engine:
  // the landing directory's table folders stand for the staging tables.
  auto graph = daemon_.StartedEngine() != nullptr ? Graph(*daemon_.StartedEngine())
                                                  : LoadModelGraph(config_);
  if (!graph) return Fail(graph.error());
  out.graph = std::move(*graph);
  auto reads = Reads();
  if (!reads) return Fail(reads.error());
  auto tables = (*reads)->TableSummaries("");
  if (!tables) return Fail(tables.error());
  if (config_.warehouse.type == "postgres") {
    // As the model runner's plan says: the SQL is PostgreSQL's.
    for (const auto& m : out.graph.models) {
      out.lineages[m.name] = model::UnknownLineage(std::string(model::kLineageUnknownOnPostgres));
    }
    return out;
  }
  auto lineages = LineageOf(out.graph, *tables);
  if (!lineages) return Fail(lineages.error());
  out.lineages = std::move(*lineages);
  return out;
}

Result<std::string> DaemonApiBackend::Lineage() {
  auto view = ReadLineage();
  if (!view) return Fail(view.error());
  return model::LineagesToJson(view->graph.dag, view->lineages);
}

Result<std::string> DaemonApiBackend::ModelLineage(const std::string& name) {
  auto view = ReadLineage();
  if (!view) return Fail(view.error());
  std::string body = model::ModelLineageJson(view->graph.dag, view->lineages, name);
  if (body.empty()) return Fail("model_not_found", "no model '" + name + "'");
  return body;
}

Result<api::Reply> DaemonApiBackend::DeleteModelState(const std::string& model) {
  if (model.empty() || model.find('\0') != std::string::npos) {
    return Fail("invalid_request", "'" + model + "' is not a model name");
  }
  auto engine = Engine();
  if (!engine) return Fail(engine.error());
  // The member running the models forgets it: another's delete could be
  // undone by a model phase in flight on the holder.
  if (auto forwarded =
          AskHolder(state::kModelsLease, "DELETE", "/v1/state/models/" + UrlEncode(model)))
    return std::move(*forwarded);
  auto deleted = (*engine)->DeleteModelState(model);
  if (!deleted) return Fail(deleted.error());
  if (!*deleted) return Fail("model_not_found", "no state for model '" + model + "'");
  spdlog::info("api: state of model {} deleted; its next run rebuilds it", model);
  return api::Reply{200, Dump({{"model", model}, {"deleted", true}})};
}

Result<warehouse::QueryAnswer> DaemonApiBackend::Query(const api::QueryAsk& ask) {
  auto* warehouse = daemon_.StartedWarehouse();
  if (warehouse == nullptr) {
    return Fail("daemon_unavailable",
                "landfall is starting (state store, warehouse, reconciliation)", true);
  }
  return warehouse->Query(QueryRequestFor(config_, ask.sql, ask.format, ask.limit));
}

api::Readiness DaemonApiBackend::Ready() {
  api::Readiness r;
  if (!daemon_.StartedEngine()) {
    r.reasons.push_back("starting: state store, warehouse and reconciliation not done yet");
  } else if (!daemon_.FirstScanDone()) {
    r.reasons.push_back("the first scan of the landing directory has not finished");
  }
  if (auto* warehouse = daemon_.StartedWarehouse()) {
    if (auto waiting = warehouse->WaitingFor(); !waiting.empty()) r.reasons.push_back(waiting);
  }
  // The engine's connection may be busy with a long write; ask on our own.
  auto reads = Reads();
  if (!reads) {
    r.reasons.push_back("state store unreachable: " + reads.error().message);
  } else if (auto ping = (*reads)->FindRuns(1, ""); !ping) {
    r.reasons.push_back("state store unreachable: " + ping.error().message);
  }
  r.ready = r.reasons.empty();
  return r;
}

}  // namespace landfall::daemon
