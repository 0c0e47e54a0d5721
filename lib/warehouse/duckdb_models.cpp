#include "lib/warehouse/duckdb_models.h"

#include <chrono>
#include <cstdlib>
#include <random>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "lib/warehouse/duckdb_parse_tree.h"
#include "lib/warehouse/model_sql.h"
#include "lib/warehouse/sql.h"
#include "lib/warehouse/statements.h"

namespace landfall::warehouse::internal {

namespace {

using nlohmann::json;

constexpr int kMaxAttempts = 5;

Error DuckFailure(const std::string& code, const std::string& what, const DuckError& error) {
  return Error{code, what + ": " + error.message, error.IsConflict()};
}

bool SameFolded(const json& node, const char* key, const std::string& text) {
  return schema::FoldName(JsonText(node, key)) == schema::FoldName(text);
}

// Points every BASE_TABLE node naming staging_schema.table at temp.main.table.
int Repoint(json& node, const std::string& staging_schema, const std::string& table) {
  int changed = 0;
  if (node.is_object()) {
    if (JsonText(node, "type") == "BASE_TABLE" && JsonText(node, "catalog_name").empty() &&
        SameFolded(node, "schema_name", staging_schema) && SameFolded(node, "table_name", table)) {
      node["catalog_name"] = "temp";
      node["schema_name"] = "main";
      ++changed;
    }
    for (auto& [key, child] : node.items()) changed += Repoint(child, staging_schema, table);
  } else if (node.is_array()) {
    for (auto& child : node) changed += Repoint(child, staging_schema, table);
  }
  return changed;
}

class DuckDbModels final : public ModelWarehouse {
 public:
  DuckDbModels(ConnectionPool* pool, ExecFn exec, std::string staging_schema)
      : pool_(pool), exec_(std::move(exec)), staging_schema_(std::move(staging_schema)) {}

  Status InitModels(const std::string& schema) override {
    return Done(Transact<bool>("models: init", [&](duckdb_connection con) -> Result<bool> {
      for (const auto& statement : sql::ModelSetupDdl(schema)) {
        if (auto r = exec_(con, statement); !r) {
          return Fail(DuckFailure("warehouse_error", "models: init", r.error()));
        }
      }
      return true;
    }));
  }

  Result<std::map<std::string, ModelContents>> InspectModels(const std::string& schema) override {
    using Out = std::map<std::string, ModelContents>;
    return Transact<Out>("models: inspect", [&](duckdb_connection con) -> Result<Out> {
      Out out;
      if (auto s = ReadColumns(con, schema, "", out); !s) return Fail(s.error());
      auto versions = exec_(con, sql::ModelVersionsQuery());
      if (!versions) return Fail(DuckFailure("warehouse_error", "models: inspect versions", versions.error()));
      for (int64_t row = 0; row < versions->RowCount(); ++row) {
        out[versions->Text(0, row).value_or("")].version = versions->Int(1, row).value_or(0);
      }
      auto consumed = exec_(con, sql::ModelLedgerQuery());
      if (!consumed) return Fail(DuckFailure("warehouse_error", "models: inspect ledger", consumed.error()));
      for (int64_t row = 0; row < consumed->RowCount(); ++row) {
        out[consumed->Text(0, row).value_or("")]
            .consumed[consumed->Text(1, row).value_or("")]
            .insert(consumed->Text(2, row).value_or(""));
      }
      auto inputs = exec_(con, sql::ModelInputsQuery());
      if (!inputs) return Fail(DuckFailure("warehouse_error", "models: inspect inputs", inputs.error()));
      for (int64_t row = 0; row < inputs->RowCount(); ++row) {
        out[inputs->Text(0, row).value_or("")].inputs[inputs->Text(1, row).value_or("")] = {
            .columns_json = inputs->Text(2, row).value_or(""), .loaded_at_us = inputs->Int(3, row).value_or(0)};
      }
      return out;
    });
  }

