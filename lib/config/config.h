// landfall's YAML configuration. One file drives every command.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
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
};

struct WarehouseConfig {
  std::string type = "duckdb";
  std::filesystem::path path;
  std::string staging_schema = "staging";
};

struct LogConfig {
  std::string level = "info";   // trace, debug, info, warn, error
  std::string format = "text";  // text | json
};

struct Config {
  std::filesystem::path source;  // the file it was read from
  std::string environment = "dev";
  LandingConfig landing;
  StateConfig state;
  WarehouseConfig warehouse;
  int workers = 4;
  // (landfall serve) on SIGTERM/SIGINT, how long in-flight runs may take to
  // finish before the process exits anyway (their warehouse transactions roll back).
  int shutdown_timeout_s = 30;
  LogConfig log;
};

// Reads and validates a config file. `${VAR}` in values is replaced from the
// environment (a missing variable is an error). Relative paths are resolved
// against the config file's folder. Unknown keys are errors. Every error message
// names the file, line and key: "landfall.yaml:14: workers: must be >= 1".
Result<Config> LoadConfig(const std::filesystem::path& file);

// Same, from text; `source` names the file in errors and anchors relative paths.
Result<Config> ParseConfig(const std::string& text, const std::filesystem::path& source);

}  // namespace landfall::config
