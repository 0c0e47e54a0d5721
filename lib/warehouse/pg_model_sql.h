// The SQL text of model writes on the PostgreSQL warehouse (pg_models.h):
// pure functions, as model_sql.h is for DuckDB. The bookkeeping tables are
// model_sql.h's (same names and columns in schema `_landfall`); where
// model_sql.h's text is valid PostgreSQL it is used as is, and only what
// differs is here: subqueries need an alias (PostgreSQL 15), there is no
// BY NAME, QUALIFY, DOUBLE or hash(), the ledger is shared by every staging
// schema, and temporary objects live in pg_temp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "lib/warehouse/model_warehouse.h"

namespace landfall::warehouse::pgsql {

// (table_name, column_name, format_type, nullable 0/1, is_view 0/1) of the
// tables and views in `schema` (only `name` when not ""), in column order.
std::string TargetColumnsQuery(std::string_view schema, std::string_view name);
// (name) of the tables (not views) in `schema`.
std::string TargetTablesQuery(std::string_view schema);
// (table_name, count(*)) of each of `names` in `schema`; "" when there are none.
std::string TargetRowCountsQuery(std::string_view schema, const std::vector<std::string>& names);
// 'r' (a table), 'v' (a view) or 'm' of `schema`.`name`; no row when none.
std::string TargetKindQuery(std::string_view schema, std::string_view name);
// Drops `target` when it is a table (`view` false) or a view, with the views
// that read it (CASCADE: view models downstream run again after it, since its
// version changed).
std::string DropTarget(std::string_view target, bool view);

// The rows of `select` and no rows: its columns, for PQfname/PQftype.
std::string NoRows(std::string_view select);
// format_type of each (type oid, typmod) pair, in order.
std::string FormatTypes(const std::vector<std::pair<unsigned, int>>& types);

// CREATE TABLE target AS select; CREATE [MATERIALIZED] VIEW target AS select.
std::string CreateTableAs(std::string_view target, std::string_view select);
std::string CreateViewAs(std::string_view target, std::string_view select,
                         bool materialized = false);
// (schema, name, relkind, pg_get_viewdef) of every view (and materialized
// view) that reads `schema`.`name`, directly or through other views, each
// after the views it reads.
std::string DependentViewsQuery(std::string_view schema, std::string_view name);
// ALTER TABLE `schema`.`from` RENAME TO `to`.
std::string RenameTable(std::string_view schema, std::string_view from, std::string_view to);
// INSERT INTO target (columns) SELECT columns FROM (select) [WHERE where].
std::string InsertColumns(std::string_view target, std::string_view select,
                          const std::vector<std::string>& columns, std::string_view where = "");
// `select`'s `columns`, one row per key: the row with the largest `order_by` (NULLs last).
std::string NewestPerKey(std::string_view select, const std::vector<std::string>& columns,
                         const std::vector<std::string>& keys, std::string_view order_by);
// One key (as text) that two rows of `select` share; no row when none does.
std::string DuplicateKeyProbe(std::string_view select, const std::vector<std::string>& keys);
// The type of each of `target`'s columns `keys`, as format_type spells it:
// one row per key, in order; NULL for a key the target has no column for.
std::string KeyTypes(std::string_view target, const std::vector<std::string>& keys);
// The rows of `select` whose key the target already holds. `key_types`: the
// target's types of `keys` (KeyTypes; "" for unknown), to which the rows'
// keys are cast so that PostgreSQL can hash-join on them.
std::string CountMatched(std::string_view target, std::string_view select,
                         const std::vector<std::string>& keys,
                         const std::vector<std::string>& key_types);
// MERGE (PostgreSQL 15) on the key, NULL matching NULL, joined by hash
// (`key_types` as for CountMatched); a match updates `update_columns`
// (none: DO NOTHING); others insert `columns`.
std::string MergeInto(std::string_view target, std::string_view select,
                      const std::vector<std::string>& keys,
                      const std::vector<std::string>& key_types,
                      const std::vector<std::string>& update_columns,
                      const std::vector<std::string>& columns);

// The watermark, kept until the transaction ends in pg_temp: MAX(column) of
// the target minus `lookback` (an interval's text, "2 hours") when given.
std::string SaveWatermark(std::string_view target, std::string_view column,
                          std::string_view lookback);
std::string PastWatermark(std::string_view column);
std::string WindowPastWatermark(std::string_view select, std::string_view column);
std::string DeletePastWatermark(std::string_view target, std::string_view column);
std::string MaxAsText(std::string_view target, std::string_view column);

// The batches of staging table `table` (in `staging_schema`) that `model` has
// not consumed as `source`, kept until the transaction ends in pg_temp, and a
// temp view named `table` of the staging table restricted to them.
std::string SaveNewBatches(std::string_view staging_schema, std::string_view table,
                           std::string_view model, std::string_view source);
std::string CountNewBatches();
std::string RestrictedView(std::string_view staging_schema, std::string_view table);
std::string DropRestrictedView(std::string_view table);
// `select` with every reference to `staging_schema`.`table` (as PostgreSQL
// resolves names: unquoted folded to lower case, quoted exact) pointing at
// pg_temp.`table`. Skips string literals, quoted identifiers and comments.
// The count of references changed in `*changed`.
std::string PointAtTemp(std::string_view select, std::string_view staging_schema,
                        std::string_view table, int* changed);

// Makes what `model` consumed of staging table `table` (as `source`) exactly
// the ledger's batch ids: two statements.
std::vector<std::string> ConsumeStagingTable(std::string_view staging_schema,
                                             std::string_view model, std::string_view source,
                                             std::string_view table);

// One pass over `target`: count(*), then per column and per set the sum of
// hashtextextended(ROW(...)::text, 0) over every row as numeric (no
// overflow), as text (an empty set: count(*) again).
std::string TargetHashesQuery(std::string_view target, const std::vector<std::string>& columns,
                              const std::vector<std::vector<std::string>>& sets);
// As sql::SaveHashes.
std::string SaveHashes(
    std::string_view model,
    const std::vector<std::tuple<std::string, std::string, std::string, int64_t, std::string>>&
        rows);

// ---- Time-interval models: as model_sql.h's, in PostgreSQL's SQL ----
//
// Keys are to_char(date_trunc(unit, column::timestamp), ToCharFormat(format)),
// the same text as DuckDB's strftime gives; the checksum table's
// duckdb_version column holds PostgreSQL's version() here.

// strftime's %Y, %m, %d, %H as to_char's pattern; other letters quoted.
std::string ToCharFormat(std::string_view strftime_format);
std::string InWindow(std::string_view column, std::string_view start, std::string_view end);
std::string PartitionKey(std::string_view column, std::string_view unit, std::string_view format);
std::string SavePartitionRows(std::string_view select);
std::string PartitionRows();  // SELECT * of the saved rows
std::string RowsOutsideWindow(std::string_view column, std::string_view start,
                              std::string_view end);
std::string DeleteWindow(std::string_view target, std::string_view column, std::string_view start,
                         std::string_view end);
std::string SavedRowsChecksums(std::string_view column, std::string_view unit,
                               std::string_view format, const std::vector<std::string>& columns);
std::vector<std::string> RecordSourceChecksums(std::string_view model, std::string_view source_key,
                                               std::string_view source_table,
                                               std::string_view column,
                                               const std::vector<std::string>& columns,
                                               std::string_view unit, std::string_view format,
                                               std::string_view start, std::string_view end);
std::string ChangedSourceKeys(std::string_view model, std::string_view source_key,
                              std::string_view source_table, std::string_view column,
                              const std::vector<std::string>& columns, std::string_view unit,
                              std::string_view format, std::string_view start,
                              std::string_view end);
std::string DistinctKeys(std::string_view select, std::string_view column, std::string_view unit,
                         std::string_view format);
// A temp view named `table` of `staging_schema`.`table` restricted to `batch_ids`.
std::string RestrictedToBatches(std::string_view staging_schema, std::string_view table,
                                const std::vector<std::string>& batch_ids);
// CREATE TABLE target AS the rows of `select` LIMIT 0: the columns only.
std::string CreateTableEmpty(std::string_view target, std::string_view select);

// As sql::CheckQuery, in PostgreSQL's SQL (one row, one double precision).
std::string CheckQuery(std::string_view target, const TargetCheck& check);

}  // namespace landfall::warehouse::pgsql
