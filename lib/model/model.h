// A model: one SELECT over staging tables and other models, kept in a table
// (or view) named after it in the models schema. These types are what the
// loader produces from the files under `models.dir` and what the DAG, the
// compiler, the planner and the state store read. README: "Models".
#pragma once

#include <compare>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/model/checks.h"
#include "lib/model/partition.h"

namespace landfall::model {

// How a model's target is kept up to date. Written in YAML, plans and the
// state store as the text ToString gives; StrategyFromString is nullopt for any
// other text. A new strategy is a new enumerator with a config struct of its
// own on Model.
enum class Strategy {
  kFullRefresh,
  kView,
  kIncremental,
  kMerge,
  kMaterializedView,
  kDynamicTable,
  kTimeInterval,
};
const char* ToString(Strategy strategy);
std::optional<Strategy> StrategyFromString(std::string_view text);

// `incremental:` (strategy incremental).
struct IncrementalConfig {
  enum class By { kBatch, kWatermark };
  By by = By::kBatch;
  // by: batch — the upstream whose new batches drive a run, as "staging.orders";
  // "" when the model reads exactly one staging table (that one drives).
  std::string driver;
  // by: watermark — the output column whose MAX is the watermark (required).
  std::string timestamp_column;
  // by: watermark — an interval re-read below the watermark ("2 hours"); "" = none.
  std::string lookback;
  // Rows re-read by `lookback` replace the target's rows with the same key.
  std::vector<std::string> unique_key;

  bool operator==(const IncrementalConfig&) const = default;
};
const char* ToString(IncrementalConfig::By by);  // "batch" | "watermark"
std::optional<IncrementalConfig::By> IncrementalByFromString(std::string_view text);

// `merge:` (strategy merge).
struct MergeConfig {
  std::vector<std::string> unique_key;      // required, non-empty
  std::vector<std::string> update_columns;  // empty = every non-key column
  std::string dedupe;                       // "" (duplicate keys are an error) | "latest"
  std::string order_by;                     // with dedupe: latest, the column that orders rows

  bool operator==(const MergeConfig&) const = default;
};

// `dynamic_table:` (strategy dynamic_table; Snowflake's DYNAMIC TABLE options).
struct DynamicTableConfig {
  std::string target_lag;  // "1 minute"; "" = the warehouse's default
  std::string warehouse;   // Snowflake warehouse name; "" = none given

  bool operator==(const DynamicTableConfig&) const = default;
};

// `time_interval:` (strategy time_interval; README "Time-interval models").
struct TimeIntervalConfig {
  std::string time_column;  // an output column, DATE or TIMESTAMP, never NULL
  Granularity granularity = Granularity::kDay;
  std::string first_partition;  // a key of `granularity`: the first partition kept
  int lookback = 0;             // partitions before the earliest selected one computed too
  int batch_size = 1;           // consecutive partitions computed by one statement
  // Per upstream table ("staging.events"), its column that places a row in a
  // partition, for partition checksums; an upstream not named here uses its
  // column named like time_column, if it has one.
  std::map<std::string, std::string> source_columns;

  bool operator==(const TimeIntervalConfig&) const = default;
};

// A table a model reads: a staging table or another model.
struct TableRef {
  std::string schema;
  std::string name;

  auto operator<=>(const TableRef&) const = default;
  bool operator==(const TableRef&) const = default;
};
std::string ToString(const TableRef& ref);  // "schema.name"

struct Model {
  std::string name;                 // [A-Za-z_][A-Za-z0-9_]*, unique across sub-folders
  std::filesystem::path sql_file;   // <dir>/.../<name>.sql
  std::filesystem::path yaml_file;  // <dir>/.../<name>.yaml; empty when none
  std::string sql;                  // the file's text as read
  Strategy strategy = Strategy::kFullRefresh;
  IncrementalConfig incremental;     // meaningful for kIncremental
  MergeConfig merge;                 // meaningful for kMerge
  DynamicTableConfig dynamic_table;  // meaningful for kDynamicTable
  TimeIntervalConfig time_interval;  // meaningful for kTimeInterval
  std::vector<TableRef> depends_on;  // `depends_on:` edges the SQL does not show
  std::vector<Check> checks;         // `checks:`, run after each write (checks.h)
  AnomalyConfig anomaly;             // `anomaly_runs`, `anomaly_sigma`
  // SHA-256 hex of `sql`, and of the effective config (the canonical JSON of
  // the keys resolved from _defaults.yaml files and the model's YAML, except
  // `checks` and the anomaly keys, which do not change what the target
  // holds). A change of either rebuilds the model.
  std::string sql_hash;
  std::string config_hash;
  // What is allowed but likely a mistake ("uses @start_date but not
  // @end_date"); `landfall check-config` and `plan` print them.
  std::vector<std::string> warnings;
};

}  // namespace landfall::model
