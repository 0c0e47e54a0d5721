#include "lib/config/config.h"

#include <fnmatch.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

namespace landfall::config {

namespace fs = std::filesystem;

namespace {

constexpr SchemaEvolution kSchemaEvolutions[] = {SchemaEvolution::kEvolve,
                                                 SchemaEvolution::kRebuild,
                                                 SchemaEvolution::kFreeze, SchemaEvolution::kFail};
constexpr OnBatchRemoved kOnBatchRemoved[] = {OnBatchRemoved::kKeep, OnBatchRemoved::kRebuild};
constexpr OnTableRemoved kOnTableRemoved[] = {OnTableRemoved::kKeep, OnTableRemoved::kDrop};

// The one of `values` whose ToString is `text`.
template <typename E, size_t N>
std::optional<E> FromText(std::string_view text, const E (&values)[N]) {
  for (E v : values) {
    if (text == ToString(v)) return v;
  }
  return std::nullopt;
}

}  // namespace

const char* ToString(SchemaEvolution policy) {
  switch (policy) {
    case SchemaEvolution::kEvolve:
      return "evolve";
    case SchemaEvolution::kRebuild:
      return "rebuild";
    case SchemaEvolution::kFreeze:
      return "freeze";
    case SchemaEvolution::kFail:
      return "fail";
  }
  return "evolve";  // unreachable: every enumerator is handled above
}

const char* ToString(OnBatchRemoved policy) {
  return policy == OnBatchRemoved::kRebuild ? "rebuild" : "keep";
}

const char* ToString(OnTableRemoved policy) {
  return policy == OnTableRemoved::kDrop ? "drop" : "keep";
}

std::optional<SchemaEvolution> SchemaEvolutionFromString(std::string_view text) {
  return FromText(text, kSchemaEvolutions);
}

std::optional<OnBatchRemoved> OnBatchRemovedFromString(std::string_view text) {
  return FromText(text, kOnBatchRemoved);
}

std::optional<OnTableRemoved> OnTableRemovedFromString(std::string_view text) {
  return FromText(text, kOnTableRemoved);
}

namespace {

// Thrown only inside this file and turned into an Error at ParseConfig's boundary.
struct ConfigError {
  std::string message;
};

class Reader {
 public:
  explicit Reader(fs::path source) : source_(std::move(source)) {}

  [[noreturn]] void Throw(const YAML::Node& node, const std::string& key,
                          const std::string& what) const {
    std::ostringstream out;
    out << source_.string();
    if (node.Mark().line >= 0) out << ":" << node.Mark().line + 1;
    out << ": " << key << ": " << what;
    throw ConfigError{out.str()};
  }

  // Checks that `map` is a mapping whose keys are all in `allowed`.
  void ExpectKeys(const YAML::Node& map, const std::string& path,
                  const std::set<std::string>& allowed) const {
    if (!map.IsMap()) Throw(map, path.empty() ? "(top level)" : path, "must be a mapping");
    std::set<std::string> seen;
    for (const auto& kv : map) {
      if (!kv.first.IsScalar()) {
        Throw(kv.first, path.empty() ? "(top level)" : path, "keys must be plain names");
      }
      const auto key = kv.first.Scalar();
      // yaml-cpp keeps the first of two equal keys; a silently ignored second
      // value is worse than an error.
      if (!seen.insert(key).second) Throw(kv.first, Join(path, key), "duplicate key");
      if (!allowed.contains(key)) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        Throw(kv.first, Join(path, key), "unknown key (expected one of: " + list + ")");
      }
    }
  }

  static std::string Join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  // Replaces ${VAR} from the environment; a missing variable is an error.
  std::string Expand(const YAML::Node& node, const std::string& key, const std::string& in) const {
    std::string out;
    for (size_t i = 0; i < in.size(); ++i) {
      if (in[i] == '$' && i + 1 < in.size() && in[i + 1] == '{') {
        size_t end = in.find('}', i + 2);
        if (end == std::string::npos) Throw(node, key, "unterminated ${ in value");
        std::string var = in.substr(i + 2, end - i - 2);
        const char* value = std::getenv(var.c_str());
        if (var.empty() || value == nullptr) {
          Throw(node, key, "environment variable ${" + var + "} is not set");
        }
        out += value;
        i = end;
      } else {
        out += in[i];
      }
    }
    return out;
  }

