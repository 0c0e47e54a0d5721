#include "daemon/cli.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon/api_backend.h"
#include "daemon/model_graph.h"
#include "daemon/remote.h"
#include "daemon/runtime.h"
#include "daemon/serve.h"
#include "lib/common/logging.h"
#include "lib/config/config.h"
#include "lib/exec/engine.h"
#include "lib/model/compile.h"
#include "lib/schema/schema.h"
#include "lib/state/state_store.h"
#include "lib/warehouse/duckdb_warehouse.h"
#include "lib/warehouse/query.h"

#ifndef LANDFALL_VERSION
#define LANDFALL_VERSION "dev"
#endif

namespace landfall::daemon {

namespace {

using json = nlohmann::json;

constexpr const char* kHelp =
    R"(landfall - stages Parquet files from a landing directory into a warehouse

Usage:
  landfall serve --config F
  landfall plan  --config F [--table T]... [--models SPEC] [--full-refresh] [--format text|json]
  landfall run   --config F [--table T]... [--models SPEC] [--full-refresh] [--format text|json]
                 [--partition KEY | --from A --to B | --latest | --missing] [--lookback N] [--parallel N]
  landfall state delete --config F --table T | --model M
  landfall status --config F [--format text|json]
  landfall query --config F [--format table|csv|json|parquet] [--limit N] [--output FILE] "SELECT ..."
  landfall migrate --config F
  landfall check-config --config F
  landfall compile --config F --dialect duckdb|snowflake|databricks|bigquery [--models SPEC]
  landfall lineage MODEL --config F [--column C] [--format text|json]
  landfall --version | --help

Commands:
  serve         the daemon: watch the landing directory and stage batches as they
                land, until SIGTERM/SIGINT (SIGHUP re-reads the config)
  plan          show what a run would do now (a dry run; the warehouse is not changed)
  run           plan and execute: stage new batches, rebuild what must be rebuilt,
                then run the models downstream of what changed
  state delete  forget a table's (or a model's) state so its next run rebuilds it
  status        tables, running runs, failing tables and quarantined batches
  query         run one read-only statement (SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE)
                on the warehouse; anything else is refused (exit 2)

  migrate       apply the state store's migrations and exit
  check-config  validate the config file and every model (files, SQL, DAG) and exit
  compile       print the DDL each model would run on that warehouse (nothing runs)
  lineage       which upstream columns a model reads, where each of its columns comes
                from and which models read it (through the daemon when one runs)

While `landfall serve` runs with the same config, plan, run, state delete,
status and query ask it over its API (api.listen; $LANDFALL_API_TOKEN when api.tokens is
set) and say so on stderr; otherwise they work alone.

Options:
  --config F       the YAML config (default: $LANDFALL_CONFIG)
  --table T        limit plan/run to table T (repeatable)
  --full-refresh   rebuild the selected tables from all their batches
  --models SPEC    plan/run/compile only these models: a,b  a+ (and downstream)  +a (and
                   upstream); with --full-refresh, rebuild them (and not the tables)
  --partition KEY  (plan, run) compute this partition of the selected time_interval models:
                   2026-04-07T13 (hour), 2026-04-07 (day), 2026-04 (month), 2026 (year)
  --from A --to B  ... every partition from A to B, both included
  --latest         ... the partition holding now
  --missing        ... every partition since first_partition not computed, failed,
                   interrupted, or computed before its window closed
  --lookback N     ... and N partitions before the earliest chosen (default: the model's)
  --parallel N     partitions computed at once where the warehouse allows it; DuckDB
                   computes one at a time (each statement already uses every core)
  --model M        state delete: the model whose state to forget
  --dialect D      compile: the warehouse whose SQL to print
  --column C       lineage: only this output column of the model
  --format         text (default) or json; query: table (default), csv, json or parquet
  --limit N        query: at most N rows (default 10000 for table and json, all for csv
                   and parquet)
  --output FILE    query: write the answer to FILE instead of stdout

Exit codes:
  0  success
  1  the run finished, but at least one table failed
  2  bad arguments, invalid config or invalid models (SQL, cycle, unknown table)
  3  state store, warehouse or landing directory unavailable, or another
     process is the environment's writer (run, state delete, serve)
  4  serve: runs were still in flight when shutdown_timeout_s ran out
  130, 143  serve: a second SIGINT (130) or SIGTERM (143) cut the shutdown short
)";

struct Args {
  std::vector<std::string> command;  // e.g. {"state", "delete"}
  std::string config;
  std::vector<std::string> tables;
  bool full_refresh = false;
  std::string format = "text";
  std::optional<std::string> models;  // --models SPEC
  std::string model;                  // --model M (state delete)
  std::string dialect;                // --dialect (compile)
  std::string column;                 // --column (lineage)
  api::PartitionFlags partitions;     // --partition, --from, --to, --latest, --missing, --lookback
  int parallel = 1;                   // --parallel N
  bool PartitionFlagsGiven() const {
    return !partitions.partition.empty() || !partitions.from.empty() || !partitions.to.empty() ||
           partitions.latest || partitions.missing || partitions.lookback >= 0 || parallel != 1;
  }
  std::optional<int64_t> limit;  // --limit N (query)
  std::string output;            // --output FILE (query)
  bool format_given = false;
};

int Usage(const std::string& message) {
  std::cerr << "landfall: " << message << "\nRun 'landfall --help' for usage.\n";
  return kExitUsage;
}

std::optional<Args> Parse(int argc, char** argv, int* exit_code) {
  Args args;
  if (const char* env = std::getenv("LANDFALL_CONFIG")) args.config = env;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const std::string& name) -> std::optional<std::string> {
      auto eq = a.find('=');
      if (eq != std::string::npos) return a.substr(eq + 1);
      if (i + 1 >= argc) {
        *exit_code = Usage(name + " needs a value");
        return std::nullopt;
      }
      return std::string(argv[++i]);
    };
    auto is = [&](const char* name) { return a == name || a.starts_with(std::string(name) + "="); };
    if (a == "--help" || a == "-h") {
      std::cout << kHelp;
      *exit_code = kExitOk;
      return std::nullopt;
    } else if (a == "--version") {
      std::cout << "landfall " << LANDFALL_VERSION << "\n";
      *exit_code = kExitOk;
      return std::nullopt;
    } else if (is("--config")) {
      auto v = value("--config");
      if (!v) return std::nullopt;
      args.config = *v;
    } else if (is("--table")) {
      auto v = value("--table");
      if (!v) return std::nullopt;
      args.tables.push_back(*v);
    } else if (is("--format")) {
      auto v = value("--format");
      if (!v) return std::nullopt;
      // Which formats a command takes is checked once the command is known.
      args.format = *v;
      args.format_given = true;
    } else if (is("--limit")) {
      auto v = value("--limit");
      if (!v) return std::nullopt;
      int64_t n = -1;
      auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
      if (ec != std::errc() || end != v->data() + v->size() || n < 0) {
        *exit_code = Usage("--limit must be a number >= 0");
        return std::nullopt;
      }
      args.limit = n;
    } else if (is("--output")) {
      auto v = value("--output");
      if (!v) return std::nullopt;
      args.output = *v;
    } else if (is("--model")) {
      auto v = value("--model");
      if (!v) return std::nullopt;
      args.model = *v;
    } else if (is("--models")) {
      auto v = value("--models");
      if (!v) return std::nullopt;
      args.models = *v;
    } else if (is("--column")) {
      auto v = value("--column");
      if (!v) return std::nullopt;
      args.column = *v;
    } else if (is("--dialect")) {
      auto v = value("--dialect");
      if (!v) return std::nullopt;
      args.dialect = *v;
    } else if (is("--partition") || is("--from") || is("--to")) {
      const std::string name = a.substr(0, a.find('='));
      auto v = value(name);
      if (!v) return std::nullopt;
      (name == "--partition" ? args.partitions.partition
       : name == "--from"    ? args.partitions.from
                             : args.partitions.to) = *v;
    } else if (a == "--latest") {
      args.partitions.latest = true;
    } else if (a == "--missing") {
      args.partitions.missing = true;
    } else if (is("--lookback") || is("--parallel")) {
      const std::string name = a.substr(0, a.find('='));
      auto v = value(name);
      if (!v) return std::nullopt;
      int n = -1;
      auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
      if (ec != std::errc() || end != v->data() + v->size() || n < (name == "--parallel" ? 1 : 0)) {
        *exit_code = Usage(name + (name == "--parallel" ? " must be a whole number >= 1"
                                                        : " must be a whole number >= 0"));
        return std::nullopt;
      }
      (name == "--lookback" ? args.partitions.lookback : args.parallel) = n;
    } else if (a == "--full-refresh") {
      args.full_refresh = true;
    } else if (a.starts_with("-")) {
      *exit_code = Usage("unknown option " + a);
      return std::nullopt;
    } else {
      args.command.push_back(a);
    }
  }
  if (args.command.empty()) {
    *exit_code = Usage("no command given");
    return std::nullopt;
  }
  if (args.config.empty()) {
    *exit_code = Usage("--config is required (or set LANDFALL_CONFIG)");
    return std::nullopt;
  }
  return args;
}

