// The text of model writes, without DuckDB: quoting, merge keys that match
// NULL, the watermark window, and the bookkeeping of what a model consumed.
#include "lib/warehouse/model_sql.h"

#include <gtest/gtest.h>

namespace landfall::warehouse::sql {
namespace {

TEST(ModelSqlTest, MergeMatchesKeysNullSafeAndUpdatesOnlyTheGivenColumns) {
  EXPECT_EQ(MergeInto("\"a\".\"m\"", "SELECT 1", {"id", "we\"ird"}, {"v"}),
            "MERGE INTO \"a\".\"m\" AS tgt USING (SELECT 1) AS src ON (tgt.\"id\" IS NOT DISTINCT FROM "
            "src.\"id\" AND tgt.\"we\"\"ird\" IS NOT DISTINCT FROM src.\"we\"\"ird\") WHEN MATCHED THEN "
            "UPDATE SET \"v\" = src.\"v\" WHEN NOT MATCHED THEN INSERT BY NAME");
  EXPECT_NE(MergeInto("t", "SELECT 1", {"id"}, {}).find("WHEN MATCHED THEN DO NOTHING"), std::string::npos);
}

TEST(ModelSqlTest, TargetHashesAreOnePassPerColumnAndPerSetOfColumns) {
  EXPECT_EQ(TargetHashesQuery("\"analytics\".\"a\"", {"id", "n\"te"}, {{"id", "n\"te"}, {}}),
            "SELECT count(*), coalesce(sum(hash(\"id\")), 0)::VARCHAR, coalesce(sum(hash(\"n\"\"te\")), "
            "0)::VARCHAR, coalesce(sum(hash(\"id\", \"n\"\"te\")), 0)::VARCHAR, count(*)::VARCHAR FROM "
            "\"analytics\".\"a\"");
  EXPECT_EQ(ColumnSetKey({"Note", "id"}), "id,note");
  EXPECT_EQ(ColumnSetKey({}), "");
}

TEST(ModelSqlTest, HashesOfVersionsNoModelConsumedAreForgotten) {
  EXPECT_EQ(PruneHashes("a", "analytics.a"),
            "DELETE FROM \"_landfall\".\"model_hashes\" WHERE model = 'a' AND version < (SELECT version FROM "
            "\"_landfall\".\"models\" WHERE model = 'a') AND CAST(version AS VARCHAR) NOT IN (SELECT token "
            "FROM \"_landfall\".\"model_ledger\" WHERE source = 'analytics.a')");
}

TEST(ModelSqlTest, TargetRowCountsAreOneStatementWithQuotedNames) {
  EXPECT_EQ(TargetRowCountsQuery({}), "");
  EXPECT_EQ(TargetRowCountsQuery({{"analytics", "a"}, {"analytics", "o'k\"x"}}),
            "SELECT 'a', count(*) FROM \"analytics\".\"a\" UNION ALL "
            "SELECT 'o''k\"x', count(*) FROM \"analytics\".\"o'k\"\"x\"");
}

TEST(ModelSqlTest, TheWatermarkWindowTakesEveryRowOfAnEmptyTarget) {
  EXPECT_EQ(SaveWatermark("t", "ts", "2 hours"),
            "CREATE OR REPLACE TEMP TABLE \"_landfall_watermark\" AS SELECT max(\"ts\") - "
            "CAST('2 hours' AS INTERVAL) AS watermark FROM t");
  EXPECT_EQ(PastWatermark("ts"),
            "((SELECT watermark FROM temp.main.\"_landfall_watermark\") IS NULL OR \"ts\" > "
            "(SELECT watermark FROM temp.main.\"_landfall_watermark\"))");
}

TEST(ModelSqlTest, WhatAModelConsumedBecomesExactlyTheLedgersBatches) {
  auto statements = ConsumeStagingTable("m'x", "staging.orders", "orders");
  ASSERT_EQ(statements.size(), 2u);
  EXPECT_EQ(statements[0],
            "DELETE FROM \"_landfall\".\"model_ledger\" WHERE model = 'm''x' AND source = 'staging.orders' "
            "AND token NOT IN (SELECT batch_id FROM \"_landfall\".\"ledger\" WHERE table_name = 'orders')");
  EXPECT_EQ(statements[1],
            "INSERT INTO \"_landfall\".\"model_ledger\" SELECT 'm''x', 'staging.orders', batch_id FROM "
            "(SELECT batch_id FROM \"_landfall\".\"ledger\" WHERE table_name = 'orders' EXCEPT SELECT token "
            "FROM \"_landfall\".\"model_ledger\" WHERE model = 'm''x' AND source = 'staging.orders')");
}

TEST(ModelSqlTest, DuplicateKeysAreProbedAsText) {
  EXPECT_EQ(DuplicateKeyProbe("SELECT 1", {"a", "b"}),
            "SELECT CAST(\"a\" AS VARCHAR), CAST(\"b\" AS VARCHAR) FROM (SELECT 1) GROUP BY \"a\", \"b\" "
            "HAVING count(*) > 1 LIMIT 1");
}

TargetCheck Check(TargetCheck::Kind kind, std::vector<std::string> columns = {}, std::vector<std::string> values = {},
                  std::string expression = "") {
  return {.kind = kind, .columns = std::move(columns), .values = std::move(values), .expression = std::move(expression)};
}

TEST(ModelSqlTest, RowCountCheckCountsTheTarget) {
  EXPECT_EQ(CheckQuery("\"a\".\"m\"", Check(TargetCheck::Kind::kRowCount)),
            "SELECT count(*)::DOUBLE FROM \"a\".\"m\"");
}

TEST(ModelSqlTest, NotNullCheckCountsRowsWithANullInAnyColumn) {
  EXPECT_EQ(CheckQuery("t", Check(TargetCheck::Kind::kNotNull, {"id", "e\"mail"})),
            "SELECT count(*)::DOUBLE FROM t WHERE \"id\" IS NULL OR \"e\"\"mail\" IS NULL");
}

TEST(ModelSqlTest, UniqueCheckCountsTheRowsOfDuplicatedKeys) {
  EXPECT_EQ(CheckQuery("t", Check(TargetCheck::Kind::kUnique, {"id", "region"})),
            "SELECT coalesce(sum(n), 0)::DOUBLE FROM (SELECT count(*) AS n FROM t GROUP BY \"id\", \"region\" "
            "HAVING count(*) > 1)");
}

TEST(ModelSqlTest, AcceptedValuesCheckComparesAsTextAndLetsNullsPass) {
  EXPECT_EQ(CheckQuery("t", Check(TargetCheck::Kind::kAcceptedValues, {"status"}, {"new", "o'k"})),
            "SELECT count(*)::DOUBLE FROM t WHERE \"status\" IS NOT NULL AND CAST(\"status\" AS VARCHAR) "
            "NOT IN ('new', 'o''k')");
}

TEST(ModelSqlTest, FreshnessCheckIsTheSecondsSinceTheNewestValue) {
  EXPECT_EQ(CheckQuery("t", Check(TargetCheck::Kind::kFreshness, {"ts"})),
            "SELECT epoch(now() - max(CAST(\"ts\" AS TIMESTAMPTZ)))::DOUBLE FROM t");
}

TEST(ModelSqlTest, ExpressionCheckCountsTheRowsWhereItIsFalse) {
  EXPECT_EQ(CheckQuery("t", Check(TargetCheck::Kind::kExpression, {}, {}, "amount >= 0")),
            "SELECT count(*)::DOUBLE FROM t WHERE NOT (amount >= 0)");
}

}  // namespace
}  // namespace landfall::warehouse::sql
