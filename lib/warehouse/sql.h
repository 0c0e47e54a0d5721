// Identifier quoting, literals, and the DuckDB dialect details (file paths,
// type spellings) that other layers must not know. The warehouse's statements
// are built from these in statements.h (staging tables, the ledger, footer
// reads) and model_sql.h (model writes), as pure functions. lib/model/compile.cpp
// prints DDL for other dialects (`landfall compile`) with their own quoting.
#pragma once

#include <string>
#include <string_view>

namespace landfall::warehouse::sql {

// "name" with embedded double quotes doubled: a folder called a"b; drop table x
// is just a strange identifier.
std::string Ident(std::string_view name);
// "schema"."name"
std::string Qualified(std::string_view schema, std::string_view name);
// 'text' with embedded single quotes doubled.
std::string Literal(std::string_view text);

// A string literal naming exactly one file for DuckDB's file readers
// (read_parquet, parquet_schema, ...). Those readers expand *, ? and [ as glob
// patterns even when a file of that exact name exists, so each such character is
// wrapped in a one-character class ([*], [?], [[]).
std::string PathLiteral(std::string_view path);

// The one spelling of a DuckDB type that landfall compares: upper-case, single
// spaces, and DuckDB's own name for common aliases (INT -> INTEGER,
// TIMESTAMPTZ -> TIMESTAMP WITH TIME ZONE, NUMERIC(p,s) -> DECIMAL(p,s), ...).
// DESCRIBE, duckdb_columns() and typeof() already agree in DuckDB 1.4; this keeps
// hand-written or older spellings comparable. Nested types are returned as given
// (upper-cased keywords are not attempted inside them).
std::string NormalizeType(std::string_view type);

// True when `type` is safe to splice into SQL as a type name: letters, digits,
// '_', ' ', '(', ')', ',', '[' and ']' only, with balanced parentheses. Types
// come from Parquet footers, so they are untrusted text.
bool IsSafeTypeName(std::string_view type);

}  // namespace landfall::warehouse::sql
