// The SQL text of the lineage probe (plan_probe.h), built from pure inputs so
// that it is unit-tested without DuckDB.
#pragma once

#include <string>
#include <string_view>

#include "lib/schema/schema.h"

namespace landfall::warehouse::sql {

// CREATE SCHEMA IF NOT EXISTS "schema".
std::string CreateSchemaIfMissing(std::string_view schema);

// CREATE OR REPLACE TABLE "schema"."name" (columns...): an empty table with
// `columns`' names and types. Fails (at DuckDB) for a type that is not safe to
// splice, which the caller checks with IsSafeTypeName first.
std::string CreateEmptyTable(std::string_view schema, std::string_view name,
                             const schema::Schema& columns);

// DuckDB's bound, unoptimized logical plan of `select` as JSON text (one row,
// one column): json_serialize_plan(select, optimize := false).
std::string SerializePlan(std::string_view select);

// (function_name) of every function whose result is not fixed by its
// arguments: stability VOLATILE (random, uuid, nextval) or
// CONSISTENT_WITHIN_QUERY (now, current_date).
std::string NonDeterministicFunctionsQuery();

}  // namespace landfall::warehouse::sql
