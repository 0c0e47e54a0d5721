#include "lib/warehouse/duckdb_warehouse.h"

#include <duckdb.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "lib/common/clock.h"
#include "lib/warehouse/duckdb_connection.h"
#include "lib/warehouse/duckdb_models.h"
#include "lib/warehouse/duckdb_query.h"
#include "lib/warehouse/model_sql.h"
#include "lib/warehouse/sql.h"
#include "lib/warehouse/statements.h"

namespace landfall::warehouse {

namespace {

using internal::ConnectionPool;
using internal::DuckError;
using internal::DuckResult;
using internal::OpenDatabase;

using sql::kLedgerSchema;
using sql::kMetaPrefix;
using sql::kShadowSuffix;
using sql::TableColumn;

// Optimistic concurrency in DuckDB aborts the later of two conflicting
// transactions; a few retries with backoff make that invisible to callers.
constexpr int kMaxAttempts = 5;
// Batches with the same footer columns load in one INSERT of at most this many
// files (sql::InsertBatches).
constexpr size_t kMaxFilesPerInsert = 1000;
// Internal: a multi-file INSERT failed or its row count disagreed with the
// footers; the caller redoes the transaction one batch per statement, which
// names the failing batch (or gets the exact row counts). Never returned.
constexpr std::string_view kRetryPerBatch = "retry_per_batch";

bool StartsWithFolded(std::string_view name, std::string_view prefix) {
  return schema::FoldName(name.substr(0, prefix.size())) == prefix;
}

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

bool HasNul(std::string_view text) { return text.find('\0') != std::string_view::npos; }

// Errors from reading a batch's file (missing, not Parquet, corrupt) as opposed to
// errors in what landfall asked DuckDB to do with its rows.
bool IsFileError(const DuckError& error) {
  return error.type == DUCKDB_ERROR_IO || error.type == DUCKDB_ERROR_INVALID_INPUT ||
         error.type == DUCKDB_ERROR_INVALID;
}

Error WarehouseError(std::string context, const DuckError& error, std::string code = "") {
  if (code.empty()) code = "warehouse_error";
  return Error{std::move(code), std::move(context) + ": " + error.message, error.IsConflict()};
}

class DuckDbWarehouse final : public Warehouse {
 public:
  DuckDbWarehouse(duckdb_database db, DuckDbOptions options)
      : options_(std::move(options)),
        db_(db),
        pool_(std::make_unique<ConnectionPool>(db)),
        models_(internal::NewDuckDbModels(
            pool_.get(), [this](duckdb_connection con, const std::string& statement) { return Exec(con, statement); },
            options_.staging_schema)) {}

  ~DuckDbWarehouse() override {
    // Connections first: DuckDB requires every connection closed before the database.
    models_.reset();
    pool_.reset();
    duckdb_close(&db_);
  }

  DuckDbWarehouse(const DuckDbWarehouse&) = delete;
  DuckDbWarehouse& operator=(const DuckDbWarehouse&) = delete;

  // Session defaults for every connection, applied once after opening.
  Status Configure() {
    auto lease = pool_->Acquire();
    if (!lease) return Fail("warehouse_error", "cannot connect to DuckDB", true);
    // Casts between TIMESTAMP and TIMESTAMPTZ (a widening the planner may ask
    // for) must not depend on the host's time zone. Not settable in the open
    // config: ICU registers the setting only once the database is up.
    if (auto r = Exec(lease->get(), std::string(sql::kSetTimeZoneUtc)); !r) {
      return Fail(WarehouseError("setting the time zone", r.error()));
    }
    return Ok();
  }

  Status Init() override {
    {
      auto lease = pool_->Acquire();
      if (!lease) return Fail("warehouse_error", "cannot connect to DuckDB", true);
      // json is built into the DuckDB library; LOAD makes sure JSON columns and
      // to_json() work even in a build where it is not loaded at start-up.
      if (auto r = Exec(lease->get(), std::string(sql::kLoadJson)); !r) {
        return Fail(WarehouseError("loading the json extension", r.error()));
      }
    }
    auto done = Transact<bool>("init", [&](duckdb_connection con) -> Result<bool> {
      for (const auto& statement : sql::InitStatements(options_.staging_schema)) {
        if (auto r = Exec(con, statement); !r) return Fail(WarehouseError("init", r.error()));
      }
      return true;
    });
    if (!done) return Fail(done.error());
    return AddLedgerKey();
  }

