// The statements landfall runs against DuckDB (the warehouse and the footer
// reader), as text: pure functions from names, schemas and batches to SQL, so
// every statement is checked without a database
// (tests/warehouse/statements_test.cpp). Built on sql.h's quoting: identifiers
// and literals are always quoted; types are spliced as given, so a caller
// passes only types sql::IsSafeTypeName accepts. Running them, in which
// transaction and with which retries, is duckdb_warehouse.cpp's and
// duckdb_footer_reader.cpp's business.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lib/common/result.h"
#include "lib/schema/schema.h"
#include "lib/warehouse/warehouse.h"

namespace landfall::warehouse::sql {

// Metadata columns every staging table carries after its target columns; names
// starting with kMetaPrefix (case-insensitively) are reserved.
inline constexpr std::string_view kMetaPrefix = "_landfall_";
inline constexpr std::string_view kBatchColumn = "_landfall_batch";
inline constexpr std::string_view kLoadedAtColumn = "_landfall_loaded_at";
// Earlier versions rebuilt into "<table>__landfall_shadow" and renamed it over
// the table; such a name is still reserved, skipped by Inspect and dropped by Drop.
inline constexpr std::string_view kShadowSuffix = "__landfall_shadow";
// The ledger: "_landfall"."ledger".
inline constexpr std::string_view kLedgerSchema = "_landfall";
inline constexpr std::string_view kLedgerTable = "ledger";
// read_parquet names each row's file in this (reserved) column in InsertBatches.
inline constexpr std::string_view kFileColumn = "_landfall_file";
// A placeholder column, so that ProbeBatch's SELECT list is never empty.
inline constexpr std::string_view kProbeColumn = "_landfall_probe";

// Session settings every connection runs with, and so every probe database:
// casts between TIMESTAMP and TIMESTAMPTZ must not depend on the host's time
// zone, and JSON columns and to_json() need the json extension loaded.
inline constexpr std::string_view kSetTimeZoneUtc = "SET GLOBAL TimeZone = 'UTC'";
inline constexpr std::string_view kLoadJson = "LOAD json";

// A staging table's column as DESCRIBE reports it, its type normalized.
struct TableColumn {
  std::string name;
  std::string type;
};

// "_landfall"."ledger"
std::string LedgerTable();

// --- The ledger and the staging schema ---

// CREATE SCHEMA for `staging_schema` and the ledger's schema, and CREATE TABLE
// for the ledger (one row per batch of a table, its primary key). All IF NOT
// EXISTS: idempotent.
std::vector<std::string> InitStatements(std::string_view staging_schema);
// One row, one BIGINT: how many primary keys the ledger has (0 or 1).
std::string CountLedgerKeys();
// Deletes all but the latest row (by loaded_at, NULL oldest) of each
// (table_name, batch_id), so the ledger can take its key.
std::string DeleteDuplicateLedgerRows();
// Gives the ledger its primary key (table_name, batch_id).
std::string AddLedgerKey();
// Every ledger row: table_name, batch_id, path, rows, loaded_at in epoch
// microseconds; by table, then load time, then batch id.
std::string SelectLedger();
// The batch ids in the ledger for `table`, one per row.
std::string SelectLedgerBatchIds(std::string_view table);
// Appended to either warehouse's ledger read of a table: " AND batch_id IN
// (...)" of `batches`, so that a load reads what it must skip by key whatever
// the table's history; empty (the table's whole ledger) for no batch or past
// 1,000, where one scan is cheaper.
std::string LedgerLookupFilter(std::span<const BatchFile> batches);

// How a ledger row already there for a batch is treated: an error (kInsert:
// the batch would be staged twice) or written over (kReplace: a rebuild).
enum class LedgerWrite { kInsert, kReplace };
// One INSERT of `rows` (non-empty) into the ledger for `table`.
std::string InsertLedgerRows(std::string_view table, std::span<const LedgerEntry> rows,
                             LedgerWrite write);
// Deletes `table`'s ledger rows except those of the batches in `keep`.
std::string DeleteLedgerRows(std::string_view table, std::span<const std::string> keep);

// --- Looking at staging tables ---

// Every column of every base table (not view) in `staging_schema`, matched
// case-insensitively as DuckDB resolves schema names: table_name, column_name,
// data_type, is_nullable as an INTEGER; by table, then column position.
std::string SelectStagingColumns(std::string_view staging_schema);
// One table's columns (column_name, column_type), looked up as DuckDB resolves
// the name. `qualified`: the table as sql::Qualified spells it.
std::string DescribeTable(std::string_view qualified);
// One row, one BIGINT: the table's row count.
std::string CountRows(std::string_view qualified);
// One row, one VARCHAR: the type DuckDB gives a list holding a NULL of each of
// `a` and `b` (their common supertype); an error when there is none.
std::string CommonSupertypeQuery(std::string_view a, std::string_view b);

// --- Changing staging tables ---

// A table with `target`'s columns, in order, then the metadata columns;
// replaces any table of that name.
std::string CreateOrReplaceTable(std::string_view qualified, const schema::Schema& target);
// Drops the staging table `table`, its old shadow table, and its ledger rows.
std::vector<std::string> DropTable(std::string_view staging_schema, std::string_view table);

// Renames columns in place, all at once: 2 * renames.size() statements, first
// each renames[i].from to a temporary name, then each temporary name to
// renames[i].to; statement k carries out renames[k % renames.size()]. One
// rename at a time would meet a name still taken when two columns swap names
// (a->b, b->a) or a column takes the name another gives up (b->b_old, a->b).
// Temporary names carry the reserved kMetaPrefix, so no staging column holds one.
std::vector<std::string> RenameColumns(std::string_view qualified,
                                       std::span<const ColumnRename> renames);

// One ALTER TABLE of a column of `target`.
struct ColumnChange {
  std::string column;  // the target column's name
  std::string statement;
};
// Brings a table with columns `existing` up to `target`, in target order: ADD
// COLUMN for a column it lacks (by name, case-insensitively) and SET DATA TYPE
// for one whose normalized type differs. Columns `target` lacks are kept.
// Empty when nothing differs.
std::vector<ColumnChange> EvolveColumns(std::string_view qualified,
                                        std::span<const TableColumn> existing,
                                        const schema::Schema& target);

// --- Loading batches ---

// One target column a batch fills: the expression reading it from the
// batch's file (the source column cast to the target type, nested values as
// JSON text) and the target column.
struct ProjectedColumn {
  std::string expression;
  const schema::Column* column;  // in the target passed to ProjectedColumns
};
// The target columns a batch fills, in the batch's column order: a source
// column maps by field_id when both carry one, else by name; target columns
// the batch lacks are left out. Errors as Projection.
Result<std::vector<ProjectedColumn>> ProjectedColumns(const schema::Schema& target,
                                                      const BatchFile& batch,
                                                      std::string_view qualifier);
// The SELECT list of one batch: every column of the batch's footer that the
// target has, cast to the target type (nested values as JSON text), each
// source column prefixed with `qualifier` and named as its target column,
// each followed by ", ". A source column maps by field_id when both carry
// one, else by name; target columns the batch lacks are left out, so an
// INSERT ... BY NAME fills them with NULL. Error "warehouse_error" when the
// batch has no footer schema or a NUL byte in a column name, its id or path.
Result<std::string> Projection(const schema::Schema& target, const BatchFile& batch,
                               std::string_view qualifier);
// INSERT ... BY NAME of one batch's file into `qualified`, with its batch id
// and `loaded_at_us` in the metadata columns. Errors as Projection.
Result<std::string> InsertBatch(std::string_view qualified, const schema::Schema& target,
                                const BatchFile& batch, int64_t loaded_at_us);
// INSERT ... BY NAME of several batches (non-empty) with the same footer
// columns, hence one projection (the first batch's), in one statement; each
// row's batch id comes from its file. The paths go to read_parquet as they
// are, so none may hold a glob character (*, ?, [). Errors as Projection.
Result<std::string> InsertBatches(std::string_view qualified, const schema::Schema& target,
                                  std::span<const BatchFile* const> batches, int64_t loaded_at_us);
// One row: a hash of every row of `batch` cast to `target`, so that running it
// decodes and casts every value as InsertBatch does, storing nothing. Errors
// as Projection.
Result<std::string> ProbeBatch(const schema::Schema& target, const BatchFile& batch);

// --- Rebuilds ---

// Where a rebuild sets aside the rows it carries over: the connection's
// temporary catalog, so no staging table name can collide with it.
std::string CarryTable();
// Copies the rows of the batches `batch_ids` (non-empty) from `qualified`
// into CarryTable(), replacing it.
std::string SetAsideRows(std::string_view qualified, std::span<const std::string> batch_ids);
// The SELECT list that copies carried rows from the old table (`old`: its
// columns, metadata included) into a table with `target` columns: each
// target column the old table has, by name (case-insensitively), cast to the
// target type (to JSON text when it becomes JSON), then the metadata columns.
std::string CarryOverProjection(std::span<const TableColumn> old, const schema::Schema& target);
// Inserts CarryTable()'s rows into `qualified` through `projection`.
std::string InsertCarriedRows(std::string_view qualified, std::string_view projection);
std::string DropCarryTable();

// --- Reading footers (the DuckDB footer reader) ---

// The parquet_schema() columns a footer read needs, first in every row of
// SelectFooterTree and SelectFooterTrees, in this order: name,
// repetition_type, field_id, num_children, type, type_length, converted_type,
// scale, precision, logical_type, duckdb_type.
inline constexpr int64_t kFooterTreeColumnCount = 11;
// One file's schema tree, a row per node in pre-order: the tree columns, then
// the file's row count.
std::string SelectFooterTree(std::string_view path);
// The schema trees of `paths` (non-empty), file by file, each in pre-order:
// the tree columns, then the file's name as given.
std::string SelectFooterTrees(std::span<const std::string> paths);
// The row count of each of `paths` (non-empty): file_name, num_rows.
std::string SelectFooterRowCounts(std::span<const std::string> paths);
// The columns read_parquet gives the file (column_name, column_type, ...),
// hence what an INSERT from it sees: hive_partitioning = false, as InsertBatch.
std::string DescribeParquet(std::string_view path);

// --- A user's read-only query (duckdb_query.cpp) ---
//
// `query` is a statement CheckReadOnlyQuery accepted (one SELECT, DESCRIBE,
// SHOW or SUMMARIZE, which DuckDB takes as a subquery): it is wrapped in
// parentheses on lines of their own, after trailing semicolons and spaces
// are cut, so a trailing -- comment cannot swallow the closing parenthesis.
// Text that does not parse by itself cannot parse once wrapped either.

// Opens the transaction a query runs in: it can write nothing.
inline constexpr std::string_view kBeginReadOnly = "BEGIN TRANSACTION READ ONLY";
// The query's columns: column_name, column_type (DuckDB's spelling).
std::string QueryColumns(std::string_view query);
// The query's rows with every column as JSON text (to_json), names kept; at
// most `limit` rows when set.
std::string QueryRowsAsJson(std::string_view query, std::optional<int64_t> limit);
// Writes the query's rows (at most `limit`) to `path`: CSV with a header
// line, or Parquet.
enum class CopyFormat { kCsv, kParquet };
std::string CopyQueryTo(std::string_view query, std::string_view path, CopyFormat format,
                        std::optional<int64_t> limit);

}  // namespace landfall::warehouse::sql