  Result<std::map<std::string, int64_t>> TargetRows(const std::string& schema) override {
    using Out = std::map<std::string, int64_t>;
    return Transact<Out>("models: count rows", [&](duckdb_connection con) -> Result<Out> {
      Out out;
      auto tables = exec_(con, sql::TargetTablesQuery(schema));
      if (!tables) return Fail(DuckFailure("warehouse_error", "models: list targets", tables.error()));
      if (tables->RowCount() == 0) return out;
      // One statement for every target.
      std::vector<std::pair<std::string, std::string>> names;
      for (int64_t row = 0; row < tables->RowCount(); ++row) {
        names.emplace_back(tables->Text(0, row).value_or(""), tables->Text(1, row).value_or(""));
      }
      auto r = exec_(con, sql::TargetRowCountsQuery(names));
      if (!r) return Fail(DuckFailure("warehouse_error", "models: count rows", r.error()));
      for (int64_t row = 0; row < r->RowCount(); ++row) {
        out[r->Text(0, row).value_or("")] = r->Int(1, row).value_or(0);
      }
      return out;
    });
  }

  Result<schema::Schema> TargetColumns(const std::string& schema, const std::string& name) override {
    auto lease = pool_->Acquire();
    if (!lease) return Fail("warehouse_error", "cannot connect to DuckDB", true);
    // pragma_table_info binds this one table or view (under a millisecond);
    // duckdb_columns() lists every column of every table first, which every
    // model's run would pay again (about 50 ms at 1,000 staging tables). It
    // fails when the target is missing (or is a view that no longer binds):
    // the catalog query below then tells which.
    auto info = exec_(lease->get(), sql::TableInfoQuery(sql::Qualified(schema, name)));
    if (info) {
      schema::Schema columns;
      for (int64_t row = 0; row < info->RowCount(); ++row) {
        schema::Column column;
        column.name = info->Text(0, row).value_or("");
        column.type = sql::NormalizeType(info->Text(1, row).value_or(""));
        column.nullable = info->Int(2, row).value_or(1) != 0;
        columns.columns.push_back(std::move(column));
      }
      return columns;
    }
    std::map<std::string, ModelContents> out;
    if (auto s = ReadColumns(lease->get(), schema, name, out); !s) return Fail(s.error());
    return out.empty() ? schema::Schema{} : out.begin()->second.columns;
  }

  Result<schema::Schema> DescribeQuery(const std::string& select) override {
    auto lease = pool_->Acquire();
    if (!lease) return Fail("warehouse_error", "cannot connect to DuckDB", true);
    auto r = exec_(lease->get(), sql::Describe(select));
    if (!r) return Fail(DuckFailure(kModelSqlFailed, "describing the model's query", r.error()));
    schema::Schema out;
    for (int64_t row = 0; row < r->RowCount(); ++row) {
      schema::Column column;
      column.name = r->Text(0, row).value_or("");
      column.type = sql::NormalizeType(r->Text(1, row).value_or(""));
      out.columns.push_back(std::move(column));
    }
    return out;
  }

  Result<std::optional<double>> ObserveCheck(const std::string& schema, const std::string& name,
                                             const TargetCheck& check) override {
    auto lease = pool_->Acquire();
    if (!lease) return Fail("warehouse_error", "cannot connect to DuckDB", true);
    auto r = exec_(lease->get(), sql::CheckQuery(sql::Qualified(schema, name), check));
    if (!r) return Fail(DuckFailure(kCheckFailedToRun, "model " + name + ": check", r.error()));
    if (r->RowCount() == 0 || r->IsNull(0, 0)) return std::optional<double>();
    // As text: the C API's value accessors have no DOUBLE that tells NULL apart.
    const std::string text = r->Text(0, 0).value_or("");
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (end == text.c_str()) return Fail("warehouse_error", "model " + name + ": check gave '" + text + "'");
    return std::optional<double>(value);
  }