  // Gives a ledger created before it had its key that key. Two rows for one
  // batch of a table say the same thing (the batch is staged), so all but the
  // latest go first; DuckDB refuses the key otherwise. Two transactions:
  // DuckDB cannot commit an ALTER after a DELETE on the same table, and a
  // crash between them leaves a ledger that means what it meant. A primary
  // key, not a unique index: DuckDB 1.4 lets one transaction delete a key and
  // insert it again (as a rebuild does) under a primary key only.
  Status AddLedgerKey() {
    auto keyed = Transact<bool>("init: ledger key", [&](duckdb_connection con) -> Result<bool> {
      auto r = Exec(con, sql::CountLedgerKeys());
      if (!r) return Fail(WarehouseError("init: ledger key", r.error()));
      return r->Int(0, 0).value_or(0) > 0;
    });
    if (!keyed) return Fail(keyed.error());
    if (*keyed) return Ok();
    auto removed = Transact<int64_t>("init: ledger key", [&](duckdb_connection con) -> Result<int64_t> {
      auto r = Exec(con, sql::DeleteDuplicateLedgerRows());
      if (!r) return Fail(WarehouseError("init: removing duplicate ledger rows", r.error()));
      return r->RowsChanged();
    });
    if (!removed) return Fail(removed.error());
    auto added = Transact<bool>("init: ledger key", [&](duckdb_connection con) -> Result<bool> {
      auto r = Exec(con, sql::AddLedgerKey());
      if (!r) return Fail(WarehouseError("init: adding the ledger's key", r.error()));
      return true;
    });
    if (!added) return Fail(added.error());
    spdlog::info("warehouse: {} now has its primary key (table_name, batch_id); {} duplicate "
                 "row(s) removed",
                 sql::LedgerTable(), *removed);
    return Ok();
  }

  Result<std::map<std::string, TableContents>> Inspect() override {
    // One read transaction, so the columns and the ledger are one consistent
    // snapshot even while another thread rebuilds a table.
    return Transact<std::map<std::string, TableContents>>(
        "inspect", [&](duckdb_connection con) -> Result<std::map<std::string, TableContents>> {
          std::map<std::string, TableContents> out;
          auto columns = Exec(con, sql::SelectStagingColumns(options_.staging_schema));
          if (!columns) return Fail(WarehouseError("inspect: staging columns", columns.error()));
          for (int64_t row = 0; row < columns->RowCount(); ++row) {
            std::string table = columns->Text(0, row).value_or("");
            if (EndsWith(table, kShadowSuffix)) continue;
            TableContents& contents = out[table];
            contents.exists = true;
            std::string name = columns->Text(1, row).value_or("");
            if (StartsWithFolded(name, kMetaPrefix)) continue;
            schema::Column column;
            column.name = std::move(name);
            column.type = sql::NormalizeType(columns->Text(2, row).value_or(""));
            column.nullable = columns->Int(3, row).value_or(1) != 0;
            contents.columns.columns.push_back(std::move(column));
          }

          auto ledger = Exec(con, sql::SelectLedger());
          if (!ledger) return Fail(WarehouseError("inspect: ledger", ledger.error()));
          // Read chunk by chunk: at 100,000 ledger rows, converting each
          // value on its own (DuckResult::Text) was most of the read.
          constexpr duckdb_type kTypes[] = {DUCKDB_TYPE_VARCHAR, DUCKDB_TYPE_VARCHAR,
                                            DUCKDB_TYPE_VARCHAR, DUCKDB_TYPE_BIGINT,
                                            DUCKDB_TYPE_BIGINT};
          for (int64_t col = 0; col < 5; ++col) {
            if (ledger->ColumnType(col) != kTypes[col]) {
              return Fail("warehouse_error", "inspect: ledger: column " + ledger->ColumnName(col) +
                                                 " has an unexpected type");
            }
          }
          std::string table;
          TableContents* contents = nullptr;  // `table`'s, looked up once per run of its rows
          ledger->ForEachChunk([&](duckdb_data_chunk chunk) {
            duckdb_vector names = duckdb_data_chunk_get_vector(chunk, 0);
            duckdb_vector ids = duckdb_data_chunk_get_vector(chunk, 1);
            duckdb_vector paths = duckdb_data_chunk_get_vector(chunk, 2);
            duckdb_vector rows = duckdb_data_chunk_get_vector(chunk, 3);
            duckdb_vector loaded = duckdb_data_chunk_get_vector(chunk, 4);
            const idx_t size = duckdb_data_chunk_get_size(chunk);
            for (idx_t row = 0; row < size; ++row) {
              LedgerEntry entry;
              entry.batch_id = internal::VarcharAt(ids, row).value_or("");
              entry.rel_path = internal::VarcharAt(paths, row).value_or("");
              entry.rows = internal::BigintAt(rows, row).value_or(0);
              entry.loaded_at_us = internal::BigintAt(loaded, row).value_or(0);
              const std::string_view name = internal::VarcharAt(names, row).value_or("");
              if (contents == nullptr || name != table) {
                table = name;
                // A table with ledger rows but no staging table stays exists=false.
                contents = &out[table];
              }
              std::string id = entry.batch_id;
              contents->ledger.emplace(std::move(id), std::move(entry));
            }
          });
          return out;
        });
  }

  Result<ApplyStats> Append(const std::string& table, const schema::Schema& target,
                            std::span<const BatchFile> batches) override {
    return Evolve(table, target, {}, batches);
  }

