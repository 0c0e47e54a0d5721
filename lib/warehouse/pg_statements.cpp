#include "lib/warehouse/pg_statements.h"

#include <ctime>
#include <map>

#include "lib/common/sha256.h"
#include "lib/warehouse/sql.h"

namespace landfall::warehouse::pg {

using sql::Ident;
using sql::Literal;

namespace {

// Staging types with a PostgreSQL type of their own; the rest are below.
const std::map<std::string, std::string, std::less<>>& TypeMap() {
  static const std::map<std::string, std::string, std::less<>> map = {
      {"BOOLEAN", "boolean"},
      {"TINYINT", "smallint"},
      {"UTINYINT", "smallint"},
      {"SMALLINT", "smallint"},
      {"USMALLINT", "integer"},
      {"INTEGER", "integer"},
      {"UINTEGER", "bigint"},
      {"BIGINT", "bigint"},
      {"UBIGINT", "numeric(20,0)"},
      {"HUGEINT", "numeric(39,0)"},
      {"UHUGEINT", "numeric(39,0)"},
      {"FLOAT", "real"},
      {"DOUBLE", "double precision"},
      {"VARCHAR", "text"},
      {"BLOB", "bytea"},
      {"UUID", "uuid"},
      {"JSON", "jsonb"},
      {"DATE", "date"},
      {"TIME", "time"},
      {"TIME WITH TIME ZONE", "timetz"},
      {"TIMESTAMP", "timestamp"},
      {"TIMESTAMP_S", "timestamp(0)"},
      {"TIMESTAMP_MS", "timestamp(3)"},
      {"TIMESTAMP_NS", "timestamp"},
      {"TIMESTAMP WITH TIME ZONE", "timestamptz"},
      {"INTERVAL", "interval"},
      {"BIT", "bit varying"},
  };
  return map;
}

// format_type's spelling of a column created by hand -> the staging type.
const std::map<std::string, std::string, std::less<>>& ReverseTypeMap() {
  static const std::map<std::string, std::string, std::less<>> map = {
      {"boolean", "BOOLEAN"},
      {"smallint", "SMALLINT"},
      {"integer", "INTEGER"},
      {"bigint", "BIGINT"},
      {"real", "FLOAT"},
      {"double precision", "DOUBLE"},
      {"text", "VARCHAR"},
      {"character varying", "VARCHAR"},
      {"bytea", "BLOB"},
      {"uuid", "UUID"},
      {"jsonb", "JSON"},
      {"json", "JSON"},
      {"date", "DATE"},
      {"time without time zone", "TIME"},
      {"time with time zone", "TIME WITH TIME ZONE"},
      {"timestamp without time zone", "TIMESTAMP"},
      {"timestamp with time zone", "TIMESTAMP WITH TIME ZONE"},
      {"interval", "INTERVAL"},
  };
  return map;
}

bool IsDateLike(std::string_view type) { return type == "DATE" || type.starts_with("TIMESTAMP"); }

std::string Columns(std::string_view schema_filter, std::string_view table_filter) {
  std::string statement =
      "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), "
      "CASE WHEN a.attnotnull THEN 0 ELSE 1 END, coalesce(col_description(c.oid, a.attnum), '') "
      "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
      "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid "
      "WHERE n.nspname = " +
      Literal(schema_filter) +
      " AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped";
  if (!table_filter.empty()) statement += " AND c.relname = " + Literal(table_filter);
  return statement + " ORDER BY c.relname, a.attnum";
}

std::string Comment(std::string_view qualified, std::string_view column, std::string_view type) {
  return "COMMENT ON COLUMN " + std::string(qualified) + "." + Ident(column) + " IS " +
         Literal(std::string(kTypeCommentPrefix) + std::string(type));
}

std::string InList(std::span<const std::string> values) {
  std::string list;
  for (const auto& v : values) list += (list.empty() ? "" : ", ") + Literal(v);
  return "(" + list + ")";
}

const sql::TableColumn* FindFolded(std::span<const sql::TableColumn> columns,
                                   std::string_view name) {
  const std::string folded = schema::FoldName(name);
  for (const auto& c : columns) {
    if (schema::FoldName(c.name) == folded) return &c;
  }
  return nullptr;
}

// `column` (of staging type `from`) as a value of staging type `to`.
std::string Convert(std::string_view column, std::string_view from, std::string_view to) {
  const std::string target = PgType(to);
  if (to == "JSON" && from != "JSON") return "to_jsonb(" + std::string(column) + ")";
  return std::string(column) + "::" + target;
}

}  // namespace

std::string PgType(std::string_view staging_type) {
  const std::string type = sql::NormalizeType(staging_type);
  if (auto it = TypeMap().find(type); it != TypeMap().end()) return it->second;
  if (type.starts_with("DECIMAL("))
    return "numeric" + type.substr(std::string_view("DECIMAL").size());
  return "text";
}

bool LosesPrecision(std::string_view staging_type) {
  return sql::NormalizeType(staging_type) == "TIMESTAMP_NS";
}

std::string StagingTypeOf(std::string_view pg_type, std::string_view comment) {
  if (comment.starts_with(kTypeCommentPrefix)) {
    return sql::NormalizeType(comment.substr(kTypeCommentPrefix.size()));
  }
  if (auto it = ReverseTypeMap().find(pg_type); it != ReverseTypeMap().end()) return it->second;
  if (pg_type.starts_with("numeric(")) return "DECIMAL" + std::string(pg_type.substr(7));
  if (pg_type.starts_with("character varying")) return "VARCHAR";
  // Not a type landfall creates: the planner sees a type it did not choose.
  return sql::NormalizeType(pg_type);
}

std::string TextForPostgres(std::string_view staging_type, std::string_view expression) {
  const std::string type = sql::NormalizeType(staging_type);
  const std::string e(expression);
  if (type == "BLOB") return "('\\x' || hex(" + e + "))";  // bytea's hex format
  // DuckDB spells BC dates "0044-03-15 (BC)"; PostgreSQL reads "BC".
  std::string text =
      "CAST(" + (type == "TIMESTAMP_NS" ? "CAST(" + e + " AS TIMESTAMP)" : e) + " AS VARCHAR)";
  if (IsDateLike(type)) text = "replace(" + text + ", ' (BC)', ' BC')";
  return text;
}

void AppendCopyField(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += c;
    }
  }
}

