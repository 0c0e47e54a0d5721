#include "lib/warehouse/pg_model_sql.h"

#include <cctype>

#include "lib/warehouse/model_sql.h"
#include "lib/warehouse/sql.h"
#include "lib/warehouse/statements.h"

namespace landfall::warehouse::pgsql {

namespace {

using sql::Ident;
using sql::Literal;
using sql::Qualified;

constexpr std::string_view kSchema = "_landfall";

std::string ModelLedger() { return Qualified(kSchema, sql::kModelLedgerTable); }
std::string ModelHashes() { return Qualified(kSchema, sql::kModelHashesTable); }
std::string Temp(std::string_view name) { return "pg_temp." + Ident(name); }

std::string IdentList(const std::vector<std::string>& names, std::string_view prefix = "") {
  std::string out;
  for (const auto& name : names) {
    if (!out.empty()) out += ", ";
    out += std::string(prefix) + Ident(name);
  }
  return out;
}

// PostgreSQL 15 wants an alias on every subquery in FROM. The line break
// ends a comment on the SELECT's last line.
std::string From(std::string_view select, std::string_view alias = "model_rows") {
  return "(" + std::string(select) + "\n) AS " + std::string(alias);
}

// The keys of `left` (the target) and `right` (the rows merged) equal, NULL
// equal to NULL. IS NOT DISTINCT FROM says that, but PostgreSQL joins on it
// only by a nested loop: the target's rows times the new rows, hours for a
// large target. One-element arrays are equal in the same cases (array
// equality takes NULL elements as equal) and can be hash-joined, if both are
// of one type: the right key is cast to the target column's type, the type
// the MERGE stores it with anyway. A key of unknown type keeps IS NOT
// DISTINCT FROM.
std::string KeyMatch(std::string_view left, std::string_view right,
                     const std::vector<std::string>& keys,
                     const std::vector<std::string>& key_types) {
  std::string out;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!out.empty()) out += " AND ";
    const std::string l = std::string(left) + "." + Ident(keys[i]);
    const std::string r = std::string(right) + "." + Ident(keys[i]);
    const std::string type = i < key_types.size() ? key_types[i] : "";
    out += type.empty() ? l + " IS NOT DISTINCT FROM " + r
                        : "ARRAY[" + l + "] = ARRAY[CAST(" + r + " AS " + type + ")]";
  }
  return out;
}

// An order-independent hash of rows of `columns`: the sum of each row's
// 64-bit text hash as numeric (no overflow), as text. ROW(...)::text tells a
// NULL from an empty string ("(,)" and "(\"\",)").
std::string RowsHash(const std::vector<std::string>& columns) {
  return "coalesce(sum(hashtextextended(ROW(" + IdentList(columns) +
         ")::text, 0)::numeric), 0)::text";
}

std::string ModelSourceFilter(std::string_view model, std::string_view source) {
  return "model = " + Literal(model) + " AND source = " + Literal(source);
}

std::string Batches(std::string_view staging_schema, std::string_view table) {
  return "SELECT batch_id FROM " + sql::LedgerTable() +
         " WHERE staging_schema = " + Literal(staging_schema) +
         " AND table_name = " + Literal(table);
}

}  // namespace

std::string TargetColumnsQuery(std::string_view schema, std::string_view name) {
  std::string out =
      "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), "
      "CASE WHEN a.attnotnull THEN 0 ELSE 1 END, CASE WHEN c.relkind IN ('v', 'm') THEN 1 ELSE 0 "
      "END FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
      "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid WHERE n.nspname = " +
      Literal(schema) +
      " AND c.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0 AND NOT a.attisdropped";
  if (!name.empty()) out += " AND c.relname = " + Literal(name);
  return out + " ORDER BY c.relname, a.attnum";
}

std::string TargetTablesQuery(std::string_view schema) {
  return "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = "
         "c.relnamespace WHERE n.nspname = " +
         Literal(schema) + " AND c.relkind IN ('r', 'p') ORDER BY c.relname";
}

std::string TargetRowCountsQuery(std::string_view schema, const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) {
    out += std::string(out.empty() ? "" : " UNION ALL ") + "SELECT " + Literal(name) +
           "::text, count(*) FROM " + Qualified(schema, name);
  }
  return out;
}