  Result<ModelWriteStats> WriteModel(const ModelWrite& write) override {
    return Transact<ModelWriteStats>("model " + write.name, [&](duckdb_connection con) {
      return Write(con, write);
    });
  }

  Status DropModel(const std::string& schema, const std::string& name) override {
    const std::string target = sql::Qualified(schema, name);
    return Done(Transact<bool>("model " + name + ": drop", [&](duckdb_connection con) -> Result<bool> {
      auto kind = exec_(con, sql::TargetKindQuery(schema, name));
      if (!kind) return Fail(DuckFailure("warehouse_error", "model " + name + ": drop", kind.error()));
      std::vector<std::string> statements = {sql::ForgetConsumed(name), sql::ForgetVersion(name),
                                             sql::ForgetPartitionSources(name), sql::ForgetInputs(name),
                                             sql::ForgetHashes(name)};
      if (kind->RowCount() > 0) {
        const bool view = kind->Text(0, 0).value_or("") == "VIEW";
        statements.push_back(sql::DropTarget(target, view));
      }
      for (const auto& statement : statements) {
        if (auto r = exec_(con, statement); !r) {
          return Fail(DuckFailure("warehouse_error", "model " + name + ": drop", r.error()));
        }
      }
      return true;
    }));
  }

  Status ResetPartitions(const std::string& schema, const std::string& name, const std::string& select) override {
    const std::string what = "model " + name;
    return Done(Transact<bool>(what + ": create", [&](duckdb_connection con) -> Result<bool> {
      if (auto r = Run(con, sql::ReplaceTableEmpty(sql::Qualified(schema, name), select), what, kModelSqlFailed); !r) {
        return Fail(r.error());
      }
      for (const auto& statement :
           {sql::ForgetConsumed(name), sql::ForgetPartitionSources(name), sql::ForgetInputs(name)}) {
        if (auto r = Run(con, statement, what); !r) return Fail(r.error());
      }
      return true;
    }));
  }

  Result<PartitionWriteStats> WritePartitions(const PartitionWrite& w) override {
    const std::string what = "model " + w.name;
    const std::string target = sql::Qualified(w.schema, w.name);
    const PartitionLayout& l = w.layout;
    return Transact<PartitionWriteStats>(what, [&](duckdb_connection con) -> Result<PartitionWriteStats> {
      PartitionWriteStats stats;
      if (auto r = Run(con, sql::SavePartitionRows(w.sql), what, kModelSqlFailed); !r) return Fail(r.error());
      auto outside = Run(con, sql::RowsOutsideWindow(l.time_column, w.start, w.end), what);
      if (!outside) return Fail(outside.error());
      if (const int64_t n = outside->Int(0, 0).value_or(0); n > 0) {
        return Fail(kPartitionRowsOutside,
                    what + ": " + std::to_string(n) + " row(s) of the SQL have " + l.time_column +
                        " outside the window [" + w.start + ", " + w.end + ") (e.g. " +
                        outside->Text(1, 0).value_or("NULL") +
                        "); a partition's rows must fall in its window (filter on @start_date and @end_date)");
      }
      auto deleted = Run(con, sql::DeleteWindow(target, l.time_column, w.start, w.end), what);
      if (!deleted) return Fail(deleted.error());
      stats.deleted = deleted->RowsChanged();
      auto inserted = Run(con, sql::InsertByName(target, "SELECT * FROM temp.main." + sql::Ident(sql::kPartitionRowsTable)),
                          what, kModelSqlFailed);
      if (!inserted) return Fail(inserted.error());
      stats.inserted = inserted->RowsChanged();
      for (const auto& key : w.keys) stats.partitions[key] = {0, "0:0"};
      auto sums = Run(con, sql::SavedRowsChecksums(l.time_column, l.unit, l.format, w.columns), what);
      if (!sums) return Fail(sums.error());
      for (int64_t row = 0; row < sums->RowCount(); ++row) {
        const int64_t rows = sums->Int(1, row).value_or(0);
        stats.partitions[sums->Text(0, row).value_or("")] = {rows, std::to_string(rows) + ":" + sums->Text(2, row).value_or("0")};
      }
      for (const auto& source : w.sources) {
        if (source.column.empty()) continue;
        for (const auto& statement :
             sql::RecordSourceChecksums(w.name, source.source.Key(), sql::Qualified(source.source.schema, source.source.name),
                                        source.column, source.columns, l.unit, l.format, w.start, w.end)) {
          if (auto r = Run(con, statement, what + ": checksums of " + source.source.Key()); !r) return Fail(r.error());
        }
      }
      if (auto r = Run(con, "DROP TABLE IF EXISTS temp.main." + sql::Ident(sql::kPartitionRowsTable), what); !r) {
        return Fail(r.error());
      }
      return stats;
    });
  }