  std::string String(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar()) Throw(node, key, "must be a string");
    return Expand(node, key, node.Scalar());
  }

  int Int(const YAML::Node& node, const std::string& key, int min, int max) const {
    if (!node.IsScalar()) Throw(node, key, "must be an integer");
    std::string text = String(node, key);
    try {
      size_t used = 0;
      long value = std::stol(text, &used);
      if (used != text.size()) throw std::invalid_argument("trailing");
      if (value < min || value > max) {
        Throw(node, key,
              "must be between " + std::to_string(min) + " and " + std::to_string(max) + " (got " +
                  text + ")");
      }
      return static_cast<int>(value);
    } catch (const std::logic_error&) {
      Throw(node, key, "must be an integer (got '" + text + "')");
    }
  }

  // A size as DuckDB writes one: a whole number and a unit, "512MB", "2GiB".
  std::string ByteSize(const YAML::Node& node, const std::string& key) const {
    const std::string text = String(node, key);
    static const std::regex kSize(R"(([0-9]{1,9}) ?(KB|MB|GB|TB|KiB|MiB|GiB|TiB))",
                                  std::regex::icase);
    std::smatch m;
    if (!std::regex_match(text, m, kSize) || std::stoll(m[1]) == 0) {
      Throw(node, key, "must be a size such as 512MB or 2GiB (got '" + text + "')");
    }
    std::string unit = m[2].str();  // as DuckDB spells it: "MB", "MiB"
    for (char& ch : unit) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (unit.size() == 3) unit[1] = 'i';
    return m[1].str() + unit;
  }

  bool Bool(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar()) Throw(node, key, "must be true or false");
    const std::string text = String(node, key);
    if (text == "true") return true;
    if (text == "false") return false;
    Throw(node, key, "must be true or false (got '" + text + "')");
  }

  std::vector<std::string> StringList(const YAML::Node& node, const std::string& key) const {
    if (!node.IsSequence()) Throw(node, key, "must be a list of strings");
    std::vector<std::string> out;
    for (const auto& item : node) out.push_back(String(item, key));
    return out;
  }

  std::string OneOf(const YAML::Node& node, const std::string& key,
                    const std::set<std::string>& allowed) const {
    std::string value = String(node, key);
    if (!allowed.contains(value)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      Throw(node, key, "must be one of " + list + " (got '" + value + "')");
    }
    return value;
  }

  // One of `values`, written as its ToString text.
  template <typename E, size_t N>
  E OneOfEnum(const YAML::Node& node, const std::string& key, const E (&values)[N]) const {
    std::set<std::string> allowed;
    for (E v : values) allowed.insert(ToString(v));
    return *FromText(OneOf(node, key, allowed), values);
  }

  // Relative paths are anchored at the config file's folder, so the same file
  // means the same thing from any working directory (systemd, CLI, tests).
  fs::path Path(const YAML::Node& node, const std::string& key) const {
    std::string text = String(node, key);
    if (text.empty()) Throw(node, key, "must not be empty");
    fs::path p(text);
    if (p.is_relative()) p = fs::absolute(source_).parent_path() / p;
    return p.lexically_normal();
  }

  void Required(const YAML::Node& map, const std::string& path, const char* key) const {
    if (!map[key]) Throw(map, Join(path, key), "is required");
  }

 private:
  fs::path source_;
};

// "host:port" or "[v6]:port" into host and port; false when malformed.
bool SplitListen(const std::string& listen, std::string& host, int& port) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) return false;
  host = listen.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return false;
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return false;  // an IPv6 address needs brackets
  }
  const std::string digits = listen.substr(colon + 1);
  if (digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos)
    return false;
  port = std::stoi(digits);
  return port <= 65535;
}