std::string TargetKindQuery(std::string_view schema, std::string_view name) {
  return "SELECT c.relkind FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = "
         "c.relnamespace WHERE n.nspname = " +
         Literal(schema) + " AND c.relname = " + Literal(name) +
         " AND c.relkind IN ('r', 'p', 'v', 'm')";
}

std::string DropTarget(std::string_view target, bool view) {
  return std::string(view ? "DROP VIEW IF EXISTS " : "DROP TABLE IF EXISTS ") +
         std::string(target) + " CASCADE";
}

std::string NoRows(std::string_view select) { return "SELECT * FROM " + From(select) + " LIMIT 0"; }

std::string FormatTypes(const std::vector<std::pair<unsigned, int>>& types) {
  std::string oids, mods;
  for (const auto& [oid, mod] : types) {
    oids += (oids.empty() ? "" : ", ") + std::to_string(oid);
    mods += (mods.empty() ? "" : ", ") + std::to_string(mod);
  }
  return "SELECT format_type(t, m) FROM unnest(ARRAY[" + oids + "]::oid[], ARRAY[" + mods +
         "]::int[]) WITH ORDINALITY AS u(t, m, i) ORDER BY i";
}

std::string CreateTableAs(std::string_view target, std::string_view select) {
  return "CREATE TABLE " + std::string(target) + " AS " + std::string(select);
}

std::string CreateViewAs(std::string_view target, std::string_view select, bool materialized) {
  return std::string(materialized ? "CREATE MATERIALIZED VIEW " : "CREATE VIEW ") +
         std::string(target) + " AS " + std::string(select);
}

std::string DependentViewsQuery(std::string_view schema, std::string_view name) {
  // A view's rewrite rule depends on each relation it reads (and on the view itself).
  const std::string rule =
      " JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid WHERE d.classid = "
      "'pg_catalog.pg_rewrite'::regclass AND "
      "r.ev_class <> d.refobjid";
  return "WITH RECURSIVE deps(oid, depth) AS (SELECT r.ev_class, 1 FROM pg_catalog.pg_depend d" +
         rule + " AND d.refobjid = " + Literal(Qualified(schema, name)) +
         "::regclass UNION SELECT r.ev_class, deps.depth + 1 FROM deps JOIN pg_catalog.pg_depend d "
         "ON d.refobjid = "
         "deps.oid" +
         rule +
         ") SELECT n.nspname, c.relname, c.relkind::text, pg_get_viewdef(c.oid) FROM deps JOIN "
         "pg_catalog.pg_class c "
         "ON c.oid = deps.oid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE "
         "c.relkind IN ('v', 'm') "
         "GROUP BY n.nspname, c.relname, c.relkind, c.oid ORDER BY max(deps.depth), n.nspname, "
         "c.relname";
}

std::string RenameTable(std::string_view schema, std::string_view from, std::string_view to) {
  return "ALTER TABLE " + Qualified(schema, from) + " RENAME TO " + Ident(to);
}

std::string InsertColumns(std::string_view target, std::string_view select,
                          const std::vector<std::string>& columns, std::string_view where) {
  std::string out = "INSERT INTO " + std::string(target) + " (" + IdentList(columns) + ") SELECT " +
                    IdentList(columns) + " FROM " + From(select);
  if (!where.empty()) out += " WHERE " + std::string(where);
  return out;
}

std::string NewestPerKey(std::string_view select, const std::vector<std::string>& columns,
                         const std::vector<std::string>& keys, std::string_view order_by) {
  return "SELECT " + IdentList(columns) + " FROM (SELECT *, row_number() OVER (PARTITION BY " +
         IdentList(keys) + " ORDER BY " + Ident(order_by) +
         " DESC NULLS LAST) AS _landfall_rank FROM " + From(select) +
         ") AS ranked WHERE _landfall_rank = 1";
}

std::string DuplicateKeyProbe(std::string_view select, const std::vector<std::string>& keys) {
  std::string columns;
  for (const auto& key : keys) columns += (columns.empty() ? "" : ", ") + Ident(key) + "::text";
  return "SELECT " + columns + " FROM " + From(select) + " GROUP BY " + IdentList(keys) +
         " HAVING count(*) > 1 LIMIT 1";
}

std::string KeyTypes(std::string_view target, const std::vector<std::string>& keys) {
  std::string names;
  for (const auto& key : keys) names += (names.empty() ? "" : ", ") + Literal(key);
  return "SELECT format_type(a.atttypid, a.atttypmod) FROM unnest(ARRAY[" + names +
         "]::text[]) WITH ORDINALITY AS k(name, i) LEFT JOIN pg_catalog.pg_attribute a ON "
         "a.attrelid = " + Literal(target) + "::regclass AND a.attname = k.name AND NOT "
         "a.attisdropped ORDER BY k.i";
}

