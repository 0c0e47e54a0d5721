#include <duckdb.h>

#include <string_view>
#include <utility>
#include <vector>

#include "lib/warehouse/duckdb_connection.h"
#include "lib/warehouse/duckdb_warehouse.h"
#include "lib/warehouse/sql.h"

namespace landfall::warehouse {

namespace {

using internal::ConnectionPool;
using internal::DuckError;

// A DuckDB error about a Parquet file, as one of the footer reader's codes.
Error FooterError(const std::filesystem::path& file, const DuckError& error) {
  const std::string& m = error.message;
  auto has = [&](std::string_view text) { return m.find(text) != std::string::npos; };
  std::string code = "unreadable";
  if (has("encrypted")) {
    code = "encrypted";
  } else if (has("magic bytes") || has("too small") || has("Footer length") || has("truncated") ||
             has("end of file")) {
    // The footer is cut off or its length points outside the file: the writer
    // stopped early, or the file is still being copied in.
    code = "truncated";
  }
  return Error{std::move(code), file.string() + ": " + m, false};
}

// One node of parquet_schema(): the file's schema tree, flattened in pre-order.
struct SchemaNode {
  std::string name;
  std::string repetition;
  std::optional<int32_t> field_id;
  int64_t num_children = 0;
};

// Index just past the subtree rooted at `i`.
size_t SkipSubtree(const std::vector<SchemaNode>& nodes, size_t i) {
  size_t next = i + 1;
  for (int64_t child = 0; child < nodes[i].num_children && next < nodes.size(); ++child) {
    next = SkipSubtree(nodes, next);
  }
  return next;
}

class DuckDbFooterReader final : public schema::FooterReader {
 public:
  explicit DuckDbFooterReader(duckdb_database db)
      : db_(db), pool_(std::make_unique<ConnectionPool>(db)) {}
  ~DuckDbFooterReader() override {
    pool_.reset();
    duckdb_close(&db_);
  }
  DuckDbFooterReader(const DuckDbFooterReader&) = delete;
  DuckDbFooterReader& operator=(const DuckDbFooterReader&) = delete;

  Result<schema::FooterInfo> Read(const std::filesystem::path& file) override {
    // The magic check classifies empty, foreign and encrypted files cheaply and
    // with clearer reasons than DuckDB's messages.
    if (auto magic = schema::CheckParquetMagic(file); !magic) return Fail(magic.error());

    auto lease = pool_->Acquire();
    if (!lease) return Fail("unreadable", file.string() + ": cannot connect to DuckDB", true);
    duckdb_connection con = lease->get();
    const std::string literal = sql::PathLiteral(file.native());

    // Names and types as read_parquet() binds them, which is what an INSERT from
    // the file sees. hive_partitioning=false, as in the warehouse: the schema is
    // the footer's, not values parsed from key=value folders. Binding reads the
    // footer only.
    auto described = internal::RunQuery(
        con, "DESCRIBE SELECT * FROM read_parquet(" + literal + ", hive_partitioning = false)");
    if (!described) return Fail(FooterError(file, described.error()));
    schema::FooterInfo info;
    for (int64_t row = 0; row < described->RowCount(); ++row) {
      schema::Column column;
      column.name = described->Text(0, row).value_or("");
      column.source_type = sql::NormalizeType(described->Text(1, row).value_or(""));
      column.type = schema::CanonicalType(column.source_type);
      info.schema.columns.push_back(std::move(column));
    }

    // Field ids and repetition live only in the Parquet schema tree; the row
    // count comes along in the same query (one query less per file: DuckDB's
    // fixed cost per query is most of a small file's footer read).
    auto tree = internal::RunQuery(
        con,
        "SELECT s.name, s.repetition_type, s.field_id, s.num_children, m.num_rows FROM "
        "parquet_schema(" +
            literal + ") s, parquet_file_metadata(" + literal + ") m");
    if (!tree) return Fail(FooterError(file, tree.error()));
    std::vector<SchemaNode> nodes;
    for (int64_t row = 0; row < tree->RowCount(); ++row) {
      SchemaNode node;
      node.name = tree->Text(0, row).value_or("");
      node.repetition = tree->Text(1, row).value_or("");
      if (auto id = tree->Int(2, row)) node.field_id = static_cast<int32_t>(*id);
      node.num_children = tree->Int(3, row).value_or(0);
      nodes.push_back(std::move(node));
    }
    // Row 0 is the root; its children are the top-level columns, in the order
    // DESCRIBE lists them.
    std::vector<const SchemaNode*> top;
    if (!nodes.empty()) {
      for (size_t i = 1;
           i < nodes.size() && top.size() < static_cast<size_t>(nodes[0].num_children);
           i = SkipSubtree(nodes, i)) {
        top.push_back(&nodes[i]);
      }
    }
    for (size_t i = 0; i < info.schema.columns.size(); ++i) {
      schema::Column& column = info.schema.columns[i];
      const SchemaNode* node = nullptr;
      if (top.size() == info.schema.columns.size() && top[i]->name == column.name) {
        node = top[i];
      } else {
        // DuckDB renames duplicate column names; match by name where order fails.
        for (const SchemaNode* candidate : top) {
          if (candidate->name == column.name) node = candidate;
        }
      }
      if (node == nullptr) continue;
      column.nullable = node->repetition != "REQUIRED";
      column.field_id = node->field_id;
    }

    if (tree->RowCount() == 0) return Fail("unreadable", file.string() + ": no file metadata");
    info.rows = tree->Int(4, 0).value_or(0);
    return info;
  }

 private:
  duckdb_database db_;
  std::unique_ptr<ConnectionPool> pool_;
};

}  // namespace

Result<std::unique_ptr<schema::FooterReader>> NewDuckDbFooterReader() {
  duckdb_config config = nullptr;
  if (duckdb_create_config(&config) != DuckDBSuccess) {
    return Fail("unreadable", "cannot create a DuckDB configuration", true);
  }
  duckdb_set_config(config, "autoinstall_known_extensions", "false");
  // Footer reads are small and run on landfall's own worker threads; DuckDB's
  // pool would only add idle threads.
  duckdb_set_config(config, "threads", "1");
  duckdb_database db = nullptr;
  char* error = nullptr;
  const duckdb_state state = duckdb_open_ext(nullptr, &db, config, &error);
  duckdb_destroy_config(&config);
  if (state != DuckDBSuccess) {
    std::string message = error ? error : "unknown error";
    duckdb_free(error);
    return Fail("unreadable", "cannot open an in-memory DuckDB: " + message, true);
  }
  return std::make_unique<DuckDbFooterReader>(db);
}

}  // namespace landfall::warehouse
