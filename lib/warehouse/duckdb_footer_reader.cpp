#include <duckdb.h>

#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/warehouse/duckdb_connection.h"
#include "lib/warehouse/duckdb_warehouse.h"
#include "lib/warehouse/sql.h"
#include "lib/warehouse/statements.h"

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

    // Field ids and repetition live only in the Parquet schema tree; the row
    // count comes along in the same query. DuckDB's fixed cost per query (about
    // 0.7 ms of CPU) is most of a small file's footer read, so the query count
    // per file matters (see ReadMany).
    auto tree = internal::RunQuery(con, sql::SelectFooterTree(file.native()));
    if (!tree) return Fail(FooterError(file, tree.error()));
    if (tree->RowCount() == 0) return Fail("unreadable", file.string() + ": no file metadata");
    std::vector<TreeRow> rows;
    for (int64_t row = 0; row < tree->RowCount(); ++row) rows.push_back(ReadTreeRow(*tree, row, 0));
    return FromTree(con, file, rows, tree->Int(kTreeColumnCount, 0).value_or(0));
  }

  // One query for the schema trees of all files and one for their row
  // counts, instead of one per file. Any file DuckDB cannot read fails the
  // whole query: then each file is read on its own, for its own answer.
  std::vector<Result<schema::FooterInfo>> ReadMany(
      const std::vector<std::filesystem::path>& files) override {
    std::vector<Result<schema::FooterInfo>> out(files.size(), Fail("unreadable", "not read"));
    std::vector<size_t> good;
    for (size_t i = 0; i < files.size(); ++i) {
      if (auto magic = schema::CheckParquetMagic(files[i]); !magic) {
        out[i] = Fail(magic.error());
      } else {
        good.push_back(i);
      }
    }
    auto one_by_one = [&] {
      for (size_t i : good) out[i] = Read(files[i]);
      return out;
    };
    if (good.size() < 2) return one_by_one();

    auto lease = pool_->Acquire();
    if (!lease) return one_by_one();
    duckdb_connection con = lease->get();
    std::vector<std::string> paths;
    for (size_t i : good) paths.push_back(files[i].native());
    // Rows come out file by file, each file's tree in order (one thread).
    auto tree = internal::RunQuery(con, sql::SelectFooterTrees(paths));
    if (!tree) return one_by_one();
    auto meta = internal::RunQuery(con, sql::SelectFooterRowCounts(paths));
    if (!meta) return one_by_one();

    std::map<std::string, int64_t, std::less<>> num_rows;
    for (int64_t row = 0; row < meta->RowCount(); ++row) {
      num_rows[meta->Text(0, row).value_or("")] = meta->Int(1, row).value_or(0);
    }
    std::map<std::string, std::vector<TreeRow>, std::less<>> trees;
    for (int64_t row = 0; row < tree->RowCount(); ++row) {
      trees[tree->Text(kTreeColumnCount, row).value_or("")].push_back(ReadTreeRow(*tree, row, 0));
    }
    for (size_t i : good) {
      const std::string& name = files[i].native();
      auto rows = trees.find(name);
      auto count = num_rows.find(name);
      if (rows == trees.end() || count == num_rows.end()) {
        out[i] = Read(files[i]);  // not reported under the name we gave: ask on its own
        continue;
      }
      out[i] = FromTree(con, files[i], rows->second, count->second);
    }
    return out;
  }

 private:
  using Columns = std::vector<std::pair<std::string, std::string>>;  // name, type

  static constexpr int64_t kTreeColumnCount = sql::kFooterTreeColumnCount;

  // One row of the schema tree: the node, and its part of the tree's key
  // (everything in the tree that binding depends on).
  struct TreeRow {
    SchemaNode node;
    std::string key;
  };

  static TreeRow ReadTreeRow(internal::DuckResult& result, int64_t row, int64_t first) {
    TreeRow out;
    out.node.name = result.Text(first, row).value_or("");
    out.node.repetition = result.Text(first + 1, row).value_or("");
    if (auto id = result.Int(first + 2, row)) out.node.field_id = static_cast<int32_t>(*id);
    out.node.num_children = result.Int(first + 3, row).value_or(0);
    for (int64_t col = first; col < first + kTreeColumnCount; ++col) {
      out.key += result.Text(col, row).value_or("\x01");
      out.key += '\x1f';
    }
    out.key += '\x1e';
    return out;
  }

  // A footer from its schema tree: names and types as read_parquet() binds
  // them, which is what an INSERT from the file sees (hive_partitioning=false,
  // as in the warehouse: the schema is the footer's, not values parsed from
  // key=value folders), with nullability and field ids from the tree. Batches
  // of a table mostly share one tree, so the binding is remembered per tree and
  // the DESCRIBE runs once per distinct tree.
  Result<schema::FooterInfo> FromTree(duckdb_connection con, const std::filesystem::path& file,
                                      const std::vector<TreeRow>& rows, int64_t num_rows) {
    if (rows.empty()) return Fail("unreadable", file.string() + ": no file metadata");
    if (num_rows < 0) {
      return Fail("unreadable", file.string() + ": negative row count in the footer");
    }
    std::string tree_key;
    for (const auto& row : rows) tree_key += row.key;
    auto described = Described(tree_key);
    if (!described) {
      auto result = internal::RunQuery(con, sql::DescribeParquet(file.native()));
      if (!result) return Fail(FooterError(file, result.error()));
      described.emplace();
      for (int64_t row = 0; row < result->RowCount(); ++row) {
        described->emplace_back(result->Text(0, row).value_or(""),
                                sql::NormalizeType(result->Text(1, row).value_or("")));
      }
      Remember(tree_key, *described);
    }
    schema::FooterInfo info;
    for (const auto& [name, type] : *described) {
      schema::Column column;
      column.name = name;
      column.source_type = type;
      column.type = schema::CanonicalType(column.source_type);
      info.schema.columns.push_back(std::move(column));
    }
    // Staging tables carry landfall's own _landfall_* columns beside the
    // batch's; a batch column of that name could never be staged, and would
    // fail its whole table on every run. Caught here, the file is quarantined.
    for (const auto& column : info.schema.columns) {
      if (schema::FoldName(column.name.substr(0, sql::kMetaPrefix.size())) == sql::kMetaPrefix) {
        return Fail(
            "reserved_column_name",
            file.string() + ": column \"" + column.name +
                "\": names starting with _landfall_ are reserved for landfall's metadata columns");
      }
    }

    std::vector<SchemaNode> nodes;
    nodes.reserve(rows.size());
    for (const auto& row : rows) nodes.push_back(row.node);
    // Row 0 is the root; its children are the top-level columns, in the order
    // DESCRIBE lists them.
    std::vector<const SchemaNode*> top;
    for (size_t i = 1; i < nodes.size() && top.size() < static_cast<size_t>(nodes[0].num_children);
         i = SkipSubtree(nodes, i)) {
      top.push_back(&nodes[i]);
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
    info.rows = num_rows;
    return info;
  }

  std::optional<Columns> Described(const std::string& tree_key) {
    std::lock_guard lock(described_mu_);
    auto it = described_.find(tree_key);
    if (it == described_.end()) return std::nullopt;
    return it->second;
  }

  void Remember(const std::string& tree_key, const Columns& columns) {
    std::lock_guard lock(described_mu_);
    // Bounded: a landing dir where every file has its own schema only costs a
    // DESCRIBE per file, as without the cache.
    if (described_.size() >= kMaxDescribed) described_.clear();
    described_.emplace(tree_key, columns);
  }

  static constexpr size_t kMaxDescribed = 4096;

  duckdb_database db_;
  std::unique_ptr<ConnectionPool> pool_;

  std::mutex described_mu_;
  std::map<std::string, Columns> described_;  // by schema tree; guarded by described_mu_
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
