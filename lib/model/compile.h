// `landfall compile`: the DDL each model would run on a given warehouse,
// as text. Pure: no warehouse is contacted.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "lib/model/model.h"

namespace landfall::model {

enum class Dialect { kDuckDb, kSnowflake, kDatabricks, kBigQuery };
const char* ToString(Dialect dialect);  // duckdb | snowflake | databricks | bigquery
std::optional<Dialect> DialectFromString(std::string_view text);

// The statements `model` runs on `dialect`, each ended by ";" and a newline,
// under a comment line naming the model and its strategy. Strategies a dialect
// does not have are a comment saying so. Incremental and merge models show
// the first run's CREATE TABLE … AS and the later runs' statement, in which
// `{new_batches}` stands for the list of the driver's new batch ids.
std::string CompileModel(const Model& model, Dialect dialect, const std::string& models_schema,
                         const std::string& staging_schema);

}  // namespace landfall::model
