#include <algorithm>
#include <array>
#include <cctype>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <span>
#include <string_view>

#include "lib/common/sha256.h"
#include "lib/warehouse/duckdb_connection.h"
#include "lib/warehouse/duckdb_parse_tree.h"
#include "lib/warehouse/query.h"
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

namespace {

// The one statement of `sql`, parsed: fails with `code` when `sql` does not
// parse, is not a SELECT (DESCRIBE, SHOW and SUMMARIZE are SELECTs to
// DuckDB's parser) or is not exactly one statement. `expected` says what
// should have been there, for the messages.
Result<json> OneSelect(const std::string& sql, const std::string& code,
                       const std::string& expected) {
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
      message = "not a SELECT statement (" + expected + ")";
    }
    return Fail(code, message);
  }
  const auto statements = tree->find("statements");
  if (statements == tree->end() || !statements->is_array() || statements->empty()) {
    return Fail(code, "no statement (" + expected + ")");
  }
  if (statements->size() != 1) {
    return Fail(code, std::to_string(statements->size()) + " statements (" + expected + ")");
  }
  return std::move(statements->front());
}

}  // namespace

namespace {

// `node` without "query_location" anywhere in it.
void DropLocations(json& node) {
  if (node.is_object()) {
    node.erase("query_location");
    for (auto& [key, child] : node.items()) DropLocations(child);
  } else if (node.is_array()) {
    for (auto& child : node) DropLocations(child);
  }
}

}  // namespace

Result<std::optional<SelectFingerprints>> FingerprintSelect(const std::string& sql) {
  auto statement = OneSelect(sql, "model_sql_invalid", "a model is exactly one SELECT, CTEs allowed");
  if (!statement) return Fail(statement.error());
  json& node = (*statement)["node"];
  if (JsonText(node, "type") != "SELECT_NODE" || !node.contains("select_list") || !node["select_list"].is_array()) {
    return std::optional<SelectFingerprints>{};
  }
  DropLocations(node);
  SelectFingerprints out;
  for (const auto& item : node["select_list"]) {
    std::string name = JsonText(item, "alias");
    const std::string kind = JsonText(item, "class");
    if (name.empty() && kind == "COLUMN_REF" && item.contains("column_names") && !item["column_names"].empty() &&
        item["column_names"].back().is_string()) {
      name = item["column_names"].back().get<std::string>();
    }
    if (name.empty() || kind == "STAR") return std::optional<SelectFingerprints>{};
    json unnamed = item;
    unnamed.erase("alias");
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    out.columns[name] = Sha256Hex(unnamed.dump());
  }
  node.erase("select_list");
  out.rest = Sha256Hex(node.dump());
  return std::optional<SelectFingerprints>{std::move(out)};
}

Result<std::vector<NamedTable>> TablesReadBy(const std::string& sql) {
  auto statement = OneSelect(sql, "model_sql_invalid", "a model is exactly one SELECT, CTEs allowed");
  if (!statement) return Fail(statement.error());
  std::vector<std::string> ctes;
  std::set<NamedTable> tables;
  Walk(*statement, ctes, tables);
  return std::vector<NamedTable>(tables.begin(), tables.end());
}