  Result<std::vector<std::string>> TouchedPartitions(const std::string& select, const std::string& table,
                                                     const std::vector<std::string>& batch_ids,
                                                     const PartitionLayout& layout) override {
    using Out = std::vector<std::string>;
    return Transact<Out>("partitions touched by " + table, [&](duckdb_connection con) -> Result<Out> {
      auto restricted = PointAtTemp(exec_, con, select, staging_schema_, table);
      if (!restricted) return Fail(restricted.error());
      const std::string what = "the partitions new batches of " + table + " touch";
      if (auto r = Run(con, sql::RestrictedToBatches(sql::Qualified(staging_schema_, table), table, batch_ids), what);
          !r) {
        return Fail(r.error());
      }
      auto keys = Run(con, sql::DistinctKeys(*restricted, layout.time_column, layout.unit, layout.format), what,
                      kModelSqlFailed);
      if (!keys) return Fail(keys.error());
      Out out;
      for (int64_t row = 0; row < keys->RowCount(); ++row) out.push_back(keys->Text(0, row).value_or(""));
      if (auto r = Run(con, sql::DropRestrictedView(table), what); !r) return Fail(r.error());
      return out;
    });
  }

  Result<std::vector<std::string>> ChangedPartitions(const std::string& model, const PartitionSource& source,
                                                     const PartitionLayout& layout, const std::string& start,
                                                     const std::string& end) override {
    using Out = std::vector<std::string>;
    return Transact<Out>("checksums of " + source.source.Key(), [&](duckdb_connection con) -> Result<Out> {
      auto keys = Run(con,
                      sql::ChangedSourceKeys(model, source.source.Key(),
                                             sql::Qualified(source.source.schema, source.source.name), source.column,
                                             source.columns, layout.unit, layout.format, start, end),
                      "model " + model + ": checksums of " + source.source.Key());
      if (!keys) return Fail(keys.error());
      Out out;
      for (int64_t row = 0; row < keys->RowCount(); ++row) out.push_back(keys->Text(0, row).value_or(""));
      return out;
    });
  }

  Result<ModelWriteStats> FinishPartitions(const PartitionsFinish& f) override {
    const std::string what = "model " + f.name + ": bookkeeping";
    return Transact<ModelWriteStats>(what, [&](duckdb_connection con) -> Result<ModelWriteStats> {
      const std::vector<std::string> statements = sql::ConsumeSources(f);
      for (const auto& statement : statements) {
        if (auto r = Run(con, statement, what); !r) return Fail(r.error());
      }
      ModelWriteStats stats;
      if (f.wrote) {
        if (auto s = Bump(con, f.name, what); !s) return Fail(s.error());
      }
      if (auto s = RecordHashes(con, f.schema, f.name, f.wrote ? f.hash_sets : std::nullopt, {}, stats); !s) {
        return Fail(s.error());
      }
      return stats;
    });
  }