// What a command opens: the state store only, or also the engine; and whether
// it writes (then it takes the environment's writer lock first).
enum class Open { kState, kStateAsWriter, kEngine, kEngineAsWriter };

// Loads the config and sets up logging: kExitOk, or the exit code.
int LoadConfigAndLogging(const std::string& config_path, config::Config& out) {
  auto config = config::LoadConfig(config_path);
  if (!config) {
    std::cerr << "landfall: " << config.error().message << "\n";
    return kExitUsage;
  }
  out = std::move(*config);
  if (auto s = SetupLogging(out.log.level, out.log.format); !s) {
    std::cerr << "landfall: " << s.error().message << "\n";
    return kExitUsage;
  }
  return kExitOk;
}

// Opens what `open` says for `config`. `why_not_daemon`: why the command is
// not asking a running daemon instead, for the message when the warehouse is
// held by another process.
int OpenRuntime(const config::Config& config, Runtime& rt, Open open,
                const std::string& why_not_daemon) {
  const bool start_engine = open == Open::kEngine || open == Open::kEngineAsWriter;
  const bool writer = open == Open::kStateAsWriter || open == Open::kEngineAsWriter;
  rt.config = config;
  if (writer && config.cluster.enabled) {
    // The daemons share the tables by lease; a one-shot writer would work on
    // tables a daemon holds.
    spdlog::error(
        "cluster_mode: environment {} is worked on by a cluster of daemons "
        "(cluster.enabled); ask one of them over its API instead",
        config.environment);
    if (!why_not_daemon.empty())
      std::cerr << "landfall: not asking a daemon: " << why_not_daemon << "\n";
    return kExitUnavailable;
  }
  // A reader (plan) sees every table, not only those a member holds.
  rt.config.cluster.enabled = false;
  auto state =
      OpenStateWithRetry(rt.config, std::chrono::steady_clock::now() + std::chrono::seconds(20));
  if (!state) {
    spdlog::error("{}", state.error().ToString());
    return kExitUnavailable;
  }
  rt.state = std::move(*state);
  if (writer) {
    if (auto s = BecomeWriter(rt, std::chrono::steady_clock::now() + std::chrono::seconds(20));
        !s) {
      spdlog::error("{}", s.error().ToString());
      if (s.error().code == "writer_conflict" && !why_not_daemon.empty()) {
        std::cerr << "landfall: not asking a daemon: " << why_not_daemon << "\n";
      }
      return kExitUnavailable;
    }
  }
  if (!start_engine) return kExitOk;

  if (auto s = OpenEngine(rt); !s) {
    // Never DuckDB's raw lock error: say who holds the warehouse and what to do.
    if (auto locked = WarehouseLockedMessage(s.error(), rt.config, why_not_daemon)) {
      spdlog::error("warehouse_locked: {}", *locked);
    } else {
      spdlog::error("{}", s.error().ToString());
    }
    return kExitUnavailable;
  }
  if (auto s = rt.engine->Start(std::move(rt.state_read)); !s) {
    spdlog::error("start: {}", s.error().ToString());
    return kExitUnavailable;
  }
  return kExitOk;
}

