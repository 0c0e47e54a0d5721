#include "lib/warehouse/statements.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "lib/warehouse/sql.h"

namespace landfall::warehouse::sql {

namespace {

bool HasNul(std::string_view text) { return text.find('\0') != std::string_view::npos; }

// 'a', 'b', 'c'
std::string LiteralList(std::span<const std::string> texts) {
  std::string list;
  for (const auto& text : texts) list += (list.empty() ? "" : ", ") + Literal(text);
  return list;
}

// ['a', 'b'] of paths read_parquet and friends take literally (PathLiteral).
std::string PathList(std::span<const std::string> paths) {
  std::string list = "[";
  for (const auto& path : paths) list += (list.size() > 1 ? ", " : "") + PathLiteral(path);
  return list + "]";
}

constexpr std::string_view kFooterTreeColumns =
    "s.name, s.repetition_type, s.field_id, s.num_children, s.type, s.type_length, "
    "s.converted_type, s.scale, s.precision, s.logical_type, s.duckdb_type";

std::string Timestamp(int64_t micros) {
  return "make_timestamp(" + std::to_string(micros) + "::BIGINT)";
}

}  // namespace

std::string LedgerTable() { return Qualified(kLedgerSchema, kLedgerTable); }

std::vector<std::string> InitStatements(std::string_view staging_schema) {
  return {
      "CREATE SCHEMA IF NOT EXISTS " + Ident(staging_schema),
      "CREATE SCHEMA IF NOT EXISTS " + Ident(kLedgerSchema),
      "CREATE TABLE IF NOT EXISTS " + LedgerTable() +
          " (table_name VARCHAR NOT NULL, batch_id VARCHAR NOT NULL, path VARCHAR,"
          " rows BIGINT, loaded_at TIMESTAMP, PRIMARY KEY (table_name, batch_id))",
  };
}

std::string CountLedgerKeys() {
  return "SELECT count(*) FROM duckdb_constraints() WHERE schema_name = " + Literal(kLedgerSchema) +
         " AND table_name = " + Literal(kLedgerTable) + " AND constraint_type = 'PRIMARY KEY'";
}

std::string DeleteDuplicateLedgerRows() {
  return "DELETE FROM " + LedgerTable() +
         " WHERE rowid NOT IN (SELECT arg_max(rowid, coalesce(loaded_at, "
         "TIMESTAMP '-infinity')) FROM " +
         LedgerTable() + " GROUP BY table_name, batch_id)";
}

std::string AddLedgerKey() {
  return "ALTER TABLE " + LedgerTable() + " ADD PRIMARY KEY (table_name, batch_id)";
}

std::string SelectLedger() {
  // No ORDER BY: the rows go into maps, and the key (table_name, batch_id)
  // makes each row its own entry whatever the order.
  return "SELECT table_name, batch_id, path, rows, epoch_us(loaded_at) FROM " + LedgerTable();
}

std::string SelectLedgerBatchIds(std::string_view table) {
  return "SELECT batch_id FROM " + LedgerTable() + " WHERE table_name = " + Literal(table);
}

std::string LedgerLookupFilter(std::span<const BatchFile> batches) {
  constexpr size_t kMaxLedgerLookup = 1000;
  if (batches.empty() || batches.size() > kMaxLedgerLookup) return "";
  std::string ids;
  for (const auto& batch : batches) {
    if (!ids.empty()) ids += ", ";
    ids += Literal(batch.batch_id);
  }
  return " AND batch_id IN (" + ids + ")";
}

std::string InsertLedgerRows(std::string_view table, std::span<const LedgerEntry> rows,
                             LedgerWrite write) {
  // One list per column, unnested side by side: DuckDB binds a VALUES list row
  // by row, ~50 us a row (a rebuild's 101 rows: ~4 ms more than these lists).
  std::vector<std::string> ids, paths;
  std::string counts, times;
  for (const auto& row : rows) {
    ids.push_back(row.batch_id);
    paths.push_back(row.rel_path);
    counts += (counts.empty() ? "" : ", ") + std::to_string(row.rows);
    times += (times.empty() ? "" : ", ") + std::to_string(row.loaded_at_us);
  }
  return "INSERT INTO " + LedgerTable() + " (table_name, batch_id, path, rows, loaded_at) SELECT " +
         Literal(table) + ", unnest([" + LiteralList(ids) + "]), unnest([" + LiteralList(paths) +
         "]), unnest([" + counts + "]::BIGINT[]), make_timestamp(unnest([" + times +
         "]::BIGINT[]))" +
         (write == LedgerWrite::kReplace
              ? " ON CONFLICT (table_name, batch_id) DO UPDATE SET path = "
                "excluded.path, rows = excluded.rows, loaded_at = excluded.loaded_at"
              : "");
}

std::string DeleteLedgerRows(std::string_view table, std::span<const std::string> keep) {
  return "DELETE FROM " + LedgerTable() + " WHERE table_name = " + Literal(table) +
         (keep.empty() ? "" : " AND batch_id NOT IN (" + LiteralList(keep) + ")");
}

std::string SelectStagingColumns(std::string_view staging_schema) {
  // duckdb_columns() also lists views; the join keeps base tables only.
  return "SELECT c.table_name, c.column_name, c.data_type, c.is_nullable::INTEGER"
         " FROM duckdb_columns() c JOIN duckdb_tables() t"
         " ON c.database_name = t.database_name AND c.schema_name = t.schema_name"
         " AND c.table_name = t.table_name"
         " WHERE c.database_name = current_database() AND lower(c.schema_name) = lower(" +
         Literal(staging_schema) + ") ORDER BY c.table_name, c.column_index";
}

std::string DescribeTable(std::string_view qualified) {
  // DESCRIBE looks the one table up in the catalog. duckdb_columns() would
  // list every column of every table first: 15-25 ms at 1,000 tables, most of
  // an append's cost.
  return "SELECT column_name, column_type FROM (DESCRIBE " + std::string(qualified) + ")";
}

std::string CountRows(std::string_view qualified) {
  return "SELECT count(*) FROM " + std::string(qualified);
}

std::string CommonSupertypeQuery(std::string_view a, std::string_view b) {
  // A list literal must have one element type: DuckDB picks the type both
  // implicitly cast to, or fails when there is none.
  return "SELECT typeof([NULL::" + std::string(a) + ", NULL::" + std::string(b) + "][1])";
}

std::string CreateOrReplaceTable(std::string_view qualified, const schema::Schema& target) {
  std::string statement = "CREATE OR REPLACE TABLE " + std::string(qualified) + " (";
  for (const auto& column : target.columns) {
    statement += Ident(column.name) + " " + column.type + ", ";
  }
  statement += Ident(kBatchColumn) + " VARCHAR, " + Ident(kLoadedAtColumn) + " TIMESTAMP)";
  return statement;
}

std::vector<std::string> DropTable(std::string_view staging_schema, std::string_view table) {
  return {
      "DROP TABLE IF EXISTS " + Qualified(staging_schema, table),
      "DROP TABLE IF EXISTS " +
          Qualified(staging_schema, std::string(table) + std::string(kShadowSuffix)),
      "DELETE FROM " + LedgerTable() + " WHERE table_name = " + Literal(table),
  };
}

std::vector<std::string> RenameColumns(std::string_view qualified,
                                       std::span<const ColumnRename> renames) {
  auto rename = [&](const std::string& from, const std::string& to) {
    return "ALTER TABLE " + std::string(qualified) + " RENAME COLUMN " + Ident(from) + " TO " +
           Ident(to);
  };
  auto temporary = [](size_t i) {
    return std::string(kMetaPrefix) + "rename_" + std::to_string(i);
  };
  std::vector<std::string> statements;
  statements.reserve(2 * renames.size());
  for (size_t i = 0; i < renames.size(); ++i)
    statements.push_back(rename(renames[i].from, temporary(i)));
  for (size_t i = 0; i < renames.size(); ++i)
    statements.push_back(rename(temporary(i), renames[i].to));
  return statements;
}

std::vector<ColumnChange> EvolveColumns(std::string_view qualified,
                                        std::span<const TableColumn> existing,
                                        const schema::Schema& target) {
  std::vector<ColumnChange> changes;
  for (const auto& column : target.columns) {
    const std::string folded = schema::FoldName(column.name);
    const TableColumn* current = nullptr;
    for (const auto& c : existing) {
      if (schema::FoldName(c.name) == folded) current = &c;
    }
    if (current == nullptr) {
      changes.push_back({column.name, "ALTER TABLE " + std::string(qualified) + " ADD COLUMN " +
                                          Ident(column.name) + " " + column.type});
    } else if (current->type != NormalizeType(column.type)) {
      changes.push_back({column.name, "ALTER TABLE " + std::string(qualified) + " ALTER COLUMN " +
                                          Ident(current->name) + " SET DATA TYPE " + column.type});
    }
  }
  return changes;
}

Result<std::vector<ProjectedColumn>> ProjectedColumns(const schema::Schema& target,
                                                      const BatchFile& batch,
                                                      std::string_view qualifier) {
  if (batch.schema.columns.empty()) {
    return Fail("warehouse_error", "batch " + batch.rel_path + " has no footer schema");
  }
  std::vector<ProjectedColumn> projected;
  std::set<std::string> used;
  for (const auto& source : batch.schema.columns) {
    // field_id first: after a rename, older batches carry the old name.
    const schema::Column* column = nullptr;
    if (source.field_id) {
      for (const auto& c : target.columns) {
        if (c.field_id == source.field_id) column = &c;
      }
    }
    if (column == nullptr) {
      column = target.Find(source.name);
      // A target column this batch carries under its field_id, in another
      // source column, is not this one: a rename took this name, and the
      // planner moved the column that held it to <name>__replaced.
      auto carried_elsewhere = [&](const schema::Column* c) {
        return c != nullptr && c->field_id &&
               std::any_of(batch.schema.columns.begin(), batch.schema.columns.end(),
                           [&](const schema::Column& s) { return s.field_id == c->field_id; });
      };
      for (int n = 1; carried_elsewhere(column); ++n) {
        column = target.Find(source.name + std::string(schema::kReplacedSuffix) +
                             (n == 1 ? "" : "_" + std::to_string(n)));
      }
    }
    if (column == nullptr || !used.insert(schema::FoldName(column->name)).second) continue;
    if (HasNul(source.name)) return Fail("warehouse_error", "column name with a NUL byte");
    const std::string src = std::string(qualifier) + Ident(source.name);
    projected.push_back({column->type == "JSON" ? "CAST(to_json(" + src + ") AS JSON)"
                                                : "CAST(" + src + " AS " + column->type + ")",
                         column});
  }
  if (HasNul(batch.batch_id) || HasNul(batch.abs_path.native())) {
    return Fail("warehouse_error", "batch " + batch.rel_path + ": NUL byte in its id or path");
  }
  return projected;
}

Result<std::string> Projection(const schema::Schema& target, const BatchFile& batch,
                               std::string_view qualifier) {
  auto columns = ProjectedColumns(target, batch, qualifier);
  if (!columns) return Fail(columns.error());
  std::string projection;
  for (const auto& c : *columns) projection += c.expression + " AS " + Ident(c.column->name) + ", ";
  return projection;
}

Result<std::string> InsertBatch(std::string_view qualified, const schema::Schema& target,
                                const BatchFile& batch, int64_t loaded_at_us) {
  auto projection = Projection(target, batch, "");
  if (!projection) return Fail(projection.error());
  // hive_partitioning=false: the batch's columns are its footer's, never values
  // DuckDB would otherwise parse out of key=value folders in the path.
  return "INSERT INTO " + std::string(qualified) + " BY NAME SELECT " + *projection +
         Literal(batch.batch_id) + " AS " + Ident(kBatchColumn) + ", " + Timestamp(loaded_at_us) +
         " AS " + Ident(kLoadedAtColumn) + " FROM read_parquet(" +
         PathLiteral(batch.abs_path.native()) + ", hive_partitioning = false)";
}

Result<std::string> InsertBatches(std::string_view qualified, const schema::Schema& target,
                                  std::span<const BatchFile* const> batches, int64_t loaded_at_us) {
  // One statement: DuckDB reads the files in parallel and pays its
  // per-statement cost once, which for small batches is most of the cost. Each
  // row's batch id comes from its file, through a join on the file name
  // read_parquet reports.
  auto projection = Projection(target, *batches.front(), "r.");
  if (!projection) return Fail(projection.error());
  std::string files, ids;
  for (const BatchFile* batch : batches) {
    if (HasNul(batch->batch_id) || HasNul(batch->abs_path.native())) {
      return Fail("warehouse_error", "batch " + batch->rel_path + ": NUL byte in its id or path");
    }
    const std::string path = Literal(batch->abs_path.native());
    files += (files.empty() ? "" : ", ") + path;
    ids +=
        std::string(ids.empty() ? "" : ", ") + "(" + path + ", " + Literal(batch->batch_id) + ")";
  }
  return "INSERT INTO " + std::string(qualified) + " BY NAME SELECT " + *projection + "b.id AS " +
         Ident(kBatchColumn) + ", " + Timestamp(loaded_at_us) + " AS " + Ident(kLoadedAtColumn) +
         " FROM read_parquet([" + files +
         "], hive_partitioning = false, filename = " + Literal(kFileColumn) +
         ") AS r JOIN (VALUES " + ids + ") AS b(path, id) ON r." + Ident(kFileColumn) + " = b.path";
}

Result<std::string> ProbeBatch(const schema::Schema& target, const BatchFile& batch) {
  auto projection = Projection(target, batch, "");
  if (!projection) return Fail(projection.error());
  // hash() of the whole row makes DuckDB decode and cast every column, as the
  // INSERT does, without storing anything.
  return "SELECT max(hash(r)) FROM (SELECT " + *projection + "1 AS " + Ident(kProbeColumn) +
         " FROM read_parquet(" + PathLiteral(batch.abs_path.native()) +
         ", hive_partitioning = false)) AS r";
}

std::string CarryTable() { return "temp.main." + Ident("_landfall_carry_over"); }

std::string SetAsideRows(std::string_view qualified, std::span<const std::string> batch_ids) {
  return "CREATE OR REPLACE TEMP TABLE " + CarryTable() + " AS SELECT * FROM " +
         std::string(qualified) + " WHERE " + Ident(kBatchColumn) + " IN (" +
         LiteralList(batch_ids) + ")";
}

std::string CarryOverProjection(std::span<const TableColumn> old, const schema::Schema& target) {
  std::string projection;
  for (const auto& column : target.columns) {
    const TableColumn* source = nullptr;
    for (const auto& c : old) {
      if (schema::FoldName(c.name) == schema::FoldName(column.name)) source = &c;
    }
    if (source == nullptr) continue;  // NULL in the carried rows
    const std::string src = Ident(source->name);
    if (column.type == "JSON" && source->type != "JSON") {
      projection += "CAST(to_json(" + src + ") AS JSON)";
    } else {
      projection += "CAST(" + src + " AS " + column.type + ")";
    }
    projection += " AS " + Ident(column.name) + ", ";
  }
  return projection + Ident(kBatchColumn) + ", " + Ident(kLoadedAtColumn);
}

std::string InsertCarriedRows(std::string_view qualified, std::string_view projection) {
  return "INSERT INTO " + std::string(qualified) + " BY NAME SELECT " + std::string(projection) +
         " FROM " + CarryTable();
}

std::string DropCarryTable() { return "DROP TABLE " + CarryTable(); }

std::string SelectFooterTree(std::string_view path) {
  const std::string literal = PathLiteral(path);
  return "SELECT " + std::string(kFooterTreeColumns) + ", m.num_rows FROM parquet_schema(" +
         literal + ") s, parquet_file_metadata(" + literal + ") m";
}

std::string SelectFooterTrees(std::span<const std::string> paths) {
  return "SELECT " + std::string(kFooterTreeColumns) + ", s.file_name FROM parquet_schema(" +
         PathList(paths) + ") s";
}

std::string SelectFooterRowCounts(std::span<const std::string> paths) {
  return "SELECT file_name, num_rows FROM parquet_file_metadata(" + PathList(paths) + ")";
}

std::string DescribeParquet(std::string_view path) {
  return "DESCRIBE SELECT * FROM read_parquet(" + PathLiteral(path) +
         ", hive_partitioning = false)";
}

namespace {

// "(\n<query>\n)", trailing semicolons and spaces cut (see statements.h).
std::string Subquery(std::string_view query) {
  while (!query.empty() &&
         (query.back() == ';' || std::isspace(static_cast<unsigned char>(query.back())))) {
    query.remove_suffix(1);
  }
  return "(\n" + std::string(query) + "\n)";
}

std::string LimitClause(std::optional<int64_t> limit) {
  return limit ? " LIMIT " + std::to_string(*limit) : "";
}

}  // namespace

std::string QueryColumns(std::string_view query) {
  return "SELECT column_name, column_type FROM (DESCRIBE (SELECT * FROM " + Subquery(query) + "))";
}

std::string QueryRowsAsJson(std::string_view query, std::optional<int64_t> limit) {
  return "SELECT to_json(COLUMNS(*)) FROM " + Subquery(query) + LimitClause(limit);
}

std::string CopyQueryTo(std::string_view query, std::string_view path, CopyFormat format,
                        std::optional<int64_t> limit) {
  return "COPY (SELECT * FROM " + Subquery(query) + LimitClause(limit) + ") TO " + Literal(path) +
         (format == CopyFormat::kCsv ? " (FORMAT csv, HEADER true)" : " (FORMAT parquet)");
}

}  // namespace landfall::warehouse::sql
