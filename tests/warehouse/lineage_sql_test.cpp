// The text of the lineage probe's statements, without DuckDB.
#include "lib/warehouse/lineage_sql.h"

#include <gtest/gtest.h>

namespace landfall::warehouse::sql {
namespace {

TEST(LineageSqlTest, EmptyTableQuotesNamesAndKeepsTypes) {
  schema::Schema columns;
  columns.columns = {{.name = "id", .type = "BIGINT"}, {.name = "we\"ird", .type = "DECIMAL(18,2)"}};
  EXPECT_EQ(CreateEmptyTable("staging", "o'k", columns),
            "CREATE OR REPLACE TABLE \"staging\".\"o'k\" (\"id\" BIGINT, \"we\"\"ird\" DECIMAL(18,2))");
}

TEST(LineageSqlTest, PlanIsSerializedUnoptimized) {
  EXPECT_EQ(SerializePlan("SELECT 'a'"),
            "SELECT json_serialize_plan('SELECT ''a''', optimize := false)");
}

}  // namespace
}  // namespace landfall::warehouse::sql
