// The models' dependency graph: which tables each model reads (from its SQL,
// parsed without binding, plus `depends_on:`), checked against the staging
// tables and models that exist, in a topological order. Pure: the SQL parser
// is a seam (ParseFn), so unit tests fake it.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "lib/common/result.h"
#include "lib/model/model.h"

namespace landfall::model {

struct Dag {
  std::string staging_schema;  // as BuildDag was given them
  std::string models_schema;
  // Every model, upstream before downstream; models with no order between
  // them sorted by name.
  std::vector<std::string> order;
  // Per model: the staging tables and models it reads (SQL and depends_on),
  // sorted, without duplicates. Staging tables carry the staging schema,
  // models the models schema.
  std::map<std::string, std::vector<TableRef>> upstream;
  // Per model: the models that read it directly, sorted by name.
  std::map<std::string, std::vector<std::string>> downstream_models;
  // Per staging table name: the models that read it directly, sorted by name.
  std::map<std::string, std::vector<std::string>> staging_readers;

  // True when `name` is a model of this graph.
  bool Contains(const std::string& name) const { return upstream.contains(name); }
};

// The tables one SELECT reads, as written (schema "" when unqualified), or an
// Error "model_sql_invalid" with the parser's message when the text is not
// exactly one SELECT statement. warehouse::TablesReadBy is the real one
// (see DuckDbParseFn in lib/model/parse.h).
using ParseFn = std::function<Result<std::vector<TableRef>>(const std::string& sql)>;

// Builds the graph of `models` (names unique, as LoadModels returns them).
// `staging_tables` are the staging table names that exist (or will after
// staging). Every error names the model and its SQL file:
//   model_sql_invalid   — the SQL does not parse, is not one SELECT
//   model_invalid       — a reference without a schema, or with a schema other
//                         than `staging_schema` and `models_schema`
//   model_unknown_table — a staging table not in `staging_tables`, or a model
//                         that does not exist (also for depends_on)
//   model_cycle         — the models of one cycle in order: "a -> b -> a"
// A model reading itself is a cycle.
Result<Dag> BuildDag(const std::vector<Model>& models, const std::set<std::string>& staging_tables,
                     const std::string& staging_schema, const std::string& models_schema,
                     const ParseFn& parse);

// The models `spec` selects: comma-separated terms, each `name`, `name+`
// (name and every model downstream of it) or `+name` (name and every model
// upstream of it). Unknown names and empty terms are "model_selection_invalid".
Result<std::set<std::string>> Select(const Dag& dag, std::string_view spec);

// The models that read any of `staging_tables` (names, without schema),
// directly or through other models, in DAG order.
std::vector<std::string> DownstreamOfStaging(const Dag& dag,
                                             const std::set<std::string>& staging_tables);

// The staging table whose new batches drive `model`'s runs, as
// "staging.orders": incremental.driver when set, else the one staging table
// the model reads; "" when it reads none or several. Meaningful for
// incremental by batch and merge models.
std::string DriverOf(const Dag& dag, const Model& model);

// `models` (a subset of the graph's models) in DAG order.
std::vector<std::string> InDagOrder(const Dag& dag, const std::set<std::string>& models);

}  // namespace landfall::model