exec::RunRequest Request(const Args& args) {
  exec::RunRequest request;
  request.tables = args.tables;
  request.full_refresh = args.full_refresh;
  request.models = args.models.value_or("");
  request.partitions = SelectionOf(args.partitions);
  request.trigger = "cli";
  return request;
}

// The exit code for an error from the daemon: what the command would have
// said alone for the same error.
int ExitFor(const Error& error) {
  if (error.code.ends_with("not_found") || error.code == "invalid_request") return kExitUsage;
  // A statement that may not run, or that DuckDB could not run.
  if (error.code == warehouse::kQueryRefused || error.code == warehouse::kQueryFailed ||
      error.code == warehouse::kQueryTooLarge) {
    return kExitUsage;
  }
  // Invalid model files or --models (model_cycle, model_selection_invalid, ...).
  if (error.code.starts_with("model_") || error.code == "partition_invalid") return kExitUsage;
  return kExitUnavailable;
}

// Prints `landfall run`'s output from the JSON of a run (exec::ToJson, here
// or from the daemon) and returns the exit code.
int PrintRun(const std::string& outcome_json, const std::string& format) {
  const json outcome = json::parse(outcome_json, nullptr, false);
  if (!outcome.is_object()) {
    std::cerr << "landfall: run: not a run's JSON: " << outcome_json << "\n";
    return kExitUnavailable;
  }
  const json tables = outcome.value("tables", json::array());
  const json models = outcome.value("models", json::array());
  const std::string models_error = outcome.value("models_error", "");
  // Partition flags that name no partition of the models: the caller's to fix.
  const bool bad_partitions = outcome.value("models_error_code", "") == "partition_invalid";
  int failed = 0;
  for (const auto& t : tables) failed += t.value("status", "") == "failed";
  int models_failed = 0, models_changed = 0;
  for (const auto& m : models) {
    // A model whose error check failed was written, and failed all the same.
    models_failed += m.value("action", "") == "fail" || m.value("check_failed", false);
    models_changed += m.value("action", "") != "skip";
  }
  if (format == "json") {
    std::cout << outcome_json << "\n";
  } else {
    for (const auto& t : tables) {
      const std::string error = t.value("error", "");
      std::printf("%-24s %-8s %-9s %5d batches %10lld rows %8.1f ms%s%s\n",
                  t.value("table", "").c_str(), t.value("action", "").c_str(),
                  t.value("status", "").c_str(), t.value("batches", 0),
                  static_cast<long long>(t.value("rows", 0LL)), t.value("duration_ms", 0.0),
                  error.empty() ? "" : "  ", error.c_str());
    }
    for (const auto& m : models) {
      if (m.value("action", "") == "skip") continue;
      const json reasons = m.value("reasons", json::array());
      const std::string reason = reasons.empty() ? "" : reasons[0].value("code", "");
      std::string error = m.value("error", "");
      for (const auto& r : reasons) {
        if (error.empty() && r.value("code", "") == "check_failed")
          error = "check_failed: " + r.value("detail", "");
      }
      std::printf(
          "model %-18s %-8s %-22s %10lld rows %8.1f ms%s%s\n", m.value("model", "").c_str(),
          m.value("action", "").c_str(), reason.c_str(),
          static_cast<long long>(m.value("rows_inserted", 0LL) + m.value("rows_updated", 0LL)),
          m.value("duration_ms", 0.0), error.empty() ? "" : "  ", error.c_str());
    }
    if (!models_error.empty()) std::printf("models: %s\n", models_error.c_str());
    const json plan_tables =
        outcome.contains("plan") ? outcome["plan"].value("tables", json::array()) : json::array();
    const int unchanged = static_cast<int>(plan_tables.size() - tables.size());
    const long long run_id = outcome.value("run_id", 0LL);
    const long long statements = outcome.value("warehouse_statements", 0LL);
    if (run_id == 0) {
      std::printf("nothing to do: %d tables unchanged; warehouse statements: %lld\n", unchanged,
                  statements);
    } else {
      const std::string model_counts =
          models.empty() ? ""
                         : std::to_string(models_changed - models_failed) + " models ran, " +
                               std::to_string(models_failed) + " failed; ";
      std::printf(
          "run %lld: %zu tables changed, %d failed, %d unchanged; %swarehouse statements: %lld\n",
          run_id, tables.size(), failed, unchanged, model_counts.c_str(), statements);
    }
  }
  std::fflush(stdout);
  if (bad_partitions) return kExitUsage;
  return failed || models_failed || !models_error.empty() ? kExitTableFailed : kExitOk;
}

// ---- each command through the running daemon ----

int RemotePlan(const Daemon& daemon, const Args& args) {
  std::string target = "/v1/plan?format=" + args.format;
  for (const auto& t : args.tables) target += "&table=" + UrlEncode(t);
  if (args.full_refresh) target += "&full_refresh=true";
  if (args.models) target += "&models=" + UrlEncode(*args.models);
  const api::PartitionFlags& p = args.partitions;
  if (!p.partition.empty()) target += "&partition=" + UrlEncode(p.partition);
  if (!p.from.empty()) target += "&from=" + UrlEncode(p.from);
  if (!p.to.empty()) target += "&to=" + UrlEncode(p.to);
  if (p.latest) target += "&latest=true";
  if (p.missing) target += "&missing=true";
  if (p.lookback >= 0) target += "&lookback=" + std::to_string(p.lookback);
  auto reply = Ask(daemon, "GET", target);
  if (!reply) {
    spdlog::error("plan: {}", reply.error().ToString());
    return ExitFor(reply.error());
  }
  if (args.format == "json") {
    std::cout << reply->body << "\n";
  } else {
    const json body = json::parse(reply->body, nullptr, false);
    std::cout << (body.is_object() ? body.value("text", "") : reply->body);
  }
  return kExitOk;
}

