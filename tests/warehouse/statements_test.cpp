// The exact text of every statement the DuckDB warehouse runs, without a
// database: quoting of strange names, casts, nested values as JSON, and which
// batch column feeds which staging column.
#include "lib/warehouse/statements.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace landfall::warehouse::sql {
namespace {

schema::Column Col(std::string name, std::string type,
                   std::optional<int32_t> field_id = std::nullopt) {
  schema::Column c;
  c.name = std::move(name);
  c.type = std::move(type);
  c.field_id = field_id;
  return c;
}

schema::Schema Schema(std::vector<schema::Column> columns) {
  return schema::Schema{std::move(columns)};
}

BatchFile Batch(std::string id, std::string abs_path, std::vector<schema::Column> columns) {
  BatchFile b;
  b.batch_id = std::move(id);
  b.rel_path = "orders/" + b.batch_id + ".parquet";
  b.abs_path = std::move(abs_path);
  b.rows = 10;
  b.schema = Schema(std::move(columns));
  return b;
}

const std::string kOrders = "\"staging\".\"orders\"";

// The statement a builder made, or "" with a test failure naming its error.
std::string Text(const Result<std::string>& statement) {
  if (!statement) {
    ADD_FAILURE() << statement.error().ToString();
    return "";
  }
  return *statement;
}

TEST(StatementsTest, InitCreatesBothSchemasAndTheKeyedLedger) {
  EXPECT_EQ(InitStatements("st\"g"),
            (std::vector<std::string>{
                "CREATE SCHEMA IF NOT EXISTS \"st\"\"g\"",
                "CREATE SCHEMA IF NOT EXISTS \"_landfall\"",
                "CREATE TABLE IF NOT EXISTS \"_landfall\".\"ledger\" (table_name VARCHAR NOT NULL, "
                "batch_id VARCHAR NOT NULL, path VARCHAR, rows BIGINT, loaded_at TIMESTAMP, "
                "PRIMARY KEY (table_name, batch_id))",
            }));
}

TEST(StatementsTest, LedgerKeyIsCountedDeduplicatedAndAdded) {
  EXPECT_EQ(CountLedgerKeys(),
            "SELECT count(*) FROM duckdb_constraints() WHERE schema_name = '_landfall' AND "
            "table_name = 'ledger' AND constraint_type = 'PRIMARY KEY'");
  EXPECT_EQ(DeleteDuplicateLedgerRows(),
            "DELETE FROM \"_landfall\".\"ledger\" WHERE rowid NOT IN (SELECT arg_max(rowid, "
            "coalesce(loaded_at, TIMESTAMP '-infinity')) FROM \"_landfall\".\"ledger\" GROUP BY "
            "table_name, batch_id)");
  EXPECT_EQ(AddLedgerKey(),
            "ALTER TABLE \"_landfall\".\"ledger\" ADD PRIMARY KEY (table_name, batch_id)");
}

TEST(StatementsTest, LedgerReadsQuoteTheTableName) {
  EXPECT_EQ(SelectLedger(),
            "SELECT table_name, batch_id, path, rows, epoch_us(loaded_at) FROM "
            "\"_landfall\".\"ledger\"");
  EXPECT_EQ(SelectLedgerBatchIds("it's"),
            "SELECT batch_id FROM \"_landfall\".\"ledger\" WHERE table_name = 'it''s'");
}

TEST(StatementsTest, LedgerLookupOfSomeBatchesNamesThemByKey) {
  const std::vector<BatchFile> among = {{.batch_id = "b1"}, {.batch_id = "b'2"}};
  EXPECT_EQ(SelectLedgerBatchIds("it's") + LedgerLookupFilter(among),
            "SELECT batch_id FROM \"_landfall\".\"ledger\" WHERE table_name = 'it''s'"
            " AND batch_id IN ('b1', 'b''2')");
}

TEST(StatementsTest, LedgerRowsInsertInOneStatement) {
  const std::vector<LedgerEntry> rows = {{"b1", "orders/a.parquet", 3, 1700000000000000},
                                         {"b'2", "orders/it's.parquet", 0, 1700000000000000}};
  EXPECT_EQ(InsertLedgerRows("or\"ders", rows, LedgerWrite::kInsert),
            "INSERT INTO \"_landfall\".\"ledger\" (table_name, batch_id, path, rows, loaded_at) "
            "SELECT 'or\"ders', unnest(['b1', 'b''2']), "
            "unnest(['orders/a.parquet', 'orders/it''s.parquet']), unnest([3, 0]::BIGINT[]), "
            "make_timestamp(unnest([1700000000000000, 1700000000000000]::BIGINT[]))");
}

TEST(StatementsTest, LedgerRowsOfARebuildReplaceTheOldOnes) {
  const std::vector<LedgerEntry> rows = {{"b1", "orders/a.parquet", 3, 5}};
  EXPECT_EQ(InsertLedgerRows("orders", rows, LedgerWrite::kReplace),
            "INSERT INTO \"_landfall\".\"ledger\" (table_name, batch_id, path, rows, loaded_at) "
            "SELECT 'orders', unnest(['b1']), unnest(['orders/a.parquet']), "
            "unnest([3]::BIGINT[]), make_timestamp(unnest([5]::BIGINT[])) "
            "ON CONFLICT (table_name, batch_id) DO UPDATE SET path = excluded.path, "
            "rows = excluded.rows, loaded_at = excluded.loaded_at");
}

TEST(StatementsTest, DeleteLedgerRowsKeepsTheNamedBatches) {
  EXPECT_EQ(DeleteLedgerRows("orders", {}),
            "DELETE FROM \"_landfall\".\"ledger\" WHERE table_name = 'orders'");
  const std::vector<std::string> keep = {"b1", "it's"};
  EXPECT_EQ(DeleteLedgerRows("orders", keep),
            "DELETE FROM \"_landfall\".\"ledger\" WHERE table_name = 'orders' AND batch_id NOT IN "
            "('b1', 'it''s')");
}

TEST(StatementsTest, StagingColumnsMatchTheSchemaCaseInsensitively) {
  EXPECT_EQ(SelectStagingColumns("St'g"),
            "SELECT c.table_name, c.column_name, c.data_type, c.is_nullable::INTEGER FROM "
            "duckdb_columns() c JOIN duckdb_tables() t ON c.database_name = t.database_name AND "
            "c.schema_name = t.schema_name AND c.table_name = t.table_name WHERE c.database_name "
            "= current_database() AND lower(c.schema_name) = lower('St''g') ORDER BY "
            "c.table_name, c.column_index");
}

TEST(StatementsTest, OneTableQueries) {
  EXPECT_EQ(DescribeTable(kOrders),
            "SELECT column_name, column_type FROM (DESCRIBE \"staging\".\"orders\")");
  EXPECT_EQ(CountRows(kOrders), "SELECT count(*) FROM \"staging\".\"orders\"");
  EXPECT_EQ(CommonSupertypeQuery("INTEGER", "DECIMAL(18,2)"),
            "SELECT typeof([NULL::INTEGER, NULL::DECIMAL(18,2)][1])");
}

TEST(StatementsTest, CreateOrReplaceTableQuotesStrangeColumnNames) {
  EXPECT_EQ(CreateOrReplaceTable(kOrders, Schema({Col("a b", "INTEGER"), Col("q\"x", "JSON")})),
            "CREATE OR REPLACE TABLE \"staging\".\"orders\" (\"a b\" INTEGER, \"q\"\"x\" JSON, "
            "\"_landfall_batch\" VARCHAR, \"_landfall_loaded_at\" TIMESTAMP)");
}

TEST(StatementsTest, DropTableDropsTheOldShadowAndTheLedgerRowsToo) {
  EXPECT_EQ(DropTable("staging", "it's \"x\""),
            (std::vector<std::string>{
                "DROP TABLE IF EXISTS \"staging\".\"it's \"\"x\"\"\"",
                "DROP TABLE IF EXISTS \"staging\".\"it's \"\"x\"\"__landfall_shadow\"",
                "DELETE FROM \"_landfall\".\"ledger\" WHERE table_name = 'it''s \"x\"'",
            }));
}

TEST(StatementsTest, SwappedNamesRenameThroughTemporaryNames) {
  const std::vector<ColumnRename> renames = {{"a", "b"}, {"b", "a\"1"}};
  EXPECT_EQ(RenameColumns(kOrders, renames),
            (std::vector<std::string>{
                "ALTER TABLE \"staging\".\"orders\" RENAME COLUMN \"a\" TO \"_landfall_rename_0\"",
                "ALTER TABLE \"staging\".\"orders\" RENAME COLUMN \"b\" TO \"_landfall_rename_1\"",
                "ALTER TABLE \"staging\".\"orders\" RENAME COLUMN \"_landfall_rename_0\" TO \"b\"",
                "ALTER TABLE \"staging\".\"orders\" RENAME COLUMN \"_landfall_rename_1\" TO "
                "\"a\"\"1\"",
            }));
  EXPECT_TRUE(RenameColumns(kOrders, {}).empty());
}

TEST(StatementsTest, EvolveAddsMissingColumnsAndAltersChangedTypes) {
  const std::vector<TableColumn> existing = {
      {"ID", "INTEGER"}, {"name", "VARCHAR"}, {"_landfall_batch", "VARCHAR"}};
  auto changes = EvolveColumns(
      kOrders, existing,
      Schema({Col("id", "BIGINT"), Col("name", "VARCHAR"), Col("new col", "DOUBLE")}));
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].column, "id");
  // The column is named as the table spells it.
  EXPECT_EQ(changes[0].statement,
            "ALTER TABLE \"staging\".\"orders\" ALTER COLUMN \"ID\" SET DATA TYPE BIGINT");
  EXPECT_EQ(changes[1].column, "new col");
  EXPECT_EQ(changes[1].statement,
            "ALTER TABLE \"staging\".\"orders\" ADD COLUMN \"new col\" DOUBLE");
}

