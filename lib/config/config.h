// landfall's YAML configuration. One file drives every command.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/common/result.h"

namespace landfall::config {

struct LandingConfig {
  std::filesystem::path dir;
  std::vector<std::string> ignore = {".*", "_*", "*.tmp", "*.partial", "*.inprogress"};
  std::optional<std::filesystem::path> quarantine_dir;
  int debounce_ms = 200;
  int scan_interval_s = 0;  // periodic safety scan; 0 = off
};

struct StateConfig {
  std::string postgres_url;
  // Run records and schema snapshots older than this are pruned (each table's
  // newest kept); 0 keeps them forever.
  int retention_days = 30;
};

struct WarehouseConfig {
  std::string type = "duckdb";  // or "postgres" (README: "The PostgreSQL warehouse")
  std::filesystem::path path;   // type duckdb: the database file
  std::string url;              // type postgres: libpq connection string or URL
  std::string staging_schema = "staging";
  // true: `landfall serve` keeps the DuckDB file open (and locked) all the
  // time; false: only while a run writes, so other processes can open it
  // between runs (README: "Reading the staging tables").
  bool hold_open = true;
  // DuckDB's buffer pool ceiling ("1GB", "512MiB"): past it DuckDB evicts
  // cached blocks and spills to disk instead of growing. DuckDB's own default
  // is 80 % of RAM, which a long-running daemon fills with cached blocks of
  // every table it has touched (README: "Memory and threads").
  std::string memory_limit = "512MB";
  // DuckDB's threads; 0 = the cores the workers leave (WarehouseThreads).
  int threads = 0;

  // For messages and /v1/info: the file (duckdb), or the type and staging
  // schema (postgres; never the URL, which may hold a password).
  std::string Describe() const {
    return type == "postgres" ? "postgres (schema " + staging_schema + ")" : path.string();
  }
};

// SQL models over staging (README: "Models").
struct ModelsConfig {
  // The folder of model files, resolved against the config file's folder;
  // absent = no models.
  std::optional<std::filesystem::path> dir;
  // The schema each model's target is created in: "<schema>"."<model name>".
  std::string schema = "analytics";
  bool operator==(const ModelsConfig&) const = default;
};

// (landfall serve) the HTTP API, /metrics, webhooks and the status page.
struct ApiConfig {
  bool enabled = true;
  // "host:port" ("[::1]:8600" for IPv6); port 0 picks a free port (tests).
  std::string listen = "127.0.0.1:8600";
  std::string listen_host = "127.0.0.1";  // parsed from `listen`
  int listen_port = 8600;                 // parsed from `listen`
  // Bearer tokens; when any is set, every /v1 route needs one of them.
  std::vector<std::string> tokens;
  // HMAC-SHA256 key of POST /v1/webhooks/file-arrived; "" disables the webhook.
  std::string webhook_secret;
  int webhook_tolerance_s = 300;  // accepted clock skew and replay window
  int body_limit_bytes = 1 << 20;
  int max_connections = 256;
  int read_timeout_ms = 10'000;     // to read a request's header, and again its body
  int idle_timeout_ms = 60'000;     // keep-alive: wait for the next request
  bool per_table_metrics = false;   // label batch and row counters by table
  bool protect_metrics = false;     // /metrics needs a token too (when tokens are set)
  bool protect_health = false;      // /healthz and /readyz need a token too
  int query_timeout_ms = 30'000;    // POST /v1/query and `landfall query`: interrupted after it
  int max_queries = 4;              // POST /v1/query calls at once; more get 429
  int query_max_bytes = 256 << 20;  // a query's answer is refused (413) beyond it
  bool operator==(const ApiConfig&) const = default;
};

struct LogConfig {
  std::string level = "info";   // trace, debug, info, warn, error
  std::string format = "text";  // text | json
};

// How a table reacts to change (README: "Schema drift and policies"). Each
// policy's values are written in the config, plans and the state store as
// the text ToString gives; FromString is nullopt for any other text.
enum class SchemaEvolution { kEvolve, kRebuild, kFreeze, kFail };
const char* ToString(SchemaEvolution policy);
std::optional<SchemaEvolution> SchemaEvolutionFromString(std::string_view text);

enum class OnBatchRemoved { kKeep, kRebuild };
const char* ToString(OnBatchRemoved policy);
std::optional<OnBatchRemoved> OnBatchRemovedFromString(std::string_view text);

enum class OnTableRemoved { kKeep, kDrop };  // keep: orphan the staging table
const char* ToString(OnTableRemoved policy);
std::optional<OnTableRemoved> OnTableRemovedFromString(std::string_view text);

struct TablePolicy {
  SchemaEvolution schema_evolution = SchemaEvolution::kEvolve;
  OnBatchRemoved on_batch_removed = OnBatchRemoved::kKeep;
  OnTableRemoved on_table_removed = OnTableRemoved::kKeep;
};

// A `tables:` entry: tables whose name matches the glob `match` get these
// policies instead of the defaults. The first matching entry wins.
struct TablePolicyOverride {
  std::string match;
  std::optional<SchemaEvolution> schema_evolution;
  std::optional<OnBatchRemoved> on_batch_removed;
  std::optional<OnTableRemoved> on_table_removed;
};

// Several daemons on one environment (README "Running a cluster"): each works
// on the tables whose lease it holds (lib/state/cluster_store.h). Needs the
// postgres warehouse.
struct ClusterConfig {
  bool enabled = false;
  // A daemon that stops renewing (kill -9, power cut, cut off from
  // PostgreSQL) loses its tables to the others after this long.
  int lease_ttl_s = 15;
};

struct Config {
  std::filesystem::path source;  // the file it was read from
  std::string environment = "dev";
  LandingConfig landing;
  StateConfig state;
  WarehouseConfig warehouse;
  ModelsConfig models;
  ClusterConfig cluster;
  int workers = 4;
  // (landfall serve) on SIGTERM/SIGINT, how long in-flight runs may take to
  // finish before the process exits anyway (their warehouse transactions roll back).
  int shutdown_timeout_s = 30;
  LogConfig log;
  ApiConfig api;
  TablePolicy policy;                       // defaults for every table
  std::vector<TablePolicyOverride> tables;  // per-table overrides by glob

  // The policy for `table`: the defaults, overridden by the first matching entry.
  TablePolicy PolicyFor(const std::string& table) const;
};

// The DuckDB threads `config` gives: warehouse.threads, or for 0 the cores
// less the workers plus one, at least one. Each worker's statement runs on the
// worker's own thread; DuckDB's further threads compete with the other
// workers for the cores, and with more threads than cores its waits spin
// (bench/RESULTS.md, part 5: a fifth of the initial load's CPU).
int WarehouseThreads(const Config& config);

// Reads and validates a config file. `${VAR}` in values is replaced from the
// environment (a missing variable is an error). Relative paths are resolved
// against the config file's folder. Unknown keys are errors. Every error message
// names the file, line and key: "landfall.yaml:14: workers: must be >= 1".
Result<Config> LoadConfig(const std::filesystem::path& file);

// Same, from text; `source` names the file in errors and anchors relative paths.
Result<Config> ParseConfig(const std::string& text, const std::filesystem::path& source);

}  // namespace landfall::config
