// The warehouse side of SQL models (lib/model): building a model's target from
// its SELECT, and remembering, in the warehouse and in the same transaction as
// the rows, what each target was built from.
//
// Besides its target, each model has in schema `_landfall`:
//   - a version, bumped by every commit that writes the target, and
//   - per source it reads, what the target has consumed: the batch ids of a
//     staging table (its ledger rows), or the version of an upstream model.
// Comparing those with the staging ledger and the upstream versions tells what
// changed since the model last ran, whatever happened to the process or the
// state store; and for models applied batch by batch it is what makes each
// batch apply exactly once.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "lib/common/result.h"
#include "lib/schema/schema.h"

namespace landfall::warehouse {

// A table a model's SQL reads: a staging table or another model's target.
struct ModelSource {
  std::string schema;
  std::string name;
  bool is_model = false;
  // "schema.name", the key of ModelContents::consumed.
  std::string Key() const { return schema + "." + name; }
};

// What a model consumed of a staging table besides its batch ids: the
// table's columns and when its newest batch was loaded. Batch ids are content
// fingerprints, so a table loaded again from the same files (`state delete
// --table`, a type change) keeps them; these show it.
struct StagingInput {
  std::string columns_json;  // schema::ToJson of its columns
  int64_t loaded_at_us = 0;  // the newest loaded_at_us of its ledger
  bool operator==(const StagingInput&) const = default;
};

// Fingerprints of a model's target at one version, kept for the models
// downstream (README "Lineage decisions"): sum(hash(...)) over every row, as
// decimal text, per column and per set of columns a downstream model reads.
// Per-column sums alone would miss values that moved between rows.
struct TargetHashes {
  int64_t rows = 0;
  // By column name: its type and hash.
  std::map<std::string, std::pair<std::string, std::string>> columns;
  // By ColumnSetKey of the set: the hash of the rows' values of those columns.
  std::map<std::string, std::string> sets;
  // The model's SQL as written, for `landfall plan`: the fingerprint of each
  // output column's expression (by name, lower case) and, under "", of the
  // rest of the query (sql_parse.h SelectFingerprints); empty when unknown.
  std::map<std::string, std::string> expressions;
};

// The key of a set of columns in TargetHashes::sets: the names folded to
// lower case, sorted, joined by ','.
std::string ColumnSetKey(const std::vector<std::string>& columns);

// What the warehouse holds for one model.
struct ModelContents {
  bool exists = false;  // its target exists (a table or a view)
  bool is_view = false;
  schema::Schema columns;  // the target's columns, in order
  int64_t version = 0;     // 0: never written by landfall
  // Per source (ModelSource::Key), what the target was built from: batch ids
  // of a staging table, or the one version of an upstream model.
  std::map<std::string, std::set<std::string>> consumed;
  // Per staging source, its columns and load time when the target consumed it
  // (none for models written before they were kept, and time-interval models,
  // whose tokens carry the load time).
  std::map<std::string, StagingInput> inputs;
};

enum class ModelWriteKind {
  kReplaceTable,          // CREATE OR REPLACE TABLE target AS sql: every row anew
  kReplaceView,           // CREATE OR REPLACE VIEW target AS sql
  kAppendBatches,         // INSERT the rows the driver's new batches give
  kMergeBatches,          // MERGE the rows the driver's new batches give, on unique_key
  kAppendAfterWatermark,  // INSERT the rows past MAX(timestamp_column) of the target
  kPartitions,            // replace whole partitions (WritePartitions), one transaction each
};

// One write of one model, run in one warehouse transaction together with the
// model's version and consumed sources.
struct ModelWrite {
  std::string schema;  // the target's schema (models.schema)
  std::string name;    // the model, and its target's name
  std::string sql;     // the model's SELECT
  ModelWriteKind kind = ModelWriteKind::kReplaceTable;
  std::vector<ModelSource> sources;  // every table the SQL reads
  // kAppendBatches, kMergeBatches: the staging table whose batches not yet
  // consumed are applied: the SQL runs with that table restricted to them.
  // The other sources are read whole.
  std::string driver;
  // kMergeBatches (and kReplaceTable of a merge model, to check the key):
  // the key, the columns a match updates (empty: every non-key column), and,
  // to keep only the newest row per key instead of failing on two rows with
  // one key, the column that orders them ("" : fail).
  std::vector<std::string> unique_key;
  std::vector<std::string> update_columns;
  std::string dedupe_order_by;
  // kAppendAfterWatermark: rows with timestamp_column > MAX(timestamp_column)
  // of the target; with `lookback` (a DuckDB interval, "2 hours") the window
  // before it is read again: merged on unique_key when set, else deleted and
  // inserted again.
  std::string timestamp_column;
  std::string lookback;
  // Per staging source, what to remember of it with what it consumed.
  std::map<std::string, StagingInput> inputs;
  // When set, the target's TargetHashes after the write (these column sets,
  // and each column) are kept under its new version, in the same
  // transaction; versions no model consumed any more are forgotten.
  std::optional<std::vector<std::vector<std::string>>> hash_sets;
  // With hash_sets: TargetHashes::expressions of the SQL written.
  std::map<std::string, std::string> expressions;
};

struct ModelWriteStats {
  int64_t inserted = 0;
  int64_t updated = 0;
  int64_t deleted = 0;
  int batches = 0;        // driver batches applied (kAppendBatches, kMergeBatches)
  std::string watermark;  // kAppendAfterWatermark: MAX(timestamp_column) after the commit
  int64_t version = 0;    // the model's version after the commit
  int64_t hash_us = 0;    // the pass of its TargetHashes (ModelWrite::hash_sets), in the transaction
};

// ---- Time-interval models ----

// An upstream of a time-interval model, for its partition checksums.
struct PartitionSource {
  ModelSource source;
  std::string column;                // its column placing a row in a partition; "": none (no checksum)
  std::vector<std::string> columns;  // its columns, hashed
};

// Keys and windows of one model's partitions, as DuckDB computes them.
struct PartitionLayout {
  std::string time_column;  // the target's column placing a row in a partition
  std::string unit;         // date_trunc's unit: hour, day, month, year
  std::string format;       // strftime's format of keys: "%Y-%m-%d", ...
};

// Consecutive partitions of one model computed in one transaction: the rows
// in [start, end) of the target are replaced by what `sql` returns.
struct PartitionWrite {
  std::string schema;
  std::string name;
  std::string sql;    // the model's SQL with @start_date and @end_date replaced by the window
  PartitionLayout layout;
  std::string start;  // TIMESTAMP literals: '2026-04-07 00:00:00'
  std::string end;
  std::vector<std::string> keys;         // the partitions in [start, end)
  std::vector<std::string> columns;      // the target's columns (for the partitions' checksums)
  std::vector<PartitionSource> sources;  // checksums of each kept, in the same transaction
};

// The end of a time-interval model's run (ModelWarehouse::FinishPartitions).
struct PartitionsFinish {
  std::string schema;  // the target's
  std::string name;
  std::vector<ModelSource> sources;
  const std::map<std::string, std::vector<std::string>>* consumed = nullptr;
  bool wrote = false;
  std::optional<std::vector<std::vector<std::string>>> hash_sets;  // as ModelWrite's
};

struct PartitionStats {
  int64_t rows = 0;
  std::string checksum;  // "<rows>:<hash of the rows>"
};

struct PartitionWriteStats {
  int64_t inserted = 0;
  int64_t deleted = 0;
  std::map<std::string, PartitionStats> partitions;  // by key, every key of the write
};

// One data check on a model's target (lib/model/checks.h says what each
// kind means; the model runner maps a model::Check to this).
struct TargetCheck {
  enum class Kind { kRowCount, kNotNull, kUnique, kAcceptedValues, kFreshness, kExpression };
  Kind kind = Kind::kRowCount;
  std::vector<std::string> columns;  // kNotNull, kUnique; the one column of kAcceptedValues, kFreshness
  std::vector<std::string> values;   // kAcceptedValues, compared as text
  std::string expression;            // kExpression: a SQL condition over the target's columns
};

// Error codes of model writes besides "warehouse_error".
inline constexpr const char* kModelSqlFailed = "model_sql_failed";        // the model's SQL failed
inline constexpr const char* kMergeDuplicateKey = "merge_duplicate_key";  // two rows, one key
inline constexpr const char* kPartitionRowsOutside = "partition_rows_outside_window";
inline constexpr const char* kCheckFailedToRun = "check_failed_to_run";   // a check's query failed

class ModelWarehouse {
 public:
  virtual ~ModelWarehouse() = default;

