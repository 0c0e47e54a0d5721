// SIGHUP: what a reloaded config changes. Live keys apply at once; every other
// key keeps its old value until a restart, and the report names it.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "lib/config/config.h"

namespace landfall::daemon {

// One key of a config, pointing at its field in that config.
struct ConfigKey {
  using Field = std::variant<std::string*, int*, bool*, std::filesystem::path*,
                             std::optional<std::filesystem::path>*, std::vector<std::string>*,
                             std::vector<config::TablePolicyOverride>*, config::SchemaEvolution*,
                             config::OnBatchRemoved*, config::OnTableRemoved*>;
  std::string name;   // as the YAML spells it: "landing.debounce_ms"
  bool live = false;  // SIGHUP applies it; else it needs a restart
  Field field;
};

// Every key of `config`, in the order the config's structs declare them,
// derived from the structs themselves: each member is a key (a struct member
// a group of keys), but `source` (the file) and api.listen_host and
// api.listen_port (parsed from api.listen). A member added to one of the
// structs fails to compile here until it is named, and once named it is a
// key; a member of a new type fails to compile until ConfigKey::Field has it.
std::vector<ConfigKey> ConfigKeys(config::Config& config);

struct ReloadDiff {
  std::vector<std::string> applied;       // changed live keys
  std::vector<std::string> need_restart;  // changed keys that need a restart
};

// The keys whose values differ from `running` in `next`: live ones in the
// order log, landing, shutdown; the others in ConfigKeys order.
ReloadDiff DiffConfigs(const config::Config& running, const config::Config& next);

// Sets the live keys of `running` to their values in `next`; leaves the others.
void ApplyLiveKeys(config::Config& running, const config::Config& next);

}  // namespace landfall::daemon
