// The column lineage of a config's models (lib/model/lineage.h) over the
// staging tables' current columns as the state store records them: what
// GET /v1/lineage and `landfall lineage` show.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "daemon/model_graph.h"
#include "lib/common/result.h"
#include "lib/model/lineage.h"
#include "lib/state/state_store.h"

namespace landfall::daemon {

// Binds every model of `graph` in a scratch in-memory DuckDB (never the
// warehouse), each staging table given the columns of its current schema
// snapshot in `tables` (a table without one makes its readers' lineage
// unknown). Errors: the probe's, when DuckDB cannot be opened; a snapshot
// that does not parse is "state_corrupt".
Result<std::map<std::string, model::Lineage>> LineageOf(const ModelGraph& graph,
                                                        const std::vector<state::TableSummary>& tables);

}  // namespace landfall::daemon
