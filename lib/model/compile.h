// `landfall compile`: the DDL each model would run on a given warehouse,
// as text. Pure: no warehouse is contacted.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "lib/model/dag.h"
#include "lib/model/model.h"

namespace landfall::model {

enum class Dialect { kDuckDb, kSnowflake, kDatabricks, kBigQuery };
const char* ToString(Dialect dialect);  // duckdb | snowflake | databricks | bigquery
std::optional<Dialect> DialectFromString(std::string_view text);

// The statements `model` runs on `dialect`, each ended by ";" and a newline,
// under a comment line naming the model and its strategy; the model's SQL is
// printed as written. A strategy the dialect does not have is a comment saying
// so. Incremental and merge models show the first run's CREATE TABLE … AS and
// the statement of later runs, a template with placeholders a run fills in
// (each explained in a comment above it): {new_batches} (the _landfall_batch
// ids of `driver`'s new batches; `driver` is "staging.orders", or "" when the
// model has none, see DriverOf), {watermark}, and on Snowflake and BigQuery,
// whose MERGE cannot name "every column", {update_set}, {insert_columns} and
// {insert_values}.
std::string CompileModel(const Model& model, Dialect dialect, const std::string& models_schema,
                         const std::string& driver);

// What `landfall compile` prints: CompileModel of each of `models` that
// `selected` names (all when it is null), in DAG order, separated by a blank
// line. `dag` is BuildDag's graph of `models`.
std::string CompileModels(const std::vector<Model>& models, const Dag& dag, Dialect dialect,
                          const std::set<std::string>* selected = nullptr);

}  // namespace landfall::model