  Result<ApplyStats> Evolve(const std::string& table, const schema::Schema& target,
                            std::span<const ColumnRename> renames,
                            std::span<const BatchFile> batches) override {
    if (auto valid = ValidateTarget(table, target); !valid) return Fail(valid.error());
    // Nothing to do costs no statement: a quiet run must not touch the warehouse.
    if (batches.empty() && renames.empty()) return ApplyStats{};
    std::lock_guard table_lock(TableLock(table));
    const std::string qualified = sql::Qualified(options_.staging_schema, table);
    std::vector<BatchFile> kept(batches.begin(), batches.end());
    bool grouped = true;
    const BatchFile* failed = nullptr;
    auto body = [&](duckdb_connection con) -> Result<ApplyStats> {
      failed = nullptr;
      auto columns = TableColumns(con, table);
      if (!columns) return Fail(columns.error());
      if (columns->empty()) {
        return Fail("warehouse_table_missing",
                    "staging table " + qualified + " does not exist; append needs it");
      }
      if (auto renamed = RenameColumns(con, table, qualified, renames, *columns); !renamed) {
        return Fail(renamed.error());
      }
      if (auto evolved = EvolveColumns(con, table, qualified, *columns, target); !evolved) {
        return Fail(evolved.error());
      }
      auto applied = LedgerBatchIds(con, table, kept);
      if (!applied) return Fail(applied.error());
      return CheckedBeforeCommit(table,
                                 LoadBatches(con, table, qualified, target, kept,
                                             std::move(*applied), grouped, &failed),
                                 kept);
    };
    return ApplyRejecting("append to " + sql::Ident(table), target, kept, grouped, failed, body);
  }

  using Warehouse::Rebuild;
  Result<ApplyStats> Rebuild(const std::string& table, const schema::Schema& target,
                             std::span<const BatchFile> batches,
                             std::span<const std::string> carry_over) override {
    if (auto valid = ValidateTarget(table, target); !valid) return Fail(valid.error());
    for (const auto& id : carry_over) {
      if (HasNul(id)) return Fail("warehouse_invalid_target", "batch id with a NUL byte");
    }
    std::lock_guard table_lock(TableLock(table));
    const std::string qualified = sql::Qualified(options_.staging_schema, table);
    const std::string context = "rebuild of " + sql::Ident(table);
    std::vector<BatchFile> kept(batches.begin(), batches.end());
    bool grouped = true;
    const BatchFile* failed = nullptr;
    auto body = [&](duckdb_connection con) -> Result<ApplyStats> {
      failed = nullptr;
      auto step = [&](const std::string& what, const std::string& statement) -> Status {
        if (auto r = Exec(con, statement); !r) {
          return Fail(WarehouseError("table " + sql::Ident(table) + ": " + what, r.error()));
        }
        return Ok();
      };
      // Rows of batches kept without their files exist only in the old table:
      // set them aside before it is replaced (a temporary table of this
      // connection, gone with the transaction if it rolls back).
      std::string carried_projection;
      if (!carry_over.empty()) {
        auto old_columns = TableColumns(con, table);
        if (!old_columns) return Fail(old_columns.error());
        if (!old_columns->empty()) {
          carried_projection = sql::CarryOverProjection(*old_columns, target);
          if (auto s = step("keep rows of batches whose files are gone",
                            sql::SetAsideRows(qualified, carry_over));
              !s) {
            return Fail(s.error());
          }
        }
      }
      const bool carrying = !carried_projection.empty();
      // One transaction: DuckDB applies catalog changes at commit, so other
      // connections see the old table until then and the new one after, never
      // neither and never half of it.
      if (auto s = step("create", sql::CreateOrReplaceTable(qualified, target)); !s) {
        return Fail(s.error());
      }
      // The ledger keeps the rows of batches the new table holds too (they are
      // written again below, over the old): DuckDB cannot delete a key and
      // insert it again in one transaction while another transaction still
      // sees the old row (a reader of the table, say).
      std::vector<std::string> staying;
      if (carrying) staying.assign(carry_over.begin(), carry_over.end());
      for (const auto& batch : kept) staying.push_back(batch.batch_id);
      if (auto s = step("clear ledger", sql::DeleteLedgerRows(table, staying)); !s) {
        return Fail(s.error());
      }
      std::set<std::string> skip;
      if (carrying) {
        if (auto s = step("carry over kept rows",
                          sql::InsertCarriedRows(qualified, carried_projection));
            !s) {
          return Fail(s.error());
        }
        if (auto s = step("carry over kept rows", sql::DropCarryTable()); !s) {
          return Fail(s.error());
        }
        skip.insert(carry_over.begin(), carry_over.end());
      }
      return CheckedBeforeCommit(
          table,
          LoadBatches(con, table, qualified, target, kept, std::move(skip), grouped, &failed,
                      sql::LedgerWrite::kReplace),
          kept);
    };
    return ApplyRejecting(context, target, kept, grouped, failed, body);
  }

  Status Drop(const std::string& table) override {
    if (table.empty() || HasNul(table)) return Fail("warehouse_error", "invalid table name");
    std::lock_guard table_lock(TableLock(table));
    auto done =
        Transact<bool>("drop " + sql::Ident(table), [&](duckdb_connection con) -> Result<bool> {
          for (const auto& statement : sql::DropTable(options_.staging_schema, table)) {
            if (auto r = Exec(con, statement); !r) {
              return Fail(WarehouseError("drop of " + sql::Ident(table), r.error()));
            }
          }
          return true;
        });
    if (!done) return Fail(done.error());
    return Ok();
  }

