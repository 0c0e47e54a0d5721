// The SQL text of model writes (model_warehouse.h), built from pure inputs so
// that it is unit-tested without DuckDB. `select` is always a model's SELECT
// (already rewritten where a source is restricted), wrapped as a subquery.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "lib/warehouse/model_warehouse.h"

namespace landfall::warehouse::sql {

// The bookkeeping of models in schema `_landfall`: each model's version and,
// per source, the tokens it consumed (batch ids, or an upstream's version).
inline constexpr std::string_view kModelsTable = "models";
inline constexpr std::string_view kModelLedgerTable = "model_ledger";
// The schemas `_landfall` and `schema` (of the targets) and the bookkeeping tables.
std::vector<std::string> ModelSetupDdl(std::string_view schema);
// (model, version) of every model; (model, source, token) of what each consumed.
std::string ModelVersionsQuery();
std::string ModelLedgerQuery();

// (table_name, column_name, data_type, is_nullable, is_view) of the targets in
// `schema` (only `name` when not ""), in column order.
std::string TargetColumnsQuery(std::string_view schema, std::string_view name);
// (name, type, is_nullable) of one table or view, binding only it; fails when
// it does not exist.
std::string TableInfoQuery(std::string_view qualified);
// The table_type ("BASE TABLE", "VIEW") of one target; no row when none.
std::string TargetKindQuery(std::string_view schema, std::string_view name);
std::string DropTarget(std::string_view target, bool view);
// (schema_name, table_name) of the target tables (not views) in `schema`.
std::string TargetTablesQuery(std::string_view schema);
// (table_name, count(*)) of each of `tables` ((schema, name) pairs, as
// TargetTablesQuery lists them), in one statement; "" when there are none.
std::string TargetRowCountsQuery(const std::vector<std::pair<std::string, std::string>>& tables);
// The output columns of a SELECT, without running it.
std::string Describe(std::string_view select);
// The SQL text of a parse tree as json_serialize_sql gives it.
std::string DeserializeSql(std::string_view json);

// CREATE OR REPLACE TABLE / VIEW target AS select.
std::string ReplaceTableAs(std::string_view target, std::string_view select);
std::string ReplaceViewAs(std::string_view target, std::string_view select);

// INSERT INTO target BY NAME SELECT * FROM (select) [WHERE where]: columns
// match by name, the target's columns the query lacks are NULL.
std::string InsertByName(std::string_view target, std::string_view select, std::string_view where = "");

// `select` with one row per key: the row with the largest `order_by` (NULLs last).
std::string NewestPerKey(std::string_view select, const std::vector<std::string>& keys,
                         std::string_view order_by);
// One key (as VARCHAR columns) that two rows of `select` share; no row when none does.
std::string DuplicateKeyProbe(std::string_view select, const std::vector<std::string>& keys);
// The number of rows of `select` whose key the target already holds.
std::string CountMatched(std::string_view target, std::string_view select,
                         const std::vector<std::string>& keys);
// MERGE INTO target USING (select) on the key (NULL matches NULL); a match
// updates `update_columns` (none: the row is left alone), others are inserted by name.
std::string MergeInto(std::string_view target, std::string_view select,
                      const std::vector<std::string>& keys,
                      const std::vector<std::string>& update_columns);

// The watermark of a watermark model, kept for one transaction in a temp
// table: MAX(column) of the target, minus `lookback` when given.
inline constexpr std::string_view kWatermarkTable = "_landfall_watermark";
std::string SaveWatermark(std::string_view target, std::string_view column, std::string_view lookback);
// `column` > the saved watermark (true when the target had no rows).
std::string PastWatermark(std::string_view column);
// The rows of `select` past the saved watermark.
std::string WindowPastWatermark(std::string_view select, std::string_view column);
// DELETE FROM target WHERE PastWatermark(column).
std::string DeletePastWatermark(std::string_view target, std::string_view column);
// MAX(column) of the target, as VARCHAR.
std::string MaxAsText(std::string_view target, std::string_view column);

// The batches of staging table `table` the model has not consumed as source
// `source`, kept for one transaction in a temp table, and a temp view of that
// table restricted to them, named `table` in schema temp.main.
inline constexpr std::string_view kNewBatchesTable = "_landfall_new_batches";
std::string SaveNewBatches(std::string_view model, std::string_view source, std::string_view table);
std::string CountNewBatches();
std::string RestrictedView(std::string_view staging_table_qualified, std::string_view table);
std::string DropRestrictedView(std::string_view table);

// Makes what `model` consumed of staging table `table` (as source `source`)
// exactly its ledger's batch ids: two statements.
std::vector<std::string> ConsumeStagingTable(std::string_view model, std::string_view source,
                                             std::string_view table);
// Makes what `model` consumed of upstream model `upstream` its current version.
std::vector<std::string> ConsumeModel(std::string_view model, std::string_view source,
                                      std::string_view upstream);
// Forgets everything `model` consumed.
std::string ForgetConsumed(std::string_view model);
// version + 1; run InsertFirstVersion when it changed no row.
std::string BumpVersion(std::string_view model);
std::string InsertFirstVersion(std::string_view model);
// Forgets the model's version.
std::string ForgetVersion(std::string_view model);

// ---- Lineage decisions (ModelWarehouse::HashesAt, StagingInput) ----

inline constexpr std::string_view kModelInputsTable = "model_inputs";
inline constexpr std::string_view kModelHashesTable = "model_hashes";
// (model, source, columns_json, loaded_at_us) of every model's staging inputs.
std::string ModelInputsQuery();
// Makes `model`'s inputs exactly `inputs` (source -> columns, load time).
std::vector<std::string> SaveInputs(std::string_view model,
                                    const std::vector<std::tuple<std::string, std::string, int64_t>>& inputs);
std::string ForgetInputs(std::string_view model);
// One pass over `target`: count(*), then sum(hash(column)) per column of
// `columns`, then sum(hash(c1, c2, ...)) per set of `sets` (an empty set:
// count(*) again), each coalesced to 0 and as VARCHAR.
std::string TargetHashesQuery(std::string_view target, const std::vector<std::string>& columns,
                              const std::vector<std::vector<std::string>>& sets);
// One row a hash: (kind "column" or "set", key, type, rows, hash), kept
// under `model`'s current version.
std::string SaveHashes(std::string_view model,
                       const std::vector<std::tuple<std::string, std::string, std::string, int64_t, std::string>>& rows);
// Forgets `model`'s hashes of versions older than its current one that no
// model consumed as source `source` ("schema.model").
std::string PruneHashes(std::string_view model, std::string_view source);
// (kind, key, type, rows, hash) kept for `model` at `version`.
std::string HashesQuery(std::string_view model, int64_t version);
std::string ForgetHashes(std::string_view model);
// `model`'s current version.
std::string VersionQuery(std::string_view model);

// ---- Time-interval models (ModelWarehouse::WritePartitions) ----
//
// `start` and `end` are TIMESTAMP literal texts ('2026-04-07 00:00:00'); a
// row is in the window when CAST(column AS TIMESTAMP) >= start and < end.
// Keys are strftime(date_trunc(unit, column), format).
inline constexpr std::string_view kPartitionSourcesTable = "model_partition_sources";
inline constexpr std::string_view kPartitionRowsTable = "_landfall_partition";
// The bookkeeping table of partition checksums per upstream (in ModelSetupDdl).
std::string PartitionSourcesDdl();
// `column` in [start, end), as a condition.
std::string InWindow(std::string_view column, std::string_view start, std::string_view end);
// The partition key of `column`'s value.
std::string PartitionKey(std::string_view column, std::string_view unit, std::string_view format);
// The rows `select` gives, kept for one transaction in a temp table.
std::string SavePartitionRows(std::string_view select);
// (rows outside [start, end) or NULL, one such value as VARCHAR) of the saved rows.
std::string RowsOutsideWindow(std::string_view column, std::string_view start, std::string_view end);
// DELETE FROM target WHERE the column is in the window.
std::string DeleteWindow(std::string_view target, std::string_view column, std::string_view start,
                         std::string_view end);
// (key, rows, order-independent hash of the rows) of the saved rows, by key.
std::string SavedRowsChecksums(std::string_view column, std::string_view unit, std::string_view format,
                               const std::vector<std::string>& columns);
// The checksums of `source` kept for `model`'s keys in the window: forgotten,
// then recomputed from `source`'s rows (hashing `columns`, placed by `column`).
std::vector<std::string> RecordSourceChecksums(std::string_view model, std::string_view source_key,
                                               std::string_view source_table, std::string_view column,
                                               const std::vector<std::string>& columns, std::string_view unit,
                                               std::string_view format, std::string_view start,
                                               std::string_view end);
// The keys in [start, end) whose checksum of `source` now differs from the
// one kept for `model` (or was kept by another DuckDB version).
std::string ChangedSourceKeys(std::string_view model, std::string_view source_key, std::string_view source_table,
                              std::string_view column, const std::vector<std::string>& columns,
                              std::string_view unit, std::string_view format, std::string_view start,
                              std::string_view end);
// The distinct keys of `select`'s rows.
std::string DistinctKeys(std::string_view select, std::string_view column, std::string_view unit,
                         std::string_view format);
// A temp view named `table` of staging table `qualified` restricted to `batch_ids`.
std::string RestrictedToBatches(std::string_view qualified, std::string_view table,
                                const std::vector<std::string>& batch_ids);
// CREATE OR REPLACE TABLE target AS the rows of `select` LIMIT 0: the columns only.
std::string ReplaceTableEmpty(std::string_view target, std::string_view select);
// Forgets every checksum kept for `model`.
std::string ForgetPartitionSources(std::string_view model);
// Makes what `model` consumed of `source` exactly `tokens`: one or two statements.
std::vector<std::string> ConsumeTokens(std::string_view model, std::string_view source,
                                       const std::vector<std::string>& tokens);
// The end of a time-interval model's run (ModelWarehouse::FinishPartitions):
// what it consumed of each source made exactly `finish.consumed`'s tokens
// (staging tables) or the upstream's version (models); none when
// `finish.consumed` is null.
std::vector<std::string> ConsumeSources(const PartitionsFinish& finish);
// The query observing `check` on `target` (qualified): one row, one DOUBLE
// (ModelWarehouse::ObserveCheck says which value).
//   row_count:       SELECT count(*)::DOUBLE FROM target
//   not_null:        rows with a NULL in any of the columns
//   unique:          rows in a group of two or more by the columns
//   accepted_values: rows whose column is not NULL and, as VARCHAR, none of the values
//   freshness:       epoch(now() - max(column)::TIMESTAMPTZ)
//   expression:      rows where NOT (expression)
std::string CheckQuery(std::string_view target, const TargetCheck& check);

}  // namespace landfall::warehouse::sql