TEST(StatementsTest, EvolveComparesNormalizedTypes) {
  const std::vector<TableColumn> existing = {{"id", "INTEGER"}, {"at", "TIMESTAMP WITH TIME ZONE"}};
  EXPECT_TRUE(EvolveColumns(kOrders, existing, Schema({Col("id", "int"), Col("At", "timestamptz")}))
                  .empty());
}

TEST(StatementsTest, ProjectionCastsByNameCaseInsensitivelyAndSkipsUnknownColumns) {
  auto batch =
      Batch("b1", "/l/a.parquet",
            {Col("Amount", "DECIMAL(18,2)"), Col("dropped", "VARCHAR"), Col("id", "INTEGER")});
  EXPECT_EQ(
      Text(Projection(Schema({Col("id", "BIGINT"), Col("amount", "DECIMAL(18,2)")}), batch, "")),
      "CAST(\"Amount\" AS DECIMAL(18,2)) AS \"amount\", CAST(\"id\" AS BIGINT) AS \"id\", ");
}

TEST(StatementsTest, ProjectionStoresNestedValuesAsJson) {
  auto batch = Batch("b1", "/l/a.parquet", {Col("tags", "JSON"), Col("q\"x", "JSON")});
  EXPECT_EQ(Text(Projection(Schema({Col("tags", "JSON"), Col("q\"x", "JSON")}), batch, "r.")),
            "CAST(to_json(r.\"tags\") AS JSON) AS \"tags\", "
            "CAST(to_json(r.\"q\"\"x\") AS JSON) AS \"q\"\"x\", ");
}