  Result<std::optional<TargetHashes>> HashesAt(const std::string& name, int64_t version) override {
    using Out = std::optional<TargetHashes>;
    return Transact<Out>("model " + name + ": hashes", [&](duckdb_connection con) -> Result<Out> {
      auto r = Run(con, sql::HashesQuery(name, version), "model " + name + ": hashes");
      if (!r) return Fail(r.error());
      if (r->RowCount() == 0) return Out{};
      TargetHashes out;
      for (int64_t row = 0; row < r->RowCount(); ++row) {
        const std::string kind = r->Text(0, row).value_or("");
        const std::string key = r->Text(1, row).value_or("");
        out.rows = r->Int(3, row).value_or(0);
        std::string hash = r->Text(4, row).value_or("");
        if (kind == "column") {
          out.columns[key] = {r->Text(2, row).value_or(""), std::move(hash)};
        } else if (kind == "expression") {
          out.expressions[key] = std::move(hash);
        } else {
          out.sets[key] = std::move(hash);
        }
      }
      return Out{std::move(out)};
    });
  }

  Status ConsumeUnchanged(const std::string& name, const std::vector<ModelSource>& upstream) override {
    const std::string what = "model " + name + ": bookkeeping";
    return Done(Transact<bool>(what, [&](duckdb_connection con) -> Result<bool> {
      for (const auto& source : upstream) {
        for (const auto& statement : sql::ConsumeModel(name, source.Key(), source.name)) {
          if (auto r = Run(con, statement, what); !r) return Fail(r.error());
        }
      }
      return true;
    }));
  }

 private:
  // The inputs and, when asked, the hashes of the target after a write
  // (its version already bumped), and the version.
  Status RecordInputsAndHashes(duckdb_connection con, const ModelWrite& write, ModelWriteStats& stats) {
    const std::string what = "model " + write.name + ": bookkeeping";
    std::vector<std::tuple<std::string, std::string, int64_t>> inputs;
    for (const auto& [source, input] : write.inputs) inputs.emplace_back(source, input.columns_json, input.loaded_at_us);
    for (const auto& statement : sql::SaveInputs(write.name, inputs)) {
      if (auto r = Run(con, statement, what); !r) return Fail(r.error());
    }
    const auto hash_sets = write.kind == ModelWriteKind::kReplaceView ? std::nullopt : write.hash_sets;
    return RecordHashes(con, write.schema, write.name, hash_sets, write.expressions, stats);
  }

  // The model's version into `stats`, and with `hash_sets` its target's
  // TargetHashes (and `expressions`) kept under it, older ones no model
  // consumed forgotten.
  Status RecordHashes(duckdb_connection con, const std::string& schema, const std::string& name,
                      const std::optional<std::vector<std::vector<std::string>>>& hash_sets,
                      const std::map<std::string, std::string>& expressions, ModelWriteStats& stats) {
    const std::string what = "model " + name + ": bookkeeping";
    auto version = Run(con, sql::VersionQuery(name), what);
    if (!version) return Fail(version.error());
    stats.version = version->Int(0, 0).value_or(0);
    if (!hash_sets) return Ok();
    const std::string target = sql::Qualified(schema, name);
    auto info = Run(con, sql::TableInfoQuery(target), what);
    if (!info) return Fail(info.error());
    std::vector<std::string> names, types;
    for (int64_t row = 0; row < info->RowCount(); ++row) {
      names.push_back(info->Text(0, row).value_or(""));
      types.push_back(sql::NormalizeType(info->Text(1, row).value_or("")));
    }
    const auto started = std::chrono::steady_clock::now();
    auto hashes = Run(con, sql::TargetHashesQuery(target, names, *hash_sets), what + ": column hashes");
    if (!hashes) return Fail(hashes.error());
    stats.hash_us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started)
                        .count();
    const int64_t rows = hashes->Int(0, 0).value_or(0);
    std::vector<std::tuple<std::string, std::string, std::string, int64_t, std::string>> kept;
    int64_t col = 1;
    for (size_t i = 0; i < names.size(); ++i) {
      kept.emplace_back("column", names[i], types[i], rows, hashes->Text(col++, 0).value_or("0"));
    }
    for (const auto& set : *hash_sets) {
      kept.emplace_back("set", ColumnSetKey(set), "", rows, hashes->Text(col++, 0).value_or("0"));
    }
    for (const auto& [key, fingerprint] : expressions) kept.emplace_back("expression", key, "", rows, fingerprint);
    if (kept.empty()) return Ok();
    for (const auto& statement : {sql::SaveHashes(name, kept), sql::PruneHashes(name, schema + "." + name)}) {
      if (auto r = Run(con, statement, what); !r) return Fail(r.error());
    }
    return Ok();
  }