  Result<std::string> CommonSupertype(const std::string& a, const std::string& b) override {
    std::string left = sql::NormalizeType(a);
    std::string right = sql::NormalizeType(b);
    if (left == right) return left;
    // JSON holds nested values; DuckDB would happily widen VARCHAR to JSON, but a
    // scalar becoming a nested value (or back) is a change landfall rebuilds for,
    // not one it papers over.
    if (left == "JSON" || right == "JSON") {
      return Fail("no_common_supertype", left + " and " + right + ": JSON mixes only with JSON");
    }
    if (!sql::IsSafeTypeName(left) || !sql::IsSafeTypeName(right)) {
      return Fail("no_common_supertype", "not a type name: " + left + " / " + right);
    }
    auto key = left < right ? std::make_pair(left, right) : std::make_pair(right, left);
    {
      std::lock_guard lock(supertypes_mu_);
      if (auto it = supertypes_.find(key); it != supertypes_.end()) return it->second;
    }
    auto lease = pool_->Acquire();
    if (!lease) return Fail("warehouse_error", "cannot connect to DuckDB", true);
    auto r = Exec(lease->get(), sql::CommonSupertypeQuery(left, right));
    Result<std::string> answer;
    if (r) {
      answer = sql::NormalizeType(r->Text(0, 0).value_or(""));
    } else if (r.error().IsConflict()) {
      return Fail(WarehouseError("common supertype", r.error()));  // not cached
    } else {
      answer = Fail("no_common_supertype", left + " and " + right + ": " + r.error().message);
    }
    std::lock_guard lock(supertypes_mu_);
    supertypes_.emplace(std::move(key), answer);
    return answer;
  }

  int64_t StatementsExecuted() const override {
    return statements_.load(std::memory_order_relaxed);
  }

  ModelWarehouse* Models() override { return models_.get(); }

  Result<QueryAnswer> Query(const QueryRequest& request) override {
    return internal::RunReadOnlyQuery(
        db_, request,
        [this](duckdb_connection con, const std::string& statement) { return Exec(con, statement); },
        [this] { statements_.fetch_add(1, std::memory_order_relaxed); });
  }

  Result<int64_t> RowCount(const std::string& table) override {
    if (table.empty() || HasNul(table)) return Fail("warehouse_error", "invalid table name");
    auto lease = pool_->Acquire();
    if (!lease) return Fail("warehouse_error", "cannot connect to DuckDB", true);
    const std::string qualified = sql::Qualified(options_.staging_schema, table);
    auto r = Exec(lease->get(), sql::CountRows(qualified));
    if (!r) {
      if (r.error().type == DUCKDB_ERROR_CATALOG) {
        return Fail("warehouse_table_missing", qualified + ": " + r.error().message);
      }
      return Fail(WarehouseError("row count of " + qualified, r.error()));
    }
    return r->Int(0, 0).value_or(0);
  }

 private:
  // Every statement goes through here, so the counter cannot miss one.
  std::expected<DuckResult, DuckError> Exec(duckdb_connection con, const std::string& statement) {
    statements_.fetch_add(1, std::memory_order_relaxed);
    return internal::RunQuery(con, statement);
  }

  // Runs `body` between BEGIN and COMMIT on one pooled connection, rolling back on
  // any error. Transient errors (write-write conflicts) retry the whole body.
  template <typename T>
  Result<T> Transact(const std::string& what,
                     const std::function<Result<T>(duckdb_connection)>& body) {
    auto lease = pool_->Acquire();
    if (!lease) return Fail("warehouse_error", what + ": cannot connect to DuckDB", true);
    duckdb_connection con = lease->get();
    thread_local std::minstd_rand jitter(std::random_device{}());
    for (int attempt = 1;; ++attempt) {
      Error error;
      if (auto begin = Exec(con, "BEGIN TRANSACTION"); !begin) {
        error = WarehouseError(what + ": begin", begin.error());
      } else if (Result<T> result = body(con); !result) {
        error = std::move(result.error());
      } else if (auto commit = Exec(con, "COMMIT"); !commit) {
        error = WarehouseError(what + ": commit", commit.error());
      } else {
        return result;
      }
      // After a failed COMMIT DuckDB has already rolled back, and this ROLLBACK
      // fails harmlessly; after any other failure it ends the transaction.
      (void)Exec(con, "ROLLBACK");
      if (!error.transient || attempt == kMaxAttempts) return Fail(std::move(error));
      std::this_thread::sleep_for(std::chrono::milliseconds((5 << attempt) + jitter() % 10));
    }
  }

