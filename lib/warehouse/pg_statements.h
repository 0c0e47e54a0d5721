// The statements the PostgreSQL warehouse (pg_warehouse.h) runs, as text, and
// the type map between landfall's staging types and PostgreSQL's: pure
// functions, checked without a database (tests/warehouse/pg_statements_test.cpp).
//
// Staging types stay landfall's (DuckDB's spelling, what Parquet footers map
// to and what the planner compares). Each staging column is created with the
// PostgreSQL type PgType maps its staging type to, and carries the staging
// type in its comment ("landfall: UINTEGER"), so Inspect reports the type the
// planner chose even where two staging types share one PostgreSQL type.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lib/schema/schema.h"
#include "lib/warehouse/statements.h"
#include "lib/warehouse/warehouse.h"

namespace landfall::warehouse::pg {

// PostgreSQL truncates longer identifiers: table and column names longer than
// this are refused rather than silently merged.
inline constexpr size_t kMaxIdentifierBytes = 63;
// Comment prefix of a staging column: the staging type follows.
inline constexpr std::string_view kTypeCommentPrefix = "landfall: ";

// The PostgreSQL type of a staging type (README, "The PostgreSQL warehouse":
// the type map). Unsigned types take the next wider signed type (numeric for
// UBIGINT), HUGEINT numeric, JSON jsonb, TIMESTAMP_NS timestamp (microseconds:
// the nanoseconds are cut), anything without a counterpart text.
std::string PgType(std::string_view staging_type);
// True when values lose precision on the way to PgType(staging_type).
bool LosesPrecision(std::string_view staging_type);
// The staging type of a column: its comment's, or for a column without one (added by hand)
// the closest staging type to its PostgreSQL type (format_type's spelling).
std::string StagingTypeOf(std::string_view pg_type, std::string_view comment);

// The DuckDB expression that turns `expression` (a value of `staging_type`)
// into the text PostgreSQL's input function for PgType(staging_type) reads;
// NULL stays NULL.
std::string TextForPostgres(std::string_view staging_type, std::string_view expression);
// Appends `value` to `out` as one field of COPY's text format: backslash,
// newline, carriage return and tab escaped.
void AppendCopyField(std::string& out, std::string_view value);
// COPY's text NULL.
inline constexpr std::string_view kCopyNull = "\\N";
// `micros` since the epoch as a PostgreSQL timestamp literal's text, UTC.
std::string TimestampText(int64_t micros);

// --- The ledger and the staging schema ---

// Schemas and the ledger, IF NOT EXISTS.
std::vector<std::string> InitStatements(std::string_view staging_schema);
// Every column of every table in `staging_schema`: table, column, format_type,
// nullable ('t'/'f'), comment; by table, then position.
std::string SelectStagingColumns(std::string_view staging_schema);
// One table's columns, as SelectStagingColumns without the table.
std::string SelectTableColumns(std::string_view staging_schema, std::string_view table);
// The ledger is one table for every staging schema of a database (each
// environment's staging schema is its own), keyed by schema, table and batch.
// Every ledger row of `staging_schema`: table_name, batch_id, path, rows,
// loaded_at in epoch microseconds; in no order (the rows go into maps, as
// sql::SelectLedger's do).
std::string SelectLedger(std::string_view staging_schema);
std::string SelectLedgerBatchIds(std::string_view staging_schema, std::string_view table);
std::string InsertLedgerRows(std::string_view staging_schema, std::string_view table,
                             std::span<const LedgerEntry> rows, sql::LedgerWrite write);
std::string DeleteLedgerRows(std::string_view staging_schema, std::string_view table,
                             std::span<const std::string> keep);
// Waits for and holds, until the transaction ends, the lock of `key` (a
// table's or the init's): two loads of one table, by any process, one after
// the other.
std::string LockTransaction(std::string_view key);

// --- Staging tables ---

// CREATE TABLE with `target`'s columns and the metadata columns, then a
// COMMENT per column naming its staging type.
std::vector<std::string> CreateTable(std::string_view qualified, const schema::Schema& target);
// Brings a table with `existing` columns (staging types) to `target`: ADD
// COLUMN or ALTER COLUMN ... TYPE ... USING, each with its COMMENT.
std::vector<std::string> EvolveColumns(std::string_view qualified,
                                       std::span<const sql::TableColumn> existing,
                                       const schema::Schema& target);
// COPY of `columns` (then the metadata columns) from the client, in text or
// binary format (pg_binary_copy.h).
enum class CopyFormat { kText, kBinary };
std::string CopyFrom(std::string_view qualified, std::span<const std::string> columns,
                     CopyFormat format);
// Copies the rows of batches `batch_ids` (non-empty) from `from` (columns
// `old`) into `into` (columns `target`), by name, cast to the target's types.
std::string CarryOverRows(std::string_view from, std::span<const sql::TableColumn> old,
                          std::string_view into, const schema::Schema& target,
                          std::span<const std::string> batch_ids);
// Swaps a rebuilt table in: drops `qualified` if present, renames `shadow`
// (in the same schema) to `table`.
std::vector<std::string> SwapIn(std::string_view staging_schema, std::string_view table,
                                std::string_view shadow);
std::vector<std::string> DropTable(std::string_view staging_schema, std::string_view table);
// The name a rebuild of `table` builds under: reserved (kMetaPrefix) and
// short enough for any table name PostgreSQL takes.
std::string ShadowName(std::string_view table);

}  // namespace landfall::warehouse::pg