int RemoteRun(const Daemon& daemon, const Args& args) {
  const std::string request = RunRequestBody({.tables = args.tables,
                                              .full_refresh = args.full_refresh,
                                              .models = args.models.value_or(""),
                                              .partitions = args.partitions});
  // A table the daemon is running now: wait for that run, then start ours.
  auto started = Ask(daemon, "POST", "/v1/runs", request, /*retry_conflicts=*/true);
  if (!started) {
    spdlog::error("run: {}", started.error().ToString());
    return ExitFor(started.error());
  }
  const json body = json::parse(started->body, nullptr, false);
  if (!body.is_object()) {
    spdlog::error("run: the daemon answered {}", started->body);
    return kExitUnavailable;
  }
  if (body.contains("outcome")) return PrintRun(body["outcome"].dump(), args.format);
  const long long run_id = body.value("run_id", 0LL);
  spdlog::debug("run {} started by the daemon; waiting for it to end", run_id);
  std::chrono::milliseconds delay(50);
  for (;;) {
    auto outcome = Ask(daemon, "GET", "/v1/runs/" + std::to_string(run_id) + "/outcome");
    if (!outcome) {
      spdlog::error("run: {}", outcome.error().ToString());
      return kExitUnavailable;
    }
    if (outcome->status == 200) return PrintRun(outcome->body, args.format);
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(500));
  }
}

// `kind`: "table" or "model".
int RemoteStateDelete(const Daemon& daemon, const std::string& kind, const std::string& name) {
  // 409 while the table runs: the delete waits for that run to end.
  auto reply = Ask(daemon, "DELETE", "/v1/state/" + kind + "s/" + UrlEncode(name), "",
                   /*retry_conflicts=*/true);
  if (!reply) {
    if (reply.error().code == kind + "_not_found") {
      std::cerr << "landfall: no state for " << kind << " '" << name << "'\n";
      return kExitUsage;
    }
    spdlog::error("{}", reply.error().ToString());
    return ExitFor(reply.error());
  }
  std::cout << "state of " << kind << " '" << name << "' deleted; its next run rebuilds it\n";
  return kExitOk;
}

// `landfall status` as JSON: the API's lists, and the failing tables among them.
// `waiting`: why the daemon is not ready (GET /readyz's reasons: a reader
// holding the warehouse file that runs wait for, ...); empty alone.
json StatusJson(const std::string& environment, const std::string& tables_json,
                const std::string& runs_json, const std::string& batches_json,
                const std::vector<std::string>& waiting = {}) {
  json tables = json::parse(tables_json, nullptr, false).value("tables", json::array());
  json failing = json::array();
  for (const auto& t : tables) {
    if (t.value("status", "") == "failed") {
      failing.push_back({{"name", t["name"]}, {"last_error", t.value("last_error", "")}});
    }
  }
  return {{"environment", environment},
          {"tables", std::move(tables)},
          {"running_runs", json::parse(runs_json, nullptr, false).value("runs", json::array())},
          {"failing_tables", std::move(failing)},
          {"quarantined_batches",
           json::parse(batches_json, nullptr, false).value("batches", json::array())},
          {"not_ready", waiting}};
}