std::string CountMatched(std::string_view target, std::string_view select,
                         const std::vector<std::string>& keys,
                         const std::vector<std::string>& key_types) {
  return "SELECT count(*) FROM " + From(select, "src") + " WHERE EXISTS (SELECT 1 FROM " +
         std::string(target) + " AS tgt WHERE " + KeyMatch("tgt", "src", keys, key_types) + ")";
}

std::string MergeInto(std::string_view target, std::string_view select,
                      const std::vector<std::string>& keys,
                      const std::vector<std::string>& key_types,
                      const std::vector<std::string>& update_columns,
                      const std::vector<std::string>& columns) {
  std::string out = "MERGE INTO " + std::string(target) + " AS tgt USING " + From(select, "src") +
                    " ON (" + KeyMatch("tgt", "src", keys, key_types) + ") WHEN MATCHED THEN ";
  if (update_columns.empty()) {
    out += "DO NOTHING";
  } else {
    out += "UPDATE SET ";
    for (size_t i = 0; i < update_columns.size(); ++i) {
      if (i) out += ", ";
      out += Ident(update_columns[i]) + " = src." + Ident(update_columns[i]);
    }
  }
  return out + " WHEN NOT MATCHED THEN INSERT (" + IdentList(columns) + ") VALUES (" +
         IdentList(columns, "src.") + ")";
}

std::string SaveWatermark(std::string_view target, std::string_view column,
                          std::string_view lookback) {
  std::string value = "max(" + Ident(column) + ")";
  if (!lookback.empty()) value += " - " + Literal(lookback) + "::interval";
  return "CREATE TEMP TABLE " + Ident(sql::kWatermarkTable) + " ON COMMIT DROP AS SELECT " + value +
         " AS watermark FROM " + std::string(target);
}

std::string PastWatermark(std::string_view column) {
  const std::string watermark = "(SELECT watermark FROM " + Temp(sql::kWatermarkTable) + ")";
  return "(" + watermark + " IS NULL OR " + Ident(column) + " > " + watermark + ")";
}

std::string WindowPastWatermark(std::string_view select, std::string_view column) {
  return "SELECT * FROM " + From(select) + " WHERE " + PastWatermark(column);
}

std::string DeletePastWatermark(std::string_view target, std::string_view column) {
  return "DELETE FROM " + std::string(target) + " WHERE " + PastWatermark(column);
}

std::string MaxAsText(std::string_view target, std::string_view column) {
  return "SELECT max(" + Ident(column) + ")::text FROM " + std::string(target);
}

std::string SaveNewBatches(std::string_view staging_schema, std::string_view table,
                           std::string_view model, std::string_view source) {
  return "CREATE TEMP TABLE " + Ident(sql::kNewBatchesTable) + " ON COMMIT DROP AS " +
         Batches(staging_schema, table) + " AND batch_id NOT IN (SELECT token FROM " +
         ModelLedger() + " WHERE " + ModelSourceFilter(model, source) + ")";
}

std::string CountNewBatches() { return sql::CountRows(Temp(sql::kNewBatchesTable)); }

std::string RestrictedView(std::string_view staging_schema, std::string_view table) {
  return "CREATE TEMP VIEW " + Ident(table) + " AS SELECT * FROM " +
         Qualified(staging_schema, table) + " WHERE " + Ident(sql::kBatchColumn) +
         " IN (SELECT batch_id FROM " + Temp(sql::kNewBatchesTable) + ")";
}

std::string DropRestrictedView(std::string_view table) {
  return "DROP VIEW IF EXISTS " + Temp(table);
}