TEST(StatementsTest, ProjectionMapsARenamedColumnByFieldId) {
  // Written before customer was renamed to client: the file says customer.
  auto batch =
      Batch("b1", "/l/a.parquet", {Col("customer", "VARCHAR", 3), Col("id", "INTEGER", 1)});
  EXPECT_EQ(
      Text(Projection(Schema({Col("id", "INTEGER", 1), Col("client", "VARCHAR", 3)}), batch, "")),
      "CAST(\"customer\" AS VARCHAR) AS \"client\", CAST(\"id\" AS INTEGER) AS \"id\", ");
}

TEST(StatementsTest, ProjectionSendsANameTakenByARenameToItsReplacedColumn) {
  // full_name (field_id 1) was renamed to name; the column that held name
  // before moved to name__replaced.
  auto batch =
      Batch("b1", "/l/a.parquet", {Col("full_name", "VARCHAR", 1), Col("name", "VARCHAR")});
  EXPECT_EQ(Text(Projection(Schema({Col("name", "VARCHAR", 1), Col("name__replaced", "VARCHAR")}),
                            batch, "")),
            "CAST(\"full_name\" AS VARCHAR) AS \"name\", "
            "CAST(\"name\" AS VARCHAR) AS \"name__replaced\", ");
}

TEST(StatementsTest, ProjectionFillsEachTargetColumnOnce) {
  auto batch = Batch("b1", "/l/a.parquet", {Col("a", "INTEGER"), Col("A", "INTEGER")});
  EXPECT_EQ(Text(Projection(Schema({Col("a", "BIGINT")}), batch, "")),
            "CAST(\"a\" AS BIGINT) AS \"a\", ");
}

