// The real ParseFn: DuckDB's parser (warehouse::TablesReadBy).
#pragma once

#include "lib/model/dag.h"

namespace landfall::model {

// Parses with DuckDB. A catalog-qualified name (db.s.t) comes back with
// schema "db.s", which BuildDag then rejects as a schema that is neither
// staging nor models.
ParseFn DuckDbParseFn();

}  // namespace landfall::model