namespace {

bool IsIdentStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool IsIdentPart(char c) {
  return IsIdentStart(c) || std::isdigit(static_cast<unsigned char>(c)) || c == '$';
}

// One token of a SELECT as PostgreSQL's lexer would split it, only as far as
// names are concerned.
struct Token {
  enum Kind { kName, kDot, kOther } kind;
  size_t begin, end;
  std::string name;  // kName: the name PostgreSQL resolves
};

std::vector<Token> Tokens(std::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '-' && i + 1 < s.size() && s[i + 1] == '-') {
      while (i < s.size() && s[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
      int depth = 0;  // PostgreSQL's block comments nest
      do {
        if (s.compare(i, 2, "/*") == 0) {
          ++depth;
          i += 2;
        } else if (s.compare(i, 2, "*/") == 0) {
          --depth;
          i += 2;
        } else {
          ++i;
        }
      } while (depth > 0 && i < s.size());
    } else if (c == '\'') {
      // E'...' escapes quotes with a backslash too; '' doubles one everywhere.
      const bool escapes =
          i > 0 && (s[i - 1] == 'E' || s[i - 1] == 'e') && (i < 2 || !IsIdentPart(s[i - 2]));
      ++i;
      while (i < s.size()) {
        if (escapes && s[i] == '\\') {
          i += 2;
        } else if (s[i] == '\'') {
          if (i + 1 < s.size() && s[i + 1] == '\'') {
            i += 2;
          } else {
            ++i;
            break;
          }
        } else {
          ++i;
        }
      }
      out.push_back({Token::kOther, 0, 0, ""});
    } else if (c == '"') {
      const size_t begin = i++;
      std::string name;
      while (i < s.size()) {
        if (s[i] == '"') {
          if (i + 1 < s.size() && s[i + 1] == '"') {
            name += '"';
            i += 2;
          } else {
            ++i;
            break;
          }
        } else {
          name += s[i++];
        }
      }
      out.push_back({Token::kName, begin, i, std::move(name)});
    } else if (c == '$' && i + 1 < s.size() && (s[i + 1] == '$' || IsIdentStart(s[i + 1]))) {
      // A dollar-quoted string: $tag$ ... $tag$.
      size_t j = i + 1;
      while (j < s.size() && s[j] != '$' && IsIdentPart(s[j])) ++j;
      if (j < s.size() && s[j] == '$') {
        const std::string tag(s.substr(i, j - i + 1));
        const size_t close = s.find(tag, j + 1);
        i = close == std::string_view::npos ? s.size() : close + tag.size();
      } else {
        i = j;
      }
      out.push_back({Token::kOther, 0, 0, ""});
    } else if (IsIdentStart(c)) {
      const size_t begin = i;
      std::string name;
      while (i < s.size() && IsIdentPart(s[i])) {
        name += static_cast<char>(std::tolower(static_cast<unsigned char>(s[i])));
        ++i;
      }
      out.push_back({Token::kName, begin, i, std::move(name)});
    } else if (c == '.') {
      out.push_back({Token::kDot, i, i + 1, ""});
      ++i;
    } else {
      ++i;
      out.push_back({Token::kOther, 0, 0, ""});
    }
  }
  return out;
}

}  // namespace

std::string PointAtTemp(std::string_view select, std::string_view staging_schema,
                        std::string_view table, int* changed) {
  const std::vector<Token> tokens = Tokens(select);
  std::string out;
  size_t copied = 0;
  int count = 0;
  for (size_t t = 0; t + 2 < tokens.size(); ++t) {
    const Token& schema = tokens[t];
    const Token& dot = tokens[t + 1];
    const Token& name = tokens[t + 2];
    if (schema.kind != Token::kName || dot.kind != Token::kDot || name.kind != Token::kName) {
      continue;
    }
    if (t > 0 && tokens[t - 1].kind == Token::kDot) continue;  // a column: x.schema.table
    if (schema.name != staging_schema || name.name != table) continue;
    out += select.substr(copied, schema.begin - copied);
    out += "pg_temp." + Ident(table);
    copied = name.end;
    ++count;
    t += 2;
  }
  out += select.substr(copied);
  if (changed != nullptr) *changed = count;
  return out;
}

std::vector<std::string> ConsumeStagingTable(std::string_view staging_schema,
                                             std::string_view model, std::string_view source,
                                             std::string_view table) {
  const std::string filter = ModelSourceFilter(model, source);
  const std::string batches = Batches(staging_schema, table);
  return {
      "DELETE FROM " + ModelLedger() + " WHERE " + filter + " AND token NOT IN (" + batches + ")",
      "INSERT INTO " + ModelLedger() + " SELECT " + Literal(model) + ", " + Literal(source) +
          ", batch_id FROM (" + batches + " EXCEPT SELECT token FROM " + ModelLedger() + " WHERE " +
          filter + ") AS fresh"};
}