  Status Bump(duckdb_connection con, const std::string& name, const std::string& what) {
    auto bumped = Run(con, sql::BumpVersion(name), what);
    if (!bumped) return Fail(bumped.error());
    if (bumped->RowsChanged() == 0) {
      if (auto r = Run(con, sql::InsertFirstVersion(name), what); !r) return Fail(r.error());
    }
    return Ok();
  }

  // The targets in `schema` (only `name` when not ""), with their columns.
  Status ReadColumns(duckdb_connection con, const std::string& schema, const std::string& name,
                     std::map<std::string, ModelContents>& out) {
    auto columns = exec_(con, sql::TargetColumnsQuery(schema, name));
    if (!columns) return Fail(DuckFailure("warehouse_error", "models: columns", columns.error()));
    for (int64_t row = 0; row < columns->RowCount(); ++row) {
      ModelContents& model = out[columns->Text(0, row).value_or("")];
      model.exists = true;
      model.is_view = columns->Int(4, row).value_or(0) != 0;
      schema::Column column;
      column.name = columns->Text(1, row).value_or("");
      column.type = sql::NormalizeType(columns->Text(2, row).value_or(""));
      column.nullable = columns->Int(3, row).value_or(1) != 0;
      model.columns.columns.push_back(std::move(column));
    }
    return Ok();
  }

  static Status Done(const Result<bool>& result) { return result ? Ok() : Fail(result.error()); }

  // Runs `statement`, failing with `code` (the model's SQL is in it) or warehouse_error.
  Result<DuckResult> Run(duckdb_connection con, const std::string& statement, const std::string& what,
                         const char* code = "warehouse_error") {
    auto r = exec_(con, statement);
    if (!r) return Fail(DuckFailure(code, what, r.error()));
    return std::move(*r);
  }

  Result<ModelWriteStats> Write(duckdb_connection con, const ModelWrite& write) {
    const std::string target = sql::Qualified(write.schema, write.name);
    const std::string what = "model " + write.name;
    ModelWriteStats stats;
    std::string select = write.sql;
    const bool by_batch =
        write.kind == ModelWriteKind::kAppendBatches || write.kind == ModelWriteKind::kMergeBatches;
    if (by_batch) {
      const std::string source = staging_schema_ + "." + write.driver;
      if (auto r = Run(con, sql::SaveNewBatches(write.name, source, write.driver), what + ": new batches"); !r) {
        return Fail(r.error());
      }
      auto count = Run(con, sql::CountNewBatches(),
                       what + ": new batches");
      if (!count) return Fail(count.error());
      stats.batches = static_cast<int>(count->Int(0, 0).value_or(0));
      auto restricted = PointAtTemp(exec_, con, write.sql, staging_schema_, write.driver);
      if (!restricted) return Fail(restricted.error());
      select = std::move(*restricted);
      if (auto r = Run(con, sql::RestrictedView(sql::Qualified(staging_schema_, write.driver), write.driver),
                       what + ": restricting " + write.driver);
          !r) {
        return Fail(r.error());
      }
    }
    const bool merging = !write.unique_key.empty() &&
                         (write.kind == ModelWriteKind::kMergeBatches ||
                          write.kind == ModelWriteKind::kReplaceTable ||
                          write.kind == ModelWriteKind::kAppendAfterWatermark);
    if (merging) {
      if (!write.dedupe_order_by.empty()) {
        select = sql::NewestPerKey(select, write.unique_key, write.dedupe_order_by);
      } else if (write.kind != ModelWriteKind::kAppendAfterWatermark) {
        if (auto s = CheckUniqueKey(con, select, write); !s) return Fail(s.error());
      }
    }

    if (auto s = WriteRows(con, write, target, select, stats); !s) return Fail(s.error());
    if (by_batch) {
      if (auto r = Run(con, sql::DropRestrictedView(write.driver), what); !r) return Fail(r.error());
    }
    if (auto s = RecordConsumed(con, write); !s) return Fail(s.error());
    if (auto s = RecordInputsAndHashes(con, write, stats); !s) return Fail(s.error());
    return stats;
  }

