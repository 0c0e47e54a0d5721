#include "lib/warehouse/sql_parse.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace landfall::warehouse {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

NamedTable T(std::string schema, std::string name) {
  return {"", std::move(schema), std::move(name)};
}

std::vector<NamedTable> Tables(const std::string& sql) {
  auto tables = TablesReadBy(sql);
  EXPECT_TRUE(tables) << tables.error().message;
  return tables ? *tables : std::vector<NamedTable>{};
}

TEST(TablesReadByTest, APlainSelectReadsItsTable) {
  EXPECT_THAT(Tables("SELECT id, amount FROM staging.orders WHERE amount > 0"),
              ElementsAre(T("staging", "orders")));
}

TEST(TablesReadByTest, JoinsReadBothSidesSortedWithoutDuplicates) {
  EXPECT_THAT(Tables("SELECT * FROM staging.orders o JOIN staging.customers c ON o.cid = c.id "
                     "LEFT JOIN staging.orders o2 ON o2.id = o.id"),
              ElementsAre(T("staging", "customers"), T("staging", "orders")));
}

TEST(TablesReadByTest, CteBodiesAreReadButCteNamesAreNotTables) {
  EXPECT_THAT(
      Tables("WITH recent AS (SELECT * FROM staging.orders WHERE ts > now() - INTERVAL 1 DAY),\n"
             "     totals AS (SELECT cid, sum(amount) AS s FROM recent GROUP BY cid)\n"
             "SELECT * FROM totals JOIN analytics.customers USING (cid)"),
      ElementsAre(T("analytics", "customers"), T("staging", "orders")));
}

TEST(TablesReadByTest, ACteNameOutsideItsQueryIsATable) {
  // `recent` is a CTE only inside the subquery that defines it.
  EXPECT_THAT(
      Tables("SELECT * FROM (WITH recent AS (SELECT 1 AS x) SELECT * FROM recent) AS a, recent"),
      ElementsAre(T("", "recent")));
}

TEST(TablesReadByTest, SubqueriesInFromAndWhereAreRead) {
  EXPECT_THAT(Tables("SELECT * FROM (SELECT * FROM staging.a) AS s "
                     "WHERE id IN (SELECT id FROM staging.b) "
                     "AND EXISTS (SELECT 1 FROM staging.c WHERE c.id = s.id)"),
              ElementsAre(T("staging", "a"), T("staging", "b"), T("staging", "c")));
}

TEST(TablesReadByTest, EverySideOfASetOperationIsRead) {
  EXPECT_THAT(Tables("SELECT id FROM staging.a UNION ALL SELECT id FROM staging.b "
                     "EXCEPT SELECT id FROM analytics.c"),
              ElementsAre(T("analytics", "c"), T("staging", "a"), T("staging", "b")));
}

TEST(TablesReadByTest, UnqualifiedAndCatalogQualifiedNamesAreReportedAsWritten) {
  auto tables = Tables("SELECT * FROM orders, db.staging.items");
  ASSERT_EQ(tables.size(), 2u);
  EXPECT_EQ(tables[0], T("", "orders"));
  EXPECT_EQ(tables[1], (NamedTable{"db", "staging", "items"}));
}

TEST(TablesReadByTest, ASyntaxErrorIsModelSqlInvalidWithItsLine) {
  auto tables = TablesReadBy("SELECT id\nFROM staging.orders\nWHERE WHERE");
  ASSERT_FALSE(tables);
  EXPECT_EQ(tables.error().code, "model_sql_invalid");
  EXPECT_THAT(tables.error().message, StartsWith("line 3: "));
  EXPECT_THAT(tables.error().message, HasSubstr("syntax error"));
}

TEST(TablesReadByTest, AStatementOtherThanSelectIsRejected) {
  auto tables = TablesReadBy("DELETE FROM staging.orders");
  ASSERT_FALSE(tables);
  EXPECT_EQ(tables.error().code, "model_sql_invalid");
  EXPECT_THAT(tables.error().message, HasSubstr("not a SELECT"));
}

TEST(TablesReadByTest, TwoStatementsAreRejected) {
  auto tables = TablesReadBy("SELECT 1 FROM staging.a; SELECT 2 FROM staging.b");
  ASSERT_FALSE(tables);
  EXPECT_EQ(tables.error().code, "model_sql_invalid");
  EXPECT_THAT(tables.error().message, HasSubstr("2 statements"));
}

TEST(TablesReadByTest, ATrailingSemicolonIsStillOneStatement) {
  EXPECT_THAT(Tables("SELECT * FROM staging.a;\n"), ElementsAre(T("staging", "a")));
}

TEST(TablesReadByTest, TablesNeedNotExist) {
  // Parse only, no binding: nothing is looked up.
  EXPECT_THAT(Tables("SELECT no_such_column FROM nowhere.nothing"),
              ElementsAre(T("nowhere", "nothing")));
}

}  // namespace
}  // namespace landfall::warehouse