std::string TargetHashesQuery(std::string_view target, const std::vector<std::string>& columns,
                              const std::vector<std::vector<std::string>>& sets) {
  std::string out = "SELECT count(*)";
  for (const auto& column : columns) out += ", " + RowsHash({column});
  for (const auto& set : sets) out += set.empty() ? ", count(*)::text" : ", " + RowsHash(set);
  return out + " FROM " + std::string(target);
}

std::string SaveHashes(
    std::string_view model,
    const std::vector<std::tuple<std::string, std::string, std::string, int64_t, std::string>>&
        rows) {
  std::string values;
  for (const auto& [kind, key, type, count, hash] : rows) {
    values += std::string(values.empty() ? "(" : ", (") + Literal(kind) + ", " + Literal(key) +
              ", " + Literal(type) + ", " + std::to_string(count) + "::bigint, " + Literal(hash) +
              ")";
  }
  return "INSERT INTO " + ModelHashes() + " SELECT " + Literal(model) + ", (" +
         sql::VersionQuery(model) + "), v.* FROM (VALUES " + values + ") AS v";
}

std::string ToCharFormat(std::string_view format) {
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    const char c = format[i];
    if (c == '%' && i + 1 < format.size()) {
      switch (format[++i]) {
        case 'Y':
          out += "YYYY";
          break;
        case 'm':
          out += "MM";
          break;
        case 'd':
          out += "DD";
          break;
        case 'H':
          out += "HH24";
          break;
        case 'M':
          out += "MI";
          break;
        case 'S':
          out += "SS";
          break;
        default:
          out += std::string("\"") + format[i] + "\"";
      }
    } else if (std::isalpha(static_cast<unsigned char>(c))) {
      out += std::string("\"") + c + "\"";  // "T" unquoted would be the ordinal suffix TH
    } else {
      out += c;
    }
  }
  return out;
}

std::string InWindow(std::string_view column, std::string_view start, std::string_view end) {
  const std::string value = "CAST(" + Ident(column) + " AS timestamp)";
  return value + " >= TIMESTAMP " + std::string(start) + " AND " + value + " < TIMESTAMP " +
         std::string(end);
}

std::string PartitionKey(std::string_view column, std::string_view unit, std::string_view format) {
  return "to_char(date_trunc(" + Literal(unit) + ", CAST(" + Ident(column) + " AS timestamp)), " +
         Literal(ToCharFormat(format)) + ")";
}

std::string SavePartitionRows(std::string_view select) {
  return "CREATE TEMP TABLE " + Ident(sql::kPartitionRowsTable) +
         " ON COMMIT DROP AS SELECT * FROM " + From(select);
}

std::string PartitionRows() { return "SELECT * FROM " + Temp(sql::kPartitionRowsTable); }

std::string RowsOutsideWindow(std::string_view column, std::string_view start,
                              std::string_view end) {
  return "SELECT count(*), min(" + Ident(column) + ")::text FROM " +
         Temp(sql::kPartitionRowsTable) + " WHERE " + Ident(column) + " IS NULL OR NOT (" +
         InWindow(column, start, end) + ")";
}

std::string DeleteWindow(std::string_view target, std::string_view column, std::string_view start,
                         std::string_view end) {
  return "DELETE FROM " + std::string(target) + " WHERE " + InWindow(column, start, end);
}

std::string SavedRowsChecksums(std::string_view column, std::string_view unit,
                               std::string_view format, const std::vector<std::string>& columns) {
  return "SELECT " + PartitionKey(column, unit, format) + ", count(*), " + RowsHash(columns) +
         " FROM " + Temp(sql::kPartitionRowsTable) + " GROUP BY 1";
}

namespace {

std::string SourceChecksums(std::string_view source_table, std::string_view column,
                            const std::vector<std::string>& columns, std::string_view unit,
                            std::string_view format, std::string_view start, std::string_view end) {
  return "SELECT " + PartitionKey(column, unit, format) + " AS key, count(*) AS rows, " +
         RowsHash(columns) + " AS hash FROM " + std::string(source_table) + " WHERE " +
         InWindow(column, start, end) + " GROUP BY 1";
}

std::string KeptInWindow(std::string_view model, std::string_view source_key,
                         std::string_view format, std::string_view start, std::string_view end) {
  const std::string pattern = Literal(ToCharFormat(format));
  return "model = " + Literal(model) + " AND source = " + Literal(source_key) +
         " AND key >= to_char(TIMESTAMP " + std::string(start) + ", " + pattern +
         ") AND key < to_char(TIMESTAMP " + std::string(end) + ", " + pattern + ")";
}

std::string PartitionSources() { return Qualified(kSchema, sql::kPartitionSourcesTable); }

}  // namespace

