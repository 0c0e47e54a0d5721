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

SelectFingerprints Fingerprints(const std::string& sql) {
  auto out = FingerprintSelect(sql);
  EXPECT_TRUE(out) << out.error().message;
  EXPECT_TRUE(out && *out) << sql;
  return out && *out ? **out : SelectFingerprints{};
}

TEST(FingerprintSelectTest, AnEditOfOneExpressionChangesOnlyThatColumn) {
  const auto before = Fingerprints("SELECT id, amount, upper(note) AS note FROM staging.orders WHERE id > 0");
  const auto after = Fingerprints("SELECT id,\n  amount, lower(note) AS Note\nFROM staging.orders WHERE id > 0");
  EXPECT_EQ(before.rest, after.rest);  // reformatting is no change
  EXPECT_EQ(before.columns.at("id"), after.columns.at("id"));
  EXPECT_EQ(before.columns.at("amount"), after.columns.at("amount"));
  EXPECT_NE(before.columns.at("note"), after.columns.at("note"));
  // A renamed column is another column, with the same expression.
  const auto renamed = Fingerprints("SELECT id, amount AS total, upper(note) AS note FROM staging.orders WHERE id > 0");
  EXPECT_EQ(renamed.columns.at("total"), before.columns.at("amount"));
  EXPECT_FALSE(renamed.columns.contains("amount"));
}

TEST(FingerprintSelectTest, AnEditOutsideTheSelectListChangesTheRest) {
  EXPECT_NE(Fingerprints("SELECT id FROM staging.orders WHERE id > 0").rest,
            Fingerprints("SELECT id FROM staging.orders WHERE id > 1").rest);
  EXPECT_NE(Fingerprints("WITH t AS (SELECT 1 AS id) SELECT id FROM t").rest,
            Fingerprints("WITH t AS (SELECT 2 AS id) SELECT id FROM t").rest);
}

TEST(FingerprintSelectTest, NamesNotReadableFromTheTextAreUnknown) {
  for (const char* sql : {"SELECT * FROM staging.orders", "SELECT id, sum(amount) FROM staging.orders GROUP BY id",
                          "SELECT id FROM staging.a UNION ALL SELECT id FROM staging.b",
                          "SELECT COLUMNS('a.*') FROM staging.orders"}) {
    auto out = FingerprintSelect(sql);
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_FALSE(*out) << sql;
  }
  EXPECT_FALSE(FingerprintSelect("DROP TABLE x"));
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