namespace {

namespace fs = std::filesystem;

// Table functions a query may call: they read the database's own catalog or
// make rows from their arguments. Every other one is refused (query() and
// query_table() run SQL this check never saw; checkpoint() writes; duckdb_secrets()
// shows secrets; extensions add readers of their own).
constexpr std::array<std::string_view, 22> kHarmlessTableFunctions = {
    "range", "generate_series", "unnest", "repeat", "repeat_row",
    "duckdb_tables", "duckdb_columns", "duckdb_schemas", "duckdb_views", "duckdb_types",
    "duckdb_databases", "duckdb_constraints", "duckdb_indexes", "duckdb_keywords",
    "duckdb_functions", "duckdb_sequences", "pragma_table_info", "pragma_show",
    "pragma_storage_info", "pragma_database_size", "pragma_version", "pragma_metadata_info"};

// Table functions that read the files their first argument names: allowed
// below the readable folder only.
constexpr std::array<std::string_view, 19> kFileReaders = {
    "read_parquet", "parquet_scan", "parquet_metadata", "parquet_schema",
    "parquet_file_metadata", "parquet_kv_metadata", "read_csv", "read_csv_auto", "sniff_csv",
    "read_json", "read_json_auto", "read_json_objects", "read_json_objects_auto", "read_ndjson",
    "read_ndjson_auto", "read_ndjson_objects", "read_text", "read_blob", "glob"};

bool Contains(std::span<const std::string_view> names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// A name DuckDB's replacement scans would read as a file (FROM 'x.parquet').
bool LooksLikePath(std::string_view name) {
  return name.find_first_of("/.~:") != std::string_view::npos;
}

// "" when `path` (as a query wrote it) is `readable_dir` or below it;
// otherwise why not. Relative paths are read from the process's working
// directory, so they are resolved against it; ".." and "~" are refused
// outright (glob patterns would make ".." hard to follow), as are URLs.
std::string PathRefusal(const std::string& path, const fs::path& readable_dir) {
  const std::string quoted = "'" + path + "'";
  if (readable_dir.empty()) return "reads file " + quoted + " (no file may be read)";
  if (path.empty() || path.front() == '~' || path.find("://") != std::string::npos) {
    return "reads " + quoted + ", which is not below the landing directory";
  }
  fs::path p(path);
  for (const auto& part : p) {
    if (part == "..") return "reads " + quoted + ", a path with '..'";
  }
  std::error_code ec;
  fs::path absolute = fs::weakly_canonical(fs::absolute(p, ec), ec).lexically_normal();
  fs::path root = fs::weakly_canonical(readable_dir, ec).lexically_normal();
  if (ec) return "reads " + quoted + ", which cannot be resolved: " + ec.message();
  auto [r, a] = std::mismatch(root.begin(), root.end(), absolute.begin(), absolute.end());
  // A trailing "/" leaves an empty last element in `root`.
  if (r != root.end() && !(r->empty() && std::next(r) == root.end())) {
    return "reads " + quoted + ", which is not below the landing directory " +
           readable_dir.string();
  }
  return "";
}

// The paths a file reader's first argument names: a string literal, or a
// list of them. nullopt when it is anything else (a column, a function of
// something): a path only known when the query runs cannot be checked.
std::optional<std::vector<std::string>> LiteralPaths(const json& argument) {
  const auto literal = [](const json& node) -> std::optional<std::string> {
    if (JsonText(node, "class") != "CONSTANT") return std::nullopt;
    const auto& value = node.value("value", json::object());
    if (value.value("is_null", true) || !value.contains("value") || !value["value"].is_string())
      return std::nullopt;
    return value["value"].get<std::string>();
  };
  if (auto one = literal(argument)) return std::vector<std::string>{*one};
  const std::string function = Lower(JsonText(argument, "function_name"));
  if (JsonText(argument, "class") != "FUNCTION" ||
      (function != "list_value" && function != "list_pack")) {
    return std::nullopt;
  }
  std::vector<std::string> paths;
  for (const auto& child : argument.value("children", json::array())) {
    auto path = literal(child);
    if (!path) return std::nullopt;
    paths.push_back(std::move(*path));
  }
  return paths;
}

// Why a TABLE_FUNCTION node may not run, or "".
std::string TableFunctionRefusal(const json& node, const fs::path& readable_dir) {
  const json& function = node.value("function", json::object());
  const std::string name = Lower(JsonText(function, "function_name"));
  if (Contains(kHarmlessTableFunctions, name)) return "";
  if (!Contains(kFileReaders, name)) {
    return "table function " + name + "() is not allowed in a query";
  }
  const json& children = function.value("children", json::array());
  // Named parameters (hive_partitioning=true) carry an alias; the path is
  // the first positional argument.
  auto first = std::find_if(children.begin(), children.end(),
                            [](const json& c) { return JsonText(c, "alias").empty(); });
  if (first == children.end()) return name + "() without a path";
  auto paths = LiteralPaths(*first);
  if (!paths) return name + "() with a path that is not a string literal";
  for (const auto& path : *paths) {
    if (auto why = PathRefusal(path, readable_dir); !why.empty()) return name + "() " + why;
  }
  return "";
}

// The first reason found anywhere under `node`, or "".
std::string Refusal(const json& node, const fs::path& readable_dir) {
  if (node.is_array()) {
    for (const auto& child : node) {
      if (auto why = Refusal(child, readable_dir); !why.empty()) return why;
    }
    return "";
  }
  if (!node.is_object()) return "";
  const std::string type = JsonText(node, "type");
  if (type == "TABLE_FUNCTION") {
    if (auto why = TableFunctionRefusal(node, readable_dir); !why.empty()) return why;
  } else if (type == "BASE_TABLE" && JsonText(node, "schema_name").empty() &&
             JsonText(node, "catalog_name").empty() &&
             LooksLikePath(JsonText(node, "table_name"))) {
    if (auto why = PathRefusal(JsonText(node, "table_name"), readable_dir); !why.empty()) {
      return "FROM " + why;
    }
  }
  for (const auto& [key, child] : node.items()) {
    if (!child.is_structured()) continue;
    if (auto why = Refusal(child, readable_dir); !why.empty()) return why;
  }
  return "";
}

}  // namespace

Status CheckReadOnlyQuery(const std::string& sql, const fs::path& readable_dir) {
  auto statement = OneSelect(sql, kQueryRefused,
                             "a query is exactly one SELECT, WITH, DESCRIBE, SHOW or SUMMARIZE "
                             "statement");
  if (!statement) return Fail(statement.error());
  if (auto why = Refusal(*statement, readable_dir); !why.empty()) return Fail(kQueryRefused, why);
  return Ok();
}

}  // namespace landfall::warehouse
