// The models of a config and their DAG over the staging tables that exist:
// what check-config validates and compile prints.
#pragma once

#include <vector>

#include "lib/common/result.h"
#include "lib/config/config.h"
#include "lib/model/dag.h"
#include "lib/model/model.h"

namespace landfall::daemon {

struct ModelGraph {
  std::vector<model::Model> models;  // sorted by name
  model::Dag dag;
};

// Loads every model of `config` (none when models.dir is unset) and builds
// its DAG, parsing the SQL with DuckDB. The staging tables known are the
// table folders the landing directory holds now (not tables that exist only
// in the warehouse). Errors: LoadModels' and BuildDag's, "landing_missing"
// when models are configured and the landing directory cannot be scanned.
Result<ModelGraph> LoadModelGraph(const config::Config& config);

}  // namespace landfall::daemon