  Status CheckUniqueKey(duckdb_connection con, const std::string& select, const ModelWrite& write) {
    auto probe = Run(con, sql::DuplicateKeyProbe(select, write.unique_key), "model " + write.name,
                     kModelSqlFailed);
    if (!probe) return Fail(probe.error());
    if (probe->RowCount() == 0) return Ok();
    std::string key;
    for (size_t i = 0; i < write.unique_key.size(); ++i) {
      if (i) key += ", ";
      key += write.unique_key[i] + " = " + probe->Text(static_cast<int64_t>(i), 0).value_or("NULL");
    }
    return Fail(kMergeDuplicateKey, "model " + write.name + ": two rows have the key (" + key +
                                        "); set merge.dedupe: latest with merge.order_by to keep the newest");
  }

  Status WriteRows(duckdb_connection con, const ModelWrite& write, const std::string& target,
                   const std::string& select, ModelWriteStats& stats) {
    const std::string what = "model " + write.name;
    switch (write.kind) {
      case ModelWriteKind::kReplaceTable: {
        auto r = Run(con, sql::ReplaceTableAs(target, select), what, kModelSqlFailed);
        if (!r) return Fail(r.error());
        auto count = Run(con, sql::CountRows(target), what);
        if (!count) return Fail(count.error());
        stats.inserted = count->Int(0, 0).value_or(0);
        return Ok();
      }
      case ModelWriteKind::kReplaceView: {
        auto r = Run(con, sql::ReplaceViewAs(target, select), what, kModelSqlFailed);
        return r ? Ok() : Fail(r.error());
      }
      case ModelWriteKind::kAppendBatches: {
        auto r = Run(con, sql::InsertByName(target, select), what, kModelSqlFailed);
        if (!r) return Fail(r.error());
        stats.inserted = r->RowsChanged();
        return Ok();
      }
      case ModelWriteKind::kMergeBatches:
        return Merge(con, target, select, write, stats);
      case ModelWriteKind::kAppendAfterWatermark:
        return AppendAfterWatermark(con, target, select, write, stats);
      case ModelWriteKind::kPartitions:
        break;  // WritePartitions
    }
    return Fail("warehouse_error", what + ": unknown write kind");
  }

  Status Merge(duckdb_connection con, const std::string& target, const std::string& select,
               const ModelWrite& write, ModelWriteStats& stats) {
    const std::string what = "model " + write.name;
    auto matched = Run(con, sql::CountMatched(target, select, write.unique_key), what, kModelSqlFailed);
    if (!matched) return Fail(matched.error());
    auto merged = Run(con, sql::MergeInto(target, select, write.unique_key, write.update_columns), what,
                      kModelSqlFailed);
    if (!merged) return Fail(merged.error());
    const int64_t matched_rows = matched->Int(0, 0).value_or(0);
    stats.updated = write.update_columns.empty() ? 0 : matched_rows;
    stats.inserted = merged->RowsChanged() - stats.updated;
    return Ok();
  }

