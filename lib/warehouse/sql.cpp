#include "lib/warehouse/sql.h"

#include <cctype>
#include <utility>

namespace landfall::warehouse::sql {

namespace {

std::string Quote(std::string_view text, char quote) {
  std::string out;
  out.reserve(text.size() + 2);
  out += quote;
  for (char c : text) {
    out += c;
    if (c == quote) out += quote;
  }
  out += quote;
  return out;
}

bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

// DuckDB's aliases for the scalar types Parquet files produce, keyed by the
// upper-cased base name (the part before any parenthesis).
constexpr std::pair<std::string_view, std::string_view> kAliases[] = {
    {"INT", "INTEGER"},
    {"INT4", "INTEGER"},
    {"INT32", "INTEGER"},
    {"SIGNED", "INTEGER"},
    {"INT1", "TINYINT"},
    {"INT2", "SMALLINT"},
    {"SHORT", "SMALLINT"},
    {"INT8", "BIGINT"},
    {"INT64", "BIGINT"},
    {"LONG", "BIGINT"},
    {"INT128", "HUGEINT"},
    {"UINT8", "UTINYINT"},
    {"UINT16", "USMALLINT"},
    {"UINT32", "UINTEGER"},
    {"UINT64", "UBIGINT"},
    {"UINT128", "UHUGEINT"},
    {"FLOAT4", "FLOAT"},
    {"REAL", "FLOAT"},
    {"FLOAT8", "DOUBLE"},
    {"DOUBLE PRECISION", "DOUBLE"},
    {"NUMERIC", "DECIMAL"},
    {"CHAR", "VARCHAR"},
    {"BPCHAR", "VARCHAR"},
    {"TEXT", "VARCHAR"},
    {"STRING", "VARCHAR"},
    {"BYTEA", "BLOB"},
    {"BINARY", "BLOB"},
    {"VARBINARY", "BLOB"},
    {"BOOL", "BOOLEAN"},
    {"LOGICAL", "BOOLEAN"},
    {"DATETIME", "TIMESTAMP"},
    {"TIMESTAMP_US", "TIMESTAMP"},
    {"TIMESTAMP WITHOUT TIME ZONE", "TIMESTAMP"},
    {"TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"},
    {"TIMETZ", "TIME WITH TIME ZONE"},
    {"TIME WITHOUT TIME ZONE", "TIME"},
};

}  // namespace

std::string Ident(std::string_view name) { return Quote(name, '"'); }

std::string Qualified(std::string_view schema, std::string_view name) {
  return Ident(schema) + "." + Ident(name);
}

std::string Literal(std::string_view text) { return Quote(text, '\''); }

std::string PathLiteral(std::string_view path) {
  std::string escaped;
  escaped.reserve(path.size());
  for (char c : path) {
    if (c == '*' || c == '?' || c == '[') {
      escaped += '[';
      escaped += c;
      escaped += ']';
    } else {
      escaped += c;
    }
  }
  return Literal(escaped);
}

std::string NormalizeType(std::string_view type) {
  while (!type.empty() && std::isspace(static_cast<unsigned char>(type.front()))) {
    type.remove_prefix(1);
  }
  while (!type.empty() && std::isspace(static_cast<unsigned char>(type.back()))) {
    type.remove_suffix(1);
  }
  // Nested types carry field names, which are case-sensitive text; they become
  // JSON in staging anyway, so they are compared as DuckDB printed them.
  if (StartsWithNoCase(type, "STRUCT") || StartsWithNoCase(type, "MAP") ||
      StartsWithNoCase(type, "UNION") || (!type.empty() && type.back() == ']')) {
    return std::string(type);
  }
  std::string upper;
  upper.reserve(type.size());
  for (char c : type) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!upper.empty() && upper.back() != ' ') upper += ' ';
      continue;
    }
    if (c == '(' || c == ',' || c == ')') {
      if (!upper.empty() && upper.back() == ' ') upper.pop_back();
    }
    upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  // Drop a space after '(' or ',' left by the collapse above ("DECIMAL( 18, 2)").
  std::string compact;
  compact.reserve(upper.size());
  for (char c : upper) {
    if (c == ' ' && !compact.empty() && (compact.back() == '(' || compact.back() == ',')) continue;
    compact += c;
  }

  std::string_view base = compact;
  std::string_view params;
  if (auto paren = compact.find('('); paren != std::string::npos) {
    base = std::string_view(compact).substr(0, paren);
    params = std::string_view(compact).substr(paren);
  }
  std::string name(base);
  for (const auto& [alias, canonical] : kAliases) {
    if (base == alias) {
      name = canonical;
      break;
    }
  }
  if (name == "DECIMAL") return params.empty() ? "DECIMAL(18,3)" : name + std::string(params);
  // DuckDB ignores a VARCHAR length; DESCRIBE never prints one.
  if (name == "VARCHAR") return name;
  return name + std::string(params);
}

bool IsSafeTypeName(std::string_view type) {
  if (type.empty()) return false;
  int depth = 0;
  for (char c : type) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ' ' || c == ',' ||
        c == '[' || c == ']') {
      continue;
    }
    if (c == '(') {
      ++depth;
    } else if (c == ')') {
      if (--depth < 0) return false;
    } else {
      return false;
    }
  }
  return depth == 0;
}

}  // namespace landfall::warehouse::sql