  // Runs `body`, a transaction loading `kept`, until it commits or fails on
  // something other than one batch's own content. After a multi-file
  // statement fails (kRetryPerBatch) it runs again one batch per statement, so
  // that `failed` names the batch; if that batch cannot be read on its own
  // either (Undecodable), it is left out of `kept`, reported as rejected, and
  // the transaction runs again with the others.
  Result<ApplyStats> ApplyRejecting(
      const std::string& context, const schema::Schema& target, std::vector<BatchFile>& kept,
      bool& grouped, const BatchFile*& failed,
      const std::function<Result<ApplyStats>(duckdb_connection)>& body) {
    std::vector<RejectedBatch> rejected;
    for (;;) {
      auto result = Transact<ApplyStats>(context, body);
      if (!result && result.error().code == kRetryPerBatch) {
        grouped = false;
        continue;
      }
      if (!result && failed != nullptr && !result.error().transient) {
        if (auto why = Undecodable(*failed, target)) {
          rejected.push_back({failed->batch_id, failed->rel_path, "undecodable", *why});
          kept.erase(kept.begin() + (failed - kept.data()));
          continue;
        }
      }
      if (result) result->rejected = std::move(rejected);
      return result;
    }
  }

  // Why `batch` cannot be staged whatever the warehouse's state: its rows, cast
  // to `target`, read on their own (outside any transaction, writing nothing)
  // fail too. Nullopt when they read fine, so a failed load was the
  // warehouse's doing (a full disk, a read-only file), or when the file is
  // gone (it may come back; not a verdict on its content).
  std::optional<std::string> Undecodable(const BatchFile& batch, const schema::Schema& target) {
    std::error_code ec;
    if (!std::filesystem::exists(batch.abs_path, ec)) return std::nullopt;
    auto probe = sql::ProbeBatch(target, batch);
    if (!probe) return probe.error().message;
    // In a fresh in-memory database of its own: a warehouse that failed
    // (invalidated by a failed commit, its file read-only or its disk full),
    // or an earlier probe that broke its database, must not make good batches
    // look bad. Probes are rare: only after a batch failed to load.
    auto db = OpenDatabase(":memory:", options_);
    if (!db) return std::nullopt;
    duckdb_connection con = nullptr;
    std::optional<std::string> verdict;
    if (duckdb_connect(*db, &con) == DuckDBSuccess) {
      // Cast as the warehouse does (see Configure, Init).
      bool ready = internal::RunQuery(con, std::string(sql::kSetTimeZoneUtc)).has_value() &&
                   internal::RunQuery(con, std::string(sql::kLoadJson)).has_value();
      auto r = ready ? internal::RunQuery(con, *probe)
                     : std::expected<DuckResult, DuckError>(DuckResult());
      // Short of memory or interrupted: no verdict on the file either.
      if (!r && r.error().type != DUCKDB_ERROR_OUT_OF_MEMORY &&
          r.error().type != DUCKDB_ERROR_INTERRUPT) {
        verdict = r.error().message;
      }
      duckdb_disconnect(&con);
    }
    duckdb_close(&*db);
    return verdict;
  }

  // One mutex per table (by folded name, as DuckDB resolves names): two callers
  // working on one table would otherwise both see a batch as new and stage it
  // twice, since DuckDB does not conflict on concurrent appends.
  std::mutex& TableLock(const std::string& table) {
    std::lock_guard lock(table_locks_mu_);
    auto& slot = table_locks_[schema::FoldName(table)];
    if (!slot) slot = std::make_unique<std::mutex>();
    return *slot;
  }

  Status ValidateTarget(const std::string& table, const schema::Schema& target) const {
    if (table.empty() || HasNul(table)) {
      return Fail("warehouse_invalid_target", "invalid table name " + sql::Ident(table));
    }
    if (EndsWith(schema::FoldName(table), kShadowSuffix)) {
      return Fail("warehouse_invalid_target", "table name " + sql::Ident(table) + " ends with " +
                                                  std::string(kShadowSuffix) +
                                                  ", which is reserved for rebuilds");
    }
    std::set<std::string> seen;
    for (const auto& column : target.columns) {
      const std::string where =
          "table " + sql::Ident(table) + ", column " + sql::Ident(column.name);
      if (column.name.empty() || HasNul(column.name)) {
        return Fail("warehouse_invalid_target", where + ": invalid column name");
      }
      if (StartsWithFolded(column.name, kMetaPrefix)) {
        return Fail("warehouse_invalid_target",
                    where + ": names starting with _landfall_ are reserved for metadata");
      }
      if (!seen.insert(schema::FoldName(column.name)).second) {
        return Fail("warehouse_invalid_target",
                    where + ": duplicate column (names are case-insensitive)");
      }
      if (!sql::IsSafeTypeName(column.type)) {
        return Fail("warehouse_invalid_target", where + ": not a staging type: " + column.type);
      }
    }
    return Ok();
  }

  // The table's columns (name, type) in order, metadata columns included; empty
  // when the table does not exist (the caller then fails, and the transaction
  // rolls back).
  Result<std::vector<TableColumn>> TableColumns(duckdb_connection con, const std::string& table) {
    // One table, resolved as DuckDB resolves names (ASCII-case-insensitively).
    auto r = Exec(con, sql::DescribeTable(sql::Qualified(options_.staging_schema, table)));
    if (!r) {
      if (r.error().type == DUCKDB_ERROR_CATALOG) return std::vector<TableColumn>{};
      return Fail(WarehouseError("table " + sql::Ident(table) + ": lookup", r.error()));
    }
    std::vector<TableColumn> columns;
    for (int64_t row = 0; row < r->RowCount(); ++row) {
      columns.push_back(
          {r->Text(0, row).value_or(""), sql::NormalizeType(r->Text(1, row).value_or(""))});
    }
    return columns;
  }

