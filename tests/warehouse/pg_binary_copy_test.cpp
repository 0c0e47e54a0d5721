// COPY's binary format as the PostgreSQL warehouse writes it, byte by byte,
// without a database (pg_warehouse_test.cpp sends it to a real server).
#include "lib/warehouse/pg_binary_copy.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "lib/warehouse/pg_statements.h"

namespace landfall::warehouse::pg {
namespace {

std::string Hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

template <typename Fn>
std::string Encoded(Fn append) {
  std::string out;
  append(out);
  return Hex(out);
}

TEST(PgBinaryCopyTest, HeaderTrailerTupleAndNullAreThoseOfTheFormat) {
  EXPECT_EQ(Encoded(AppendBinaryHeader),
            "5047434f50590aff0d0a00"
            "00000000"
            "00000000");
  EXPECT_EQ(Encoded(AppendBinaryTrailer), "ffff");
  EXPECT_EQ(Encoded([](std::string& o) { AppendTupleStart(o, 3); }), "0003");
  EXPECT_EQ(Encoded(AppendNullField), "ffffffff");
}

TEST(PgBinaryCopyTest, ScalarsAreBigEndianAfterTheirLength) {
  EXPECT_EQ(Encoded([](std::string& o) { AppendBoolField(o, true); }),
            "00000001"
            "01");
  EXPECT_EQ(Encoded([](std::string& o) { AppendBoolField(o, false); }),
            "00000001"
            "00");
  EXPECT_EQ(Encoded([](std::string& o) { AppendInt2Field(o, -2); }),
            "00000002"
            "fffe");
  EXPECT_EQ(Encoded([](std::string& o) { AppendInt4Field(o, 0x01020304); }),
            "00000004"
            "01020304");
  EXPECT_EQ(Encoded([](std::string& o) { AppendInt8Field(o, -1); }),
            "00000008"
            "ffffffffffffffff");
  EXPECT_EQ(Encoded([](std::string& o) { AppendFloat4Field(o, -0.5F); }),
            "00000004"
            "bf000000");
  EXPECT_EQ(Encoded([](std::string& o) { AppendFloat8Field(o, 1.0); }),
            "00000008"
            "3ff0000000000000");
  EXPECT_EQ(Encoded([](std::string& o) {
              AppendFloat8Field(o, std::numeric_limits<double>::infinity());
            }),
            "00000008"
            "7ff0000000000000");
}

TEST(PgBinaryCopyTest, TextAndBytesGoAsTheyAreAndJsonbAfterItsVersion) {
  EXPECT_EQ(Encoded([](std::string& o) { AppendBytesField(o, std::string("a\0b", 3)); }),
            "00000003"
            "610062");
  EXPECT_EQ(Encoded([](std::string& o) { AppendBytesField(o, ""); }), "00000000");
  EXPECT_EQ(Encoded([](std::string& o) { AppendJsonbField(o, "{}"); }),
            "00000003"
            "01"
            "7b7d");
}

TEST(PgBinaryCopyTest, DatesCountFromPostgresEpochBcAndInfinitiesIncluded) {
  auto date = [](int32_t days) {
    return Encoded([&](std::string& o) { AppendDateField(o, days); });
  };
  EXPECT_EQ(date(kPostgresEpochDays),
            "00000004"
            "00000000")
      << "2000-01-01";
  EXPECT_EQ(date(0),
            "00000004"
            "ffffd533")
      << "1970-01-01 is 10957 days before";
  EXPECT_EQ(date(-735161),
            "00000004"
            "fff49d7a")
      << "0044-03-15 BC, -746118";
  constexpr int32_t kMax = std::numeric_limits<int32_t>::max();
  EXPECT_EQ(date(kMax),
            "00000004"
            "7fffffff")
      << "infinity";
  EXPECT_EQ(date(-kMax),
            "00000004"
            "80000000")
      << "-infinity";
  EXPECT_EQ(date(std::numeric_limits<int32_t>::min()),
            "00000004"
            "80000001")
      << "out of range, not -infinity";
}

TEST(PgBinaryCopyTest, TimestampsCountFromPostgresEpochBcAndInfinitiesIncluded) {
  auto timestamp = [](int64_t micros) {
    return Encoded([&](std::string& o) { AppendTimestampField(o, micros); });
  };
  EXPECT_EQ(timestamp(kPostgresEpochMicros),
            "00000008"
            "0000000000000000");
  EXPECT_EQ(timestamp(0),
            "00000008"
            "fffca2fec4c82000")
      << "-946684800000000";
  EXPECT_EQ(timestamp(-1),
            "00000008"
            "fffca2fec4c81fff")
      << "a microsecond before 1970";
  EXPECT_EQ(timestamp(-63'517'867'200'000'000),
            "00000008"
            "ff1af9d4dd6f7000")
      << "0044-03-15 12:00:00 BC: 746117.5 days before 2000";
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(timestamp(kMax),
            "00000008"
            "7fffffffffffffff")
      << "infinity";
  EXPECT_EQ(timestamp(-kMax),
            "00000008"
            "8000000000000000")
      << "-infinity";
  EXPECT_EQ(timestamp(std::numeric_limits<int64_t>::min()),
            "00000008"
            "8000000000000001")
      << "out of range, not -infinity";
}

TEST(PgBinaryCopyTest, TimeIntervalAndUuidKeepTheirParts) {
  EXPECT_EQ(Encoded([](std::string& o) { AppendTimeField(o, 3'600'000'001); }),
            "00000008"
            "00000000d693a401");
  EXPECT_EQ(Encoded([](std::string& o) { AppendIntervalField(o, 14, 3, 5); }),
            "00000010"
            "0000000000000005"
            "00000003"
            "0000000e");
  // DuckDB holds 5b7d1c36-8b5e-4a7c-9f2e-0a1b2c3d4e5f with the top bit flipped.
  EXPECT_EQ(Encoded([](std::string& o) {
              AppendUuidField(o, 0x9f2e0a1b2c3d4e5fULL,
                              static_cast<int64_t>(0xdb7d1c368b5e4a7cULL));
            }),
            "00000010"
            "5b7d1c368b5e4a7c"
            "9f2e0a1b2c3d4e5f");
}

TEST(PgBinaryCopyTest, NumbersBecomeBase10000DigitsWithWeightSignAndScale) {
  auto numeric = [](std::string_view text) {
    std::string o;
    EXPECT_TRUE(AppendNumericField(o, text)) << text;
    return Hex(o);
  };
  // length | ndigits weight sign dscale | digits
  EXPECT_EQ(numeric("0"),
            "00000008"
            "0000"
            "0000"
            "0000"
            "0000");
  EXPECT_EQ(numeric("-0.00"),
            "00000008"
            "0000"
            "0000"
            "0000"
            "0002")
      << "zero has no sign";
  EXPECT_EQ(numeric("12.345"),
            "0000000c"
            "0002"
            "0000"
            "0000"
            "0003"
            "000c"
            "0d7a");
  EXPECT_EQ(numeric("-0.0001"),
            "0000000a"
            "0001"
            "ffff"
            "4000"
            "0004"
            "0001");
  EXPECT_EQ(numeric("0.00001"),
            "0000000a"
            "0001"
            "fffe"
            "0000"
            "0005"
            "03e8");
  EXPECT_EQ(numeric("10000"),
            "0000000a"
            "0001"
            "0001"
            "0000"
            "0000"
            "0001");
  EXPECT_EQ(numeric("18446744073709551615"),
            "00000012"
            "0005"
            "0004"
            "0000"
            "0000"
            "0734"
            "1a58"
            "02e1"
            "03bb"
            "064f");
  EXPECT_EQ(numeric("007.50"),
            "0000000c"
            "0002"
            "0000"
            "0000"
            "0002"
            "0007"
            "1388");
}

TEST(PgBinaryCopyTest, TextThatIsNotANumberIsRefusedAndNothingAppended) {
  for (std::string_view text : {"", "-", ".", "1e5", "1.2.3", "abc", " 1", "+1", "NaN"}) {
    std::string out = "x";
    EXPECT_FALSE(AppendNumericField(out, text)) << text;
    EXPECT_EQ(out, "x") << text;
  }
}

TEST(PgBinaryCopyTest, EachPostgresTypeIsReadAsTheDuckDbTypeItsEncodingTakes) {
  struct Case {
    std::string staging, expression;
    BinaryEncoding encoding;
  };
  const std::vector<Case> cases = {
      {"BOOLEAN", "CAST(x AS BOOLEAN)", BinaryEncoding::kBool},
      {"TINYINT", "CAST(x AS SMALLINT)", BinaryEncoding::kInt2},
      {"UTINYINT", "CAST(x AS SMALLINT)", BinaryEncoding::kInt2},
      {"USMALLINT", "CAST(x AS INTEGER)", BinaryEncoding::kInt4},
      {"UINTEGER", "CAST(x AS BIGINT)", BinaryEncoding::kInt8},
      {"UBIGINT", "CAST(x AS VARCHAR)", BinaryEncoding::kNumericText},
      {"HUGEINT", "CAST(x AS VARCHAR)", BinaryEncoding::kNumericText},
      {"DECIMAL(18,3)", "CAST(x AS VARCHAR)", BinaryEncoding::kNumericText},
      {"FLOAT", "CAST(x AS FLOAT)", BinaryEncoding::kFloat4},
      {"DOUBLE", "CAST(x AS DOUBLE)", BinaryEncoding::kFloat8},
      {"VARCHAR", TextForPostgres("VARCHAR", "x"), BinaryEncoding::kText},
      {"BLOB", "CAST(x AS BLOB)", BinaryEncoding::kBytea},
      {"UUID", "CAST(x AS UUID)", BinaryEncoding::kUuid},
      {"JSON", "CAST(x AS VARCHAR)", BinaryEncoding::kJsonb},
      {"DATE", "CAST(x AS DATE)", BinaryEncoding::kDate},
      {"TIME", "CAST(x AS TIME)", BinaryEncoding::kTime},
      {"TIMESTAMP_S", "CAST(x AS TIMESTAMP)", BinaryEncoding::kTimestamp},
      {"TIMESTAMP_NS", "CAST(x AS TIMESTAMP)", BinaryEncoding::kTimestamp},
      {"TIMESTAMP WITH TIME ZONE", "CAST(x AS TIMESTAMP WITH TIME ZONE)",
       BinaryEncoding::kTimestampTz},
      {"INTERVAL", "CAST(x AS INTERVAL)", BinaryEncoding::kInterval},
      {"ENUM('a', 'b')", TextForPostgres("ENUM('a', 'b')", "x"), BinaryEncoding::kText},
  };
  for (const auto& c : cases) {
    auto column = BinaryColumnFor(c.staging, "x");
    ASSERT_TRUE(column) << c.staging;
    EXPECT_EQ(column->expression, c.expression) << c.staging;
    EXPECT_EQ(column->encoding, c.encoding) << c.staging;
  }
  EXPECT_FALSE(BinaryColumnFor("TIME WITH TIME ZONE", "x")) << "a batch with one goes in text";
  EXPECT_FALSE(BinaryColumnFor("BIT", "x"));
}

TEST(PgBinaryCopyTest, AColumnTakesBinaryOnlyWhenItsTypeReadsTheEncoding) {
  EXPECT_TRUE(TakesBinary("timestamp(3)", BinaryEncoding::kTimestamp)) << "PgType's spelling";
  EXPECT_TRUE(TakesBinary("timestamp(3) without time zone", BinaryEncoding::kTimestamp));
  EXPECT_TRUE(TakesBinary("timestamp with time zone", BinaryEncoding::kTimestampTz));
  EXPECT_FALSE(TakesBinary("timestamp with time zone", BinaryEncoding::kTimestamp));
  EXPECT_TRUE(TakesBinary("numeric(20,0)", BinaryEncoding::kNumericText));
  EXPECT_TRUE(TakesBinary("numeric", BinaryEncoding::kNumericText));
  EXPECT_TRUE(TakesBinary("character varying(20)", BinaryEncoding::kText));
  EXPECT_TRUE(TakesBinary("time without time zone", BinaryEncoding::kTime));
  EXPECT_TRUE(TakesBinary("double precision", BinaryEncoding::kFloat8));
  // Changed by hand: text then.
  EXPECT_FALSE(TakesBinary("json", BinaryEncoding::kJsonb));
  EXPECT_FALSE(TakesBinary("bigint", BinaryEncoding::kInt4));
  EXPECT_FALSE(TakesBinary("character(3)", BinaryEncoding::kText));
  EXPECT_FALSE(TakesBinary("my_domain", BinaryEncoding::kText));
}

TEST(PgBinaryCopyTest, CopyFromAsksForTheBinaryFormat) {
  const std::vector<std::string> columns = {"a"};
  EXPECT_EQ(CopyFrom("\"s\".\"t\"", columns, CopyFormat::kBinary),
            "COPY \"s\".\"t\" (\"a\", \"_landfall_batch\", \"_landfall_loaded_at\") FROM STDIN "
            "(FORMAT binary)");
  EXPECT_EQ(CopyFrom("\"s\".\"t\"", columns, CopyFormat::kText),
            "COPY \"s\".\"t\" (\"a\", \"_landfall_batch\", \"_landfall_loaded_at\") FROM STDIN");
}

}  // namespace
}  // namespace landfall::warehouse::pg
