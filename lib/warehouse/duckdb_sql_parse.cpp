#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "lib/warehouse/duckdb_connection.h"
#include "lib/warehouse/duckdb_parse_tree.h"
#include "lib/warehouse/sql_parse.h"

namespace landfall::warehouse {

namespace {

using nlohmann::json;

// One in-memory database for parsing, opened on first use and closed at exit
// (a static's destructor). Every caller is a thread of the process's worker
// pool or the main thread, and the pool is joined before main returns, so no
// parse is running then; the mutex makes sure of it. Never closing it would
// leave DuckDB's allocations for LeakSanitizer to report.
struct Parser {
  duckdb_database db = nullptr;
  duckdb_connection con = nullptr;
  duckdb_prepared_statement serialize = nullptr;
  std::mutex mu;  // guards con and serialize: one parse at a time
  std::string open_error;

  Parser() {
    if (duckdb_open(nullptr, &db) != DuckDBSuccess) {
      open_error = "could not open an in-memory DuckDB";
    } else if (duckdb_connect(db, &con) != DuckDBSuccess) {
      open_error = "could not connect to an in-memory DuckDB";
    } else if (duckdb_prepare(con, "SELECT json_serialize_sql($1::VARCHAR)", &serialize) !=
               DuckDBSuccess) {
      open_error = internal::CleanDuckDbMessage(duckdb_prepare_error(serialize));
    }
  }
  ~Parser() {
    std::lock_guard lock(mu);
    if (serialize != nullptr) duckdb_destroy_prepare(&serialize);
    if (con != nullptr) duckdb_disconnect(&con);
    if (db != nullptr) duckdb_close(&db);
  }
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;
};

Parser& TheParser() {
  static Parser parser;
  return parser;
}

}  // namespace

Result<json> internal::ParseTree(const std::string& sql) {
  Parser& p = TheParser();
  if (!p.open_error.empty()) return Fail("internal_error", "SQL parser: " + p.open_error);
  std::string text;
  {
    std::lock_guard lock(p.mu);
    duckdb_clear_bindings(p.serialize);
    if (duckdb_bind_varchar_length(p.serialize, 1, sql.data(), sql.size()) != DuckDBSuccess) {
      return Fail("internal_error", "SQL parser: could not bind the statement text");
    }
    duckdb_result raw;
    if (duckdb_execute_prepared(p.serialize, &raw) != DuckDBSuccess) {
      std::string message = internal::CleanDuckDbMessage(duckdb_result_error(&raw));
      duckdb_destroy_result(&raw);
      return Fail("internal_error", "SQL parser: " + message);
    }
    internal::DuckResult result(raw);
    text = result.Text(0, 0).value_or("");
  }
  json tree = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (tree.is_discarded())
    return Fail("internal_error", "SQL parser: DuckDB returned JSON it cannot read");
  return tree;
}

namespace {

// 1-based line of the character at `offset` in `sql`.
int LineAt(const std::string& sql, size_t offset) {
  offset = std::min(offset, sql.size());
  return 1 + static_cast<int>(
                 std::count(sql.begin(), sql.begin() + static_cast<ptrdiff_t>(offset), '\n'));
}

}  // namespace

std::string internal::JsonText(const json& node, const char* key) {
  auto it = node.find(key);
  return it != node.end() && it->is_string() ? it->get<std::string>() : std::string();
}

namespace {

using internal::JsonText;

// Collects every BASE_TABLE under `node`. `ctes` holds the CTE names in scope:
// a query node's cte_map names are in scope in that node and below (their own
// bodies included, which is what WITH RECURSIVE needs and harmless otherwise).
void Walk(const json& node, std::vector<std::string>& ctes, std::set<NamedTable>& out) {
  if (node.is_array()) {
    for (const auto& child : node) Walk(child, ctes, out);
    return;
  }
  if (!node.is_object()) return;
  const size_t scope = ctes.size();
  if (auto map = node.find("cte_map"); map != node.end() && map->is_object()) {
    if (auto entries = map->find("map"); entries != map->end() && entries->is_array()) {
      for (const auto& entry : *entries) ctes.push_back(JsonText(entry, "key"));
    }
  }
  if (JsonText(node, "type") == "BASE_TABLE") {
    NamedTable table{JsonText(node, "catalog_name"), JsonText(node, "schema_name"),
                     JsonText(node, "table_name")};
    const bool is_cte = table.catalog.empty() && table.schema.empty() &&
                        std::find(ctes.begin(), ctes.end(), table.name) != ctes.end();
    if (!is_cte) out.insert(std::move(table));
  }
  for (const auto& [key, child] : node.items()) {
    if (child.is_structured()) Walk(child, ctes, out);
  }
  ctes.resize(scope);
}

}  // namespace

Result<std::vector<NamedTable>> TablesReadBy(const std::string& sql) {
  auto tree = internal::ParseTree(sql);
  if (!tree) return Fail(tree.error());
  if (tree->value("error", false)) {
    std::string message = JsonText(*tree, "error_message");
    // DuckDB gives the failing character's offset for syntax errors.
    if (const std::string position = JsonText(*tree, "position"); !position.empty()) {
      try {
        message = "line " + std::to_string(LineAt(sql, std::stoul(position))) + ": " + message;
      } catch (const std::logic_error&) {
        // No usable position: the message alone.
      }
    }
    if (message == "Only SELECT statements can be serialized to json!") {
      message = "not a SELECT statement (a model is one SELECT, CTEs allowed)";
    }
    return Fail("model_sql_invalid", message);
  }
  const auto statements = tree->find("statements");
  if (statements == tree->end() || !statements->is_array() || statements->empty()) {
    return Fail("model_sql_invalid", "no statement (a model is one SELECT, CTEs allowed)");
  }
  if (statements->size() != 1) {
    return Fail("model_sql_invalid",
                std::to_string(statements->size()) + " statements (a model is exactly one SELECT)");
  }
  std::vector<std::string> ctes;
  std::set<NamedTable> tables;
  Walk(statements->front(), ctes, tables);
  return std::vector<NamedTable>(tables.begin(), tables.end());
}

}  // namespace landfall::warehouse