std::string TimestampText(int64_t micros) {
  int64_t seconds = micros / 1'000'000;
  int64_t fraction = micros % 1'000'000;
  if (fraction < 0) {
    fraction += 1'000'000;
    seconds -= 1;
  }
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%06lld", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(fraction));
  return buf;
}

std::vector<std::string> InitStatements(std::string_view staging_schema) {
  return {
      "CREATE SCHEMA IF NOT EXISTS " + Ident(staging_schema),
      "CREATE SCHEMA IF NOT EXISTS " + Ident(sql::kLedgerSchema),
      "CREATE TABLE IF NOT EXISTS " + sql::LedgerTable() +
          " (staging_schema text NOT NULL, table_name text NOT NULL, batch_id text NOT NULL, "
          "path text, rows bigint, loaded_at timestamp, "
          "PRIMARY KEY (staging_schema, table_name, batch_id))",
  };
}

std::string SelectStagingColumns(std::string_view staging_schema) {
  return Columns(staging_schema, "");
}

std::string SelectTableColumns(std::string_view staging_schema, std::string_view table) {
  return Columns(staging_schema, table);
}

std::string SelectLedger(std::string_view staging_schema) {
  return "SELECT table_name, batch_id, path, rows, (extract(epoch FROM loaded_at) * "
         "1000000)::bigint "
         "FROM " +
         sql::LedgerTable() + " WHERE staging_schema = " + Literal(staging_schema);
}

std::string SelectLedgerBatchIds(std::string_view staging_schema, std::string_view table) {
  return "SELECT batch_id FROM " + sql::LedgerTable() +
         " WHERE staging_schema = " + Literal(staging_schema) +
         " AND table_name = " + Literal(table);
}

std::string InsertLedgerRows(std::string_view staging_schema, std::string_view table,
                             std::span<const LedgerEntry> rows, sql::LedgerWrite write) {
  std::string values;
  for (const auto& row : rows) {
    if (!values.empty()) values += ", ";
    values += "(" + Literal(staging_schema) + ", " + Literal(table) + ", " + Literal(row.batch_id) +
              ", " + Literal(row.rel_path) + ", " + std::to_string(row.rows) + ", " +
              Literal(TimestampText(row.loaded_at_us)) + "::timestamp)";
  }
  return "INSERT INTO " + sql::LedgerTable() +
         " (staging_schema, table_name, batch_id, path, rows, loaded_at) VALUES " + values +
         (write == sql::LedgerWrite::kReplace
              ? " ON CONFLICT (staging_schema, table_name, batch_id) DO UPDATE SET path = "
                "excluded.path, "
                "rows = excluded.rows, loaded_at = excluded.loaded_at"
              : "");
}