  // Creates the schema of the targets and the model bookkeeping if missing.
  virtual Status InitModels(const std::string& schema) = 0;

  // What the warehouse holds for every model target in `schema` and every
  // model with bookkeeping, by model name. A constant number of statements.
  virtual Result<std::map<std::string, ModelContents>> InspectModels(const std::string& schema) = 0;

  // The rows of every model target in `schema` that is a table, by target
  // name (views are left out: counting one would run its query). For the
  // API; one transaction, two statements.
  virtual Result<std::map<std::string, int64_t>> TargetRows(const std::string& schema) = 0;

  // The columns of one model's target, in order; empty when it does not exist.
  virtual Result<schema::Schema> TargetColumns(const std::string& schema, const std::string& name) = 0;

  // The columns `sql` returns (DESCRIBE), without running it.
  virtual Result<schema::Schema> DescribeQuery(const std::string& sql) = 0;

  // Writes one model, its version and what it consumed, in one transaction.
  // Errors: kModelSqlFailed (DuckDB's message) when the model's SQL fails,
  // kMergeDuplicateKey naming the key, "warehouse_error" otherwise; on error
  // nothing is written.
  virtual Result<ModelWriteStats> WriteModel(const ModelWrite& write) = 0;

  // The value `check` observes on target `schema`.`name` as it is now (model
  // checks run after the write commits): the rows of kRowCount, the failing
  // rows of the row checks, the seconds since the newest value of
  // kFreshness; nullopt when the query gives NULL (kFreshness of no rows).
  // One read-only statement. Errors: kCheckFailedToRun with DuckDB's message
  // when the check's query fails (a column or expression that does not
  // bind), "warehouse_error" when the warehouse cannot be reached.
  virtual Result<std::optional<double>> ObserveCheck(const std::string& schema, const std::string& name,
                                                     const TargetCheck& check) = 0;