int PrintStatus(const json& status, const std::string& format) {
  if (format == "json") {
    std::cout << status.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  const auto& tables = status["tables"];
  const auto& runs = status["running_runs"];
  const auto& failing = status["failing_tables"];
  const auto& quarantined = status["quarantined_batches"];
  std::printf(
      "environment %s: %zu tables, %zu running runs, %zu failing tables, %zu quarantined "
      "batches\n",
      status.value("environment", "").c_str(), tables.size(), runs.size(), failing.size(),
      quarantined.size());
  if (!tables.empty()) {
    std::printf("\n%-24s %-9s %12s %8s %8s %12s\n", "table", "status", "rows", "staged", "pending",
                "quarantined");
    for (const auto& t : tables) {
      const json batches = t.value("batches", json::object());
      std::printf("%-24s %-9s %12lld %8d %8d %12d\n", t.value("name", "").c_str(),
                  t.value("status", "").c_str(), static_cast<long long>(t.value("rows", 0LL)),
                  batches.value("staged", 0), batches.value("pending", 0),
                  batches.value("quarantined", 0));
    }
  }
  if (!runs.empty()) {
    std::printf("\nrunning runs:\n");
    for (const auto& r : runs) {
      const json started = r.value("started_at", json());
      std::printf("  run %lld (%s) since %s\n", static_cast<long long>(r.value("id", 0LL)),
                  r.value("trigger", "").c_str(),
                  started.is_string() ? started.get<std::string>().c_str() : "?");
    }
  }
  if (!failing.empty()) {
    std::printf("\nfailing tables:\n");
    for (const auto& t : failing) {
      std::printf("  %s: %s\n", t.value("name", "").c_str(), t.value("last_error", "").c_str());
    }
  }
  for (const auto& reason : status.value("not_ready", json::array())) {
    std::printf("not ready: %s\n", reason.get<std::string>().c_str());
  }
  if (!quarantined.empty()) {
    std::printf("\nquarantined batches:\n");
    for (const auto& b : quarantined) {
      std::printf("  %s: %s: %s\n", b.value("path", "").c_str(), b.value("error_code", "").c_str(),
                  b.value("error_message", "").c_str());
    }
  }
  return kExitOk;
}

constexpr int kStatusRunsLimit = 1000;
constexpr int kStatusBatchesLimit = 10000;

int RemoteStatus(const Daemon& daemon, const config::Config& config, const Args& args) {
  std::string bodies[3];
  const std::string targets[3] = {
      "/v1/tables", "/v1/runs?status=running&limit=" + std::to_string(kStatusRunsLimit),
      "/v1/batches?status=quarantined&limit=" + std::to_string(kStatusBatchesLimit)};
  for (int i = 0; i < 3; ++i) {
    auto reply = Ask(daemon, "GET", targets[i]);
    if (!reply) {
      spdlog::error("status: {}", reply.error().ToString());
      return ExitFor(reply.error());
    }
    bodies[i] = reply->body;
  }
  // Not Ask: a daemon that is not ready answers 503, which is the answer here.
  std::vector<std::string> waiting;
  HttpCall ready = daemon.endpoint;
  ready.target = "/readyz";
  if (auto reply = Call(ready)) {
    const json body = json::parse(reply->body, nullptr, false);
    if (body.is_object()) {
      for (const auto& reason : body.value("reasons", json::array())) {
        if (reason.is_string()) waiting.push_back(reason.get<std::string>());
      }
    }
  }
  return PrintStatus(StatusJson(config.environment, bodies[0], bodies[1], bodies[2], waiting),
                     args.format);
}

// ---- each command alone ----

int CmdPlan(const Args& args, const config::Config& config, const std::string& why_not) {
  Runtime rt;
  if (int rc = OpenRuntime(config, rt, Open::kEngine, why_not); rc != kExitOk) return rc;
  auto plan = rt.engine->Plan(Request(args));
  if (!plan) {
    spdlog::error("plan: {}", plan.error().ToString());
    return kExitUnavailable;
  }
  std::vector<model::ModelStep> steps;
  if (rt.config.models.dir) {
    auto models = rt.engine->PlanModels(Request(args), *plan);
    if (!models) {
      std::cerr << "landfall: plan: " << models.error().message << "\n";
      return ExitFor(models.error());
    }
    steps = std::move(models->steps);
    for (const auto& m : models->models) {
      for (const auto& warning : m.warnings) std::cerr << "landfall: warning: " << warning << "\n";
    }
  }
  if (args.format == "json") {
    json out = json::parse(plan::ToJson(*plan));
    if (rt.config.models.dir) out["models"] = json::parse(exec::StepsToJson(steps));
    std::cout << out.dump() << "\n";
    return kExitOk;
  }
  std::cout << plan::ToText(*plan) << exec::StepsToText(steps);
  return kExitOk;
}

int CmdRun(const Args& args, const config::Config& config, const std::string& why_not) {
  Runtime rt;
  if (int rc = OpenRuntime(config, rt, Open::kEngineAsWriter, why_not); rc != kExitOk) return rc;
  if (args.parallel > 1) {
    spdlog::info(
        "--parallel {}: DuckDB computes one partition at a time (each statement uses every core)",
        args.parallel);
  }
  auto outcome = rt.engine->Run(Request(args));
  if (!outcome) {
    spdlog::error("run: {}", outcome.error().ToString());
    return kExitUnavailable;
  }
  PruneHistory(*rt.state, rt.config);
  return PrintRun(exec::ToJson(*outcome), args.format);
}

int CmdStateDelete(const Args& args, const config::Config& config, const std::string& why_not) {
  Runtime rt;
  if (int rc = OpenRuntime(config, rt, Open::kStateAsWriter, why_not); rc != kExitOk) return rc;
  // Deleting state needs neither the warehouse nor a scan.
  if (!args.model.empty()) {
    auto deleted = rt.state->DeleteModel(args.model);
    if (!deleted) {
      spdlog::error("{}", deleted.error().ToString());
      return kExitUnavailable;
    }
    if (!*deleted) {
      std::cerr << "landfall: no state for model '" << args.model << "'\n";
      return kExitUsage;
    }
    std::cout << "state of model '" << args.model << "' deleted; its next run rebuilds it\n";
    return kExitOk;
  }
  auto deleted = exec::ResetTableState(*rt.state, args.tables[0], SystemClock::Instance());
  if (!deleted) {
    spdlog::error("{}", deleted.error().ToString());
    return kExitUnavailable;
  }
  if (!*deleted) {
    std::cerr << "landfall: no state for table '" << args.tables[0] << "'\n";
    return kExitUsage;
  }
  std::cout << "state of table '" << args.tables[0] << "' deleted; its next run rebuilds it\n";
  return kExitOk;
}

// The API backend's reads need no daemon: with no engine they go to the state store.
class NoDaemon final : public DaemonControl {
 public:
  exec::Engine* StartedEngine() override { return nullptr; }
  warehouse::Warehouse* StartedWarehouse() override { return nullptr; }
  bool FirstScanDone() override { return false; }
  Result<api::Reply> StartRun(const api::RunTrigger&) override { return Unavailable(); }
  void Touch(const std::string&, const std::string&) override {}
  Result<bool> DeleteTableStateIfIdle(const std::string&) override { return Unavailable(); }
  Result<api::Reply> RunOutcome(int64_t) override { return Unavailable(); }
  std::string WriterIdentity() override { return ""; }
  state::ClusterStore* Cluster() override { return nullptr; }

 private:
  static std::unexpected<Error> Unavailable() {
    return Fail("daemon_unavailable", "no daemon in this process");
  }
};

int CmdStatus(const Args& args, const config::Config& config) {
  // Reads only: the state store, no warehouse, no writer lock.
  NoDaemon none;
  DaemonApiBackend reads(config, none);
  auto tables = reads.ListTables();
  if (!tables) {
    spdlog::error("status: {}", tables.error().ToString());
    return kExitUnavailable;
  }
  auto runs = reads.ListRuns(kStatusRunsLimit, "running");
  if (!runs) {
    spdlog::error("status: {}", runs.error().ToString());
    return kExitUnavailable;
  }
  auto batches = reads.ListBatches("", "quarantined", kStatusBatchesLimit);
  if (!batches) {
    spdlog::error("status: {}", batches.error().ToString());
    return kExitUnavailable;
  }
  return PrintStatus(StatusJson(config.environment, *tables, *runs, *batches), args.format);
}

// plan, run, state delete and status: through this config's running daemon
// when one answers (it holds the warehouse and the writer lock), else here.
int CmdBesideDaemon(const Args& args) {
  const auto& cmd = args.command;
  const bool state_delete = cmd == std::vector<std::string>{"state", "delete"};
  if (state_delete && args.tables.size() + !args.model.empty() != 1) {
    return Usage("state delete needs exactly one --table or --model");
  }
  config::Config config;
  if (int rc = LoadConfigAndLogging(args.config, config); rc != kExitOk) return rc;
  auto search = FindDaemon(config);
  if (search.daemon) {
    std::cerr << "landfall: via the running daemon at " << search.daemon->where << " (pid "
              << search.daemon->pid << ")\n";
    if (cmd[0] == "plan") return RemotePlan(*search.daemon, args);
    if (cmd[0] == "run") return RemoteRun(*search.daemon, args);
    if (cmd[0] == "status") return RemoteStatus(*search.daemon, config, args);
    if (!args.model.empty()) return RemoteStateDelete(*search.daemon, "model", args.model);
    return RemoteStateDelete(*search.daemon, "table", args.tables[0]);
  }
  spdlog::debug("no daemon to ask ({}); working alone", search.why_not);
  if (cmd[0] == "plan") return CmdPlan(args, config, search.why_not);
  if (cmd[0] == "run") return CmdRun(args, config, search.why_not);
  if (cmd[0] == "status") return CmdStatus(args, config);
  return CmdStateDelete(args, config, search.why_not);
}

// ---- landfall query ----

// The answer's format as the API and the warehouse name it: a table is
// printed from the JSON answer.
warehouse::QueryFormat QueryFormatOf(const std::string& format) {
  if (format == "csv") return warehouse::QueryFormat::kCsv;
  if (format == "parquet") return warehouse::QueryFormat::kParquet;
  return warehouse::QueryFormat::kJson;
}

// The JSON answer's cells as text, for the table: strings bare, NULL empty.
std::string CellText(const json& cell) {
  if (cell.is_null()) return "";
  if (cell.is_string()) return cell.get<std::string>();
  return cell.dump();
}

// The JSON answer as an aligned text table, with a line that counts the rows.
std::string TableText(const json& answer) {
  std::vector<std::vector<std::string>> lines(1);
  for (const auto& column : answer.value("columns", json::array())) {
    lines[0].push_back(column.value("name", ""));
  }
  for (const auto& row : answer.value("rows", json::array())) {
    auto& line = lines.emplace_back();
    for (const auto& cell : row) line.push_back(CellText(cell));
  }
  std::vector<size_t> widths(lines[0].size(), 0);
  for (const auto& line : lines) {
    for (size_t c = 0; c < line.size() && c < widths.size(); ++c) {
      widths[c] = std::max(widths[c], line[c].size());
    }
  }
  std::string out;
  for (size_t l = 0; l < lines.size(); ++l) {
    for (size_t c = 0; c < lines[l].size() && c < widths.size(); ++c) {
      std::string cell = lines[l][c];
      if (c + 1 < widths.size()) cell.resize(widths[c], ' ');
      out += (c > 0 ? "  " : "") + cell;
    }
    out += "\n";
    if (l == 0) {
      for (size_t c = 0; c < widths.size(); ++c)
        out += (c > 0 ? "  " : "") + std::string(widths[c], '-');
      out += "\n";
    }
  }
  const int64_t rows = answer.value("row_count", int64_t{0});
  out += "(" + std::to_string(rows) + (rows == 1 ? " row" : " rows") +
         (answer.value("truncated", false) ? ", more left out: --limit" : "") + ")\n";
  return out;
}

// Writes the answer (`body`, in `format`) to --output or stdout.
int WriteQueryAnswer(const Args& args, const std::string& body) {
  std::string text = body;
  if (args.format == "table") {
    const json answer = json::parse(body, nullptr, false);
    if (!answer.is_object()) {
      std::cerr << "landfall: query: not a query's JSON answer\n";
      return kExitUnavailable;
    }
    text = TableText(answer);
  } else if (args.format == "json") {
    text += "\n";
  }
  if (args.output.empty()) {
    std::cout << text << std::flush;
    return kExitOk;
  }
  std::ofstream out(args.output, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    std::cerr << "landfall: query: cannot write " << args.output << "\n";
    return kExitUnavailable;
  }
  return kExitOk;
}

int QueryFailed(const Error& error) {
  std::cerr << "landfall: query: " << error.code << ": " << error.message << "\n";
  return ExitFor(error);
}

int RemoteQuery(const Daemon& daemon, const config::Config& config, const Args& args,
                const std::string& sql) {
  json body = {{"sql", sql}, {"format", args.format == "table" ? "json" : args.format}};
  if (args.limit) body["limit"] = *args.limit;
  // The daemon interrupts the query at api.query_timeout_ms; wait a little longer.
  const auto patience = std::chrono::seconds(config.api.query_timeout_ms / 1000 + 30);
  auto reply = Ask(daemon, "POST", "/v1/query", body.dump(), false, patience);
  if (!reply) return QueryFailed(reply.error());
  return WriteQueryAnswer(args, reply->body);
}

// Without a daemon: the warehouse file opened read-only, so other readers
// (a DuckDB shell, another `landfall query`) may have it open too.
int LocalQuery(const config::Config& config, const Args& args, const std::string& sql,
               const std::string& why_not) {
  if (config.warehouse.type != "duckdb") {
    spdlog::error(
        "query_unsupported: landfall query reads the duckdb warehouse only; query the "
        "{} warehouse with its own client (psql)",
        config.warehouse.type);
    return kExitUsage;
  }
  warehouse::DuckDbOptions options = DuckDbOptionsFor(config);
  options.read_only = true;
  auto opened = warehouse::OpenDuckDb(options);
  if (!opened) {
    if (auto locked = WarehouseLockedMessage(opened.error(), config, why_not)) {
      spdlog::error("warehouse_locked: {}", *locked);
    } else {
      spdlog::error("{}", opened.error().ToString());
    }
    return kExitUnavailable;
  }
  std::optional<int64_t> limit = args.limit;
  if (!limit && (args.format == "table" || args.format == "json")) {
    limit = warehouse::kDefaultJsonRowLimit;
  }
  auto answer = (*opened)->Query(QueryRequestFor(config, sql, QueryFormatOf(args.format), limit));
  if (!answer) return QueryFailed(answer.error());
  return WriteQueryAnswer(args, answer->body);
}

int CmdQuery(const Args& args) {
  if (args.command.size() != 2) return Usage("query needs exactly one statement, in quotes");
  config::Config config;
  if (int rc = LoadConfigAndLogging(args.config, config); rc != kExitOk) return rc;
  const std::string& sql = args.command[1];
  auto search = FindDaemon(config);
  if (search.daemon) {
    std::cerr << "landfall: via the running daemon at " << search.daemon->where << " (pid "
              << search.daemon->pid << ")\n";
    return RemoteQuery(*search.daemon, config, args, sql);
  }
  spdlog::debug("no daemon to ask ({}); reading the warehouse file", search.why_not);
  return LocalQuery(config, args, sql, search.why_not);
}

int CmdMigrate(const Args& args) {
  config::Config config;
  if (int rc = LoadConfigAndLogging(args.config, config); rc != kExitOk) return rc;
  Runtime rt;
  if (int rc = OpenRuntime(config, rt, Open::kState, ""); rc != kExitOk) return rc;
  if (auto s = rt.state->Migrate(); !s) {
    spdlog::error("{}", s.error().ToString());
    return kExitUnavailable;
  }
  std::cout << "state store migrated to version " << state::EmbeddedMigrations().back().version
            << "\n";
  return kExitOk;
}

// The config and its models' graph (check-config, compile); on an error, says
// it on stderr and returns nullopt (exit 2).
struct ConfigAndGraph {
  config::Config config;
  ModelGraph graph;
};
std::optional<ConfigAndGraph> LoadConfigAndGraph(const Args& args) {
  auto config = config::LoadConfig(args.config);
  if (!config) {
    std::cerr << "landfall: " << config.error().message << "\n";
    return std::nullopt;
  }
  auto graph = LoadModelGraph(*config);
  if (!graph) {
    std::cerr << "landfall: " << graph.error().message << "\n";
    return std::nullopt;
  }
  return ConfigAndGraph{std::move(*config), std::move(*graph)};
}

int CmdCheckConfig(const Args& args) {
  auto loaded = LoadConfigAndGraph(args);
  if (!loaded) return kExitUsage;
  const config::Config* config = &loaded->config;
  const ModelGraph* graph = &loaded->graph;
  std::cout << args.config << ": ok (environment " << config->environment << ", landing "
            << config->landing.dir.string() << ", warehouse " << config->warehouse.Describe()
            << ", " << graph->models.size() << (graph->models.size() == 1 ? " model" : " models")
            << ")\n";
  for (const auto& m : graph->models) {
    for (const auto& warning : m.warnings) std::cerr << "landfall: warning: " << warning << "\n";
  }
  return kExitOk;
}

int CmdCompile(const Args& args) {
  const auto dialect = model::DialectFromString(args.dialect);
  if (!dialect) return Usage("compile needs --dialect duckdb, snowflake, databricks or bigquery");
  auto loaded = LoadConfigAndGraph(args);
  if (!loaded) return kExitUsage;
  const ModelGraph* graph = &loaded->graph;
  std::optional<std::set<std::string>> selected;
  if (args.models) {
    auto s = model::Select(graph->dag, *args.models);
    if (!s) {
      std::cerr << "landfall: --models: " << s.error().message << "\n";
      return kExitUsage;
    }
    selected = std::move(*s);
  }
  std::cout << model::CompileModels(graph->models, graph->dag, *dialect,
                                    selected ? &*selected : nullptr);
  return kExitOk;
}

// "schema.table.column, ..." of a {"schema.table": [columns]} object; "-" when empty.
std::string ColumnList(const json& tables) {
  std::string out;
  for (const auto& [table, columns] : tables.items()) {
    if (columns.empty()) out += (out.empty() ? "" : ", ") + table + " (rows only)";
    for (const auto& c : columns)
      out += (out.empty() ? "" : ", ") + table + "." + c.get<std::string>();
  }
  return out.empty() ? "-" : out;
}

std::string NameList(const json& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n.get<std::string>();
  return out.empty() ? "-" : out;
}

// Prints one model's lineage (GET /v1/models/{name}/lineage's body).
int PrintLineage(const std::string& body, const Args& args, const std::string& models_schema) {
  const json lineage = json::parse(body, nullptr, false);
  if (!lineage.is_object()) {
    std::cerr << "landfall: lineage: not a lineage's JSON: " << body << "\n";
    return kExitUnavailable;
  }
  const json columns = lineage.value("columns", json::array());
  const json* picked = nullptr;
  if (!args.column.empty()) {
    for (const auto& c : columns) {
      if (schema::FoldName(c.value("name", "")) == schema::FoldName(args.column)) picked = &c;
    }
    if (picked == nullptr && lineage.value("columns_unknown_reason", json()).is_null()) {
      std::cerr << "landfall: lineage: model " << args.command[1] << " has no column '"
                << args.column << "'\n";
      return kExitUsage;
    }
  }
  if (args.format == "json") {
    std::cout << (picked != nullptr ? picked->dump(2) : lineage.dump(2)) << "\n";
    return kExitOk;
  }
  const std::string model = models_schema + "." + lineage.value("model", "");
  if (!lineage.value("known", false)) {
    std::cout << model << ": lineage unknown: " << lineage.value("unknown_reason", "") << "\n"
              << "  every change upstream recomputes it\n";
  } else if (picked == nullptr) {
    std::cout << model << " reads: " << ColumnList(lineage.value("reads", json::object())) << "\n";
  }
  if (picked != nullptr) {
    std::cout << model << "." << picked->value("name", "") << "\n"
              << "  comes from: " << ColumnList(picked->value("sources", json::object())) << "\n"
              << "  read by:    " << NameList(picked->value("read_by", json::array())) << "\n";
    return kExitOk;
  }
  if (const json reason = lineage.value("columns_unknown_reason", json()); !reason.is_null()) {
    std::cout << "columns: unknown: " << reason.get<std::string>() << "\n";
    return kExitOk;
  }
  for (const auto& c : columns) {
    std::printf("  %-24s <- %s; read by %s\n", c.value("name", "").c_str(),
                ColumnList(c.value("sources", json::object())).c_str(),
                NameList(c.value("read_by", json::array())).c_str());
  }
  return kExitOk;
}

// Reads only: through the running daemon, else here (the state store's
// staging columns and the model files; the warehouse is not opened).
int CmdLineage(const Args& args) {
  if (args.command.size() != 2) return Usage("lineage needs exactly one MODEL");
  const std::string& name = args.command[1];
  config::Config config;
  if (int rc = LoadConfigAndLogging(args.config, config); rc != kExitOk) return rc;
  Result<std::string> body;
  if (auto search = FindDaemon(config); search.daemon) {
    std::cerr << "landfall: via the running daemon at " << search.daemon->where << " (pid "
              << search.daemon->pid << ")\n";
    auto reply = Ask(*search.daemon, "GET", "/v1/models/" + UrlEncode(name) + "/lineage");
    if (reply)
      body = reply->body;
    else
      body = Fail(reply.error());
  } else {
    NoDaemon none;
    DaemonApiBackend reads(config, none);
    body = reads.ModelLineage(name);
  }
  if (!body) {
    std::cerr << "landfall: lineage: " << body.error().message << "\n";
    return ExitFor(body.error());
  }
  return PrintLineage(*body, args, config.models.schema);
}

// DuckDB (1.4.4 through 1.5.6 at least) ends the process through
// std::terminate when its storage fails while it undoes a failed commit: the
// WAL can be neither flushed nor truncated (the file made immutable, the file
// system remounted read-only, an I/O error). That is a fault of the
// warehouse's storage, not a bug in landfall, so it is said as one and ends
// with kExitUnavailable like any unusable warehouse. Nothing is lost: the
// commit did not happen, and the next start stages its batches again (the run
// is marked interrupted). Anything else that reaches here is a bug: logged,
// then abort() for its core dump.
[[noreturn]] void OnTerminate() {
  std::string what = "no exception";
  bool storage_fault = false;
  if (auto current = std::current_exception()) {
    try {
      std::rethrow_exception(current);
    } catch (const std::exception& e) {
      what = e.what();
      storage_fault = warehouse::IsDuckDbIoError(what);
    } catch (...) {
      what = "an exception of unknown type";
    }
  }
  if (storage_fault) {
    spdlog::critical(
        "warehouse_storage_failed: the warehouse's storage failed while DuckDB undid a failed "
        "commit "
        "({}); DuckDB cannot go on and stops the process. The commit did not happen: the next run "
        "stages its batches again. Check the warehouse's file system (read-only, full, failing)",
        what);
  } else {
    spdlog::critical("fatal: an error escaped ({}); aborting", what);
  }
  spdlog::shutdown();
  if (storage_fault) std::_Exit(kExitUnavailable);
  std::abort();
}

}  // namespace

