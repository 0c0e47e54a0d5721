// Column-level lineage of models: which upstream columns each model reads,
// and which upstream columns each of its output columns is computed from.
// Derived from DuckDB's own binder (warehouse::PlanProbe): the bound,
// unoptimized logical plan names every table column the query uses anywhere
// (select list, WHERE, JOIN conditions, GROUP BY, windows, subqueries), after
// `*`, CTEs and unqualified names are resolved. README: "Lineage".
//
// Unknown lineage is a value (Lineage::known false, with the reason), never an
// empty read set: a decision that skips a model because it reads none of the
// changed columns must only be taken on a known read set.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "lib/model/dag.h"
#include "lib/model/model.h"
#include "lib/schema/schema.h"

namespace landfall::warehouse {
class PlanProbe;
}

namespace landfall::model {

// Orders names ASCII-case-insensitively, as DuckDB compares identifiers.
struct NameLess {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const;
};
using ColumnSet = std::set<std::string, NameLess>;
// Columns per upstream table, keyed "schema.name" (as ToString(TableRef)).
using TableColumns = std::map<std::string, ColumnSet, NameLess>;

// One output column of a model and the upstream columns its value is
// computed from (through expressions, aggregates, joins' matched sides, set
// operations); empty for a constant. Columns used only to choose rows (WHERE,
// JOIN conditions) are in Lineage::reads, not here.
struct OutputColumn {
  std::string name;
  TableColumns sources;
};

struct Lineage {
  // False when the read set cannot be trusted; `reads` is then empty and
  // means nothing. Reasons: the SQL does not bind, an upstream does not,
  // a read that is not a plain table (read_parquet, another table function),
  // a non-deterministic function (random(), now()...), row sampling, or plan
  // JSON this code does not recognise.
  bool known = false;
  std::string unknown_reason;
  // Every upstream column the model reads, per upstream table. A table read
  // only for its rows (SELECT count(*) FROM t) is present with no columns.
  TableColumns reads;
  // The output side, for the API and `landfall lineage`. Complete when
  // `outputs_unknown_reason` is "", else empty; it can be unknown while
  // `reads` is known (an operator whose outputs this code does not follow).
  std::vector<OutputColumn> outputs;
  std::string outputs_unknown_reason;

  // True when `table` ("schema.name") column `column` is read, or lineage is
  // unknown (it may be).
  bool MayRead(std::string_view table, std::string_view column) const;
};

Lineage UnknownLineage(std::string reason);

// Why every model's lineage is unknown on the PostgreSQL warehouse: the
// model's SQL is PostgreSQL's, which DuckDB's binder may bind differently or
// not at all (README "Lineage").
inline constexpr std::string_view kLineageUnknownOnPostgres =
    "the warehouse is PostgreSQL: column lineage is read with DuckDB's binder, which does not "
    "bind PostgreSQL's SQL";

// Reads one model's lineage from `plan_json`, json_serialize_plan(sql,
// optimize := false) of its SELECT. `output_names` are the query's output
// columns in order (DESCRIBE); `non_deterministic` the functions whose result
// is not fixed by their arguments (PlanProbe::NonDeterministicFunctions).
Lineage LineageFromPlan(std::string_view plan_json, const std::vector<std::string>& output_names,
                        const std::set<std::string>& non_deterministic);

// Every model of `dag`, in DAG order, bound in `probe` (a time-interval
// model with @start_date and @end_date one fixed day, as WithWindow puts it): each staging table
// the models read is added with its columns from `staging_columns` (by
// staging table name; one missing there makes its readers unknown), and each
// model, once bound, is added with its output columns for the models
// downstream. A model whose upstream model does not bind is unknown too.
// Fails only when the probe cannot list DuckDB's functions.
Result<std::map<std::string, Lineage>> AnalyzeLineage(
    const std::vector<Model>& models, const Dag& dag,
    const std::map<std::string, schema::Schema>& staging_columns, warehouse::PlanProbe& probe);

// One model's lineage as JSON: {"model", "known", "unknown_reason" (null
// when known), "reads": {"schema.table": [columns]}, "columns": [{"name",
// "sources": {"schema.table": [columns]}, "read_by": [models that may read
// it, ReadersOf]}], "columns_unknown_reason"}. Columns sorted
// case-insensitively. "" when `model` is not in `lineages`.
std::string ModelLineageJson(const Dag& dag, const std::map<std::string, Lineage>& lineages,
                             const std::string& model);
// {"models": [ModelLineageJson per model, in DAG order]}.
std::string LineagesToJson(const Dag& dag, const std::map<std::string, Lineage>& lineages);

// The models (in DAG order) that read `table`.`column` directly: known reads
// naming it, or unknown lineage of a model the DAG says reads `table`.
std::vector<std::string> ReadersOf(const Dag& dag, const std::map<std::string, Lineage>& lineages,
                                   std::string_view table, std::string_view column);

}  // namespace landfall::model
