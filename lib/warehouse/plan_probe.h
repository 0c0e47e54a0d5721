// Binding a model's SELECT without running it, to read its column lineage:
// a scratch in-memory DuckDB holding empty tables with the upstream tables'
// columns, where DuckDB's binder resolves every name of the query and
// json_serialize_plan shows which table columns each part reads. The
// warehouse's own database is never touched: an upstream that is a view stays
// one table here (its columns), so lineage names the model a query reads, not
// the tables behind it.
#pragma once

#include <memory>
#include <set>
#include <string>

#include "lib/common/result.h"
#include "lib/schema/schema.h"

namespace landfall::warehouse {

// What DuckDB's binder made of one SELECT.
struct BoundQuery {
  // json_serialize_plan(select, optimize := false): the logical plan after
  // name resolution and before any optimizer pass (which would drop reads,
  // e.g. under WHERE 1=0). DuckDB's internal format: lib/model/lineage.cpp
  // reads it, tests/model/golden pins it.
  std::string plan_json;
  schema::Schema columns;  // the query's output columns, in order (DESCRIBE)
};

// Not thread-safe: one caller at a time (it owns one connection).
class PlanProbe {
 public:
  virtual ~PlanProbe() = default;

  // Creates (or replaces) `schema`.`name` as an empty table with `columns`.
  // Errors: "invalid_type" for a column type unsafe to splice into SQL,
  // "warehouse_error" for DuckDB's refusal.
  virtual Status AddTable(const std::string& schema, const std::string& name,
                          const schema::Schema& columns) = 0;

  // Binds `select` against the tables added so far. Errors: "model_sql_invalid" with DuckDB's
  // message when it does not bind (an unknown table or column, a file a table
  // function cannot find, more than one statement); the JSON itself can still
  // say "error" for what only json_serialize_plan refuses.
  virtual Result<BoundQuery> Bind(const std::string& select) = 0;

  // The functions whose result is not fixed by their arguments (random, uuid,
  // now, current_date...), as DuckDB's catalog names them, lower case.
  virtual Result<std::set<std::string>> NonDeterministicFunctions() = 0;
};

// A probe over a new in-memory DuckDB, closed with it.
Result<std::unique_ptr<PlanProbe>> OpenPlanProbe();

}  // namespace landfall::warehouse