  // Renames columns in place, all at once (sql::RenameColumns says why), and
  // updates `columns` to the new names.
  Status RenameColumns(duckdb_connection con, const std::string& table,
                       const std::string& qualified, std::span<const ColumnRename> renames,
                       std::vector<TableColumn>& columns) {
    const auto statements = sql::RenameColumns(qualified, renames);
    for (size_t k = 0; k < statements.size(); ++k) {
      if (auto r = Exec(con, statements[k]); !r) {
        const ColumnRename& which = renames[k % renames.size()];
        return Fail(WarehouseError("table " + sql::Ident(table) + ": rename " +
                                       sql::Ident(which.from) + " to " + sql::Ident(which.to),
                                   r.error()));
      }
    }
    for (auto& c : columns) {
      for (const auto& r : renames) {
        if (schema::FoldName(c.name) == schema::FoldName(r.from)) {
          c.name = r.to;
          break;
        }
      }
    }
    return Ok();
  }

  // Brings an existing table's columns up to `target` in place
  // (sql::EvolveColumns). Which changes are safe is the planner's decision;
  // DuckDB refuses a type change its data cannot take.
  Status EvolveColumns(duckdb_connection con, const std::string& table,
                       const std::string& qualified, std::span<const TableColumn> existing,
                       const schema::Schema& target) {
    for (const auto& change : sql::EvolveColumns(qualified, existing, target)) {
      if (auto r = Exec(con, change.statement); !r) {
        return Fail(WarehouseError(
            "table " + sql::Ident(table) + ", column " + sql::Ident(change.column) + ": evolve",
            r.error()));
      }
    }
    return Ok();
  }

  // The ids among `batches` that `table`'s ledger holds already, looked up
  // by key (sql::LedgerLookupFilter), so one new batch costs the same at 10
  // batches of history as at 100,000.
  Result<std::set<std::string>> LedgerBatchIds(duckdb_connection con, const std::string& table,
                                               std::span<const BatchFile> batches) {
    auto r = Exec(con, sql::SelectLedgerBatchIds(table) + sql::LedgerLookupFilter(batches));
    if (!r) return Fail(WarehouseError("table " + sql::Ident(table) + ": ledger", r.error()));
    std::set<std::string> ids;
    for (int64_t row = 0; row < r->RowCount(); ++row) ids.insert(r->Text(0, row).value_or(""));
    return ids;
  }

  // Batches that can share one statement: the same footer columns (names,
  // file types, field ids), hence the same file schema and projection; the
  // footer row count known (the ledger records it); and a path read_parquet
  // takes literally (no glob characters), so the file name it reports is the
  // one given.
  static std::optional<std::string> GroupKey(const BatchFile& batch) {
    if (batch.rows <= 0 || batch.abs_path.native().find_first_of("*?[") != std::string::npos) {
      return std::nullopt;
    }
    std::string key;
    for (const auto& c : batch.schema.columns) {
      key += c.name + '\x1f' + c.type + '\x1f' + c.source_type + '\x1f' +
             (c.field_id ? std::to_string(*c.field_id) : "") + '\x1e';
    }
    return key;
  }

