// Private to lib/warehouse (includes nlohmann): DuckDB's parse tree of a SQL
// text, from the one in-memory parser duckdb_sql_parse.cpp keeps, for the
// code that reads (TablesReadBy) or rewrites (PointAtTemp) a model's SELECT.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "lib/common/result.h"

namespace landfall::warehouse::internal {

// json_serialize_sql(sql): {"error": bool, "error_message", "statements", ...}.
// Fails ("internal_error") only when the parser itself cannot run.
Result<nlohmann::json> ParseTree(const std::string& sql);

// node[key] when it is a string, else "" (parse trees use "type" for objects too).
std::string JsonText(const nlohmann::json& node, const char* key);

}  // namespace landfall::warehouse::internal
