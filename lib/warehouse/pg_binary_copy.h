// COPY's binary format (PostgreSQL's "COPY ... FROM STDIN (FORMAT binary)"),
// written from DuckDB's in-memory values: pure functions that append
// big-endian bytes to a buffer, checked without a database
// (tests/warehouse/pg_binary_copy_test.cpp). The PostgreSQL warehouse
// (pg_warehouse.cpp) reads DuckDB's vectors and calls these.
//
// A binary COPY sends every column in its type's binary form, so a batch goes
// in binary only when every column of its table has an encoding here
// (BinaryColumnFor); otherwise the warehouse sends it in text as before.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace landfall::warehouse::pg {

// How one column's values go on the wire, and the DuckDB type they are read
// as (what BinaryColumn::expression yields).
enum class BinaryEncoding {
  kBool,         // DuckDB BOOLEAN -> boolean
  kInt2,         // SMALLINT -> smallint
  kInt4,         // INTEGER -> integer
  kInt8,         // BIGINT -> bigint
  kFloat4,       // FLOAT -> real
  kFloat8,       // DOUBLE -> double precision
  kDate,         // DATE -> date
  kTime,         // TIME -> time
  kTimestamp,    // TIMESTAMP -> timestamp (of any precision)
  kTimestampTz,  // TIMESTAMP WITH TIME ZONE -> timestamptz
  kInterval,     // INTERVAL -> interval
  kUuid,         // UUID -> uuid
  kText,         // VARCHAR -> text: the bytes as they are
  kBytea,        // BLOB -> bytea: the bytes as they are
  kJsonb,        // VARCHAR (JSON text) -> jsonb
  kNumericText,  // VARCHAR (DuckDB's decimal text) -> numeric
};

// One staging column in a binary COPY: the DuckDB expression that reads it
// and its encoding.
struct BinaryColumn {
  std::string expression;
  BinaryEncoding encoding;
};
// The binary form of `expression`, a value of `staging_type`, for its
// PostgreSQL column (PgType): `expression` cast to the DuckDB type the
// encoding reads. nullopt for a type without one here (TIME WITH TIME ZONE,
// BIT), whose batches go in text.
std::optional<BinaryColumn> BinaryColumnFor(std::string_view staging_type,
                                            std::string_view expression);
// True when a column of PostgreSQL type `pg_type` (format_type's spelling or
// PgType's, with or without a type modifier) reads `encoding`'s binary form.
// A column changed by hand to another type (json, a domain) takes text.
bool TakesBinary(std::string_view pg_type, BinaryEncoding encoding);

// The file header: signature, flags (none), header extension (none).
void AppendBinaryHeader(std::string& out);
// The end of the data: a tuple of -1 fields.
void AppendBinaryTrailer(std::string& out);
// A tuple starts with its number of fields.
void AppendTupleStart(std::string& out, int16_t fields);
// A NULL field.
void AppendNullField(std::string& out);

// Fields, each with its length before it. Integers and floats in network
// byte order (floats by their IEEE bits).
void AppendBoolField(std::string& out, bool value);
void AppendInt2Field(std::string& out, int16_t value);
void AppendInt4Field(std::string& out, int32_t value);
void AppendInt8Field(std::string& out, int64_t value);
void AppendFloat4Field(std::string& out, float value);
void AppendFloat8Field(std::string& out, double value);
// `bytes` as they are (text, bytea); with jsonb's version byte before them
// for AppendJsonbField.
void AppendBytesField(std::string& out, std::string_view bytes);
void AppendJsonbField(std::string& out, std::string_view json);
// A DuckDB DATE (days since 1970-01-01, BC dates included) as PostgreSQL's
// date (days since 2000-01-01); DuckDB's infinities as PostgreSQL's. A day
// outside int32 once moved is sent as one PostgreSQL refuses (out of range).
void AppendDateField(std::string& out, int32_t duckdb_days);
// A DuckDB TIMESTAMP or TIMESTAMP WITH TIME ZONE (microseconds since
// 1970-01-01 UTC) as PostgreSQL's (since 2000-01-01); infinities as the date's.
void AppendTimestampField(std::string& out, int64_t duckdb_micros);
// A DuckDB TIME (microseconds since midnight): PostgreSQL's time is the same.
void AppendTimeField(std::string& out, int64_t micros);
// A DuckDB INTERVAL's parts: PostgreSQL's interval has the same three.
void AppendIntervalField(std::string& out, int32_t months, int32_t days, int64_t micros);
// A DuckDB UUID, stored as a 128-bit integer with its top bit flipped (so
// that signed order is the UUID's order): the 16 bytes of the UUID.
void AppendUuidField(std::string& out, uint64_t lower, int64_t upper);
// A decimal number in text ("-12.340", "18446744073709551615": an optional
// minus, digits, an optional point and digits) as PostgreSQL's numeric
// (base-10000 digits, weight, sign, display scale). False, with nothing
// appended, for text of any other shape.
bool AppendNumericField(std::string& out, std::string_view text);

// Days and microseconds between DuckDB's epoch (1970-01-01) and
// PostgreSQL's (2000-01-01).
inline constexpr int32_t kPostgresEpochDays = 10957;
inline constexpr int64_t kPostgresEpochMicros = int64_t{kPostgresEpochDays} * 86'400'000'000;

}  // namespace landfall::warehouse::pg