int Main(int argc, char** argv) {
  std::set_terminate(OnTerminate);
  int exit_code = kExitOk;
  auto args = Parse(argc, argv, &exit_code);
  if (!args) return exit_code;
  const auto& cmd = args->command;
  if (!args->dialect.empty() && cmd != std::vector<std::string>{"compile"}) {
    return Usage("--dialect is an option of compile");
  }
  if (args->models && cmd != std::vector<std::string>{"compile"} &&
      cmd != std::vector<std::string>{"plan"} && cmd != std::vector<std::string>{"run"}) {
    return Usage("--models is an option of plan, run and compile");
  }
  if (!args->column.empty() && (cmd.empty() || cmd[0] != "lineage")) {
    return Usage("--column is an option of lineage");
  }
  if (!args->model.empty() && cmd != std::vector<std::string>{"state", "delete"}) {
    return Usage("--model is an option of state delete");
  }
  if (args->PartitionFlagsGiven()) {
    const api::PartitionFlags& p = args->partitions;
    if (cmd != std::vector<std::string>{"plan"} && cmd != std::vector<std::string>{"run"}) {
      return Usage(
          "--partition, --from, --to, --latest, --missing, --lookback and --parallel are options "
          "of plan and run");
    }
    if (!args->models) return Usage("choose partitions of the models given with --models");
    if (p.from.empty() != p.to.empty()) return Usage("--from and --to go together");
    const int choices = !p.partition.empty() + !p.from.empty() + p.latest + p.missing;
    if (choices > 1)
      return Usage("choose partitions one way: --partition, --from/--to, --latest or --missing");
    if (args->full_refresh)
      return Usage("--full-refresh rebuilds every partition; it takes no partition flags");
  }
  const bool query = cmd[0] == "query";
  if (query) {
    if (!args->format_given) args->format = "table";
    if (args->format != "table" && args->format != "csv" && args->format != "json" &&
        args->format != "parquet") {
      return Usage("query: --format must be table, csv, json or parquet");
    }
    return CmdQuery(*args);
  }
  if (args->format != "text" && args->format != "json") {
    return Usage("--format must be text or json");
  }
  if (args->limit || !args->output.empty())
    return Usage("--limit and --output are options of query");
  if (cmd == std::vector<std::string>{"serve"}) return Serve(args->config);
  if (cmd == std::vector<std::string>{"plan"} || cmd == std::vector<std::string>{"run"} ||
      cmd == std::vector<std::string>{"status"} ||
      cmd == std::vector<std::string>{"state", "delete"}) {
    return CmdBesideDaemon(*args);
  }
  if (cmd == std::vector<std::string>{"migrate"}) return CmdMigrate(*args);
  if (cmd == std::vector<std::string>{"check-config"}) return CmdCheckConfig(*args);
  if (cmd == std::vector<std::string>{"compile"}) return CmdCompile(*args);
  if (!cmd.empty() && cmd[0] == "lineage") return CmdLineage(*args);
  std::string joined;
  for (const auto& c : cmd) joined += (joined.empty() ? "" : " ") + c;
  return Usage("unknown command '" + joined + "'");
}

}  // namespace landfall::daemon
