#include "lib/warehouse/model_sql.h"

#include <algorithm>
#include <cctype>

#include "lib/warehouse/sql.h"
#include "lib/warehouse/statements.h"

namespace landfall::warehouse {

std::string ColumnSetKey(const std::vector<std::string>& columns) {
  std::vector<std::string> folded;
  for (const auto& column : columns) {
    std::string name = column;
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    folded.push_back(std::move(name));
  }
  std::sort(folded.begin(), folded.end());
  std::string out;
  for (const auto& name : folded) out += (out.empty() ? "" : ",") + name;
  return out;
}

}  // namespace landfall::warehouse

namespace landfall::warehouse::sql {

namespace {

constexpr std::string_view kSchema = "_landfall";

std::string Ledger() { return Qualified(kSchema, "ledger"); }
std::string Models() { return Qualified(kSchema, kModelsTable); }
std::string ModelLedger() { return Qualified(kSchema, kModelLedgerTable); }
std::string PartitionSources() { return Qualified(kSchema, kPartitionSourcesTable); }
std::string ModelInputs() { return Qualified(kSchema, kModelInputsTable); }
std::string ModelHashes() { return Qualified(kSchema, kModelHashesTable); }

std::string IdentList(const std::vector<std::string>& names, std::string_view prefix = "") {
  std::string out;
  for (const auto& name : names) {
    if (!out.empty()) out += ", ";
    out += std::string(prefix) + Ident(name);
  }
  return out;
}

// An order-independent hash of rows: the sum of each row's hash, as HUGEINT
// (no overflow), as text.
std::string RowsHash(const std::vector<std::string>& columns) {
  return "CAST(coalesce(sum(hash(" + IdentList(columns) + ")), 0) AS VARCHAR)";
}

std::string Strings(const std::vector<std::string>& texts) {
  std::string out;
  for (const auto& text : texts) out += (out.empty() ? "" : ", ") + Literal(text);
  return out;
}
std::string Temp(std::string_view name) { return "temp.main." + Ident(name); }

std::string Subquery(std::string_view select) { return "(" + std::string(select) + ")"; }

std::string ModelSourceFilter(std::string_view model, std::string_view source) {
  return "model = " + Literal(model) + " AND source = " + Literal(source);
}

}  // namespace

std::vector<std::string> ModelSetupDdl(std::string_view schema) {
  // No keys: DuckDB rejects deleting and inserting one key in one transaction;
  // the writes below keep (model) and (model, source, token) unique themselves.
  return {"CREATE SCHEMA IF NOT EXISTS " + Ident(kSchema), "CREATE SCHEMA IF NOT EXISTS " + Ident(schema),
          "CREATE TABLE IF NOT EXISTS " + Models() + " (model VARCHAR NOT NULL, version BIGINT NOT NULL)",
          "CREATE TABLE IF NOT EXISTS " + ModelLedger() +
              " (model VARCHAR NOT NULL, source VARCHAR NOT NULL, token VARCHAR NOT NULL)",
          PartitionSourcesDdl(),
          "CREATE TABLE IF NOT EXISTS " + ModelInputs() +
              " (model VARCHAR NOT NULL, source VARCHAR NOT NULL, columns_json VARCHAR NOT NULL,"
              " loaded_at_us BIGINT NOT NULL)",
          "CREATE TABLE IF NOT EXISTS " + ModelHashes() +
              " (model VARCHAR NOT NULL, version BIGINT NOT NULL, kind VARCHAR NOT NULL, key VARCHAR NOT NULL,"
              " type VARCHAR NOT NULL, rows BIGINT NOT NULL, hash VARCHAR NOT NULL)"};
}

std::string ModelVersionsQuery() { return "SELECT model, version FROM " + Models(); }
std::string ModelLedgerQuery() { return "SELECT model, source, token FROM " + ModelLedger(); }

std::string ModelInputsQuery() { return "SELECT model, source, columns_json, loaded_at_us FROM " + ModelInputs(); }

std::vector<std::string> SaveInputs(std::string_view model,
                                    const std::vector<std::tuple<std::string, std::string, int64_t>>& inputs) {
  std::vector<std::string> out = {ForgetInputs(model)};
  if (inputs.empty()) return out;
  std::string values;
  for (const auto& [source, columns, loaded_at] : inputs) {
    values += std::string(values.empty() ? "(" : ", (") + Literal(model) + ", " + Literal(source) + ", " +
              Literal(columns) + ", " + std::to_string(loaded_at) + ")";
  }
  out.push_back("INSERT INTO " + ModelInputs() + " VALUES " + values);
  return out;
}

std::string ForgetInputs(std::string_view model) {
  return "DELETE FROM " + ModelInputs() + " WHERE model = " + Literal(model);
}

std::string TargetHashesQuery(std::string_view target, const std::vector<std::string>& columns,
                              const std::vector<std::vector<std::string>>& sets) {
  auto sum = [](const std::string& args) { return ", coalesce(sum(hash(" + args + ")), 0)::VARCHAR"; };
  std::string out = "SELECT count(*)";
  for (const auto& column : columns) out += sum(Ident(column));
  for (const auto& set : sets) out += set.empty() ? ", count(*)::VARCHAR" : sum(IdentList(set));
  return out + " FROM " + std::string(target);
}

std::string SaveHashes(
    std::string_view model,
    const std::vector<std::tuple<std::string, std::string, std::string, int64_t, std::string>>& rows) {
  std::string values;
  for (const auto& [kind, key, type, count, hash] : rows) {
    values += std::string(values.empty() ? "(" : ", (") + Literal(kind) + ", " + Literal(key) + ", " +
              Literal(type) + ", " + std::to_string(count) + ", " + Literal(hash) + ")";
  }
  return "INSERT INTO " + ModelHashes() + " SELECT " + Literal(model) + ", (" + VersionQuery(model) +
         "), * FROM (VALUES " + values + ")";
}

std::string PruneHashes(std::string_view model, std::string_view source) {
  return "DELETE FROM " + ModelHashes() + " WHERE model = " + Literal(model) + " AND version < (" +
         VersionQuery(model) + ") AND CAST(version AS VARCHAR) NOT IN (SELECT token FROM " + ModelLedger() +
         " WHERE source = " + Literal(source) + ")";
}

std::string HashesQuery(std::string_view model, int64_t version) {
  return "SELECT kind, key, type, rows, hash FROM " + ModelHashes() + " WHERE model = " + Literal(model) +
         " AND version = " + std::to_string(version);
}

std::string ForgetHashes(std::string_view model) {
  return "DELETE FROM " + ModelHashes() + " WHERE model = " + Literal(model);
}

std::string VersionQuery(std::string_view model) {
  return "SELECT version FROM " + Models() + " WHERE model = " + Literal(model);
}

std::string TargetColumnsQuery(std::string_view schema, std::string_view name) {
  std::string where =
      "c.database_name = current_database() AND lower(c.schema_name) = lower(" + Literal(schema) + ")";
  if (!name.empty()) where += " AND lower(c.table_name) = lower(" + Literal(name) + ")";
  return "SELECT c.table_name, c.column_name, c.data_type, c.is_nullable::INTEGER,"
         " (v.view_name IS NOT NULL)::INTEGER FROM duckdb_columns() c"
         " LEFT JOIN duckdb_views() v ON c.database_name = v.database_name"
         " AND c.schema_name = v.schema_name AND c.table_name = v.view_name WHERE " +
         where + " ORDER BY c.table_name, c.column_index";
}

std::string TableInfoQuery(std::string_view qualified) {
  return "SELECT name, type, (NOT \"notnull\")::INTEGER FROM pragma_table_info(" + Literal(qualified) +
         ") ORDER BY cid";
}

std::string TargetKindQuery(std::string_view schema, std::string_view name) {
  return "SELECT table_type FROM information_schema.tables WHERE lower(table_schema) = lower(" +
         Literal(schema) + ") AND lower(table_name) = lower(" + Literal(name) + ")";
}

std::string DropTarget(std::string_view target, bool view) {
  return std::string(view ? "DROP VIEW " : "DROP TABLE ") + std::string(target);
}

std::string TargetTablesQuery(std::string_view schema) {
  return "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() "
         "AND lower(schema_name) = lower(" +
         Literal(schema) + ") ORDER BY table_name";
}

std::string TargetRowCountsQuery(const std::vector<std::pair<std::string, std::string>>& tables) {
  // count(*) of a DuckDB table reads no column data.
  std::string out;
  for (const auto& [schema, name] : tables) {
    out += std::string(out.empty() ? "" : " UNION ALL ") + "SELECT " + Literal(name) + ", count(*) FROM " +
           Qualified(schema, name);
  }
  return out;
}

std::string Describe(std::string_view select) { return "DESCRIBE " + std::string(select); }

std::string DeserializeSql(std::string_view json) {
  return "SELECT json_deserialize_sql(" + Literal(json) + "::JSON)";
}

std::string ReplaceTableAs(std::string_view target, std::string_view select) {
  return "CREATE OR REPLACE TABLE " + std::string(target) + " AS " + std::string(select);
}

std::string ReplaceViewAs(std::string_view target, std::string_view select) {
  return "CREATE OR REPLACE VIEW " + std::string(target) + " AS " + std::string(select);
}

std::string InsertByName(std::string_view target, std::string_view select, std::string_view where) {
  std::string out = "INSERT INTO " + std::string(target) + " BY NAME SELECT * FROM " + Subquery(select);
  if (!where.empty()) out += " WHERE " + std::string(where);
  return out;
}

std::string NewestPerKey(std::string_view select, const std::vector<std::string>& keys,
                         std::string_view order_by) {
  return "SELECT * FROM " + Subquery(select) + " QUALIFY row_number() OVER (PARTITION BY " +
         IdentList(keys) + " ORDER BY " + Ident(order_by) + " DESC NULLS LAST) = 1";
}

std::string DuplicateKeyProbe(std::string_view select, const std::vector<std::string>& keys) {
  std::string columns;
  for (const auto& key : keys) {
    if (!columns.empty()) columns += ", ";
    columns += "CAST(" + Ident(key) + " AS VARCHAR)";
  }
  return "SELECT " + columns + " FROM " + Subquery(select) + " GROUP BY " + IdentList(keys) +
         " HAVING count(*) > 1 LIMIT 1";
}

namespace {
std::string KeyMatch(std::string_view left, std::string_view right, const std::vector<std::string>& keys) {
  std::string out;
  for (const auto& key : keys) {
    if (!out.empty()) out += " AND ";
    out += std::string(left) + "." + Ident(key) + " IS NOT DISTINCT FROM " + std::string(right) + "." +
           Ident(key);
  }
  return out;
}
}  // namespace

std::string CountMatched(std::string_view target, std::string_view select,
                         const std::vector<std::string>& keys) {
  return "SELECT count(*) FROM " + Subquery(select) + " AS src WHERE EXISTS (SELECT 1 FROM " +
         std::string(target) + " AS tgt WHERE " + KeyMatch("tgt", "src", keys) + ")";
}

std::string MergeInto(std::string_view target, std::string_view select,
                      const std::vector<std::string>& keys,
                      const std::vector<std::string>& update_columns) {
  std::string out = "MERGE INTO " + std::string(target) + " AS tgt USING " + Subquery(select) +
                    " AS src ON (" + KeyMatch("tgt", "src", keys) + ") WHEN MATCHED THEN ";
  if (update_columns.empty()) {
    out += "DO NOTHING";
  } else {
    out += "UPDATE SET ";
    for (size_t i = 0; i < update_columns.size(); ++i) {
      if (i) out += ", ";
      out += Ident(update_columns[i]) + " = src." + Ident(update_columns[i]);
    }
  }
  return out + " WHEN NOT MATCHED THEN INSERT BY NAME";
}

std::string SaveWatermark(std::string_view target, std::string_view column, std::string_view lookback) {
  std::string value = "max(" + Ident(column) + ")";
  if (!lookback.empty()) value += " - CAST(" + Literal(lookback) + " AS INTERVAL)";
  return "CREATE OR REPLACE TEMP TABLE " + Ident(kWatermarkTable) + " AS SELECT " + value +
         " AS watermark FROM " + std::string(target);
}

std::string PastWatermark(std::string_view column) {
  const std::string watermark = "(SELECT watermark FROM " + Temp(kWatermarkTable) + ")";
  return "(" + watermark + " IS NULL OR " + Ident(column) + " > " + watermark + ")";
}

std::string WindowPastWatermark(std::string_view select, std::string_view column) {
  return "SELECT * FROM " + Subquery(select) + " WHERE " + PastWatermark(column);
}

std::string DeletePastWatermark(std::string_view target, std::string_view column) {
  return "DELETE FROM " + std::string(target) + " WHERE " + PastWatermark(column);
}

std::string MaxAsText(std::string_view target, std::string_view column) {
  return "SELECT CAST(max(" + Ident(column) + ") AS VARCHAR) FROM " + std::string(target);
}

std::string SaveNewBatches(std::string_view model, std::string_view source, std::string_view table) {
  return "CREATE OR REPLACE TEMP TABLE " + Ident(kNewBatchesTable) + " AS SELECT batch_id FROM " +
         Ledger() + " WHERE table_name = " + Literal(table) + " AND batch_id NOT IN (SELECT token FROM " +
         ModelLedger() + " WHERE " + ModelSourceFilter(model, source) + ")";
}

std::string CountNewBatches() { return CountRows(Temp(kNewBatchesTable)); }

std::string RestrictedView(std::string_view staging_table_qualified, std::string_view table) {
  return "CREATE OR REPLACE TEMP VIEW " + Ident(table) + " AS SELECT * FROM " +
         std::string(staging_table_qualified) + " WHERE _landfall_batch IN (SELECT batch_id FROM " +
         Temp(kNewBatchesTable) + ")";
}

std::string DropRestrictedView(std::string_view table) { return "DROP VIEW IF EXISTS " + Temp(table); }

std::vector<std::string> ConsumeStagingTable(std::string_view model, std::string_view source,
                                             std::string_view table) {
  const std::string filter = ModelSourceFilter(model, source);
  const std::string batches = "SELECT batch_id FROM " + Ledger() + " WHERE table_name = " + Literal(table);
  return {"DELETE FROM " + ModelLedger() + " WHERE " + filter + " AND token NOT IN (" + batches + ")",
          "INSERT INTO " + ModelLedger() + " SELECT " + Literal(model) + ", " + Literal(source) +
              ", batch_id FROM (" + batches + " EXCEPT SELECT token FROM " + ModelLedger() + " WHERE " +
              filter + ")"};
}

std::vector<std::string> ConsumeModel(std::string_view model, std::string_view source,
                                      std::string_view upstream) {
  return {"DELETE FROM " + ModelLedger() + " WHERE " + ModelSourceFilter(model, source),
          "INSERT INTO " + ModelLedger() + " SELECT " + Literal(model) + ", " + Literal(source) +
              ", CAST(version AS VARCHAR) FROM " + Models() + " WHERE model = " + Literal(upstream)};
}

std::string ForgetConsumed(std::string_view model) {
  return "DELETE FROM " + ModelLedger() + " WHERE model = " + Literal(model);
}

std::string BumpVersion(std::string_view model) {
  return "UPDATE " + Models() + " SET version = version + 1 WHERE model = " + Literal(model);
}

std::string InsertFirstVersion(std::string_view model) {
  return "INSERT INTO " + Models() + " VALUES (" + Literal(model) + ", 1)";
}

std::string ForgetVersion(std::string_view model) {
  return "DELETE FROM " + Models() + " WHERE model = " + Literal(model);
}

std::string PartitionSourcesDdl() {
  return "CREATE TABLE IF NOT EXISTS " + PartitionSources() +
         " (model VARCHAR NOT NULL, key VARCHAR NOT NULL, source VARCHAR NOT NULL, rows BIGINT NOT NULL,"
         " hash VARCHAR NOT NULL, duckdb_version VARCHAR NOT NULL)";
}

std::string InWindow(std::string_view column, std::string_view start, std::string_view end) {
  const std::string value = "CAST(" + Ident(column) + " AS TIMESTAMP)";
  return value + " >= TIMESTAMP " + std::string(start) + " AND " + value + " < TIMESTAMP " + std::string(end);
}

std::string PartitionKey(std::string_view column, std::string_view unit, std::string_view format) {
  return "strftime(date_trunc(" + Literal(unit) + ", CAST(" + Ident(column) + " AS TIMESTAMP)), " +
         Literal(format) + ")";
}

std::string SavePartitionRows(std::string_view select) {
  return "CREATE OR REPLACE TEMP TABLE " + Ident(kPartitionRowsTable) + " AS SELECT * FROM " + Subquery(select) +
         " AS model_rows";
}

std::string RowsOutsideWindow(std::string_view column, std::string_view start, std::string_view end) {
  return "SELECT count(*), CAST(min(" + Ident(column) + ") AS VARCHAR) FROM " + Temp(kPartitionRowsTable) +
         " WHERE " + Ident(column) + " IS NULL OR NOT (" + InWindow(column, start, end) + ")";
}

std::string DeleteWindow(std::string_view target, std::string_view column, std::string_view start,
                         std::string_view end) {
  return "DELETE FROM " + std::string(target) + " WHERE " + InWindow(column, start, end);
}

std::string SavedRowsChecksums(std::string_view column, std::string_view unit, std::string_view format,
                               const std::vector<std::string>& columns) {
  return "SELECT " + PartitionKey(column, unit, format) + " AS key, count(*), " + RowsHash(columns) + " FROM " +
         Temp(kPartitionRowsTable) + " GROUP BY key";
}

namespace {
std::string SourceChecksums(std::string_view source_table, std::string_view column,
                            const std::vector<std::string>& columns, std::string_view unit,
                            std::string_view format, std::string_view start, std::string_view end) {
  return "SELECT " + PartitionKey(column, unit, format) + " AS key, count(*) AS rows, " + RowsHash(columns) +
         " AS hash FROM " + std::string(source_table) + " WHERE " + InWindow(column, start, end) + " GROUP BY key";
}

// The keys of the window (as the kept checksums name them) of `model` and `source`.
std::string KeptInWindow(std::string_view model, std::string_view source_key, std::string_view format,
                         std::string_view start, std::string_view end) {
  return "model = " + Literal(model) + " AND source = " + Literal(source_key) + " AND key >= strftime(TIMESTAMP " +
         std::string(start) + ", " + Literal(format) + ") AND key < strftime(TIMESTAMP " + std::string(end) + ", " +
         Literal(format) + ")";
}
}  // namespace

std::vector<std::string> RecordSourceChecksums(std::string_view model, std::string_view source_key,
                                               std::string_view source_table, std::string_view column,
                                               const std::vector<std::string>& columns, std::string_view unit,
                                               std::string_view format, std::string_view start,
                                               std::string_view end) {
  return {"DELETE FROM " + PartitionSources() + " WHERE " + KeptInWindow(model, source_key, format, start, end),
          "INSERT INTO " + PartitionSources() + " SELECT " + Literal(model) + ", key, " + Literal(source_key) +
              ", rows, hash, version() FROM " + Subquery(SourceChecksums(source_table, column, columns, unit, format, start, end))};
}

std::string ChangedSourceKeys(std::string_view model, std::string_view source_key, std::string_view source_table,
                              std::string_view column, const std::vector<std::string>& columns,
                              std::string_view unit, std::string_view format, std::string_view start,
                              std::string_view end) {
  return "SELECT coalesce(now.key, kept.key) AS key FROM " +
         Subquery(SourceChecksums(source_table, column, columns, unit, format, start, end)) +
         " AS now FULL OUTER JOIN (SELECT key, rows, hash, duckdb_version FROM " + PartitionSources() + " WHERE " +
         KeptInWindow(model, source_key, format, start, end) +
         ") AS kept ON now.key = kept.key WHERE now.rows IS DISTINCT FROM kept.rows OR now.hash IS DISTINCT FROM "
         "kept.hash OR kept.duckdb_version IS DISTINCT FROM version() ORDER BY key";
}

std::string DistinctKeys(std::string_view select, std::string_view column, std::string_view unit,
                         std::string_view format) {
  return "SELECT DISTINCT " + PartitionKey(column, unit, format) + " AS key FROM " + Subquery(select) +
         " AS model_rows WHERE " + Ident(column) + " IS NOT NULL ORDER BY key";
}

std::string RestrictedToBatches(std::string_view qualified, std::string_view table,
                                const std::vector<std::string>& batch_ids) {
  return "CREATE OR REPLACE TEMP VIEW " + Ident(table) + " AS SELECT * FROM " + std::string(qualified) +
         " WHERE _landfall_batch IN (" + (batch_ids.empty() ? "NULL" : Strings(batch_ids)) + ")";
}

std::string ReplaceTableEmpty(std::string_view target, std::string_view select) {
  return "CREATE OR REPLACE TABLE " + std::string(target) + " AS SELECT * FROM " + Subquery(select) +
         " AS model_rows LIMIT 0";
}

std::string ForgetPartitionSources(std::string_view model) {
  return "DELETE FROM " + PartitionSources() + " WHERE model = " + Literal(model);
}

std::vector<std::string> ConsumeTokens(std::string_view model, std::string_view source,
                                       const std::vector<std::string>& tokens) {
  std::vector<std::string> out = {"DELETE FROM " + ModelLedger() + " WHERE " + ModelSourceFilter(model, source)};
  if (tokens.empty()) return out;
  std::string values;
  for (const auto& token : tokens) {
    values += (values.empty() ? "(" : ", (") + Literal(model) + ", " + Literal(source) + ", " + Literal(token) + ")";
  }
  out.push_back("INSERT INTO " + ModelLedger() + " VALUES " + values);
  return out;
}

std::vector<std::string> ConsumeSources(const PartitionsFinish& finish) {
  std::vector<std::string> statements;
  if (finish.consumed == nullptr) return statements;
  for (const auto& source : finish.sources) {
    std::vector<std::string> more;
    if (source.is_model) {
      more = ConsumeModel(finish.name, source.Key(), source.name);
    } else {
      auto tokens = finish.consumed->find(source.Key());
      more = ConsumeTokens(finish.name, source.Key(),
                           tokens == finish.consumed->end() ? std::vector<std::string>{} : tokens->second);
    }
    for (auto& statement : more) statements.push_back(std::move(statement));
  }
  return statements;
}

std::string CheckQuery(std::string_view target, const TargetCheck& check) {
  const std::string from = " FROM " + std::string(target);
  auto count_where = [&](const std::string& where) { return "SELECT count(*)::DOUBLE" + from + " WHERE " + where; };
  switch (check.kind) {
    case TargetCheck::Kind::kRowCount:
      return "SELECT count(*)::DOUBLE" + from;
    case TargetCheck::Kind::kNotNull: {
      std::string where;
      for (const auto& column : check.columns) where += (where.empty() ? "" : " OR ") + Ident(column) + " IS NULL";
      return count_where(where);
    }
    case TargetCheck::Kind::kUnique:
      // GROUP BY puts NULLs together: two rows with a NULL key are duplicates.
      return "SELECT coalesce(sum(n), 0)::DOUBLE FROM (SELECT count(*) AS n" + from + " GROUP BY " +
             IdentList(check.columns) + " HAVING count(*) > 1)";
    case TargetCheck::Kind::kAcceptedValues: {
      std::string values;
      for (const auto& value : check.values) values += (values.empty() ? "" : ", ") + Literal(value);
      const std::string column = Ident(check.columns.front());
      return count_where(column + " IS NOT NULL AND CAST(" + column + " AS VARCHAR) NOT IN (" + values + ")");
    }
    case TargetCheck::Kind::kFreshness:
      // TIMESTAMPTZ, so that a TIMESTAMP, a TIMESTAMPTZ and a DATE column all subtract from now().
      return "SELECT epoch(now() - max(CAST(" + Ident(check.columns.front()) + " AS TIMESTAMPTZ)))::DOUBLE" +
             from;
    case TargetCheck::Kind::kExpression:
      return count_where("NOT (" + check.expression + ")");
  }
  return "";
}

}  // namespace landfall::warehouse::sql
