// The warehouse's SQL text helpers: identifier and literal quoting, path
// literals with glob characters escaped, type name normalisation, and the
// check that keeps a type name from ending a statement.
#include "lib/warehouse/sql.h"

#include <gtest/gtest.h>

namespace landfall::warehouse::sql {
namespace {

TEST(SqlTest, IdentDoublesEmbeddedQuotes) {
  EXPECT_EQ(Ident("orders"), "\"orders\"");
  EXPECT_EQ(Ident("a\"b; drop table x"), "\"a\"\"b; drop table x\"");
  EXPECT_EQ(Ident("\"\""), "\"\"\"\"\"\"");
}

TEST(SqlTest, QualifiedQuotesBothParts) {
  EXPECT_EQ(Qualified("st\"g", "t.x"), "\"st\"\"g\".\"t.x\"");
}

TEST(SqlTest, LiteralDoublesSingleQuotesAndKeepsBackslashes) {
  EXPECT_EQ(Literal("it's"), "'it''s'");
  EXPECT_EQ(Literal("a\\b"), "'a\\b'");
  EXPECT_EQ(Literal(""), "''");
}

TEST(SqlTest, PathLiteralEscapesGlobCharacters) {
  EXPECT_EQ(PathLiteral("/l/a.parquet"), "'/l/a.parquet'");
  EXPECT_EQ(PathLiteral("/l/b*x?[1].parquet"), "'/l/b[*]x[?][[]1].parquet'");
  EXPECT_EQ(PathLiteral("/l/it's.parquet"), "'/l/it''s.parquet'");
}

TEST(SqlTest, NormalizeTypeMapsAliasesToDuckDbSpelling) {
  EXPECT_EQ(NormalizeType("INTEGER"), "INTEGER");
  EXPECT_EQ(NormalizeType("int"), "INTEGER");
  EXPECT_EQ(NormalizeType("INT8"), "BIGINT");
  EXPECT_EQ(NormalizeType("timestamptz"), "TIMESTAMP WITH TIME ZONE");
  EXPECT_EQ(NormalizeType("TIMESTAMP  WITH TIME ZONE "), "TIMESTAMP WITH TIME ZONE");
  EXPECT_EQ(NormalizeType("numeric( 10, 2 )"), "DECIMAL(10,2)");
  EXPECT_EQ(NormalizeType("DECIMAL"), "DECIMAL(18,3)");
  EXPECT_EQ(NormalizeType("varchar(20)"), "VARCHAR");
  EXPECT_EQ(NormalizeType("STRING"), "VARCHAR");
  EXPECT_EQ(NormalizeType("bytea"), "BLOB");
  EXPECT_EQ(NormalizeType("JSON"), "JSON");
  EXPECT_EQ(NormalizeType("TIMESTAMP_NS"), "TIMESTAMP_NS");
  // Nested types keep their (case-sensitive) field names.
  EXPECT_EQ(NormalizeType("STRUCT(\"Ab\" INTEGER)"), "STRUCT(\"Ab\" INTEGER)");
  EXPECT_EQ(NormalizeType("INTEGER[]"), "INTEGER[]");
}

TEST(SqlTest, IsSafeTypeNameRejectsAnythingThatCouldEndAStatement) {
  EXPECT_TRUE(IsSafeTypeName("DECIMAL(18,2)"));
  EXPECT_TRUE(IsSafeTypeName("TIMESTAMP WITH TIME ZONE"));
  EXPECT_TRUE(IsSafeTypeName("INTEGER[]"));
  EXPECT_FALSE(IsSafeTypeName(""));
  EXPECT_FALSE(IsSafeTypeName("INTEGER); DROP TABLE x; --"));
  EXPECT_FALSE(IsSafeTypeName("VARCHAR'"));
  EXPECT_FALSE(IsSafeTypeName("STRUCT(\"a\" INTEGER)"));
  EXPECT_FALSE(IsSafeTypeName("DECIMAL(18,2"));
  EXPECT_FALSE(IsSafeTypeName("INTEGER)("));
}

}  // namespace
}  // namespace landfall::warehouse::sql