TEST(StatementsTest, ProjectionRefusesABatchWithoutFooterOrWithNulBytes) {
  const auto target = Schema({Col("a", "INTEGER")});
  auto empty = Projection(target, Batch("b1", "/l/a.parquet", {}), "");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, "warehouse_error");
  EXPECT_EQ(empty.error().message, "batch orders/b1.parquet has no footer schema");

  auto nul_column = Projection(
      target,
      Batch("b1", "/l/a.parquet", {Col(std::string("a\0b", 3), "INTEGER"), Col("a", "INTEGER")}),
      "");
  EXPECT_TRUE(nul_column);  // a column the target lacks is never spliced
  auto nul_used =
      Projection(Schema({Col(std::string("a\0b", 3), "INTEGER")}),
                 Batch("b1", "/l/a.parquet", {Col(std::string("a\0b", 3), "INTEGER")}), "");
  ASSERT_FALSE(nul_used);
  EXPECT_EQ(nul_used.error().message, "column name with a NUL byte");

  auto nul_id =
      Projection(target, Batch(std::string("b\0", 2), "/l/a.parquet", {Col("a", "INTEGER")}), "");
  ASSERT_FALSE(nul_id);
  EXPECT_EQ(nul_id.error().code, "warehouse_error");
}

TEST(StatementsTest, InsertBatchReadsExactlyItsFile) {
  auto batch = Batch("it's", "/l/it's [1]*.parquet", {Col("id", "INTEGER")});
  EXPECT_EQ(Text(InsertBatch(kOrders, Schema({Col("id", "BIGINT")}), batch, 1700000000000000)),
            "INSERT INTO \"staging\".\"orders\" BY NAME SELECT CAST(\"id\" AS BIGINT) AS \"id\", "
            "'it''s' AS \"_landfall_batch\", make_timestamp(1700000000000000::BIGINT) AS "
            "\"_landfall_loaded_at\" FROM read_parquet('/l/it''s [[]1][*].parquet', "
            "hive_partitioning = false)");
}

TEST(StatementsTest, InsertBatchesJoinsEachRowToItsFilesBatchId) {
  auto a = Batch("b1", "/l/a.parquet", {Col("id", "INTEGER")});
  auto b = Batch("b'2", "/l/it's.parquet", {Col("id", "INTEGER")});
  const std::vector<const BatchFile*> batches = {&a, &b};
  EXPECT_EQ(Text(InsertBatches(kOrders, Schema({Col("id", "BIGINT")}), batches, 5)),
            "INSERT INTO \"staging\".\"orders\" BY NAME SELECT CAST(r.\"id\" AS BIGINT) AS \"id\", "
            "b.id AS \"_landfall_batch\", make_timestamp(5::BIGINT) AS \"_landfall_loaded_at\" "
            "FROM read_parquet(['/l/a.parquet', '/l/it''s.parquet'], hive_partitioning = false, "
            "filename = '_landfall_file') AS r JOIN (VALUES ('/l/a.parquet', 'b1'), "
            "('/l/it''s.parquet', 'b''2')) AS b(path, id) ON r.\"_landfall_file\" = b.path");
}

TEST(StatementsTest, InsertBatchesRefusesANulByteInAnyBatch) {
  auto a = Batch("b1", "/l/a.parquet", {Col("id", "INTEGER")});
  auto b = Batch("b2", std::string("/l/b\0.parquet", 13), {Col("id", "INTEGER")});
  const std::vector<const BatchFile*> batches = {&a, &b};
  auto statement = InsertBatches(kOrders, Schema({Col("id", "BIGINT")}), batches, 5);
  ASSERT_FALSE(statement);
  EXPECT_EQ(statement.error().message, "batch orders/b2.parquet: NUL byte in its id or path");
}

