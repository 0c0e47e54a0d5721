#include "lib/schema/schema.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "lib/common/sha256.h"

namespace landfall::schema {

std::string FoldName(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

const Column* Schema::Find(std::string_view name) const {
  const std::string folded = FoldName(name);
  for (const auto& column : columns) {
    if (FoldName(column.name) == folded) return &column;
  }
  return nullptr;
}

namespace {

// name -> type with folded names, sorted: the part of a schema staging cares about.
std::map<std::string, std::string> StagingView(const Schema& schema) {
  std::map<std::string, std::string> view;
  for (const auto& column : schema.columns) view[FoldName(column.name)] = column.type;
  return view;
}

}  // namespace

std::string Schema::Hash() const {
  std::string canonical;
  for (const auto& [name, type] : StagingView(*this)) {
    canonical += name;
    canonical += '\x1f';
    canonical += type;
    canonical += '\x1e';
  }
  return Sha256Hex(canonical).substr(0, 16);
}

bool Schema::SameStagingColumns(const Schema& other) const {
  return StagingView(*this) == StagingView(other);
}

bool IsNestedType(std::string_view type) {
  auto starts = [&](std::string_view prefix) { return type.substr(0, prefix.size()) == prefix; };
  if (starts("STRUCT") || starts("MAP") || starts("UNION")) return true;
  // LIST types print as INTEGER[] and fixed-size arrays as INTEGER[3].
  return !type.empty() && type.back() == ']';
}

std::string CanonicalType(std::string_view duckdb_type) {
  if (IsNestedType(duckdb_type)) return "JSON";
  return std::string(duckdb_type);
}

Result<Schema> Unify(const Schema& base, const std::vector<const Schema*>& more,
                     const SupertypeFn& supertype) {
  Schema out = base;
  for (const Schema* schema : more) {
    // A column new after the first schema is nullable: the earlier ones lack it.
    const bool first = out.columns.empty();
    // Which column of `out` each of this schema's columns is (an index; -1: new).
    std::vector<int> match(schema->columns.size(), -1);
    std::vector<bool> claimed(out.columns.size(), false);
    // A Parquet field_id is the column's identity when both sides carry one:
    // the same id under a new name is a rename, not a new column. Ids are
    // matched first, for the whole schema, so a name a rename frees up can be
    // taken by another column of the same file.
    for (size_t i = 0; i < schema->columns.size(); ++i) {
      const Column& column = schema->columns[i];
      if (!column.field_id) continue;
      for (size_t j = 0; j < out.columns.size(); ++j) {
        if (!claimed[j] && out.columns[j].field_id == column.field_id) {
          match[i] = static_cast<int>(j);
          claimed[j] = true;
          break;
        }
      }
    }
    std::vector<size_t> renamed;
    for (size_t i = 0; i < schema->columns.size(); ++i) {
      if (match[i] < 0) continue;
      Column& existing = out.columns[match[i]];
      if (FoldName(existing.name) != FoldName(schema->columns[i].name)) {
        existing.name = schema->columns[i].name;  // the later batch's name wins
        renamed.push_back(static_cast<size_t>(match[i]));
      }
    }
    // A rename onto a name another column still holds (b dropped, then a
    // renamed to b): that column, which this schema does not carry, steps
    // aside as <name>__replaced, keeping its values, rather than leave two
    // columns of one name, which no staging table can hold. Checked after
    // every rename of this schema, so a swap (a<->b) displaces nothing.
    for (size_t j : renamed) {
      for (size_t k = 0; k < claimed.size(); ++k) {
        if (k != j && !claimed[k] &&
            FoldName(out.columns[k].name) == FoldName(out.columns[j].name)) {
          const std::string base_name = out.columns[k].name + std::string(kReplacedSuffix);
          std::string name = base_name;
          for (int n = 2; out.Find(name) != nullptr; ++n)
            name = base_name + "_" + std::to_string(n);
          out.columns[k].name = std::move(name);
        }
      }
    }
    // Otherwise by name: a staging table has one column per name, so the same
    // name under another field_id (a writer that renumbered its fields) is
    // still that column.
    const size_t known = out.columns.size();
    auto by_name = [&](const std::string& name, size_t from, bool unclaimed_only) {
      for (size_t j = from; j < out.columns.size(); ++j) {
        if ((!unclaimed_only || j >= known || !claimed[j]) &&
            FoldName(out.columns[j].name) == FoldName(name)) {
          return static_cast<int>(j);
        }
      }
      return -1;
    };
    for (size_t i = 0; i < schema->columns.size(); ++i) {
      if (match[i] >= 0) continue;
      match[i] = by_name(schema->columns[i].name, 0, true);
      if (match[i] >= 0) claimed[match[i]] = true;
    }
    for (size_t i = 0; i < schema->columns.size(); ++i) {
      const Column& column = schema->columns[i];
      // A name twice in one file (names differing only in case) is one column.
      if (match[i] < 0) match[i] = by_name(column.name, 0, false);
      if (match[i] < 0) {
        out.columns.push_back(column);
        if (!first) out.columns.back().nullable = true;
        continue;
      }
      Column& existing = out.columns[match[i]];
      if (existing.type != column.type) {
        auto unified = supertype(existing.type, column.type);
        if (!unified) {
          return Fail("no_common_supertype", "column \"" + column.name + "\": " + existing.type +
                                                 " and " + column.type + ": " +
                                                 unified.error().message);
        }
        existing.type = *unified;
      }
      existing.nullable = existing.nullable || column.nullable;
      if (!existing.field_id) existing.field_id = column.field_id;
    }
  }
  return out;
}

namespace {

// Width rank of DuckDB's integer types; 0 when not an integer.
int SignedRank(std::string_view t) {
  if (t == "TINYINT") return 1;
  if (t == "SMALLINT") return 2;
  if (t == "INTEGER") return 3;
  if (t == "BIGINT") return 4;
  if (t == "HUGEINT") return 5;
  return 0;
}
int UnsignedRank(std::string_view t) {
  if (t == "UTINYINT") return 1;
  if (t == "USMALLINT") return 2;
  if (t == "UINTEGER") return 3;
  if (t == "UBIGINT") return 4;
  if (t == "UHUGEINT") return 5;
  return 0;
}
// DECIMAL(p,s) -> {p, s}; {0, 0} when not a decimal.
std::pair<int, int> DecimalParts(std::string_view t) {
  int p = 0, s = 0;
  if (std::sscanf(std::string(t).c_str(), "DECIMAL(%d,%d)", &p, &s) == 2) return {p, s};
  return {0, 0};
}

}  // namespace

bool IsLosslessWidening(std::string_view from, std::string_view to) {
  if (from == to) return false;
  const int fs = SignedRank(from), fu = UnsignedRank(from);
  const int ts = SignedRank(to), tu = UnsignedRank(to);
  if (fs && ts) return ts > fs;
  if (fu && tu) return tu > fu;
  if (fu && ts) return ts > fu;  // UINTEGER fits in BIGINT, not in INTEGER
  if (from == "FLOAT" && to == "DOUBLE") return true;
  // A double holds every 32-bit integer exactly; a float every 16-bit one.
  if (to == "DOUBLE" && (fs || fu)) return std::max(fs, fu) <= 3;
  if (to == "FLOAT" && (fs || fu)) return std::max(fs, fu) <= 2;
  // A decimal holds another when it has room for as many integer digits and
  // as many fraction digits: DECIMAL(10,2) fits DECIMAL(12,4), not DECIMAL(11,1).
  auto [fp, fsc] = DecimalParts(from);
  auto [tp, tsc] = DecimalParts(to);
  return fp && tp && tp - tsc >= fp - fsc && tsc >= fsc;
}

namespace {

constexpr int kMaxDecimalDigits = 38;
// Every decimal of up to 15 significant digits survives a trip through a
// double (DBL_DIG), and of up to 6 one through a float (FLT_DIG).
constexpr int kDoubleDigits = 15;
constexpr int kFloatDigits = 6;

// Decimal digits an integer type needs, by rank (TINYINT 3 ... HUGEINT 39).
int IntegerDigits(int signed_rank, int unsigned_rank) {
  static constexpr int kSigned[] = {0, 3, 5, 10, 19, 39};
  static constexpr int kUnsigned[] = {0, 3, 5, 10, 20, 39};
  return signed_rank ? kSigned[signed_rank] : kUnsigned[unsigned_rank];
}

// A numeric type as landfall reasons about it; kind kOther for anything else.
struct Numeric {
  enum Kind { kOther, kSigned, kUnsigned, kFloat, kDouble, kDecimal } kind = kOther;
  int rank = 0;    // integers: 1 (8 bits) .. 5 (128 bits)
  int digits = 0;  // integer digits: integers and decimals
  int scale = 0;   // decimals
};

Numeric AsNumeric(std::string_view t) {
  Numeric n;
  if (int r = SignedRank(t)) {
    n = {Numeric::kSigned, r, IntegerDigits(r, 0), 0};
  } else if (int u = UnsignedRank(t)) {
    n = {Numeric::kUnsigned, u, IntegerDigits(0, u), 0};
  } else if (t == "FLOAT") {
    n.kind = Numeric::kFloat;
  } else if (t == "DOUBLE") {
    n.kind = Numeric::kDouble;
  } else if (auto [p, s] = DecimalParts(t); p > 0 && s >= 0 && s <= p) {
    n = {Numeric::kDecimal, 0, p - s, s};
  }
  return n;
}

bool IsInteger(const Numeric& n) {
  return n.kind == Numeric::kSigned || n.kind == Numeric::kUnsigned;
}
bool IsBinaryFloat(const Numeric& n) {
  return n.kind == Numeric::kFloat || n.kind == Numeric::kDouble;
}

const char* SignedName(int rank) {
  static constexpr const char* kNames[] = {"",        "TINYINT", "SMALLINT",
                                           "INTEGER", "BIGINT",  "HUGEINT"};
  return kNames[rank];
}
const char* UnsignedName(int rank) {
  static constexpr const char* kNames[] = {"",         "UTINYINT", "USMALLINT",
                                           "UINTEGER", "UBIGINT",  "UHUGEINT"};
  return kNames[rank];
}

// The narrowest type both convert to, before asking whether it is exact.
std::string SupertypeName(const Numeric& a, const Numeric& b) {
  if (a.kind == Numeric::kSigned && b.kind == Numeric::kSigned)
    return SignedName(std::max(a.rank, b.rank));
  if (a.kind == Numeric::kUnsigned && b.kind == Numeric::kUnsigned) {
    return UnsignedName(std::max(a.rank, b.rank));
  }
  if (IsInteger(a) && IsInteger(b)) {
    // A signed type one step wider than the unsigned one holds both.
    const Numeric& s = a.kind == Numeric::kSigned ? a : b;
    const Numeric& u = a.kind == Numeric::kSigned ? b : a;
    const int rank = std::max(s.rank, u.rank + 1);
    if (rank <= 5) return SignedName(rank);
    return "DOUBLE";  // UHUGEINT with a signed type: nothing holds both
  }
  // Integers and decimals meet at a decimal with room for both.
  if (!IsBinaryFloat(a) && !IsBinaryFloat(b)) {
    const int digits = std::max(a.digits, b.digits);
    const int scale = std::max(a.scale, b.scale);
    if (digits + scale <= kMaxDecimalDigits) {
      return "DECIMAL(" + std::to_string(digits + scale) + "," + std::to_string(scale) + ")";
    }
    return "DOUBLE";
  }
  // A binary float with anything numeric: DOUBLE, never FLOAT, which rounds
  // every integer above 2^24.
  return "DOUBLE";
}

}  // namespace

bool MayRound(std::string_view from, std::string_view to) {
  if (from == to) return false;
  const Numeric f = AsNumeric(from), t = AsNumeric(to);
  if (f.kind == Numeric::kOther || t.kind == Numeric::kOther) return false;
  switch (t.kind) {
    case Numeric::kSigned:
      if (f.kind == Numeric::kSigned) return f.rank > t.rank;
      if (f.kind == Numeric::kUnsigned) return f.rank >= t.rank;
      // A whole-number decimal fits with a digit to spare (INTEGER tops out at
      // 2147483647, so DECIMAL(10,0) does not fit it).
      return !(f.kind == Numeric::kDecimal && f.scale == 0 && f.digits < t.digits);
    case Numeric::kUnsigned:
      return !(f.kind == Numeric::kUnsigned && f.rank <= t.rank);
    case Numeric::kDouble:
      if (IsInteger(f)) return f.rank > 3;
      if (f.kind == Numeric::kDecimal) return f.digits + f.scale > kDoubleDigits;
      return false;  // FLOAT
    case Numeric::kFloat:
      if (IsInteger(f)) return f.rank > 2;
      if (f.kind == Numeric::kDecimal) return f.digits + f.scale > kFloatDigits;
      return true;  // DOUBLE
    case Numeric::kDecimal:
      if (IsBinaryFloat(f)) return true;
      return f.digits > t.digits || f.scale > t.scale;
    case Numeric::kOther:
      break;
  }
  return false;
}

std::optional<NumericSupertype> NumericSupertypeOf(std::string_view a, std::string_view b) {
  const Numeric na = AsNumeric(a), nb = AsNumeric(b);
  if (na.kind == Numeric::kOther || nb.kind == Numeric::kOther) return std::nullopt;
  if (a == b) return NumericSupertype{std::string(a), true};
  NumericSupertype out;
  out.type = SupertypeName(na, nb);
  out.exact = !MayRound(a, out.type) && !MayRound(b, out.type);
  return out;
}

std::string ToJson(const Schema& schema) {
  nlohmann::json columns = nlohmann::json::array();
  for (const auto& c : schema.columns) {
    nlohmann::json j = {{"name", c.name}, {"type", c.type}, {"nullable", c.nullable}};
    if (c.field_id) j["field_id"] = *c.field_id;
    if (!c.source_type.empty() && c.source_type != c.type) j["source_type"] = c.source_type;
    columns.push_back(std::move(j));
  }
  // Column names come from files: replace invalid UTF-8 rather than throw.
  return nlohmann::json{{"columns", std::move(columns)}}.dump(-1, ' ', false,
                                                              nlohmann::json::error_handler_t::replace);
}

Result<Schema> SchemaFromJson(std::string_view text) {
  try {
    auto j = nlohmann::json::parse(text);
    Schema schema;
    for (const auto& c : j.at("columns")) {
      Column column;
      column.name = c.at("name").get<std::string>();
      column.type = c.at("type").get<std::string>();
      column.nullable = c.value("nullable", true);
      if (c.contains("field_id")) {
        // get<int32_t>() would convert any number: a fraction silently, a
        // large integer with a wrap, and a large double is undefined behaviour
        // (reproduced with fuzz/fuzz_schema_json). Parquet field ids are int32.
        const auto& id = c.at("field_id");
        const bool fits = id.is_number_unsigned()
                              ? id.get<uint64_t>() <= uint64_t{INT32_MAX}
                              : id.is_number_integer() && id.get<int64_t>() >= INT32_MIN &&
                                    id.get<int64_t>() <= INT32_MAX;
        if (!fits) return Fail("schema_invalid", "schema snapshot: field_id must be a 32-bit integer");
        column.field_id = static_cast<int32_t>(id.get<int64_t>());
      }
      column.source_type = c.value("source_type", column.type);
      if (column.name.empty() || column.type.empty()) {
        return Fail("schema_invalid", "schema snapshot: column with empty name or type");
      }
      schema.columns.push_back(std::move(column));
    }
    return schema;
  } catch (const nlohmann::json::exception& e) {
    return Fail("schema_invalid", std::string("schema snapshot: ") + e.what());
  }
}

}  // namespace landfall::schema
