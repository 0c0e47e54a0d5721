#include "daemon/api_backend.h"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "lib/plan/plan.h"

namespace landfall::daemon {

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
  return {{"run_id", r.run_id},   {"table", r.table},
          {"action", r.action},   {"reasons", Parse(r.reasons_json, json::array())},
          {"status", state::ToString(r.status)},   {"rows", r.rows},
          {"batches", r.batches}, {"duration_ms", r.duration_us / 1000.0},
          {"error", r.error},     {"at", Time(r.recorded_at_us)}};
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

std::string DaemonApiBackend::TablesJson(const std::vector<state::TableSummary>& summaries) const {
  json tables = json::array();
  for (const auto& s : summaries) {
    json last = nullptr;
    if (s.last_action) {
      last = {{"run_id", s.last_action->run_id},
              {"action", s.last_action->action},
              {"status", state::ToString(s.last_action->status)},
              {"at", Time(s.last_action->recorded_at_us)}};
    }
    tables.push_back(SummaryJson(s, std::move(last), config_));
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
  auto plan = (*engine)->Plan(request);
  if (!plan) return Fail(plan.error());
  if (query.text) return Dump({{"text", plan::ToText(*plan)}});
  return plan::ToJson(*plan);
}

Result<std::string> DaemonApiBackend::Info() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return Dump({{"environment", config_.environment},
               {"pid", static_cast<int64_t>(getpid())},
               {"host", host},
               {"warehouse", config_.warehouse.path.string()},
               {"landing", config_.landing.dir.string()},
               {"writer", daemon_.WriterIdentity()}});
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

Result<api::Reply> DaemonApiBackend::TriggerRun(const api::RunTrigger& trigger) {
  if (auto s = CheckTables(trigger.tables); !s) return Fail(s.error());
  return daemon_.StartRun(trigger);
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

Result<std::string> DaemonApiBackend::DeleteTableState(const std::string& table) {
  if (auto s = CheckTableName(table); !s) return Fail(s.error());
  if (auto engine = Engine(); !engine) return Fail(engine.error());
  auto deleted = daemon_.DeleteTableStateIfIdle(table);
  if (!deleted) return Fail(deleted.error());
  if (!*deleted) return Fail("table_not_found", "no state for table '" + table + "'");
  spdlog::info("api: state of table {} deleted; its next run rebuilds it", table);
  return Dump({{"table", table}, {"deleted", true}});
}

Result<api::Reply> DaemonApiBackend::FileArrived(const std::string& table,
                                                 const std::string& rel_path) {
  if (!daemon_.StartedEngine()) {
    return Fail("daemon_unavailable", "landfall is starting; its first scan will see the file",
                true);
  }
  daemon_.Touch(table, "webhook");
  spdlog::info("webhook: {} arrived; scanning table {}", rel_path.empty() ? table : rel_path,
               table);
  json out = {{"table", table}, {"scheduled", true}};
  if (!rel_path.empty()) out["path"] = rel_path;
  return api::Reply{202, Dump(out)};
}

api::Readiness DaemonApiBackend::Ready() {
  api::Readiness r;
  if (!daemon_.StartedEngine()) {
    r.reasons.push_back("starting: state store, warehouse and reconciliation not done yet");
  } else if (!daemon_.FirstScanDone()) {
    r.reasons.push_back("the first scan of the landing directory has not finished");
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