TEST(StatementsTest, ProbeBatchCastsEveryColumnAndStoresNothing) {
  auto batch = Batch("b1", "/l/a?.parquet", {Col("id", "INTEGER"), Col("tags", "JSON")});
  EXPECT_EQ(Text(ProbeBatch(Schema({Col("id", "BIGINT"), Col("tags", "JSON")}), batch)),
            "SELECT max(hash(r)) FROM (SELECT CAST(\"id\" AS BIGINT) AS \"id\", "
            "CAST(to_json(\"tags\") AS JSON) AS \"tags\", 1 AS \"_landfall_probe\" FROM "
            "read_parquet('/l/a[?].parquet', hive_partitioning = false)) AS r");
}

TEST(StatementsTest, CarriedRowsGoThroughATemporaryTable) {
  EXPECT_EQ(CarryTable(), "temp.main.\"_landfall_carry_over\"");
  const std::vector<std::string> ids = {"b1", "it's"};
  EXPECT_EQ(SetAsideRows(kOrders, ids),
            "CREATE OR REPLACE TEMP TABLE temp.main.\"_landfall_carry_over\" AS SELECT * FROM "
            "\"staging\".\"orders\" WHERE \"_landfall_batch\" IN ('b1', 'it''s')");
  EXPECT_EQ(InsertCarriedRows(kOrders, "\"a\", \"_landfall_batch\", \"_landfall_loaded_at\""),
            "INSERT INTO \"staging\".\"orders\" BY NAME SELECT \"a\", \"_landfall_batch\", "
            "\"_landfall_loaded_at\" FROM temp.main.\"_landfall_carry_over\"");
  EXPECT_EQ(DropCarryTable(), "DROP TABLE temp.main.\"_landfall_carry_over\"");
}

TEST(StatementsTest, CarryOverProjectionCastsKeptColumnsToTheTarget) {
  const std::vector<TableColumn> old = {
      {"ID", "INTEGER"},   {"tags", "STRUCT(a INTEGER)"},  {"doc", "JSON"},
      {"gone", "VARCHAR"}, {"_landfall_batch", "VARCHAR"}, {"_landfall_loaded_at", "TIMESTAMP"}};
  EXPECT_EQ(CarryOverProjection(old, Schema({Col("id", "BIGINT"), Col("tags", "JSON"),
                                             Col("doc", "JSON"), Col("new", "VARCHAR")})),
            "CAST(\"ID\" AS BIGINT) AS \"id\", CAST(to_json(\"tags\") AS JSON) AS \"tags\", "
            "CAST(\"doc\" AS JSON) AS \"doc\", \"_landfall_batch\", \"_landfall_loaded_at\"");
}

TEST(StatementsTest, FooterQueriesNameEachFileLiterally) {
  const std::string tree_columns =
      "s.name, s.repetition_type, s.field_id, s.num_children, s.type, s.type_length, "
      "s.converted_type, s.scale, s.precision, s.logical_type, s.duckdb_type";
  EXPECT_EQ(SelectFooterTree("/l/it's*.parquet"),
            "SELECT " + tree_columns +
                ", m.num_rows FROM parquet_schema('/l/it''s[*].parquet') s, "
                "parquet_file_metadata('/l/it''s[*].parquet') m");
  const std::vector<std::string> paths = {"/l/a.parquet", "/l/[b].parquet"};
  EXPECT_EQ(SelectFooterTrees(paths),
            "SELECT " + tree_columns +
                ", s.file_name FROM parquet_schema(['/l/a.parquet', '/l/[[]b].parquet']) s");
  EXPECT_EQ(SelectFooterRowCounts(paths),
            "SELECT file_name, num_rows FROM parquet_file_metadata(['/l/a.parquet', "
            "'/l/[[]b].parquet'])");
  EXPECT_EQ(
      DescribeParquet("/l/k=v/a?.parquet"),
      "DESCRIBE SELECT * FROM read_parquet('/l/k=v/a[?].parquet', hive_partitioning = false)");
}

}  // namespace
}  // namespace landfall::warehouse::sql
