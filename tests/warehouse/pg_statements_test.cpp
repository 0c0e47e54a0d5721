// The PostgreSQL warehouse's type map and COPY text, without a database.
#include "lib/warehouse/pg_statements.h"

#include <gtest/gtest.h>

namespace landfall::warehouse::pg {
namespace {

TEST(PgStatementsTest, EveryStagingTypeHasAPostgresTypeAndComesBackFromIt) {
  struct Case {
    std::string staging, postgres, back;  // back: StagingTypeOf without a comment
  };
  const std::vector<Case> cases = {
      {"BOOLEAN", "boolean", "BOOLEAN"},
      {"TINYINT", "smallint", "SMALLINT"},
      {"UTINYINT", "smallint", "SMALLINT"},
      {"USMALLINT", "integer", "INTEGER"},
      {"INTEGER", "integer", "INTEGER"},
      {"UINTEGER", "bigint", "BIGINT"},
      {"BIGINT", "bigint", "BIGINT"},
      {"UBIGINT", "numeric(20,0)", "DECIMAL(20,0)"},
      {"HUGEINT", "numeric(39,0)", "DECIMAL(39,0)"},
      {"DECIMAL(18,3)", "numeric(18,3)", "DECIMAL(18,3)"},
      {"FLOAT", "real", "FLOAT"},
      {"DOUBLE", "double precision", "DOUBLE"},
      {"VARCHAR", "text", "VARCHAR"},
      {"BLOB", "bytea", "BLOB"},
      {"UUID", "uuid", "UUID"},
      {"JSON", "jsonb", "JSON"},
      {"DATE", "date", "DATE"},
      {"TIMESTAMP", "timestamp", "TIMESTAMP"},
      {"TIMESTAMP_NS", "timestamp", "TIMESTAMP"},
      {"TIMESTAMP WITH TIME ZONE", "timestamptz", "TIMESTAMP WITH TIME ZONE"},
      {"INTERVAL", "interval", "INTERVAL"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(PgType(c.staging), c.postgres) << c.staging;
    EXPECT_EQ(StagingTypeOf(c.postgres == "timestamp"     ? "timestamp without time zone"
                            : c.postgres == "timestamptz" ? "timestamp with time zone"
                                                          : c.postgres,
                            ""),
              c.back)
        << c.staging;
    // The comment keeps the staging type exactly.
    EXPECT_EQ(StagingTypeOf(c.postgres, std::string(kTypeCommentPrefix) + c.staging), c.staging);
  }
  EXPECT_EQ(PgType("ENUM('a', 'b')"), "text") << "no counterpart: text";
  EXPECT_TRUE(LosesPrecision("TIMESTAMP_NS"));
  EXPECT_FALSE(LosesPrecision("TIMESTAMP"));
}

TEST(PgStatementsTest, CopyTextEscapesItsSeparatorsAndBackslashes) {
  std::string out;
  AppendCopyField(out, "a\tb\nc\rd\\e");
  EXPECT_EQ(out, "a\\tb\\nc\\rd\\\\e");
  EXPECT_EQ(TimestampText(0), "1970-01-01 00:00:00.000000");
  EXPECT_EQ(TimestampText(1'700'000'000'123'456), "2023-11-14 22:13:20.123456");
  EXPECT_EQ(TimestampText(-1), "1969-12-31 23:59:59.999999");
}

TEST(PgStatementsTest, ValuesBecomeTheTextPostgresReads) {
  EXPECT_EQ(TextForPostgres("BLOB", "x"), "('\\x' || hex(x))");
  EXPECT_EQ(TextForPostgres("BIGINT", "x"), "CAST(x AS VARCHAR)");
  EXPECT_EQ(TextForPostgres("TIMESTAMP_NS", "x"),
            "replace(CAST(CAST(x AS TIMESTAMP) AS VARCHAR), ' (BC)', ' BC')");
}

TEST(PgStatementsTest,
     EvolveAltersOnlyWhatThePostgresTypeChangesAndKeepsTheStagingTypeInTheComment) {
  schema::Schema target;
  target.columns = {{.name = "id", .type = "BIGINT"},
                    {.name = "U", .type = "BIGINT"},
                    {.name = "v", .type = "JSON"},
                    {.name = "new", .type = "DATE"}};
  std::vector<sql::TableColumn> existing = {{"id", "INTEGER"}, {"u", "UINTEGER"}, {"v", "VARCHAR"}};
  EXPECT_EQ(pg::EvolveColumns("\"s\".\"t\"", existing, target),
            (std::vector<std::string>{
                "ALTER TABLE \"s\".\"t\" ALTER COLUMN \"id\" TYPE bigint USING \"id\"::bigint",
                "COMMENT ON COLUMN \"s\".\"t\".\"id\" IS 'landfall: BIGINT'",
                // UINTEGER and BIGINT are both bigint: only the comment changes.
                "COMMENT ON COLUMN \"s\".\"t\".\"u\" IS 'landfall: BIGINT'",
                "ALTER TABLE \"s\".\"t\" ALTER COLUMN \"v\" TYPE jsonb USING to_jsonb(\"v\")",
                "COMMENT ON COLUMN \"s\".\"t\".\"v\" IS 'landfall: JSON'",
                "ALTER TABLE \"s\".\"t\" ADD COLUMN \"new\" date",
                "COMMENT ON COLUMN \"s\".\"t\".\"new\" IS 'landfall: DATE'"}));
}

}  // namespace
}  // namespace landfall::warehouse::pg
