#include "daemon/reload.h"

#include <cassert>
#include <type_traits>

namespace landfall::daemon {

namespace {

template <class T>
bool Same(const T& a, const T& b) {
  return a == b;
}

bool Same(const config::TablePolicyOverride& a, const config::TablePolicyOverride& b) {
  // Bound like the config in ConfigKeys, so a new member is compared too.
  const auto& [a_match, a_evolution, a_batch_removed, a_table_removed] = a;
  const auto& [b_match, b_evolution, b_batch_removed, b_table_removed] = b;
  return a_match == b_match && a_evolution == b_evolution &&
         a_batch_removed == b_batch_removed && a_table_removed == b_table_removed;
}

bool Same(const std::vector<config::TablePolicyOverride>& a,
          const std::vector<config::TablePolicyOverride>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!Same(a[i], b[i])) return false;
  }
  return true;
}

// Calls `fn(key, field in a, field in b)` for each key; a and b list the same
// keys in the same order (both come from ConfigKeys).
template <class Fn>
void ForEachPair(config::Config& a, config::Config& b, Fn&& fn) {
  const auto keys_a = ConfigKeys(a);
  const auto keys_b = ConfigKeys(b);
  assert(keys_a.size() == keys_b.size());
  for (size_t i = 0; i < keys_a.size(); ++i) {
    std::visit(
        [&](auto* field_a, auto* field_b) {
          if constexpr (std::is_same_v<decltype(field_a), decltype(field_b)>) {
            fn(keys_a[i], *field_a, *field_b);
          }
        },
        keys_a[i].field, keys_b[i].field);
  }
}

}  // namespace

std::vector<ConfigKey> ConfigKeys(config::Config& config) {
  // Each binding must name every member of its struct, or this does not
  // compile: a new member has to be given a key below (or said to be none).
  auto& [source, environment, landing, state, warehouse, workers, shutdown_timeout_s, log, api,
         policy, tables] = config;
  auto& [landing_dir, ignore, quarantine_dir, debounce_ms, scan_interval_s] = landing;
  auto& [postgres_url, retention_days] = state;
  auto& [warehouse_type, warehouse_path, staging_schema] = warehouse;
  auto& [log_level, log_format] = log;
  auto& [api_enabled, listen, listen_host, listen_port, tokens, webhook_secret,
         webhook_tolerance_s, body_limit_bytes, max_connections, read_timeout_ms, idle_timeout_ms,
         per_table_metrics, protect_metrics, protect_health] = api;
  auto& [schema_evolution, on_batch_removed, on_table_removed] = policy;
  (void)source;       // the file the config was read from
  (void)listen_host;  // parsed from api.listen, which is the key
  (void)listen_port;

  // Live: what the daemon reads from its running config as it goes (logging,
  // the scheduler's debounce, the scan timer, the shutdown deadline). The
  // engine, the API and the pools took their copy at start-up.
  constexpr bool kLive = true;
  constexpr bool kRestart = false;
  // In the order of the report; a key's place never changes what it does.
  return {
      {"environment", kRestart, &environment},
      {"log.level", kLive, &log_level},
      {"log.format", kLive, &log_format},
      {"landing.dir", kRestart, &landing_dir},
      {"landing.ignore", kRestart, &ignore},
      {"landing.quarantine_dir", kRestart, &quarantine_dir},
      {"landing.debounce_ms", kLive, &debounce_ms},
      {"landing.scan_interval_s", kLive, &scan_interval_s},
      {"state.postgres_url", kRestart, &postgres_url},
      {"state.retention_days", kRestart, &retention_days},
      {"warehouse.type", kRestart, &warehouse_type},
      {"warehouse.path", kRestart, &warehouse_path},
      {"warehouse.staging_schema", kRestart, &staging_schema},
      {"workers", kRestart, &workers},
      {"shutdown_timeout_s", kLive, &shutdown_timeout_s},
      {"api.enabled", kRestart, &api_enabled},
      {"api.listen", kRestart, &listen},
      {"api.tokens", kRestart, &tokens},
      {"api.webhook_secret", kRestart, &webhook_secret},
      {"api.webhook_tolerance_s", kRestart, &webhook_tolerance_s},
      {"api.body_limit_bytes", kRestart, &body_limit_bytes},
      {"api.max_connections", kRestart, &max_connections},
      {"api.read_timeout_ms", kRestart, &read_timeout_ms},
      {"api.idle_timeout_ms", kRestart, &idle_timeout_ms},
      {"api.per_table_metrics", kRestart, &per_table_metrics},
      {"api.protect_metrics", kRestart, &protect_metrics},
      {"api.protect_health", kRestart, &protect_health},
      {"schema_evolution", kRestart, &schema_evolution},
      {"on_batch_removed", kRestart, &on_batch_removed},
      {"on_table_removed", kRestart, &on_table_removed},
      {"tables", kRestart, &tables},
  };
}

ReloadDiff DiffConfigs(const config::Config& running, const config::Config& next) {
  // ConfigKeys points into a config it may write; these copies are never written.
  config::Config a = running;
  config::Config b = next;
  ReloadDiff diff;
  ForEachPair(a, b, [&](const ConfigKey& key, const auto& old_value, const auto& new_value) {
    if (Same(old_value, new_value)) return;
    (key.live ? diff.applied : diff.need_restart).emplace_back(key.name);
  });
  return diff;
}

void ApplyLiveKeys(config::Config& running, const config::Config& next) {
  config::Config from = next;
  ForEachPair(running, from, [](const ConfigKey& key, auto& to, const auto& value) {
    if (key.live) to = value;
  });
}

}  // namespace landfall::daemon
