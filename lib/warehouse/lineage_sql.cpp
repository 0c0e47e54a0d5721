#include "lib/warehouse/lineage_sql.h"

#include "lib/warehouse/sql.h"

namespace landfall::warehouse::sql {

std::string CreateSchemaIfMissing(std::string_view schema) {
  return "CREATE SCHEMA IF NOT EXISTS " + Ident(schema);
}

std::string CreateEmptyTable(std::string_view schema, std::string_view name,
                             const schema::Schema& columns) {
  std::string out = "CREATE OR REPLACE TABLE " + Qualified(schema, name) + " (";
  for (size_t i = 0; i < columns.columns.size(); ++i) {
    if (i > 0) out += ", ";
    out += Ident(columns.columns[i].name) + " " + columns.columns[i].type;
  }
  return out + ")";
}

std::string SerializePlan(std::string_view select) {
  return "SELECT json_serialize_plan(" + Literal(select) + ", optimize := false)";
}

std::string NonDeterministicFunctionsQuery() {
  return "SELECT DISTINCT function_name FROM duckdb_functions() "
         "WHERE stability IN ('VOLATILE', 'CONSISTENT_WITHIN_QUERY') ORDER BY 1";
}

}  // namespace landfall::warehouse::sql
