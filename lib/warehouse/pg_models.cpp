#include "lib/warehouse/pg_models.h"

#include <array>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <map>
#include <optional>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "lib/warehouse/model_sql.h"
#include "lib/warehouse/pg_model_sql.h"
#include "lib/warehouse/pg_statements.h"
#include "lib/warehouse/sql.h"
#include "lib/warehouse/statements.h"

namespace landfall::warehouse::internal {

namespace {

using libpq::PgResult;

std::string Text(const PgResult& r, int row, int column) {
  if (PQntuples(r.get()) <= row || PQgetisnull(r.get(), row, column)) return "";
  return PQgetvalue(r.get(), row, column);
}
int64_t Int(const PgResult& r, int row, int column) {
  return std::atoll(Text(r, row, column).c_str());
}
int64_t Changed(const PgResult& r) { return std::atoll(PQcmdTuples(r.get())); }

// The model's SELECT, without the semicolons and blanks after it, to wrap as a subquery.
std::string Trimmed(std::string select) {
  while (!select.empty() &&
         (select.back() == ';' || std::isspace(static_cast<unsigned char>(select.back())))) {
    select.pop_back();
  }
  return select;
}

class PgModels final : public ModelWarehouse {
 public:
  PgModels(PgTransactFn transact, PgExecFn exec, std::string staging_schema)
      : transact_(std::move(transact)),
        exec_(std::move(exec)),
        staging_schema_(std::move(staging_schema)) {}

  Status InitModels(const std::string& schema) override {
    return transact_("models: init", [&](PGconn* conn) -> Status {
      // CREATE SCHEMA IF NOT EXISTS races with itself across sessions.
      if (auto r = Run(conn, pg::LockTransaction("init"), "models: init"); !r)
        return Fail(r.error());
      for (const auto& statement : sql::ModelSetupDdl(schema)) {
        if (auto r = Run(conn, statement, "models: init"); !r) return Fail(r.error());
      }
      return Ok();
    });
  }