  Status AppendAfterWatermark(duckdb_connection con, const std::string& target, const std::string& select,
                              const ModelWrite& write, ModelWriteStats& stats) {
    const std::string what = "model " + write.name;
    if (auto r = Run(con, sql::SaveWatermark(target, write.timestamp_column, write.lookback), what); !r) {
      return Fail(r.error());
    }
    const std::string window = sql::WindowPastWatermark(select, write.timestamp_column);
    if (!write.lookback.empty() && !write.unique_key.empty()) {
      ModelWrite merge = write;
      if (auto s = Merge(con, target, window, merge, stats); !s) return Fail(s.error());
    } else {
      if (!write.lookback.empty()) {
        auto deleted = Run(con, sql::DeletePastWatermark(target, write.timestamp_column), what);
        if (!deleted) return Fail(deleted.error());
        stats.deleted = deleted->RowsChanged();
      }
      auto inserted = Run(con, sql::InsertByName(target, window), what, kModelSqlFailed);
      if (!inserted) return Fail(inserted.error());
      stats.inserted = inserted->RowsChanged();
    }
    auto watermark = Run(con, sql::MaxAsText(target, write.timestamp_column), what);
    if (!watermark) return Fail(watermark.error());
    stats.watermark = watermark->Text(0, 0).value_or("");
    return Ok();
  }

  // The version bump and what the target now holds of each source.
  Status RecordConsumed(duckdb_connection con, const ModelWrite& write) {
    const std::string what = "model " + write.name + ": bookkeeping";
    std::vector<std::string> statements;
    if (write.kind == ModelWriteKind::kReplaceTable || write.kind == ModelWriteKind::kReplaceView) {
      statements.push_back(sql::ForgetConsumed(write.name));
    }
    for (const auto& source : write.sources) {
      auto more = source.is_model ? sql::ConsumeModel(write.name, source.Key(), source.name)
                                  : sql::ConsumeStagingTable(write.name, source.Key(), source.name);
      for (auto& statement : more) statements.push_back(std::move(statement));
    }
    for (const auto& statement : statements) {
      if (auto r = Run(con, statement, what); !r) return Fail(r.error());
    }
    return Bump(con, write.name, what);
  }

  template <typename T>
  Result<T> Transact(const std::string& what, const std::function<Result<T>(duckdb_connection)>& body) {
    auto lease = pool_->Acquire();
    if (!lease) return Fail("warehouse_error", what + ": cannot connect to DuckDB", true);
    return RunTransaction<T>(exec_, lease->get(), what, body);
  }

  ConnectionPool* pool_;
  ExecFn exec_;
  std::string staging_schema_;
};

}  // namespace

Result<std::string> PointAtTemp(const ExecFn& exec, duckdb_connection con, const std::string& select,
                                const std::string& staging_schema, const std::string& table) {
  auto parsed = ParseTree(select);
  if (!parsed) return Fail(kModelSqlFailed, "parsing the model's SQL: " + parsed.error().message);
  json& tree = *parsed;
  if (!tree.is_object() || !tree.contains("error") || !tree["error"].is_boolean() ||
      tree["error"].get<bool>()) {
    const std::string message = tree.is_object() ? JsonText(tree, "error_message") : "";
    return Fail(kModelSqlFailed,
                "parsing the model's SQL: " + (message.empty() ? "unreadable parse tree" : message));
  }
  if (Repoint(tree, staging_schema, table) == 0) {
    return Fail(kModelSqlFailed, "the model's SQL does not read " + staging_schema + "." + table);
  }
  auto printed = exec(con, sql::DeserializeSql(tree.dump()));
  if (!printed) return Fail(DuckFailure(kModelSqlFailed, "printing the model's SQL", printed.error()));
  return printed->Text(0, 0).value_or("");
}

std::unique_ptr<ModelWarehouse> NewDuckDbModels(ConnectionPool* pool, ExecFn exec, std::string staging_schema) {
  return std::make_unique<DuckDbModels>(pool, std::move(exec), std::move(staging_schema));
}

}  // namespace landfall::warehouse::internal