  // Drops the target and the model's bookkeeping. Nothing to drop is not an error.
  virtual Status DropModel(const std::string& schema, const std::string& name) = 0;

  // ---- Time-interval models (README "Time-interval models") ----

  // The target, created anew and empty with `sql`'s columns, and the model's
  // consumed sources and partition checksums forgotten: one transaction.
  virtual Status ResetPartitions(const std::string& schema, const std::string& name, const std::string& sql) = 0;

  // Replaces the rows of the window with `sql`'s and keeps each source's
  // checksums of the window's keys, in one transaction. Errors: kModelSqlFailed,
  // kPartitionRowsOutside (a row of `sql` outside the window or with a NULL
  // time column, naming one), "warehouse_error"; on error nothing is written.
  virtual Result<PartitionWriteStats> WritePartitions(const PartitionWrite& write) = 0;

  // The keys of the rows `sql` (its window already in it) returns when staging
  // table `table` holds only `batch_ids`, the other tables whole.
  virtual Result<std::vector<std::string>> TouchedPartitions(const std::string& sql, const std::string& table,
                                                             const std::vector<std::string>& batch_ids,
                                                             const PartitionLayout& layout) = 0;

  // The keys in [start, end) whose checksum of `source` (its rows now) differs
  // from the one kept when the model's partition was last computed.
  virtual Result<std::vector<std::string>> ChangedPartitions(const std::string& model, const PartitionSource& source,
                                                             const PartitionLayout& layout, const std::string& start,
                                                             const std::string& end) = 0;

  // Ends a time-interval model's run in one transaction: bumps its version
  // when `wrote` (and then keeps its TargetHashes when `hash_sets` is set),
  // and, when `consumed` is given, makes what it consumed of each staging
  // source exactly the tokens given and of each upstream model its version.
  // Gives the version and the hash pass's time (ModelWriteStats).
  virtual Result<ModelWriteStats> FinishPartitions(const PartitionsFinish& finish) = 0;

  // ---- Lineage decisions ----

  // The hashes kept for model `name` at `version`; nullopt when none are.
  virtual Result<std::optional<TargetHashes>> HashesAt(const std::string& name, int64_t version) = 0;

  // A model skipped because no column it reads changed: records that it
  // consumed the current version of each of `upstream` (models), without
  // writing its target or bumping its version. One transaction.
  virtual Status ConsumeUnchanged(const std::string& name, const std::vector<ModelSource>& upstream) = 0;
};

}  // namespace landfall::warehouse
