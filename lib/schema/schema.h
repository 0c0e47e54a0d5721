// Schema snapshots: the unified column list of a raw table and its hash.
//
// Column types are canonical DuckDB type strings ("INTEGER", "DECIMAL(18,2)",
// "TIMESTAMP WITH TIME ZONE"). Nested Parquet types (STRUCT, LIST, MAP, UNION,
// arrays) are staged as JSON, so their canonical type is "JSON" and a change
// inside a nested type is not a staging schema change.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/common/result.h"

namespace landfall::schema {

struct Column {
  std::string name;
  std::string type;  // canonical staging type
  bool nullable = true;
  std::optional<int32_t> field_id;  // Parquet field_id, when the writer set one
  // The type as the file declares it, before nested types became JSON.
  std::string source_type;

  bool operator==(const Column&) const = default;
};

struct Schema {
  std::vector<Column> columns;

  // Case-insensitive lookup (DuckDB identifiers are case-insensitive).
  const Column* Find(std::string_view name) const;
  // Hash of the staging-relevant parts: lower-cased names and types, order-independent.
  // Nullability, field ids and column order do not change it.
  std::string Hash() const;
  // True when both have the same columns (case-insensitive names) with the same types.
  bool SameStagingColumns(const Schema& other) const;

  bool operator==(const Schema&) const = default;
};

// Maps a DuckDB type string from a Parquet file to the staging type.
std::string CanonicalType(std::string_view duckdb_type);
bool IsNestedType(std::string_view duckdb_type);

// Lower-cases ASCII letters; DuckDB folds identifiers the same way.
std::string FoldName(std::string_view name);

// True when every value of `from` converts to `to` exactly and the column can
// be altered in place: integer widening (signed, unsigned, unsigned to a wider
// signed), FLOAT to DOUBLE, integers of up to 32 bits to DOUBLE (16 to FLOAT),
// a DECIMAL to one with at least as many integer digits and at least its scale
// (DECIMAL(10,2) to DECIMAL(12,4)).
bool IsLosslessWidening(std::string_view from, std::string_view to);

// landfall's own supertype of two numeric staging types (integers, FLOAT,
// DOUBLE, DECIMAL): the narrowest type that holds every value of both exactly.
// Decimals keep the larger count of integer digits and the larger scale while
// that fits in 38 digits; an integer counts as a decimal of its digits (INTEGER
// 10, BIGINT 19, UBIGINT 20). An integer meeting a FLOAT or DOUBLE gives DOUBLE,
// never FLOAT. Where no type holds both exactly (BIGINT and DOUBLE,
// DECIMAL(38,2) and DECIMAL(38,4)), the answer is DOUBLE with exact = false, so
// the caller can say so instead of rounding silently. nullopt when either type
// is not numeric: those are the warehouse's to decide.
struct NumericSupertype {
  std::string type;
  bool exact = true;  // every value of both types is a value of `type`
  bool operator==(const NumericSupertype&) const = default;
};
std::optional<NumericSupertype> NumericSupertypeOf(std::string_view a, std::string_view b);

// True when both are numeric types and some value of `from` changes when cast
// to `to` (BIGINT to DOUBLE, DECIMAL(10,4) to DECIMAL(10,2), any negative to an
// unsigned type). False for every other pair: whether text or a JSON column
// holds a value is not a question of rounding.
bool MayRound(std::string_view from, std::string_view to);

// Returns the common supertype of two staging types, or an error when the
// warehouse cannot store both in one column.
using SupertypeFn = std::function<Result<std::string>(const std::string&, const std::string&)>;

// The union of `base` and `more`, keeping `base`'s column order and appending
// new columns in the order first seen. Columns match by Parquet field_id when
// both carry one (a different name is then a rename: the later name wins), else
// by name (case-insensitive). A rename onto the name of a column the renaming
// schema lacks moves that column to "<name>__replaced" (or "__replaced_2", ...),
// so names stay unique. Where types differ, `supertype` decides.
Result<Schema> Unify(const Schema& base, const std::vector<const Schema*>& more,
                     const SupertypeFn& supertype);
// The suffix Unify gives a column whose name a rename took ("b" -> "b__replaced").
inline constexpr std::string_view kReplacedSuffix = "__replaced";

// JSON form stored in the state store: {"columns":[{"name","type","nullable","field_id","source_type"}]}.
std::string ToJson(const Schema& schema);
Result<Schema> SchemaFromJson(std::string_view json);

}  // namespace landfall::schema
