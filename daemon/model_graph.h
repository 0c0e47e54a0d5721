// The models of a config and their DAG over the staging tables that exist:
// what check-config validates, compile prints and the API lists.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "lib/common/result.h"
#include "lib/config/config.h"
#include "lib/model/dag.h"
#include "lib/model/model.h"

namespace landfall::daemon {

struct ModelGraph {
  std::vector<model::Model> models;  // sorted by name
  model::Dag dag;
  std::set<std::string> staging_tables;  // the staging tables the DAG was checked against
};

// Loads every model of `config` (none when models.dir is unset) and builds
// its DAG, parsing the SQL with DuckDB. The staging tables known are the
// table folders the landing directory holds now (not tables that exist only
// in the warehouse). Errors: LoadModels' and BuildDag's, "landing_missing"
// when models are configured and the landing directory cannot be scanned.
Result<ModelGraph> LoadModelGraph(const config::Config& config);

// As above with the staging tables given (the daemon's engine knows them
// without a scan). When `reuse` holds the same models (names, SQL and config
// hashes) over the same staging tables, its DAG is copied rather than the
// SQL parsed again: the model files are read and hashed either way.
Result<ModelGraph> LoadModelGraph(const config::Config& config,
                                  std::set<std::string> staging_tables, const ModelGraph* reuse);

}  // namespace landfall::daemon
