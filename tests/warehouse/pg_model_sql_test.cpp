// The PostgreSQL model statements that need no database: the driver's name
// pointed at its restricted view, and no other text touched.
#include "lib/warehouse/pg_model_sql.h"

#include <gtest/gtest.h>

#include <string>

namespace landfall::warehouse::pgsql {
namespace {

std::string Pointed(const std::string& select, int expected_changes) {
  int changed = -1;
  std::string out = PointAtTemp(select, "staging", "orders", &changed);
  EXPECT_EQ(changed, expected_changes) << select;
  return out;
}

TEST(PgPointAtTempTest, EveryReferenceAsPostgresResolvesItIsPointedAtTheTempView) {
  EXPECT_EQ(Pointed("SELECT * FROM staging.orders o JOIN Staging . ORDERS p USING (id)", 2),
            "SELECT * FROM pg_temp.\"orders\" o JOIN pg_temp.\"orders\" p USING (id)");
  EXPECT_EQ(Pointed("SELECT * FROM \"staging\".\"orders\"", 1), "SELECT * FROM pg_temp.\"orders\"");
}

TEST(PgPointAtTempTest, QuotedNamesOfAnotherCaseAndOtherTablesAreLeftAlone) {
  const std::string other =
      "SELECT * FROM \"Staging\".orders, staging.orders_old, staging.\"Orders\", x.staging.orders";
  EXPECT_EQ(Pointed(other, 0), other);
}

TEST(PgPointAtTempTest, StringsCommentsAndDollarQuotesAreNotRewritten) {
  const std::string select =
      "SELECT 'staging.orders', E'\\'staging.orders', $x$staging.orders$x$ /* staging.orders /* "
      "nested */ "
      "staging.orders */ -- staging.orders\nFROM staging.orders";
  const std::string out = Pointed(select, 1);
  EXPECT_EQ(out.substr(0, out.find("FROM")), select.substr(0, select.find("FROM")));
  EXPECT_TRUE(out.ends_with("FROM pg_temp.\"orders\"")) << out;
}

TEST(PgModelSqlTest, HashesSumEachRowsTextHashAsNumeric) {
  EXPECT_EQ(
      TargetHashesQuery("t", {"a"}, {{"a", "b"}, {}}),
      "SELECT count(*), coalesce(sum(hashtextextended(ROW(\"a\")::text, 0)::numeric), 0)::text, "
      "coalesce(sum(hashtextextended(ROW(\"a\", \"b\")::text, 0)::numeric), 0)::text, "
      "count(*)::text FROM t");
}

TEST(PgModelSqlTest, ASubqueryEndsOnALineOfItsOwnSoATrailingCommentEndsBeforeIt) {
  EXPECT_EQ(NoRows("SELECT 1 -- one"), "SELECT * FROM (SELECT 1 -- one\n) AS model_rows LIMIT 0");
}

TEST(PgModelSqlTest, PartitionKeysAreSpelledAsStrftimeSpellsThem) {
  EXPECT_EQ(ToCharFormat("%Y-%m-%dT%H"), "YYYY-MM-DD\"T\"HH24");  // T alone would be TH, an ordinal
  EXPECT_EQ(ToCharFormat("%Y-%m-%d"), "YYYY-MM-DD");
  EXPECT_EQ(ToCharFormat("%Y-%m"), "YYYY-MM");
  EXPECT_EQ(ToCharFormat("%Y"), "YYYY");
}

TEST(PgMergeSqlTest, AKeyOfKnownTypeIsMatchedAsArraysOfTheTargetsTypeAndAnUnknownOneAsBefore) {
  const std::string merge =
      MergeInto("t", "SELECT 1", {"id", "day"}, {"bigint", ""}, {}, {"id", "day"});
  EXPECT_NE(merge.find("ON (ARRAY[tgt.\"id\"] = ARRAY[CAST(src.\"id\" AS bigint)] AND "
                       "tgt.\"day\" IS NOT DISTINCT FROM src.\"day\")"),
            std::string::npos)
      << merge;
  EXPECT_NE(CountMatched("t", "SELECT 1", {"id"}, {"integer"})
                .find("WHERE ARRAY[tgt.\"id\"] = ARRAY[CAST(src.\"id\" AS integer)])"),
            std::string::npos);
}

}  // namespace
}  // namespace landfall::warehouse::pgsql