std::string DeleteLedgerRows(std::string_view staging_schema, std::string_view table,
                             std::span<const std::string> keep) {
  std::string statement = "DELETE FROM " + sql::LedgerTable() +
                          " WHERE staging_schema = " + Literal(staging_schema) +
                          " AND table_name = " + Literal(table);
  if (!keep.empty()) statement += " AND batch_id NOT IN " + InList(keep);
  return statement;
}

std::string LockTransaction(std::string_view key) {
  return "SELECT pg_advisory_xact_lock(hashtextextended(" +
         Literal("landfall:" + std::string(key)) + ", 0))";
}

std::vector<std::string> CreateTable(std::string_view qualified, const schema::Schema& target) {
  std::string create = "CREATE TABLE " + std::string(qualified) + " (";
  std::vector<std::string> comments;
  for (const auto& column : target.columns) {
    create += Ident(column.name) + " " + PgType(column.type) + ", ";
    comments.push_back(Comment(qualified, column.name, sql::NormalizeType(column.type)));
  }
  create += Ident(sql::kBatchColumn) + " text, " + Ident(sql::kLoadedAtColumn) + " timestamp)";
  comments.insert(comments.begin(), std::move(create));
  return comments;
}

std::vector<std::string> EvolveColumns(std::string_view qualified,
                                       std::span<const sql::TableColumn> existing,
                                       const schema::Schema& target) {
  std::vector<std::string> statements;
  const std::string table(qualified);
  for (const auto& change : sql::EvolveColumns(qualified, existing, target)) {
    const schema::Column* column = target.Find(change.column);
    if (column == nullptr) continue;
    const std::string type = sql::NormalizeType(column->type);
    const sql::TableColumn* current = FindFolded(existing, column->name);
    if (current == nullptr) {
      statements.push_back("ALTER TABLE " + table + " ADD COLUMN " + Ident(column->name) + " " +
                           PgType(type));
      statements.push_back(Comment(qualified, column->name, type));
      continue;
    }
    if (PgType(current->type) != PgType(type)) {
      statements.push_back("ALTER TABLE " + table + " ALTER COLUMN " + Ident(current->name) +
                           " TYPE " + PgType(type) + " USING " +
                           Convert(Ident(current->name), current->type, type));
    }
    statements.push_back(Comment(qualified, current->name, type));
  }
  return statements;
}

std::string CopyFrom(std::string_view qualified, std::span<const std::string> columns,
                     CopyFormat format) {
  std::string list;
  for (const auto& c : columns) list += Ident(c) + ", ";
  return "COPY " + std::string(qualified) + " (" + list + Ident(sql::kBatchColumn) + ", " +
         Ident(sql::kLoadedAtColumn) + ") FROM STDIN" +
         (format == CopyFormat::kBinary ? " (FORMAT binary)" : "");
}

std::string CarryOverRows(std::string_view from, std::span<const sql::TableColumn> old,
                          std::string_view into, const schema::Schema& target,
                          std::span<const std::string> batch_ids) {
  std::string names;
  std::string values;
  for (const auto& column : target.columns) {
    const sql::TableColumn* source = FindFolded(old, column.name);
    if (source == nullptr) continue;
    names += Ident(column.name) + ", ";
    values += Convert(Ident(source->name), source->type, sql::NormalizeType(column.type)) + ", ";
  }
  const std::string meta = Ident(sql::kBatchColumn) + ", " + Ident(sql::kLoadedAtColumn);
  return "INSERT INTO " + std::string(into) + " (" + names + meta + ") SELECT " + values + meta +
         " FROM " + std::string(from) + " WHERE " + Ident(sql::kBatchColumn) + " IN " +
         InList(batch_ids);
}

std::vector<std::string> SwapIn(std::string_view staging_schema, std::string_view table,
                                std::string_view shadow) {
  return {"DROP TABLE IF EXISTS " + sql::Qualified(staging_schema, table),
          "ALTER TABLE " + sql::Qualified(staging_schema, shadow) + " RENAME TO " + Ident(table)};
}

std::vector<std::string> DropTable(std::string_view staging_schema, std::string_view table) {
  return {"DROP TABLE IF EXISTS " + sql::Qualified(staging_schema, table),
          "DELETE FROM " + sql::LedgerTable() + " WHERE staging_schema = " +
              Literal(staging_schema) + " AND table_name = " + Literal(table)};
}

std::string ShadowName(std::string_view table) {
  return std::string(sql::kMetaPrefix) + "shadow_" + Sha256Hex(table).substr(0, 16);
}

}  // namespace landfall::warehouse::pg