std::vector<std::string> RecordSourceChecksums(std::string_view model, std::string_view source_key,
                                               std::string_view source_table,
                                               std::string_view column,
                                               const std::vector<std::string>& columns,
                                               std::string_view unit, std::string_view format,
                                               std::string_view start, std::string_view end) {
  return {
      "DELETE FROM " + PartitionSources() + " WHERE " +
          KeptInWindow(model, source_key, format, start, end),
      "INSERT INTO " + PartitionSources() + " SELECT " + Literal(model) + ", key, " +
          Literal(source_key) + ", rows, hash, version() FROM " +
          From(SourceChecksums(source_table, column, columns, unit, format, start, end), "now")};
}

std::string ChangedSourceKeys(std::string_view model, std::string_view source_key,
                              std::string_view source_table, std::string_view column,
                              const std::vector<std::string>& columns, std::string_view unit,
                              std::string_view format, std::string_view start,
                              std::string_view end) {
  return "SELECT coalesce(now.key, kept.key) AS key FROM " +
         From(SourceChecksums(source_table, column, columns, unit, format, start, end), "now") +
         " FULL OUTER JOIN (SELECT key, rows, hash, duckdb_version FROM " + PartitionSources() +
         " WHERE " + KeptInWindow(model, source_key, format, start, end) +
         ") AS kept ON now.key = kept.key WHERE now.rows IS DISTINCT FROM kept.rows OR now.hash IS "
         "DISTINCT FROM "
         "kept.hash OR kept.duckdb_version IS DISTINCT FROM version() ORDER BY 1";
}

std::string DistinctKeys(std::string_view select, std::string_view column, std::string_view unit,
                         std::string_view format) {
  return "SELECT DISTINCT " + PartitionKey(column, unit, format) + " FROM " + From(select) +
         " WHERE " + Ident(column) + " IS NOT NULL ORDER BY 1";
}

std::string RestrictedToBatches(std::string_view staging_schema, std::string_view table,
                                const std::vector<std::string>& batch_ids) {
  std::string ids;
  for (const auto& id : batch_ids) ids += (ids.empty() ? "" : ", ") + Literal(id);
  return "CREATE TEMP VIEW " + Ident(table) + " AS SELECT * FROM " +
         Qualified(staging_schema, table) + " WHERE " + Ident(sql::kBatchColumn) + " IN (" +
         (ids.empty() ? "NULL" : ids) + ")";
}

std::string CreateTableEmpty(std::string_view target, std::string_view select) {
  return "CREATE TABLE " + std::string(target) + " AS SELECT * FROM " + From(select) + " LIMIT 0";
}

std::string CheckQuery(std::string_view target, const TargetCheck& check) {
  const std::string from = " FROM " + std::string(target);
  auto count_where = [&](const std::string& where) {
    return "SELECT count(*)::double precision" + from + " WHERE " + where;
  };
  switch (check.kind) {
    case TargetCheck::Kind::kRowCount:
      return "SELECT count(*)::double precision" + from;
    case TargetCheck::Kind::kNotNull: {
      std::string where;
      for (const auto& column : check.columns) {
        where += (where.empty() ? "" : " OR ") + Ident(column) + " IS NULL";
      }
      return count_where(where);
    }
    case TargetCheck::Kind::kUnique:
      return "SELECT coalesce(sum(n), 0)::double precision FROM (SELECT count(*) AS n" + from +
             " GROUP BY " + IdentList(check.columns) + " HAVING count(*) > 1) AS groups";
    case TargetCheck::Kind::kAcceptedValues: {
      std::string values;
      for (const auto& value : check.values)
        values += (values.empty() ? "" : ", ") + Literal(value);
      const std::string column = Ident(check.columns.front());
      return count_where(column + " IS NOT NULL AND " + column + "::text NOT IN (" + values + ")");
    }
    case TargetCheck::Kind::kFreshness:
      return "SELECT extract(epoch FROM now() - max(" + Ident(check.columns.front()) +
             "::timestamptz))::double precision" + from;
    case TargetCheck::Kind::kExpression:
      return count_where("NOT (" + check.expression + ")");
  }
  return "";
}

}  // namespace landfall::warehouse::pgsql
