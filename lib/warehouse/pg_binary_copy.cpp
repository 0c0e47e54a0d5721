#include "lib/warehouse/pg_binary_copy.h"

#include <bit>
#include <limits>
#include <type_traits>
#include <vector>

#include "lib/warehouse/pg_statements.h"

namespace landfall::warehouse::pg {

namespace {

// Network byte order whatever the host's.
template <typename T>
void AppendBigEndian(std::string& out, T value) {
  using U = std::make_unsigned_t<T>;
  U bits = static_cast<U>(value);
  char bytes[sizeof(T)];
  for (size_t i = 0; i < sizeof(T); ++i) {
    bytes[sizeof(T) - 1 - i] = static_cast<char>(bits & 0xff);
    bits = static_cast<U>(bits >> 8);
  }
  out.append(bytes, sizeof(T));
}

void AppendLength(std::string& out, size_t length) {
  AppendBigEndian<int32_t>(out, static_cast<int32_t>(length));
}

std::string Cast(std::string_view expression, std::string_view type) {
  return "CAST(" + std::string(expression) + " AS " + std::string(type) + ")";
}

// Each PostgreSQL type with a binary writer here (PgType's spelling without
// its modifier: timestamp(3) reads timestamp's binary form, numeric(18,3)
// numeric's), the DuckDB type its values are read as and their encoding.
// DuckDB's casts to those are lossless, the PostgreSQL type being at least
// as wide (UTINYINT -> SMALLINT, UINTEGER -> BIGINT, TIMESTAMP_S/_MS ->
// TIMESTAMP), or lose what the text COPY loses (TIMESTAMP_NS -> TIMESTAMP,
// DuckDB's cast in both).
struct Read {
  std::string_view pg_type;
  std::string_view duckdb_type;
  BinaryEncoding encoding;
};
constexpr Read kReads[] = {
    {"boolean", "BOOLEAN", BinaryEncoding::kBool},
    {"smallint", "SMALLINT", BinaryEncoding::kInt2},
    {"integer", "INTEGER", BinaryEncoding::kInt4},
    {"bigint", "BIGINT", BinaryEncoding::kInt8},
    {"real", "FLOAT", BinaryEncoding::kFloat4},
    {"double precision", "DOUBLE", BinaryEncoding::kFloat8},
    {"date", "DATE", BinaryEncoding::kDate},
    {"time", "TIME", BinaryEncoding::kTime},
    {"timestamp", "TIMESTAMP", BinaryEncoding::kTimestamp},
    {"timestamptz", "TIMESTAMP WITH TIME ZONE", BinaryEncoding::kTimestampTz},
    {"interval", "INTERVAL", BinaryEncoding::kInterval},
    {"uuid", "UUID", BinaryEncoding::kUuid},
    {"text", "VARCHAR", BinaryEncoding::kText},
    {"bytea", "BLOB", BinaryEncoding::kBytea},
    {"jsonb", "VARCHAR", BinaryEncoding::kJsonb},
    // numeric has a binary form of its own (base-10000 digits), written from
    // DuckDB's text of the number: exact for DECIMAL, UBIGINT and HUGEINT.
    {"numeric", "VARCHAR", BinaryEncoding::kNumericText},
};

// `pg_type` (PgType's or format_type's spelling) as kReads spells it:
// without its modifier, format_type's longer names shortened.
std::string BaseType(std::string_view pg_type) {
  std::string base(pg_type);
  if (auto open = base.find('('); open != std::string::npos) {
    if (auto close = base.find(')', open); close != std::string::npos) {
      base.erase(open, close - open + 1);
    }
  }
  if (base == "time without time zone") return "time";
  if (base == "timestamp without time zone") return "timestamp";
  if (base == "timestamp with time zone") return "timestamptz";
  if (base == "character varying") return "text";  // varchar reads text's form
  return base;
}

const Read* FindRead(std::string_view pg_type) {
  const std::string base = BaseType(pg_type);
  for (const auto& read : kReads) {
    if (read.pg_type == base) return &read;
  }
  return nullptr;
}

}  // namespace

std::optional<BinaryColumn> BinaryColumnFor(std::string_view staging_type,
                                            std::string_view expression) {
  const Read* read = FindRead(PgType(staging_type));
  if (read == nullptr) return std::nullopt;
  // Text takes DuckDB's text of the value, as the text COPY does (a BC date
  // spelled as PostgreSQL reads it, should a date-like type land in text).
  if (read->encoding == BinaryEncoding::kText) {
    return BinaryColumn{TextForPostgres(staging_type, expression), BinaryEncoding::kText};
  }
  return BinaryColumn{Cast(expression, read->duckdb_type), read->encoding};
}

bool TakesBinary(std::string_view pg_type, BinaryEncoding encoding) {
  const Read* read = FindRead(pg_type);
  return read != nullptr && read->encoding == encoding;
}

void AppendBinaryHeader(std::string& out) {
  static constexpr char kSignature[] = "PGCOPY\n\377\r\n";  // and its '\0'
  out.append(kSignature, sizeof kSignature);
  AppendBigEndian<int32_t>(out, 0);  // flags: no OIDs
  AppendBigEndian<int32_t>(out, 0);  // header extension length
}

void AppendBinaryTrailer(std::string& out) { AppendBigEndian<int16_t>(out, -1); }

void AppendTupleStart(std::string& out, int16_t fields) { AppendBigEndian(out, fields); }

void AppendNullField(std::string& out) { AppendBigEndian<int32_t>(out, -1); }

void AppendBoolField(std::string& out, bool value) {
  AppendLength(out, 1);
  out += value ? '\1' : '\0';
}

void AppendInt2Field(std::string& out, int16_t value) {
  AppendLength(out, 2);
  AppendBigEndian(out, value);
}

void AppendInt4Field(std::string& out, int32_t value) {
  AppendLength(out, 4);
  AppendBigEndian(out, value);
}

void AppendInt8Field(std::string& out, int64_t value) {
  AppendLength(out, 8);
  AppendBigEndian(out, value);
}

void AppendFloat4Field(std::string& out, float value) {
  AppendLength(out, 4);
  AppendBigEndian(out, std::bit_cast<uint32_t>(value));
}

void AppendFloat8Field(std::string& out, double value) {
  AppendLength(out, 8);
  AppendBigEndian(out, std::bit_cast<uint64_t>(value));
}

void AppendBytesField(std::string& out, std::string_view bytes) {
  AppendLength(out, bytes.size());
  out.append(bytes);
}

void AppendJsonbField(std::string& out, std::string_view json) {
  AppendLength(out, json.size() + 1);
  out += '\1';  // jsonb's binary format version: the JSON text follows
  out.append(json);
}

void AppendDateField(std::string& out, int32_t duckdb_days) {
  constexpr int32_t kMax = std::numeric_limits<int32_t>::max();
  constexpr int32_t kMin = std::numeric_limits<int32_t>::min();
  int32_t days;
  if (duckdb_days == kMax) {
    days = kMax;  // infinity in both
  } else if (duckdb_days == -kMax) {
    days = kMin;  // DuckDB's -infinity is -max, PostgreSQL's min
  } else if (__builtin_sub_overflow(duckdb_days, kPostgresEpochDays, &days) || days == kMin) {
    days = kMin + 1;  // far outside PostgreSQL's range: refused, not -infinity
  }
  AppendInt4Field(out, days);
}

void AppendTimestampField(std::string& out, int64_t duckdb_micros) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  int64_t micros;
  if (duckdb_micros == kMax) {
    micros = kMax;
  } else if (duckdb_micros == -kMax) {
    micros = kMin;
  } else if (__builtin_sub_overflow(duckdb_micros, kPostgresEpochMicros, &micros) ||
             micros == kMin) {
    micros = kMin + 1;
  }
  AppendInt8Field(out, micros);
}