  // Inserts every batch not in `skip` into `into` and their ledger rows (for
  // `table`), inside the caller's transaction. With `grouped`, batches with the
  // same footer columns load in one statement; should that statement fail, the
  // error is kRetryPerBatch and the caller runs the transaction again without
  // `grouped`, so the error names the batch. When one batch's statement fails
  // (not for a write conflict), `*failed` points at that batch. A ledger row
  // already there for a batch is treated as `ledger_write` says.
  Result<ApplyStats> LoadBatches(duckdb_connection con, const std::string& table,
                                 const std::string& into, const schema::Schema& target,
                                 std::span<const BatchFile> batches, std::set<std::string> skip,
                                 bool grouped, const BatchFile** failed,
                                 sql::LedgerWrite ledger_write = sql::LedgerWrite::kInsert) {
    ApplyStats stats;
    const int64_t loaded_at_us = SystemClock::Instance().NowMicros();
    std::vector<LedgerEntry> ledger_rows;
    auto add_ledger_row = [&](const BatchFile& batch, int64_t rows) {
      stats.rows += rows;
      stats.batches += 1;
      ledger_rows.push_back({batch.batch_id, batch.rel_path, rows, loaded_at_us});
    };

    // Groups of batches to load together, in the order first seen; one batch
    // per group when not `grouped`.
    std::vector<std::vector<const BatchFile*>> groups;
    std::map<std::string, size_t> group_of;
    for (const auto& batch : batches) {
      // One ledger row per batch id: the same content listed twice loads once.
      if (!skip.insert(batch.batch_id).second) continue;
      auto key = grouped ? GroupKey(batch) : std::nullopt;
      if (key) {
        auto [it, added] = group_of.try_emplace(*key, groups.size());
        if (!added && groups[it->second].size() < kMaxFilesPerInsert) {
          groups[it->second].push_back(&batch);
          continue;
        }
        it->second = groups.size();
      }
      groups.push_back({&batch});
    }

    for (const auto& group : groups) {
      if (group.size() == 1) {
        const BatchFile& batch = *group.front();
        const std::string where = "table " + sql::Ident(table) + ", batch " + batch.rel_path +
                                  " (" + batch.abs_path.string() + ")";
        auto statement = sql::InsertBatch(into, target, batch, loaded_at_us);
        if (!statement) {
          *failed = &batch;
          return Fail(statement.error().code, where + ": " + statement.error().message);
        }
        auto r = Exec(con, *statement);
        if (!r) {
          if (!r.error().IsConflict()) *failed = &batch;
          return Fail(
              WarehouseError(where, r.error(), IsFileError(r.error()) ? "batch_unreadable" : ""));
        }
        add_ledger_row(batch, r->RowsChanged());
        continue;
      }
      auto statement = sql::InsertBatches(into, target, group, loaded_at_us);
      if (!statement) return Fail(std::string(kRetryPerBatch), statement.error().message);
      auto r = Exec(con, *statement);
      if (!r) {
        // A write conflict is retried as a whole, as any other; anything else
        // (an unreadable file, a failed cast) is redone one batch at a time.
        if (r.error().IsConflict()) {
          return Fail(WarehouseError("table " + sql::Ident(table), r.error()));
        }
        return Fail(std::string(kRetryPerBatch), r.error().message);
      }
      int64_t expected = 0;
      for (const BatchFile* batch : group) expected += batch->rows;
      if (r->RowsChanged() != expected) {
        return Fail(std::string(kRetryPerBatch), "row count differs from the footers'");
      }
      for (const BatchFile* batch : group) add_ledger_row(*batch, batch->rows);
    }
    if (!ledger_rows.empty()) {
      auto r = Exec(con, sql::InsertLedgerRows(table, ledger_rows, ledger_write));
      if (!r) {
        Error error = WarehouseError("table " + sql::Ident(table) + ": ledger", r.error());
        // DuckDB checks a key against rows deleted by a committed transaction
        // as long as an older transaction may still see them: a batch that
        // left the ledger and is back (a rebuild without it, then one with
        // it) conflicts with itself until that reader ends. Retried as a
        // write conflict; a batch really staged twice fails every attempt.
        if (r.error().type == DUCKDB_ERROR_CONSTRAINT) error.transient = true;
        return Fail(std::move(error));
      }
    }
    return stats;
  }

  const DuckDbOptions options_;
  duckdb_database db_;
  std::unique_ptr<ConnectionPool> pool_;
  std::unique_ptr<ModelWarehouse> models_;  // on pool_

  std::atomic<int64_t> statements_{0};

  std::mutex table_locks_mu_;
  std::map<std::string, std::unique_ptr<std::mutex>> table_locks_;  // guarded by table_locks_mu_