  Result<std::map<std::string, ModelContents>> InspectModels(const std::string& schema) override {
    std::map<std::string, ModelContents> out;
    auto done = transact_("models: inspect", [&](PGconn* conn) -> Status {
      out.clear();
      if (auto r = Run(conn, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", "models: inspect");
          !r) {
        return Fail(r.error());
      }
      if (auto s = ReadColumns(conn, schema, "", out); !s) return s;
      auto versions = Run(conn, sql::ModelVersionsQuery(), "models: inspect versions");
      if (!versions) return Fail(versions.error());
      for (int row = 0; row < PQntuples(versions->get()); ++row) {
        out[Text(*versions, row, 0)].version = Int(*versions, row, 1);
      }
      auto consumed = Run(conn, sql::ModelLedgerQuery(), "models: inspect ledger");
      if (!consumed) return Fail(consumed.error());
      for (int row = 0; row < PQntuples(consumed->get()); ++row) {
        out[Text(*consumed, row, 0)].consumed[Text(*consumed, row, 1)].insert(
            Text(*consumed, row, 2));
      }
      auto inputs = Run(conn, sql::ModelInputsQuery(), "models: inspect inputs");
      if (!inputs) return Fail(inputs.error());
      for (int row = 0; row < PQntuples(inputs->get()); ++row) {
        out[Text(*inputs, row, 0)].inputs[Text(*inputs, row, 1)] = {
            .columns_json = Text(*inputs, row, 2), .loaded_at_us = Int(*inputs, row, 3)};
      }
      return Ok();
    });
    if (!done) return Fail(done.error());
    return out;
  }

  Result<std::map<std::string, int64_t>> TargetRows(const std::string& schema) override {
    std::map<std::string, int64_t> out;
    auto done = transact_("models: count rows", [&](PGconn* conn) -> Status {
      out.clear();
      auto tables = Run(conn, pgsql::TargetTablesQuery(schema), "models: list targets");
      if (!tables) return Fail(tables.error());
      std::vector<std::string> names;
      for (int row = 0; row < PQntuples(tables->get()); ++row)
        names.push_back(Text(*tables, row, 0));
      if (names.empty()) return Ok();
      auto counts = Run(conn, pgsql::TargetRowCountsQuery(schema, names), "models: count rows");
      if (!counts) return Fail(counts.error());
      for (int row = 0; row < PQntuples(counts->get()); ++row)
        out[Text(*counts, row, 0)] = Int(*counts, row, 1);
      return Ok();
    });
    if (!done) return Fail(done.error());
    return out;
  }

  Result<schema::Schema> TargetColumns(const std::string& schema,
                                       const std::string& name) override {
    std::map<std::string, ModelContents> out;
    auto done = transact_("model " + name + ": columns", [&](PGconn* conn) -> Status {
      out.clear();
      return ReadColumns(conn, schema, name, out);
    });
    if (!done) return Fail(done.error());
    return out.empty() ? schema::Schema{} : out.begin()->second.columns;
  }

  Result<schema::Schema> DescribeQuery(const std::string& select) override {
    schema::Schema out;
    auto done = transact_("describing the model's query", [&](PGconn* conn) -> Status {
      auto described = Describe(conn, Trimmed(select));
      if (!described) return Fail(described.error());
      out = std::move(*described);
      return Ok();
    });
    if (!done) return Fail(done.error());
    return out;
  }

  Result<std::optional<double>> ObserveCheck(const std::string& schema, const std::string& name,
                                             const TargetCheck& check) override {
    std::optional<double> out;
    auto done = transact_("model " + name + ": check", [&](PGconn* conn) -> Status {
      auto r = Run(conn, pgsql::CheckQuery(sql::Qualified(schema, name), check),
                   "model " + name + ": check", kCheckFailedToRun);
      if (!r) return Fail(r.error());
      out.reset();
      if (PQntuples(r->get()) == 0 || PQgetisnull(r->get(), 0, 0)) return Ok();
      const std::string text = PQgetvalue(r->get(), 0, 0);
      char* end = nullptr;
      const double value = std::strtod(text.c_str(), &end);
      if (end == text.c_str())
        return Fail("warehouse_error", "model " + name + ": check gave '" + text + "'");
      out = value;
      return Ok();
    });
    if (!done) return Fail(done.error());
    return out;
  }

  Result<ModelWriteStats> WriteModel(const ModelWrite& write) override {
    ModelWriteStats stats;
    auto done = transact_("model " + write.name, [&](PGconn* conn) -> Status {
      stats = {};
      return Write(conn, write, stats);
    });
    if (!done) return Fail(done.error());
    return stats;
  }

  Status DropModel(const std::string& schema, const std::string& name) override {
    const std::string what = "model " + name + ": drop";
    return transact_(what, [&](PGconn* conn) -> Status {
      if (auto r = Run(conn, pg::LockTransaction(ModelKey(schema, name)), what); !r)
        return Fail(r.error());
      auto kind = Run(conn, pgsql::TargetKindQuery(schema, name), what);
      if (!kind) return Fail(kind.error());
      std::vector<std::string> statements = {sql::ForgetConsumed(name), sql::ForgetVersion(name),
                                             sql::ForgetPartitionSources(name),
                                             sql::ForgetInputs(name), sql::ForgetHashes(name)};
      if (PQntuples(kind->get()) > 0) {
        statements.push_back(pgsql::DropTarget(
            sql::Qualified(schema, name), Text(*kind, 0, 0) != "r" && Text(*kind, 0, 0) != "p"));
      }
      for (const auto& statement : statements) {
        if (auto r = Run(conn, statement, what); !r) return Fail(r.error());
      }
      return Ok();
    });
  }

  Status ResetPartitions(const std::string& schema, const std::string& name,
                         const std::string& select) override {
    const std::string what = "model " + name;
    return transact_(what + ": create", [&](PGconn* conn) -> Status {
      if (auto r = Run(conn, pg::LockTransaction(ModelKey(schema, name)), what); !r)
        return Fail(r.error());
      const std::string shadow = pg::ShadowName(name);
      const std::string shadow_qualified = sql::Qualified(schema, shadow);
      if (auto r = Run(conn, pgsql::CreateTableEmpty(shadow_qualified, Trimmed(select)), what,
                       kModelSqlFailed);
          !r) {
        return Fail(r.error());
      }
      auto replaced = Replace(conn, schema, name, [&]() -> Status {
        auto r = Run(conn, pgsql::RenameTable(schema, shadow, name), what);
        return r ? Ok() : Fail(r.error());
      });
      if (!replaced) return replaced;
      for (const auto& statement : {sql::ForgetConsumed(name), sql::ForgetPartitionSources(name),
                                    sql::ForgetInputs(name)}) {
        if (auto r = Run(conn, statement, what); !r) return Fail(r.error());
      }
      return Ok();
    });
  }

  Result<PartitionWriteStats> WritePartitions(const PartitionWrite& w) override {
    const std::string what = "model " + w.name;
    const std::string target = sql::Qualified(w.schema, w.name);
    const PartitionLayout& l = w.layout;
    PartitionWriteStats stats;
    auto done = transact_(what, [&](PGconn* conn) -> Status {
      stats = {};
      if (auto r = Run(conn, pg::LockTransaction(ModelKey(w.schema, w.name)), what); !r)
        return Fail(r.error());
      if (auto r = Run(conn, pgsql::SavePartitionRows(Trimmed(w.sql)), what, kModelSqlFailed); !r) {
        return Fail(r.error());
      }
      auto outside = Run(conn, pgsql::RowsOutsideWindow(l.time_column, w.start, w.end), what);
      if (!outside) return Fail(outside.error());
      if (const int64_t n = Int(*outside, 0, 0); n > 0) {
        const std::string example =
            PQgetisnull(outside->get(), 0, 1) ? "NULL" : Text(*outside, 0, 1);
        return Fail(kPartitionRowsOutside,
                    what + ": " + std::to_string(n) + " row(s) of the SQL have " + l.time_column +
                        " outside the window [" + w.start + ", " + w.end + ") (e.g. " + example +
                        "); a partition's rows must fall in its window (filter on @start_date and "
                        "@end_date)");
      }
      auto deleted = Run(conn, pgsql::DeleteWindow(target, l.time_column, w.start, w.end), what);
      if (!deleted) return Fail(deleted.error());
      stats.deleted = Changed(*deleted);
      auto columns = ColumnNames(conn, pgsql::PartitionRows(), what);
      if (!columns) return Fail(columns.error());
      auto inserted = Run(conn, pgsql::InsertColumns(target, pgsql::PartitionRows(), *columns),
                          what, kModelSqlFailed);
      if (!inserted) return Fail(inserted.error());
      stats.inserted = Changed(*inserted);
      for (const auto& key : w.keys) stats.partitions[key] = {0, "0:0"};
      auto sums =
          Run(conn, pgsql::SavedRowsChecksums(l.time_column, l.unit, l.format, w.columns), what);
      if (!sums) return Fail(sums.error());
      for (int row = 0; row < PQntuples(sums->get()); ++row) {
        const int64_t rows = Int(*sums, row, 1);
        stats.partitions[Text(*sums, row, 0)] = {rows,
                                                 std::to_string(rows) + ":" + Text(*sums, row, 2)};
      }
      for (const auto& source : w.sources) {
        if (source.column.empty()) continue;
        for (const auto& statement : pgsql::RecordSourceChecksums(
                 w.name, source.source.Key(),
                 sql::Qualified(source.source.schema, source.source.name), source.column,
                 source.columns, l.unit, l.format, w.start, w.end)) {
          if (auto r = Run(conn, statement, what + ": checksums of " + source.source.Key()); !r) {
            return Fail(r.error());
          }
        }
      }
      return Ok();
    });
    if (!done) return Fail(done.error());
    return stats;
  }

  Result<std::vector<std::string>> TouchedPartitions(const std::string& select,
                                                     const std::string& table,
                                                     const std::vector<std::string>& batch_ids,
                                                     const PartitionLayout& layout) override {
    std::vector<std::string> out;
    const std::string what = "the partitions new batches of " + table + " touch";
    auto done = transact_(what, [&](PGconn* conn) -> Status {
      out.clear();
      int changed = 0;
      const std::string restricted =
          pgsql::PointAtTemp(Trimmed(select), staging_schema_, table, &changed);
      if (changed == 0) {
        return Fail(kModelSqlFailed,
                    "the model's SQL does not read " + staging_schema_ + "." + table);
      }
      if (auto r = Run(conn, pgsql::RestrictedToBatches(staging_schema_, table, batch_ids), what);
          !r) {
        return Fail(r.error());
      }
      auto keys =
          Run(conn, pgsql::DistinctKeys(restricted, layout.time_column, layout.unit, layout.format),
              what, kModelSqlFailed);
      if (!keys) return Fail(keys.error());
      for (int row = 0; row < PQntuples(keys->get()); ++row) out.push_back(Text(*keys, row, 0));
      auto r = Run(conn, pgsql::DropRestrictedView(table), what);
      return r ? Ok() : Fail(r.error());
    });
    if (!done) return Fail(done.error());
    return out;
  }

  Result<std::vector<std::string>> ChangedPartitions(const std::string& model,
                                                     const PartitionSource& source,
                                                     const PartitionLayout& layout,
                                                     const std::string& start,
                                                     const std::string& end) override {
    std::vector<std::string> out;
    const std::string what = "model " + model + ": checksums of " + source.source.Key();
    auto done = transact_(what, [&](PGconn* conn) -> Status {
      out.clear();
      auto keys = Run(
          conn,
          pgsql::ChangedSourceKeys(
              model, source.source.Key(), sql::Qualified(source.source.schema, source.source.name),
              source.column, source.columns, layout.unit, layout.format, start, end),
          what);
      if (!keys) return Fail(keys.error());
      for (int row = 0; row < PQntuples(keys->get()); ++row) out.push_back(Text(*keys, row, 0));
      return Ok();
    });
    if (!done) return Fail(done.error());
    return out;
  }

  Result<ModelWriteStats> FinishPartitions(const PartitionsFinish& f) override {
    const std::string what = "model " + f.name + ": bookkeeping";
    ModelWriteStats stats;
    auto done = transact_(what, [&](PGconn* conn) -> Status {
      stats = {};
      const std::vector<std::string> statements = sql::ConsumeSources(f);
      for (const auto& statement : statements) {
        if (auto r = Run(conn, statement, what); !r) return Fail(r.error());
      }
      if (f.wrote) {
        if (auto s = Bump(conn, f.name, what); !s) return s;
      }
      auto version = Run(conn, sql::VersionQuery(f.name), what);
      if (!version) return Fail(version.error());
      stats.version = Int(*version, 0, 0);
      return RecordHashes(conn, f.schema, f.name, f.wrote ? f.hash_sets : std::nullopt, {}, stats);
    });
    if (!done) return Fail(done.error());
    return stats;
  }

  Result<std::optional<TargetHashes>> HashesAt(const std::string& name, int64_t version) override {
    std::optional<TargetHashes> out;
    auto done = transact_("model " + name + ": hashes", [&](PGconn* conn) -> Status {
      out.reset();
      auto r = Run(conn, sql::HashesQuery(name, version), "model " + name + ": hashes");
      if (!r) return Fail(r.error());
      if (PQntuples(r->get()) == 0) return Ok();
      TargetHashes hashes;
      for (int row = 0; row < PQntuples(r->get()); ++row) {
        const std::string kind = Text(*r, row, 0);
        const std::string key = Text(*r, row, 1);
        hashes.rows = Int(*r, row, 3);
        std::string hash = Text(*r, row, 4);
        if (kind == "column") {
          hashes.columns[key] = {Text(*r, row, 2), std::move(hash)};
        } else if (kind == "expression") {
          hashes.expressions[key] = std::move(hash);
        } else {
          hashes.sets[key] = std::move(hash);
        }
      }
      out = std::move(hashes);
      return Ok();
    });
    if (!done) return Fail(done.error());
    return out;
  }

  Status ConsumeUnchanged(const std::string& name,
                          const std::vector<ModelSource>& upstream) override {
    const std::string what = "model " + name + ": bookkeeping";
    return transact_(what, [&](PGconn* conn) -> Status {
      for (const auto& source : upstream) {
        for (const auto& statement : sql::ConsumeModel(name, source.Key(), source.name)) {
          if (auto r = Run(conn, statement, what); !r) return Fail(r.error());
        }
      }
      return Ok();
    });
  }

 private:
  static std::string ModelKey(const std::string& schema, const std::string& name) {
    return "model:" + schema + "." + name;
  }

  // Runs `statement`, failing with `code` (the model's SQL is in it) or warehouse_error.
  Result<PgResult> Run(PGconn* conn, const std::string& statement, const std::string& what,
                       const char* code = "warehouse_error") {
    auto r = exec_(conn, what, statement);
    if (!r) {
      Error error = std::move(r.error());
      // A transient failure (a lost connection, a deadlock) is retried whatever the SQL.
      if (!error.transient) error.code = code;
      return Fail(std::move(error));
    }
    return std::move(*r);
  }

  // The columns of `select`'s rows, with landfall's (DuckDB's) type names.
  Result<schema::Schema> Describe(PGconn* conn, const std::string& select) {
    auto r = Run(conn, pgsql::NoRows(select), "describing the model's query", kModelSqlFailed);
    if (!r) return Fail(r.error());
    std::vector<std::pair<unsigned, int>> types;
    schema::Schema out;
    for (int c = 0; c < PQnfields(r->get()); ++c) {
      schema::Column column;
      column.name = PQfname(r->get(), c);
      out.columns.push_back(std::move(column));
      types.emplace_back(PQftype(r->get(), c), PQfmod(r->get(), c));
    }
    if (types.empty()) return out;
    auto names = Run(conn, pgsql::FormatTypes(types), "describing the model's query");
    if (!names) return Fail(names.error());
    for (int row = 0; row < PQntuples(names->get()) && row < static_cast<int>(out.columns.size());
         ++row) {
      out.columns[row].type = pg::StagingTypeOf(Text(*names, row, 0), "");
    }
    return out;
  }

  Result<std::vector<std::string>> ColumnNames(PGconn* conn, const std::string& select,
                                               const std::string& what) {
    auto r = Run(conn, pgsql::NoRows(select), what, kModelSqlFailed);
    if (!r) return Fail(r.error());
    std::vector<std::string> out;
    for (int c = 0; c < PQnfields(r->get()); ++c) out.emplace_back(PQfname(r->get(), c));
    return out;
  }

  // The targets in `schema` (only `name` when not ""), with their columns.
  Status ReadColumns(PGconn* conn, const std::string& schema, const std::string& name,
                     std::map<std::string, ModelContents>& out) {
    auto columns = Run(conn, pgsql::TargetColumnsQuery(schema, name), "models: columns");
    if (!columns) return Fail(columns.error());
    for (int row = 0; row < PQntuples(columns->get()); ++row) {
      const std::string table = Text(*columns, row, 0);
      if (schema::FoldName(table).starts_with(sql::kMetaPrefix)) continue;  // a build's shadow
      ModelContents& model = out[table];
      model.exists = true;
      model.is_view = Int(*columns, row, 4) != 0;
      schema::Column column;
      column.name = Text(*columns, row, 1);
      column.type = pg::StagingTypeOf(Text(*columns, row, 2), "");
      column.nullable = Int(*columns, row, 3) != 0;
      model.columns.columns.push_back(std::move(column));
    }
    return Ok();
  }

  Status Write(PGconn* conn, const ModelWrite& write, ModelWriteStats& stats) {
    const std::string target = sql::Qualified(write.schema, write.name);
    const std::string what = "model " + write.name;
    // Two writers of one model (two daemons of a cluster) one after the other.
    if (auto r = Run(conn, pg::LockTransaction(ModelKey(write.schema, write.name)), what); !r) {
      return Fail(r.error());
    }
    std::string select = Trimmed(write.sql);
    const bool by_batch =
        write.kind == ModelWriteKind::kAppendBatches || write.kind == ModelWriteKind::kMergeBatches;
    if (by_batch) {
      const std::string source = staging_schema_ + "." + write.driver;
      if (auto r =
              Run(conn, pgsql::SaveNewBatches(staging_schema_, write.driver, write.name, source),
                  what + ": new batches");
          !r) {
        return Fail(r.error());
      }
      auto count = Run(conn, pgsql::CountNewBatches(), what + ": new batches");
      if (!count) return Fail(count.error());
      stats.batches = static_cast<int>(Int(*count, 0, 0));
      // The driver's name in the SQL points at a temp view of its new batches.
      int changed = 0;
      select = pgsql::PointAtTemp(select, staging_schema_, write.driver, &changed);
      if (changed == 0) {
        return Fail(kModelSqlFailed, what + ": the model's SQL does not read " + source);
      }
      if (auto r = Run(conn, pgsql::RestrictedView(staging_schema_, write.driver),
                       what + ": restricting " + write.driver);
          !r) {
        return Fail(r.error());
      }
    }
    const bool merging =
        !write.unique_key.empty() && (write.kind == ModelWriteKind::kMergeBatches ||
                                      write.kind == ModelWriteKind::kReplaceTable ||
                                      write.kind == ModelWriteKind::kAppendAfterWatermark);
    if (merging) {
      if (!write.dedupe_order_by.empty()) {
        auto columns = ColumnNames(conn, select, what);
        if (!columns) return Fail(columns.error());
        select = pgsql::NewestPerKey(select, *columns, write.unique_key, write.dedupe_order_by);
      } else if (write.kind != ModelWriteKind::kAppendAfterWatermark) {
        if (auto s = CheckUniqueKey(conn, select, write); !s) return s;
      }
    }
    if (auto s = WriteRows(conn, write, target, select, stats); !s) return s;
    if (by_batch) {
      if (auto r = Run(conn, pgsql::DropRestrictedView(write.driver), what); !r)
        return Fail(r.error());
    }
    if (auto s = RecordConsumed(conn, write); !s) return s;
    return RecordInputsAndHashes(conn, write, stats);
  }

  Status CheckUniqueKey(PGconn* conn, const std::string& select, const ModelWrite& write) {
    auto probe = Run(conn, pgsql::DuplicateKeyProbe(select, write.unique_key),
                     "model " + write.name, kModelSqlFailed);
    if (!probe) return Fail(probe.error());
    if (PQntuples(probe->get()) == 0) return Ok();
    std::string key;
    for (size_t i = 0; i < write.unique_key.size(); ++i) {
      if (i) key += ", ";
      const int c = static_cast<int>(i);
      key += write.unique_key[i] + " = " +
             (PQgetisnull(probe->get(), 0, c) ? "NULL" : Text(*probe, 0, c));
    }
    return Fail(kMergeDuplicateKey,
                "model " + write.name + ": two rows have the key (" + key +
                    "); set merge.dedupe: latest with merge.order_by to keep the newest");
  }

  // Whether `schema`.`name` is a table, a view, or nothing.
  Result<std::optional<bool>> IsView(PGconn* conn, const std::string& schema,
                                     const std::string& name, const std::string& what) {
    auto kind = Run(conn, pgsql::TargetKindQuery(schema, name), what);
    if (!kind) return Fail(kind.error());
    if (PQntuples(kind->get()) == 0) return std::optional<bool>();
    const std::string k = Text(*kind, 0, 0);
    return std::optional<bool>(k != "r" && k != "p");
  }

  // Drops the target (a table or a view), runs `create` to put the new one
  // under its name, and creates again the views that read the old one, which
  // PostgreSQL binds to the relation and drops with it (view models and views
  // made by hand; DuckDB binds views when read, so there nothing is dropped).
  // A view that no longer binds (it reads a column gone) stays dropped, and
  // a view model is then rebuilt by its next run (target_missing).
  Status Replace(PGconn* conn, const std::string& schema, const std::string& name,
                 const std::function<Status()>& create) {
    const std::string what = "model " + name;
    auto old = IsView(conn, schema, name, what);
    if (!old) return Fail(old.error());
    std::vector<std::array<std::string, 4>> dependents;  // schema, name, kind, definition
    if (old->has_value()) {
      auto views = Run(conn, pgsql::DependentViewsQuery(schema, name), what + ": views reading it");
      if (!views) return Fail(views.error());
      for (int row = 0; row < PQntuples(views->get()); ++row) {
        dependents.push_back({Text(*views, row, 0), Text(*views, row, 1), Text(*views, row, 2),
                              Text(*views, row, 3)});
      }
      if (auto r = Run(conn, pgsql::DropTarget(sql::Qualified(schema, name), **old), what); !r) {
        return Fail(r.error());
      }
    }
    if (auto s = create(); !s) return s;
    for (const auto& [view_schema, view_name, kind, definition] : dependents) {
      if (auto r = Run(conn, "SAVEPOINT landfall_view", what); !r) return Fail(r.error());
      if (Run(conn,
              pgsql::CreateViewAs(sql::Qualified(view_schema, view_name), definition, kind == "m"),
              what))
        continue;
      if (auto r = Run(conn, "ROLLBACK TO SAVEPOINT landfall_view", what); !r)
        return Fail(r.error());
    }
    return Ok();
  }

  Status WriteRows(PGconn* conn, const ModelWrite& write, const std::string& target,
                   const std::string& select, ModelWriteStats& stats) {
    const std::string what = "model " + write.name;
    switch (write.kind) {
      case ModelWriteKind::kReplaceTable: {
        // Built under another name while readers keep the old table, then
        // swapped in by rename in the same transaction: readers see the old
        // rows or the new ones.
        const std::string shadow = pg::ShadowName(write.name);
        const std::string shadow_qualified = sql::Qualified(write.schema, shadow);
        if (auto r = Run(conn, "DROP TABLE IF EXISTS " + shadow_qualified, what); !r)
          return Fail(r.error());
        auto created =
            Run(conn, pgsql::CreateTableAs(shadow_qualified, select), what, kModelSqlFailed);
        if (!created) return Fail(created.error());
        stats.inserted = Changed(*created);
        return Replace(conn, write.schema, write.name, [&]() -> Status {
          auto r = Run(conn, pgsql::RenameTable(write.schema, shadow, write.name), what);
          return r ? Ok() : Fail(r.error());
        });
      }
      case ModelWriteKind::kReplaceView:
        // CREATE OR REPLACE VIEW cannot drop or retype columns: drop, then create.
        return Replace(conn, write.schema, write.name, [&]() -> Status {
          auto r = Run(conn, pgsql::CreateViewAs(target, select), what, kModelSqlFailed);
          return r ? Ok() : Fail(r.error());
        });
      case ModelWriteKind::kAppendBatches: {
        auto columns = ColumnNames(conn, select, what);
        if (!columns) return Fail(columns.error());
        auto r = Run(conn, pgsql::InsertColumns(target, select, *columns), what, kModelSqlFailed);
        if (!r) return Fail(r.error());
        stats.inserted = Changed(*r);
        return Ok();
      }
      case ModelWriteKind::kMergeBatches:
        return Merge(conn, target, select, write, stats);
      case ModelWriteKind::kAppendAfterWatermark:
        return AppendAfterWatermark(conn, target, select, write, stats);
      case ModelWriteKind::kPartitions:
        break;
    }
    return Fail("warehouse_error", what + ": unknown write kind");
  }

  Status Merge(PGconn* conn, const std::string& target, const std::string& select,
               const ModelWrite& write, ModelWriteStats& stats) {
    const std::string what = "model " + write.name;
    auto columns = ColumnNames(conn, select, what);
    if (!columns) return Fail(columns.error());
    auto types = Run(conn, pgsql::KeyTypes(target, write.unique_key), what);
    if (!types) return Fail(types.error());
    std::vector<std::string> key_types;
    for (size_t i = 0; i < write.unique_key.size(); ++i) {
      key_types.push_back(Text(*types, static_cast<int>(i), 0));
    }
    auto matched = Run(conn, pgsql::CountMatched(target, select, write.unique_key, key_types),
                       what, kModelSqlFailed);
    if (!matched) return Fail(matched.error());
    auto merged = Run(conn,
                      pgsql::MergeInto(target, select, write.unique_key, key_types,
                                       write.update_columns, *columns),
                      what, kModelSqlFailed);
    if (!merged) return Fail(merged.error());
    stats.updated = write.update_columns.empty() ? 0 : Int(*matched, 0, 0);
    stats.inserted = Changed(*merged) - stats.updated;
    return Ok();
  }

  Status AppendAfterWatermark(PGconn* conn, const std::string& target, const std::string& select,
                              const ModelWrite& write, ModelWriteStats& stats) {
    const std::string what = "model " + write.name;
    if (auto r =
            Run(conn, pgsql::SaveWatermark(target, write.timestamp_column, write.lookback), what);
        !r) {
      return Fail(r.error());
    }
    const std::string window = pgsql::WindowPastWatermark(select, write.timestamp_column);
    if (!write.lookback.empty() && !write.unique_key.empty()) {
      if (auto s = Merge(conn, target, window, write, stats); !s) return s;
    } else {
      if (!write.lookback.empty()) {
        auto deleted = Run(conn, pgsql::DeletePastWatermark(target, write.timestamp_column), what);
        if (!deleted) return Fail(deleted.error());
        stats.deleted = Changed(*deleted);
      }
      auto columns = ColumnNames(conn, window, what);
      if (!columns) return Fail(columns.error());
      auto inserted =
          Run(conn, pgsql::InsertColumns(target, window, *columns), what, kModelSqlFailed);
      if (!inserted) return Fail(inserted.error());
      stats.inserted = Changed(*inserted);
    }
    auto watermark = Run(conn, pgsql::MaxAsText(target, write.timestamp_column), what);
    if (!watermark) return Fail(watermark.error());
    stats.watermark = Text(*watermark, 0, 0);
    return Ok();
  }

  // The version bump and what the target now holds of each source.
  Status RecordConsumed(PGconn* conn, const ModelWrite& write) {
    const std::string what = "model " + write.name + ": bookkeeping";
    std::vector<std::string> statements;
    if (write.kind == ModelWriteKind::kReplaceTable || write.kind == ModelWriteKind::kReplaceView) {
      statements.push_back(sql::ForgetConsumed(write.name));
    }
    for (const auto& source : write.sources) {
      auto more = source.is_model ? sql::ConsumeModel(write.name, source.Key(), source.name)
                                  : pgsql::ConsumeStagingTable(staging_schema_, write.name,
                                                               source.Key(), source.name);
      for (auto& statement : more) statements.push_back(std::move(statement));
    }
    for (const auto& statement : statements) {
      if (auto r = Run(conn, statement, what); !r) return Fail(r.error());
    }
    return Bump(conn, write.name, what);
  }

  // version + 1, or 1 for a model's first write.
  Status Bump(PGconn* conn, const std::string& name, const std::string& what) {
    auto bumped = Run(conn, sql::BumpVersion(name), what);
    if (!bumped) return Fail(bumped.error());
    if (Changed(*bumped) == 0) {
      if (auto r = Run(conn, sql::InsertFirstVersion(name), what); !r) return Fail(r.error());
    }
    return Ok();
  }

  // The inputs, the version and, when asked, the hashes of the target after a write.
  Status RecordInputsAndHashes(PGconn* conn, const ModelWrite& write, ModelWriteStats& stats) {
    const std::string what = "model " + write.name + ": bookkeeping";
    std::vector<std::tuple<std::string, std::string, int64_t>> inputs;
    for (const auto& [source, input] : write.inputs)
      inputs.emplace_back(source, input.columns_json, input.loaded_at_us);
    for (const auto& statement : sql::SaveInputs(write.name, inputs)) {
      if (auto r = Run(conn, statement, what); !r) return Fail(r.error());
    }
    auto version = Run(conn, sql::VersionQuery(write.name), what);
    if (!version) return Fail(version.error());
    stats.version = Int(*version, 0, 0);
    if (write.kind == ModelWriteKind::kReplaceView) return Ok();
    return RecordHashes(conn, write.schema, write.name, write.hash_sets, write.expressions, stats);
  }

  // With `hash_sets`, the target's TargetHashes (and `expressions`) kept
  // under its current version, older ones no model consumed forgotten.
  Status RecordHashes(PGconn* conn, const std::string& schema, const std::string& name,
                      const std::optional<std::vector<std::vector<std::string>>>& hash_sets,
                      const std::map<std::string, std::string>& expressions,
                      ModelWriteStats& stats) {
    const std::string what = "model " + name + ": bookkeeping";
    if (!hash_sets) return Ok();
    std::map<std::string, ModelContents> target;
    if (auto s = ReadColumns(conn, schema, name, target); !s) return s;
    std::vector<std::string> names, types;
    if (!target.empty()) {
      for (const auto& column : target.begin()->second.columns.columns) {
        names.push_back(column.name);
        types.push_back(column.type);
      }
    }
    // Sets name columns as lineage read them, in any case (DuckDB's names are
    // case-insensitive): each as the target spells it.
    std::map<std::string, std::string> spelled;
    for (const auto& name : names) spelled[schema::FoldName(name)] = name;
    std::vector<std::vector<std::string>> sets;
    for (const auto& set : *hash_sets) {
      std::vector<std::string> columns;
      for (const auto& column : set) {
        auto it = spelled.find(schema::FoldName(column));
        columns.push_back(it == spelled.end() ? column : it->second);
      }
      sets.push_back(std::move(columns));
    }
    const auto started = std::chrono::steady_clock::now();
    auto hashes = Run(conn, pgsql::TargetHashesQuery(sql::Qualified(schema, name), names, sets),
                      what + ": column hashes");
    if (!hashes) return Fail(hashes.error());
    stats.hash_us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
    const int64_t rows = Int(*hashes, 0, 0);
    std::vector<std::tuple<std::string, std::string, std::string, int64_t, std::string>> kept;
    int col = 1;
    for (size_t i = 0; i < names.size(); ++i)
      kept.emplace_back("column", names[i], types[i], rows, Text(*hashes, 0, col++));
    for (const auto& set : *hash_sets)
      kept.emplace_back("set", ColumnSetKey(set), "", rows, Text(*hashes, 0, col++));
    for (const auto& [key, fingerprint] : expressions)
      kept.emplace_back("expression", key, "", rows, fingerprint);
    if (kept.empty()) return Ok();
    for (const auto& statement :
         {pgsql::SaveHashes(name, kept), sql::PruneHashes(name, schema + "." + name)}) {
      if (auto r = Run(conn, statement, what); !r) return Fail(r.error());
    }
    return Ok();
  }

  PgTransactFn transact_;
  PgExecFn exec_;
  std::string staging_schema_;
};

}  // namespace

std::unique_ptr<ModelWarehouse> NewPgModels(PgTransactFn transact, PgExecFn exec,
                                            std::string staging_schema) {
  return std::make_unique<PgModels>(std::move(transact), std::move(exec),
                                    std::move(staging_schema));
}

}  // namespace landfall::warehouse::internal