void AppendTimeField(std::string& out, int64_t micros) { AppendInt8Field(out, micros); }

void AppendIntervalField(std::string& out, int32_t months, int32_t days, int64_t micros) {
  AppendLength(out, 16);
  AppendBigEndian(out, micros);
  AppendBigEndian(out, days);
  AppendBigEndian(out, months);
}

void AppendUuidField(std::string& out, uint64_t lower, int64_t upper) {
  AppendLength(out, 16);
  AppendBigEndian(out, static_cast<uint64_t>(upper) ^ (uint64_t{1} << 63));
  AppendBigEndian(out, lower);
}

bool AppendNumericField(std::string& out, std::string_view text) {
  constexpr size_t kMaxDigits = 1000;  // DuckDB's numbers have at most 39
  bool negative = false;
  if (!text.empty() && text.front() == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  const size_t point = text.find('.');
  std::string_view whole = text.substr(0, point);
  std::string_view fraction = point == std::string_view::npos ? "" : text.substr(point + 1);
  if ((whole.empty() && fraction.empty()) || text.size() > kMaxDigits) return false;
  for (std::string_view part : {whole, fraction}) {
    for (char c : part) {
      if (c < '0' || c > '9') return false;
    }
  }
  while (!whole.empty() && whole.front() == '0') whole.remove_prefix(1);

  // Base-10000 digits: the whole part in groups of four from the point
  // leftwards, the fraction from the point rightwards (zero-padded).
  std::vector<int16_t> digits;
  const size_t lead = whole.size() % 4;
  auto group = [](std::string_view four) {
    int16_t value = 0;
    for (size_t i = 0; i < 4; ++i) {
      value = static_cast<int16_t>(value * 10 + (i < four.size() ? four[i] - '0' : 0));
    }
    return value;
  };
  if (lead > 0) {
    int16_t value = 0;
    for (char c : whole.substr(0, lead)) value = static_cast<int16_t>(value * 10 + (c - '0'));
    digits.push_back(value);
  }
  for (size_t i = lead; i < whole.size(); i += 4) digits.push_back(group(whole.substr(i, 4)));
  int weight = static_cast<int>(digits.size()) - 1;
  for (size_t i = 0; i < fraction.size(); i += 4) digits.push_back(group(fraction.substr(i, 4)));
  // PostgreSQL strips zeros itself; stripped here so zero is sent as zero.
  size_t first = 0;
  while (first < digits.size() && digits[first] == 0) {
    ++first;
    --weight;
  }
  size_t end = digits.size();
  while (end > first && digits[end - 1] == 0) --end;
  if (first == end) {
    weight = 0;
    negative = false;
  }

  AppendLength(out, 8 + 2 * (end - first));
  AppendBigEndian(out, static_cast<int16_t>(end - first));
  AppendBigEndian(out, static_cast<int16_t>(weight));
  AppendBigEndian<uint16_t>(out, negative ? 0x4000 : 0x0000);
  AppendBigEndian(out, static_cast<uint16_t>(fraction.size()));
  for (size_t i = first; i < end; ++i) AppendBigEndian(out, digits[i]);
  return true;
}

}  // namespace landfall::warehouse::pg
