#include "daemon/reload.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <string_view>
#include <tuple>
#include <type_traits>

namespace landfall::daemon {

namespace {

// Live: what the daemon reads from its running config as it goes (logging,
// the scheduler's debounce, the scan timer, the shutdown deadline); the
// engine, the API and the pools took their copy at start-up. In the order the
// report names them.
constexpr std::array<std::string_view, 5> kLiveKeys = {
    "log.level", "log.format", "landing.debounce_ms", "landing.scan_interval_s",
    "shutdown_timeout_s"};

// Members that are no key of their own.
constexpr std::array<std::string_view, 3> kNotKeys = {
    "source",           // the file the config was read from
    "api.listen_host",  // parsed from api.listen, which is the key
    "api.listen_port"};

bool IsLive(std::string_view key) {
  return std::find(kLiveKeys.begin(), kLiveKeys.end(), key) != kLiveKeys.end();
}

// "a, b, c" (a macro's stringified arguments) as {"a", "b", "c"}.
std::vector<std::string> SplitNames(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    const auto comma = list.find(',');
    std::string_view name = list.substr(0, comma);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    out.emplace_back(name);
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
  }
  return out;
}

// Binds every member of `s` and returns them with their names, in declaration
// order. A structured binding must name every member, and the one list of
// names makes both the binding and the keys, so no member can be left out.
#define LANDFALL_MEMBERS(s, ...) \
  auto& [__VA_ARGS__] = s;       \
  return std::pair { std::tie(__VA_ARGS__), SplitNames(#__VA_ARGS__) }

auto Members(config::Config& s) {
  LANDFALL_MEMBERS(s, source, environment, landing, state, warehouse, models, cluster, workers,
                   shutdown_timeout_s, log, api, policy, tables);
}
auto Members(config::ClusterConfig& s) { LANDFALL_MEMBERS(s, enabled, lease_ttl_s); }
auto Members(config::LandingConfig& s) {
  LANDFALL_MEMBERS(s, dir, ignore, quarantine_dir, debounce_ms, scan_interval_s);
}
auto Members(config::StateConfig& s) { LANDFALL_MEMBERS(s, postgres_url, retention_days); }
auto Members(config::WarehouseConfig& s) {
  LANDFALL_MEMBERS(s, type, path, url, staging_schema, hold_open, memory_limit, threads);
}
auto Members(config::ModelsConfig& s) { LANDFALL_MEMBERS(s, dir, schema); }
auto Members(config::LogConfig& s) { LANDFALL_MEMBERS(s, level, format); }
auto Members(config::ApiConfig& s) {
  LANDFALL_MEMBERS(s, enabled, listen, listen_host, listen_port, tokens, webhook_secret,
                   webhook_tolerance_s, body_limit_bytes, max_connections, read_timeout_ms,
                   idle_timeout_ms, per_table_metrics, protect_metrics, protect_health,
                   query_timeout_ms, max_queries, query_max_bytes);
}
auto Members(config::TablePolicy& s) {
  LANDFALL_MEMBERS(s, schema_evolution, on_batch_removed, on_table_removed);
}
auto Members(config::TablePolicyOverride& s) {
  LANDFALL_MEMBERS(s, match, schema_evolution, on_batch_removed, on_table_removed);
}

#undef LANDFALL_MEMBERS

template <class T>
concept Struct = requires(T& s) {
  Members(s);
};

template <Struct S>
void AddKeys(S& s, const std::string& prefix, std::vector<ConfigKey>& out);

template <class T>
void AddKey(T& field, const std::string& name, std::vector<ConfigKey>& out) {
  if constexpr (Struct<T>) {
    // The default table policy is written at the top level of the YAML.
    AddKeys(field, name == "policy" ? "" : name + ".", out);
  } else if (std::find(kNotKeys.begin(), kNotKeys.end(), name) == kNotKeys.end()) {
    out.push_back({name, IsLive(name), &field});
  }
}

template <Struct S>
void AddKeys(S& s, const std::string& prefix, std::vector<ConfigKey>& out) {
  auto [fields, names] = Members(s);
  size_t i = 0;
  std::apply([&](auto&... field) { (AddKey(field, prefix + names[i++], out), ...); }, fields);
}

template <class T>
bool Same(const T& a, const T& b) {
  return a == b;
}

// TablePolicyOverride has no operator==: compared member by member, all of them.
bool Same(const std::vector<config::TablePolicyOverride>& a,
          const std::vector<config::TablePolicyOverride>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto x = a[i], y = b[i];
    if (Members(x).first != Members(y).first) return false;
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
  std::vector<ConfigKey> keys;
  AddKeys(config, "", keys);
  return keys;
}

ReloadDiff DiffConfigs(const config::Config& running, const config::Config& next) {
  // ConfigKeys points into a config it may write; these copies are never written.
  config::Config a = running;
  config::Config b = next;
  std::vector<std::string> changed;
  ForEachPair(a, b, [&](const ConfigKey& key, const auto& old_value, const auto& new_value) {
    if (!Same(old_value, new_value)) changed.push_back(key.name);
  });
  ReloadDiff diff;
  for (auto live : kLiveKeys) {
    if (std::find(changed.begin(), changed.end(), live) != changed.end()) {
      diff.applied.emplace_back(live);
    }
  }
  for (auto& key : changed) {
    if (!IsLive(key)) diff.need_restart.push_back(std::move(key));
  }
  return diff;
}

void ApplyLiveKeys(config::Config& running, const config::Config& next) {
  config::Config from = next;
  ForEachPair(running, from, [](const ConfigKey& key, auto& to, const auto& value) {
    if (key.live) to = value;
  });
}

}  // namespace landfall::daemon