  std::mutex supertypes_mu_;
  std::map<std::pair<std::string, std::string>, Result<std::string>>
      supertypes_;  // guarded by supertypes_mu_
};

}  // namespace

Result<duckdb_database> internal::OpenDatabase(const std::string& path, const DuckDbOptions& options) {
  duckdb_config config = nullptr;
  if (duckdb_create_config(&config) != DuckDBSuccess) {
    return Fail("warehouse_error", "cannot create a DuckDB configuration", true);
  }
  // The daemon never downloads extensions behind the operator's back; json and
  // parquet are built into the library.
  duckdb_set_config(config, "autoinstall_known_extensions", "false");
  if (options.read_only) duckdb_set_config(config, "access_mode", "READ_ONLY");
  // Unset (0, "") leaves DuckDB's default.
  std::string refused;
  auto set = [&](const char* name, const std::string& value) {
    if (refused.empty() && duckdb_set_config(config, name, value.c_str()) != DuckDBSuccess) {
      refused = std::string(name) + " = " + value;
    }
  };
  if (options.threads > 0) set("threads", std::to_string(options.threads));
  if (!options.memory_limit.empty()) set("memory_limit", options.memory_limit);
  if (!refused.empty()) {
    duckdb_destroy_config(&config);
    return Fail("warehouse_error", "DuckDB refuses " + refused);
  }
  duckdb_database db = nullptr;
  char* error = nullptr;
  const duckdb_state state = duckdb_open_ext(path.c_str(), &db, config, &error);
  duckdb_destroy_config(&config);
  if (state != DuckDBSuccess) {
    std::string message = error ? error : "unknown error";
    duckdb_free(error);
    return Fail("warehouse_error", "cannot open DuckDB database " + path + ": " + message);
  }
  return db;
}

namespace {

Error OsError(const std::string& what, int err) {
  return Error{"warehouse_error", what + ": " + std::strerror(err), false};
}

// fsync of a file or a folder: what it holds (a file's bytes, a folder's
// entries) survives a power cut once this returns.
Status SyncPath(const std::filesystem::path& path, bool folder) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (folder ? O_DIRECTORY : 0));
  if (fd < 0) return Fail(OsError("cannot open " + path.string() + " to sync it", errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return Fail(OsError("cannot sync " + path.string(), err));
  return Ok();
}

// Removes `path` if it exists; an error only when it exists and stays.
Status RemoveIfPresent(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::remove(path, ec);
  if (ec) return Fail("warehouse_error", "cannot remove " + path.string() + ": " + ec.message());
  return Ok();
}

// Moves `from` to `to` unless `to` exists. False (and `from` left in place)
// when `to` exists.
Result<bool> RenameNoReplace(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return true;
  if (errno == EEXIST) return false;
  if (errno != EINVAL && errno != ENOSYS) {
    return Fail(OsError("cannot rename " + from.string() + " to " + to.string(), errno));
  }
  // A filesystem without RENAME_NOREPLACE: a hard link fails as well when
  // `to` exists.
  if (::link(from.c_str(), to.c_str()) != 0) {
    if (errno == EEXIST) return false;
    return Fail(OsError("cannot link " + from.string() + " to " + to.string(), errno));
  }
  if (auto s = RemoveIfPresent(from); !s) return Fail(s.error());
  return true;
}

// Creates the warehouse file at `options.path`, which does not exist, so that
// a crash at any instant leaves either no file there or a complete one (staging
// schema and ledger included). DuckDB writes a new database's header and first
// blocks in place, so a process killed while DuckDB creates the file leaves a
// file DuckDB refuses for good ("not a valid DuckDB database file"). Instead the
// database is built under a temporary name in the same folder, checkpointed and
// closed, synced, and only then renamed into place.
Status CreateWarehouseFile(const DuckDbOptions& options) {
  const std::filesystem::path& path = options.path;
  std::filesystem::path folder = path.parent_path();
  if (folder.empty()) folder = ".";
  std::filesystem::path temp = path;
  temp += ".creating";
  std::filesystem::path temp_wal = temp;
  temp_wal += ".wal";
  std::filesystem::path wal = path;
  wal += ".wal";
  // A leftover of a creation that crashed was never visible under the real
  // name, so it holds nothing anyone staged: start over.
  for (const auto& leftover : {temp, temp_wal}) {
    if (auto s = RemoveIfPresent(leftover); !s) return s;
  }
  {
    auto db = OpenDatabase(temp.string(), options);
    if (!db) return Fail(db.error());
    duckdb_connection con = nullptr;
    Status built = Ok();
    if (duckdb_connect(*db, &con) != DuckDBSuccess) {
      built = Fail("warehouse_error", "cannot connect to the new database " + temp.string());
    } else {
      auto statements = sql::InitStatements(options.staging_schema);
      // Everything into the file itself, so that the file alone is the database.
      statements.push_back("CHECKPOINT");
      for (const auto& statement : statements) {
        if (auto r = internal::RunQuery(con, statement); !r) {
          built = Fail(WarehouseError("creating " + path.string(), r.error()));
          break;
        }
      }
      duckdb_disconnect(&con);
    }
    duckdb_close(&*db);
    if (!built) return built;
  }
  // Checkpointed: a WAL left by the close holds nothing the file lacks.
  if (auto s = RemoveIfPresent(temp_wal); !s) return s;
  if (auto s = SyncPath(temp, /*folder=*/false); !s) return s;
  // A WAL under the real name without its database file belongs to some
  // earlier database; DuckDB would replay it into the new file on open.
  if (auto s = RemoveIfPresent(wal); !s) return s;
  if (auto s = SyncPath(folder, /*folder=*/true); !s) return s;
  auto moved = RenameNoReplace(temp, path);
  if (!moved) return Fail(moved.error());
  // Another process created the file meanwhile: theirs is as good as ours.
  if (!*moved) return RemoveIfPresent(temp);
  return SyncPath(folder, /*folder=*/true);
}

}  // namespace

bool IsDuckDbIoError(std::string_view what) {
  return what.find(R"("exception_type":"IO")") != std::string_view::npos;
}

Result<std::unique_ptr<Warehouse>> OpenDuckDb(const DuckDbOptions& options) {
  if (options.staging_schema.empty() || HasNul(options.staging_schema) ||
      StartsWithFolded(options.staging_schema, kLedgerSchema)) {
    return Fail("config_invalid",
                "staging schema " + sql::Ident(options.staging_schema) + " is empty or reserved");
  }
  const bool in_memory = options.path.empty() || options.path == ":memory:";
  const std::string path = in_memory ? ":memory:" : options.path.string();
  if (!in_memory && !options.read_only) {
    std::error_code ec;
    // Not found (rather than unreadable): DuckDB would create it in place.
    if (std::filesystem::symlink_status(options.path, ec).type() ==
        std::filesystem::file_type::not_found) {
      if (auto created = CreateWarehouseFile(options); !created) return Fail(created.error());
    }
  }
  auto db = OpenDatabase(path, options);
  if (!db) return Fail(db.error());
  auto warehouse = std::make_unique<DuckDbWarehouse>(*db, options);
  if (auto configured = warehouse->Configure(); !configured) return Fail(configured.error());
  return warehouse;
}

}  // namespace landfall::warehouse