void ParseApi(const Reader& r, const YAML::Node& api, ApiConfig& out) {
  r.ExpectKeys(
      api, "api",
      {"enabled", "listen", "tokens", "webhook_secret", "webhook_tolerance_s", "body_limit_bytes",
       "max_connections", "read_timeout_ms", "idle_timeout_ms", "per_table_metrics",
       "protect_metrics", "protect_health", "query_timeout_ms", "max_queries", "query_max_bytes"});
  if (auto n = api["enabled"]) out.enabled = r.Bool(n, "api.enabled");
  if (auto n = api["listen"]) {
    out.listen = r.String(n, "api.listen");
    if (!SplitListen(out.listen, out.listen_host, out.listen_port)) {
      r.Throw(
          n, "api.listen",
          "must be host:port or [ipv6]:port with a port of 0 to 65535 (got '" + out.listen + "')");
    }
  }
  if (auto n = api["tokens"]; n && !n.IsNull()) {
    out.tokens = r.StringList(n, "api.tokens");
    for (const auto& token : out.tokens) {
      // A short token is guessable; whitespace would never survive a header.
      if (token.size() < 16 || token.find_first_of(" \t\r\n") != std::string::npos) {
        r.Throw(n, "api.tokens", "each token must be at least 16 characters without whitespace");
      }
    }
  }
  if (auto n = api["webhook_secret"]; n && !n.IsNull()) {
    out.webhook_secret = r.String(n, "api.webhook_secret");
    if (out.webhook_secret.size() < 16) {
      r.Throw(n, "api.webhook_secret",
              "must be at least 16 characters (or absent to disable webhooks)");
    }
  }
  if (auto n = api["webhook_tolerance_s"]) {
    out.webhook_tolerance_s = r.Int(n, "api.webhook_tolerance_s", 1, 3600);
  }
  if (auto n = api["body_limit_bytes"]) {
    out.body_limit_bytes = r.Int(n, "api.body_limit_bytes", 1024, 64 << 20);
  }
  if (auto n = api["max_connections"])
    out.max_connections = r.Int(n, "api.max_connections", 1, 100'000);
  if (auto n = api["read_timeout_ms"])
    out.read_timeout_ms = r.Int(n, "api.read_timeout_ms", 100, 600'000);
  if (auto n = api["idle_timeout_ms"])
    out.idle_timeout_ms = r.Int(n, "api.idle_timeout_ms", 100, 3'600'000);
  if (auto n = api["per_table_metrics"]) out.per_table_metrics = r.Bool(n, "api.per_table_metrics");
  if (auto n = api["protect_metrics"]) out.protect_metrics = r.Bool(n, "api.protect_metrics");
  if (auto n = api["protect_health"]) out.protect_health = r.Bool(n, "api.protect_health");
  if (auto n = api["query_timeout_ms"]) {
    out.query_timeout_ms = r.Int(n, "api.query_timeout_ms", 100, 24 * 3'600'000);
  }
  if (auto n = api["max_queries"]) out.max_queries = r.Int(n, "api.max_queries", 1, 1000);
  if (auto n = api["query_max_bytes"]) {
    out.query_max_bytes = r.Int(n, "api.query_max_bytes", 1024, std::numeric_limits<int>::max());
  }
}

Config Parse(const YAML::Node& root, const fs::path& source) {
  Reader r(source);
  Config c;
  c.source = source;
  if (!root || root.IsNull()) throw ConfigError{source.string() + ": the file is empty"};
  r.ExpectKeys(root, "",
               {"environment", "landing", "state", "warehouse", "workers", "shutdown_timeout_s",
                "log", "api", "models", "cluster", "schema_evolution", "on_batch_removed",
                "on_table_removed", "tables"});

  r.Required(root, "", "landing");
  r.Required(root, "", "state");
  r.Required(root, "", "warehouse");

  if (auto n = root["environment"]) {
    c.environment = r.String(n, "environment");
    if (c.environment.empty() || c.environment.size() > 63) {
      r.Throw(n, "environment", "must be 1 to 63 characters");
    }
  }

  const auto landing = root["landing"];
  r.ExpectKeys(landing, "landing",
               {"dir", "ignore", "quarantine_dir", "debounce_ms", "scan_interval_s"});
  r.Required(landing, "landing", "dir");
  c.landing.dir = r.Path(landing["dir"], "landing.dir");
  if (auto n = landing["ignore"]) c.landing.ignore = r.StringList(n, "landing.ignore");
  if (auto n = landing["quarantine_dir"]; n && !n.IsNull()) {
    c.landing.quarantine_dir = r.Path(n, "landing.quarantine_dir");
    // Inside the landing dir, the quarantine dir would be a table folder of
    // its own, whose bad files are quarantined again, one level deeper each
    // time. Compared after resolving what exists (symlinks, "..").
    std::error_code ec;
    const fs::path landing_dir = fs::weakly_canonical(c.landing.dir, ec).lexically_normal();
    const fs::path quarantine_dir =
        fs::weakly_canonical(*c.landing.quarantine_dir, ec).lexically_normal();
    auto [l, q] = std::mismatch(landing_dir.begin(), landing_dir.end(), quarantine_dir.begin(),
                                quarantine_dir.end());
    // Trailing empty component of "dir/" aside, every landing component matched.
    if (l == landing_dir.end() || (std::next(l) == landing_dir.end() && l->empty())) {
      r.Throw(n, "landing.quarantine_dir",
              "must not be inside landing.dir (" + c.landing.dir.string() +
                  "): it would become a table whose files are quarantined again and again");
    }
  }
  if (auto n = landing["debounce_ms"])
    c.landing.debounce_ms = r.Int(n, "landing.debounce_ms", 0, 60'000);
  if (auto n = landing["scan_interval_s"]) {
    c.landing.scan_interval_s = r.Int(n, "landing.scan_interval_s", 0, 7 * 24 * 3600);
  }

  const auto state = root["state"];
  r.ExpectKeys(state, "state", {"postgres_url", "retention_days"});
  r.Required(state, "state", "postgres_url");
  c.state.postgres_url = r.String(state["postgres_url"], "state.postgres_url");
  if (c.state.postgres_url.empty())
    r.Throw(state["postgres_url"], "state.postgres_url", "must not be empty");
  if (auto n = state["retention_days"])
    c.state.retention_days = r.Int(n, "state.retention_days", 0, 36'500);

  const auto wh = root["warehouse"];
  r.ExpectKeys(wh, "warehouse",
               {"type", "path", "url", "staging_schema", "hold_open", "memory_limit", "threads"});
  if (auto n = wh["hold_open"]) c.warehouse.hold_open = r.Bool(n, "warehouse.hold_open");
  if (auto n = wh["memory_limit"])
    c.warehouse.memory_limit = r.ByteSize(n, "warehouse.memory_limit");
  if (auto n = wh["threads"]) c.warehouse.threads = r.Int(n, "warehouse.threads", 0, 1024);
  if (auto n = wh["type"]) c.warehouse.type = r.OneOf(n, "warehouse.type", {"duckdb", "postgres"});
  if (c.warehouse.type == "postgres") {
    // A server warehouse: a connection string instead of a file.
    if (auto n = wh["path"])
      r.Throw(n, "warehouse.path", "is for type duckdb; type postgres takes url");
    r.Required(wh, "warehouse", "url");
    c.warehouse.url = r.String(wh["url"], "warehouse.url");
    if (c.warehouse.url.empty()) r.Throw(wh["url"], "warehouse.url", "must not be empty");
  } else {
    if (auto n = wh["url"])
      r.Throw(n, "warehouse.url", "is for type postgres; type duckdb takes path");
    r.Required(wh, "warehouse", "path");
    c.warehouse.path = r.Path(wh["path"], "warehouse.path");
  }
  if (auto n = wh["staging_schema"]) {
    c.warehouse.staging_schema = r.String(n, "warehouse.staging_schema");
    if (c.warehouse.staging_schema.empty() || c.warehouse.staging_schema.starts_with("_landfall")) {
      r.Throw(n, "warehouse.staging_schema", "must be non-empty and not start with _landfall");
    }
  }

  if (auto models = root["models"]; models && !models.IsNull()) {
    r.ExpectKeys(models, "models", {"dir", "schema"});
    if (auto n = models["dir"]; n && !n.IsNull()) {
      c.models.dir = r.Path(n, "models.dir");
    }
    if (auto n = models["schema"]) {
      c.models.schema = r.String(n, "models.schema");
      if (c.models.schema.empty() || c.models.schema.starts_with("_landfall")) {
        r.Throw(n, "models.schema", "must be non-empty and not start with _landfall");
      }
      if (c.models.schema == c.warehouse.staging_schema) {
        r.Throw(n, "models.schema",
                "must differ from warehouse.staging_schema ('" + c.warehouse.staging_schema + "')");
      }
    }
  }

  if (auto cluster = root["cluster"]; cluster && !cluster.IsNull()) {
    r.ExpectKeys(cluster, "cluster", {"enabled", "lease_ttl_s"});
    if (auto n = cluster["enabled"]) c.cluster.enabled = r.Bool(n, "cluster.enabled");
    if (auto n = cluster["lease_ttl_s"])
      c.cluster.lease_ttl_s = r.Int(n, "cluster.lease_ttl_s", 2, 3600);
    if (c.cluster.enabled && c.warehouse.type != "postgres") {
      r.Throw(cluster["enabled"], "cluster.enabled",
              "needs warehouse.type postgres: a DuckDB file has one writer, so one daemon per "
              "environment");
    }
  }

  if (auto n = root["workers"]) c.workers = r.Int(n, "workers", 1, 256);
  if (auto n = root["shutdown_timeout_s"]) {
    c.shutdown_timeout_s = r.Int(n, "shutdown_timeout_s", 1, 3600);
  }

  if (auto log = root["log"]) {
    r.ExpectKeys(log, "log", {"level", "format"});
    if (auto n = log["level"]) {
      c.log.level = r.OneOf(n, "log.level", {"trace", "debug", "info", "warn", "error"});
    }
    if (auto n = log["format"]) c.log.format = r.OneOf(n, "log.format", {"text", "json"});
  }

  if (auto api = root["api"]) ParseApi(r, api, c.api);

  const auto& evolution = kSchemaEvolutions;
  const auto& batch_removed = kOnBatchRemoved;
  const auto& table_removed = kOnTableRemoved;
  if (auto n = root["schema_evolution"])
    c.policy.schema_evolution = r.OneOfEnum(n, "schema_evolution", evolution);
  if (auto n = root["on_batch_removed"])
    c.policy.on_batch_removed = r.OneOfEnum(n, "on_batch_removed", batch_removed);
  if (auto n = root["on_table_removed"])
    c.policy.on_table_removed = r.OneOfEnum(n, "on_table_removed", table_removed);
  if (auto tables = root["tables"]) {
    if (!tables.IsSequence())
      r.Throw(tables, "tables", "must be a list of {match: GLOB, ...} entries");
    for (size_t i = 0; i < tables.size(); ++i) {
      const auto entry = tables[i];
      const std::string path = "tables[" + std::to_string(i) + "]";
      r.ExpectKeys(entry, path,
                   {"match", "schema_evolution", "on_batch_removed", "on_table_removed"});
      r.Required(entry, path, "match");
      TablePolicyOverride o;
      o.match = r.String(entry["match"], path + ".match");
      if (o.match.empty()) r.Throw(entry["match"], path + ".match", "must not be empty");
      if (auto n = entry["schema_evolution"])
        o.schema_evolution = r.OneOfEnum(n, path + ".schema_evolution", evolution);
      if (auto n = entry["on_batch_removed"])
        o.on_batch_removed = r.OneOfEnum(n, path + ".on_batch_removed", batch_removed);
      if (auto n = entry["on_table_removed"])
        o.on_table_removed = r.OneOfEnum(n, path + ".on_table_removed", table_removed);
      c.tables.push_back(std::move(o));
    }
  }
  return c;
}

}  // namespace

TablePolicy Config::PolicyFor(const std::string& table) const {
  TablePolicy p = policy;
  for (const auto& o : tables) {
    if (fnmatch(o.match.c_str(), table.c_str(), 0) != 0) continue;
    if (o.schema_evolution) p.schema_evolution = *o.schema_evolution;
    if (o.on_batch_removed) p.on_batch_removed = *o.on_batch_removed;
    if (o.on_table_removed) p.on_table_removed = *o.on_table_removed;
    break;
  }
  return p;
}

Result<Config> ParseConfig(const std::string& text, const fs::path& source) {
  try {
    return Parse(YAML::Load(text), source);
  } catch (const ConfigError& e) {
    return Fail("config_invalid", e.message);
  } catch (const YAML::Exception& e) {
    std::string where = source.string();
    if (e.mark.line >= 0) where += ":" + std::to_string(e.mark.line + 1);
    return Fail("config_invalid", where + ": " + e.msg);
  }
}

Result<Config> LoadConfig(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return Fail("config_invalid", file.string() + ": cannot read the config file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseConfig(buffer.str(), file);
}

int WarehouseThreads(const Config& config) {
  if (config.warehouse.threads > 0) return config.warehouse.threads;
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  return std::max(1, cores - config.workers + 1);
}

}  // namespace landfall::config
