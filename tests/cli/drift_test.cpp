// Schema drift and what the planner does about it: columns added, absent or
// renamed; types widened or incompatible; nullability; batches rewritten or
// deleted; table folders that vanish; state or warehouse changed behind
// landfall's back; and the schema_evolution policies. Through the real
// binary, real PostgreSQL and real DuckDB: every test lands batches, runs,
// lands the drift, checks the plan's action and reasons, runs again and
// checks the staged data itself.
#include <fcntl.h>
#include <sys/stat.h>

#include <cstdint>
#include <iterator>
#include <sstream>

#include "tests/cli/cli_fixture.h"
#include "tests/support/parquet_writer.h"

namespace landfall::testing {
namespace {

using Strings = std::vector<std::string>;
namespace fs = std::filesystem;

class DriftTest : public CliTest {
 protected:
  // Appends top-level keys (policies, `tables:`) to the config.
  void AddConfig(const std::string& yaml) { std::ofstream(config(), std::ios::app) << yaml; }

  // Writes landing/<rel> from a SELECT.
  void Batch(const std::string& rel, const std::string& select) {
    WriteParquet(landing() / rel, select);
  }

  // Same, with Parquet field ids, e.g. field_ids = "{id: 1, cust: 2}".
  void BatchWithFieldIds(const std::string& rel, const std::string& select,
                         const std::string& field_ids) {
    fs::create_directories((landing() / rel).parent_path());
    DuckDbExec("COPY (" + select + ") TO '" + (landing() / rel).string() +
               "' (FORMAT parquet, FIELD_IDS " + field_ids + ")");
  }

  Strings Q(const std::string& sql) { return WarehouseRows(sql); }
  // JSON columns as text, compact as DuckDB writes them (PostgreSQL's jsonb
  // puts a space after each ':' and ',').
  Strings Json(const std::string& sql) {
    Strings rows = Q(sql);
    for (auto& row : rows) {
      std::string compact;
      for (size_t i = 0; i < row.size(); ++i) {
        compact += row[i];
        if ((row[i] == ':' || row[i] == ',') && i + 1 < row.size() && row[i + 1] == ' ') ++i;
      }
      row = std::move(compact);
    }
    return rows;
  }

  // The staging table's column names in order, metadata columns left out.
  Strings Columns(const std::string& table) {
    return Q(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'staging' "
        "AND table_name = '" +
        table +
        "' AND column_name NOT LIKE '\\_landfall\\_%' ESCAPE '\\' "
        "ORDER BY ordinal_position");
  }
  // The column's staging type (on PostgreSQL: the one its comment keeps).
  std::string ColumnType(const std::string& table, const std::string& column) {
    auto rows =
        on_postgres_
            ? Q("SELECT substr(col_description(a.attrelid, a.attnum), 11) FROM pg_attribute a "
                "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = "
                "c.relnamespace WHERE n.nspname = 'staging' AND c.relname = '" +
                table + "' AND a.attname = '" + column + "'")
            : Q("SELECT data_type FROM information_schema.columns WHERE table_schema = 'staging' "
                "AND table_name = '" +
                table + "' AND column_name = '" + column + "'");
    return rows.empty() ? "(no column)" : rows[0];
  }
  bool TableExists(const std::string& table) {
    return WarehouseInt(
                          "SELECT count(*) FROM information_schema.tables WHERE "
                          "table_schema = 'staging' AND table_name = '" +
                              table + "'") == 1;
  }
  // When each row of `where` was loaded: unchanged after an in-place change,
  // new after a rebuild.
  Strings LoadedAt(const std::string& table, const std::string& where) {
    return Q("SELECT _landfall_loaded_at::VARCHAR FROM staging." + Quote(table) + " WHERE " +
             where + " ORDER BY 1");
  }

  static nlohmann::json TableOf(const nlohmann::json& plan, const std::string& table) {
    for (const auto& t : plan["tables"]) {
      if (t["table"] == table) return t;
    }
    ADD_FAILURE() << "no table " << table << " in " << plan.dump();
    return nlohmann::json::object();
  }
  // The detail of the first reason with `code`, or "(none)".
  static std::string Detail(const nlohmann::json& plan, const std::string& table,
                            const std::string& code) {
    const nlohmann::json t = TableOf(plan, table);
    for (const auto& r : t["reasons"]) {
      if (r["code"] == code) return r["detail"];
    }
    return "(none)";
  }
  static nlohmann::json OutcomeOf(const nlohmann::json& run, const std::string& table) {
    for (const auto& t : run["tables"]) {
      if (t["table"] == table) return t;
    }
    return nlohmann::json::object();
  }

  // Runs SQL against the state store; $1 is this test's environment.
  std::vector<std::string> Pg(const std::string& sql) {
    return PgQuery(sql, env_);
  }

  // The table's schema snapshot in the state store.
  nlohmann::json Snapshot(const std::string& table) {
    auto rows = Pg("SELECT schema_json::text FROM tables WHERE environment = $1 AND name = '" +
                   table + "'");
    return rows.empty() ? nlohmann::json() : nlohmann::json::parse(rows[0]);
  }

  // orders/p0.parquet: (id INTEGER, name VARCHAR) with ids 0..rows-1 and names o0, o1, ...
  void LandOrders(const std::string& rel = "orders/p0.parquet", int rows = 3, int offset = 0) {
    Batch(rel, "SELECT (i + " + std::to_string(offset) + ")::INTEGER AS id, 'o' || (i + " +
                   std::to_string(offset) + ") AS name FROM range(" + std::to_string(rows) +
                   ") t(i)");
  }
};

// ---- columns added, absent, renamed ----

TEST_F(DriftTest, AddedColumnIsAddedInPlaceAndOldRowsAreNull) {
  LandOrders();
  Run();
  const Strings loaded = LoadedAt("orders", "id < 3");
  Batch("orders/p1.parquet",
        "SELECT (i + 3)::INTEGER AS id, 'o' || (i + 3) AS name, i * 0.5::DOUBLE AS discount FROM "
        "range(2) t(i)");

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "evolve");
  EXPECT_EQ(ReasonCodes(plan, "orders"),
            (Strings{"new_batches", "schema_changed", "column_added"}));
  EXPECT_EQ(Detail(plan, "orders", "column_added"), "discount DOUBLE");
  EXPECT_EQ(TableOf(plan, "orders")["batches"], nlohmann::json::array({"orders/p1.parquet"}));

  auto out = Run();
  EXPECT_EQ(OutcomeOf(out, "orders")["rows"], 2);
  EXPECT_EQ(Rows("orders"), 5);
  EXPECT_EQ(Columns("orders"), (Strings{"id", "name", "discount"}));
  EXPECT_EQ(ColumnType("orders", "discount"), "DOUBLE");
  EXPECT_EQ(Q("SELECT coalesce(discount::DECIMAL(10,1)::VARCHAR, 'NULL') FROM staging.orders ORDER BY id"),
            (Strings{"NULL", "NULL", "NULL", "0.0", "0.5"}));
  EXPECT_EQ(Q("SELECT name FROM staging.orders ORDER BY id"),
            (Strings{"o0", "o1", "o2", "o3", "o4"}));
  EXPECT_EQ(LoadedAt("orders", "id < 3"), loaded) << "old rows must not be reloaded";
  EXPECT_EQ(LedgerBatches("orders"), 2);
  EXPECT_EQ(Run()["run_id"], 0);
}

TEST_F(DriftTest, ColumnAbsentFromNewBatchesIsKeptAndNewRowsAreNull) {
  LandOrders();
  Run();
  Batch("orders/p1.parquet", "SELECT 10::INTEGER AS id");

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "append");
  EXPECT_EQ(ReasonCodes(plan, "orders"), (Strings{"new_batches", "column_absent"}));
  EXPECT_EQ(Detail(plan, "orders", "column_absent"), "name VARCHAR (new rows NULL)");

  Run();
  EXPECT_EQ(Columns("orders"), (Strings{"id", "name"}));
  EXPECT_EQ(Q("SELECT coalesce(name, 'NULL') FROM staging.orders ORDER BY id"),
            (Strings{"o0", "o1", "o2", "NULL"}));
  EXPECT_EQ(Run()["run_id"], 0);
}

TEST_F(DriftTest, RenameProvenByFieldIdIsRenamedInPlace) {
  BatchWithFieldIds("orders/p0.parquet",
                    "SELECT i::INTEGER AS id, (100 + i)::INTEGER AS cust FROM range(3) t(i)",
                    "{id: 1, cust: 2}");
  Run();
  const Strings loaded = LoadedAt("orders", "id < 3");
  BatchWithFieldIds(
      "orders/p1.parquet",
      "SELECT (3 + i)::INTEGER AS id, (200 + i)::INTEGER AS customer_id FROM range(2) t(i)",
      "{id: 1, customer_id: 2}");

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "evolve");
  EXPECT_EQ(ReasonCodes(plan, "orders"),
            (Strings{"new_batches", "schema_changed", "rename_by_field_id"}));
  EXPECT_EQ(Detail(plan, "orders", "rename_by_field_id"), "cust\u2192customer_id (field_id 2)");
  EXPECT_EQ(TableOf(plan, "orders")["renames"],
            nlohmann::json::array({{{"from", "cust"}, {"to", "customer_id"}}}));

  Run();
  EXPECT_EQ(Columns("orders"), (Strings{"id", "customer_id"}));
  // The old rows keep their values, under the new name.
  EXPECT_EQ(Q("SELECT customer_id FROM staging.orders ORDER BY id"),
            (Strings{"100", "101", "102", "200", "201"}));
  EXPECT_EQ(LoadedAt("orders", "id < 3"), loaded) << "renamed in place, not rebuilt";
  EXPECT_EQ(Run()["run_id"], 0);

  // A rebuild maps the old file's `cust` to `customer_id` by its field_id.
  Run({"--full-refresh"});
  EXPECT_EQ(Columns("orders"), (Strings{"id", "customer_id"}));
  EXPECT_EQ(Q("SELECT customer_id FROM staging.orders ORDER BY id"),
            (Strings{"100", "101", "102", "200", "201"}));
}

// Two columns swap names (field 2 was "a", is now "b", and the other way
// round): renamed in place, in one transaction, never "b already exists".
TEST_F(DriftTest, ColumnsSwappingNamesByFieldIdAreRenamedInPlace) {
  BatchWithFieldIds(
      "orders/p0.parquet",
      "SELECT i::INTEGER AS id, (100 + i)::INTEGER AS a, 'x' || i AS b FROM range(3) t(i)",
      "{id: 1, a: 2, b: 3}");
  Run();
  const Strings loaded = LoadedAt("orders", "id < 3");
  BatchWithFieldIds(
      "orders/p1.parquet",
      "SELECT (3 + i)::INTEGER AS id, (200 + i)::INTEGER AS b, 'y' || i AS a FROM range(2) t(i)",
      "{id: 1, b: 2, a: 3}");

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "evolve");
  EXPECT_EQ(TableOf(plan, "orders")["renames"],
            nlohmann::json::array({{{"from", "a"}, {"to", "b"}}, {{"from", "b"}, {"to", "a"}}}));

  auto out = Run();
  EXPECT_EQ(out["ok"], true) << out.dump();
  EXPECT_EQ(Columns("orders"), (Strings{"id", "b", "a"}));
  EXPECT_EQ(Q("SELECT id || ':' || b || ':' || a FROM staging.orders ORDER BY id"),
            (Strings{"0:100:x0", "1:101:x1", "2:102:x2", "3:200:y0", "4:201:y1"}));
  EXPECT_EQ(LoadedAt("orders", "id < 3"), loaded) << "renamed in place, not rebuilt";
  EXPECT_EQ(LedgerBatches("orders"), 2);
  EXPECT_EQ(Run()["run_id"], 0);

  // A rebuild maps each file's columns by field_id, whatever they were called.
  Run({"--full-refresh"});
  EXPECT_EQ(Q("SELECT id || ':' || b || ':' || a FROM staging.orders ORDER BY id"),
            (Strings{"0:100:x0", "1:101:x1", "2:102:x2", "3:200:y0", "4:201:y1"}));
}

// Upstream drops b, then renames a to b: the column that held the name moves
// aside to b__replaced with its values, and a becomes b, in place.
TEST_F(DriftTest, RenameOntoADroppedColumnsNameMovesThatColumnAside) {
  BatchWithFieldIds(
      "orders/p0.parquet",
      "SELECT i::INTEGER AS id, (100 + i)::INTEGER AS a, 'x' || i AS b FROM range(3) t(i)",
      "{id: 1, a: 2, b: 3}");
  Run();
  const Strings loaded = LoadedAt("orders", "id < 3");
  BatchWithFieldIds("orders/p1.parquet",
                    "SELECT (3 + i)::INTEGER AS id, (200 + i)::INTEGER AS b FROM range(2) t(i)",
                    "{id: 1, b: 2}");

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "evolve");
  EXPECT_EQ(Detail(plan, "orders", "rename_by_field_id"), "a\u2192b (field_id 2)");
  EXPECT_EQ(Detail(plan, "orders", "column_displaced"),
            "b\u2192b__replaced (its name went to a renamed column)");

  auto out = Run();
  EXPECT_EQ(out["ok"], true) << out.dump();
  EXPECT_EQ(Columns("orders"), (Strings{"id", "b", "b__replaced"}));
  EXPECT_EQ(ColumnType("orders", "b"), "INTEGER");
  EXPECT_EQ(Q("SELECT id || ':' || b || ':' || coalesce(b__replaced, 'NULL') FROM staging.orders "
              "ORDER BY id"),
            (Strings{"0:100:x0", "1:101:x1", "2:102:x2", "3:200:NULL", "4:201:NULL"}));
  EXPECT_EQ(LoadedAt("orders", "id < 3"), loaded) << "renamed in place, not rebuilt";
  EXPECT_EQ(Run()["run_id"], 0);

  // A rebuild from both files gives the same table.
  Run({"--full-refresh"});
  EXPECT_EQ(Columns("orders"), (Strings{"id", "b", "b__replaced"}));
  EXPECT_EQ(Q("SELECT id || ':' || b || ':' || coalesce(b__replaced, 'NULL') FROM staging.orders "
              "ORDER BY id"),
            (Strings{"0:100:x0", "1:101:x1", "2:102:x2", "3:200:NULL", "4:201:NULL"}));
}

TEST_F(DriftTest, SuspectedRenameWithoutFieldIdIsAddPlusAbsentAndFlagged) {
  Batch("orders/p0.parquet",
        "SELECT i::INTEGER AS id, (100 + i)::INTEGER AS cust FROM range(2) t(i)");
  Run();
  Batch("orders/p1.parquet", "SELECT 5::INTEGER AS id, 500::INTEGER AS customer_id");

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "evolve");
  EXPECT_EQ(ReasonCodes(plan, "orders"), (Strings{"new_batches", "schema_changed", "column_added",
                                                  "column_absent", "suspected_rename"}));
  EXPECT_EQ(Detail(plan, "orders", "suspected_rename"),
            "cust\u2192customer_id (no field_id to prove it)");
  EXPECT_EQ(TableOf(plan, "orders")["renames"], nlohmann::json::array());

  Run();
  EXPECT_EQ(Columns("orders"), (Strings{"id", "cust", "customer_id"}));
  EXPECT_EQ(
      Q("SELECT coalesce(cust::VARCHAR, 'NULL') || '/' || coalesce(customer_id::VARCHAR, 'NULL') "
        "FROM staging.orders ORDER BY id"),
      (Strings{"100/NULL", "101/NULL", "NULL/500"}));
}

TEST_F(DriftTest, CaseOnlyNameChangeIsNotAChange) {
  LandOrders();
  Run();
  Batch("orders/p1.parquet", "SELECT 7::INTEGER AS \"ID\", 'seven' AS \"Name\"");
  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "append");
  EXPECT_EQ(ReasonCodes(plan, "orders"), (Strings{"new_batches"}));
  Run();
  EXPECT_EQ(Columns("orders"), (Strings{"id", "name"}));
  EXPECT_EQ(Q("SELECT name FROM staging.orders WHERE id = 7"), (Strings{"seven"}));
}

TEST_F(DriftTest, ColumnOrderChangeIsNotAChange) {
  LandOrders();
  Run();
  Batch("orders/p1.parquet", "SELECT 'seven' AS name, 7::INTEGER AS id");
  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "append");
  EXPECT_EQ(ReasonCodes(plan, "orders"), (Strings{"new_batches"}));
  Run();
  EXPECT_EQ(Columns("orders"), (Strings{"id", "name"}));
  EXPECT_EQ(Q("SELECT name FROM staging.orders WHERE id = 7"), (Strings{"seven"}));
  EXPECT_EQ(Rows("orders"), 4);
}

// ---- types ----

struct TypeChange {
  std::string from, old_value;  // the staged column's type and one value
  std::string to, new_value;    // the new batch's
  std::string target;           // the staging type afterwards
  Strings staged;               // v::VARCHAR of both rows afterwards, old first
  std::string detail = "";      // the reason's detail when not "v <from>→<target>"
};

void PrintTo(const TypeChange& c, std::ostream* os) { *os << c.from << " -> " << c.to; }

std::string ParamName(const ::testing::TestParamInfo<TypeChange>& info) {
  std::string name = info.param.from + "_to_" + info.param.to;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

class DriftWideningTest : public DriftTest, public ::testing::WithParamInterface<TypeChange> {};

TEST_P(DriftWideningTest, LosslessWideningIsAlteredInPlace) {
  const auto& c = GetParam();
  Batch("orders/p0.parquet", "SELECT 1::INTEGER AS id, " + c.old_value + "::" + c.from + " AS qty");
  Run();
  const Strings loaded = LoadedAt("orders", "id = 1");
  Batch("orders/p1.parquet", "SELECT 2::INTEGER AS id, " + c.new_value + "::" + c.to + " AS qty");

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "evolve");
  EXPECT_EQ(ReasonCodes(plan, "orders"),
            (Strings{"new_batches", "schema_changed", "type_widened"}));
  EXPECT_EQ(Detail(plan, "orders", "type_widened"), "qty " + c.from + "\u2192" + c.target);
  EXPECT_EQ(TableOf(plan, "orders")["batches"], nlohmann::json::array({"orders/p1.parquet"}));

  Run();
  EXPECT_EQ(ColumnType("orders", "qty"), c.target);
  EXPECT_EQ(Q("SELECT qty::VARCHAR FROM staging.orders ORDER BY id"), c.staged);
  EXPECT_EQ(LoadedAt("orders", "id = 1"), loaded) << "altered in place, not rebuilt";
  EXPECT_EQ(Run()["run_id"], 0);
}

INSTANTIATE_TEST_SUITE_P(
    Drift, DriftWideningTest,
    ::testing::Values(
        TypeChange{"TINYINT", "127", "SMALLINT", "-32000", "SMALLINT", {"127", "-32000"}},
        TypeChange{
            "SMALLINT", "(-32768)", "INTEGER", "2000000000", "INTEGER", {"-32768", "2000000000"}},
        TypeChange{"INTEGER",
                   "2147483647",
                   "BIGINT",
                   "9000000000000000000",
                   "BIGINT",
                   {"2147483647", "9000000000000000000"}},
        TypeChange{"UTINYINT", "255", "USMALLINT", "65535", "USMALLINT", {"255", "65535"}},
        TypeChange{
            "USMALLINT", "65535", "UINTEGER", "4000000000", "UINTEGER", {"65535", "4000000000"}},
        TypeChange{"UINTEGER",
                   "4294967295",
                   "UBIGINT",
                   "18000000000000000000",
                   "UBIGINT",
                   {"4294967295", "18000000000000000000"}},
        TypeChange{"UINTEGER", "4294967295", "BIGINT", "-5", "BIGINT", {"4294967295", "-5"}},
        TypeChange{"FLOAT", "1.5", "DOUBLE", "0.1", "DOUBLE", {"1.5", "0.1"}},
        // 2^24 + 1 has no float, but has a double.
        TypeChange{"INTEGER", "16777217", "DOUBLE", "0.25", "DOUBLE", {"16777217.0", "0.25"}},
        TypeChange{"SMALLINT", "-7", "DOUBLE", "2.5", "DOUBLE", {"-7.0", "2.5"}},
        TypeChange{"DECIMAL(10,2)",
                   "12345678.91",
                   "DECIMAL(12,2)",
                   "1234567890.12",
                   "DECIMAL(12,2)",
                   {"12345678.91", "1234567890.12"}},
        // Integers meeting a float become DOUBLE, never FLOAT.
        TypeChange{"INTEGER", "16777217", "FLOAT", "1.5", "DOUBLE", {"16777217.0", "1.5"}},
        // A scale-up that keeps the integer digits holds every old value.
        TypeChange{"DECIMAL(10,2)",
                   "1.25",
                   "DECIMAL(10,3)",
                   "2.125",
                   "DECIMAL(11,3)",
                   {"1.250", "2.125"}}),
    ParamName);

class DriftIncompatibleTest : public DriftTest, public ::testing::WithParamInterface<TypeChange> {};

TEST_P(DriftIncompatibleTest, IncompatibleChangeRebuildsTheTableWithTheSupertype) {
  const auto& c = GetParam();
  Batch("orders/p0.parquet", "SELECT 1::INTEGER AS id, " + c.old_value + "::" + c.from + " AS v");
  Run();
  const Strings loaded = LoadedAt("orders", "id = 1");
  Batch("orders/p1.parquet", "SELECT 2::INTEGER AS id, " + c.new_value + "::" + c.to + " AS v");

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "rebuild");
  EXPECT_EQ(ReasonCodes(plan, "orders"), (Strings{"schema_changed", "incompatible_type"}));
  EXPECT_EQ(Detail(plan, "orders", "incompatible_type"),
            c.detail.empty() ? "v " + c.from + "\u2192" + c.target : c.detail);
  EXPECT_EQ(TableOf(plan, "orders")["batches"],
            nlohmann::json::array({"orders/p0.parquet", "orders/p1.parquet"}));

  auto out = Run();
  EXPECT_EQ(OutcomeOf(out, "orders")["rows"], 2);
  EXPECT_EQ(ColumnType("orders", "v"), c.target);
  EXPECT_EQ(Q("SELECT v::VARCHAR FROM staging.orders ORDER BY id"), c.staged);
  EXPECT_NE(LoadedAt("orders", "id = 1"), loaded) << "the old rows were loaded again";
  EXPECT_EQ(LedgerBatches("orders"), 2);
  EXPECT_EQ(Run()["run_id"], 0);
}

INSTANTIATE_TEST_SUITE_P(
    Drift, DriftIncompatibleTest,
    ::testing::Values(
        // No type holds every BIGINT and every DOUBLE: the plan says so.
        TypeChange{"BIGINT",
                   "3",
                   "DOUBLE",
                   "2.5",
                   "DOUBLE",
                   {"3.0", "2.5"},
                   "v BIGINT+DOUBLE\u2192DOUBLE (may round)"},
        TypeChange{"INTEGER", "42", "VARCHAR", "'abc'", "VARCHAR", {"42", "abc"}},
        // Scalar to struct: no common type; the column becomes JSON.
        TypeChange{"INTEGER", "5", "STRUCT(a INTEGER)", "{'a': 1}", "JSON", {"5", "{\"a\":1}"}}),
    ParamName);

TEST_F(DriftTest, DecimalScaleChangeBeyond38DigitsIsNotRoundedAndThePlanSaysItMayRound) {
  // DuckDB's supertype of the two is DECIMAL(38,2): appending with that cast
  // would store 1.2345 as 1.23 and record no reason at all.
  Batch("orders/p0.parquet", "SELECT 1::INTEGER AS id, 1.23::DECIMAL(38,2) AS v");
  Run();
  Batch("orders/p1.parquet", "SELECT 2::INTEGER AS id, 1.2345::DECIMAL(38,4) AS v");

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "rebuild");
  EXPECT_EQ(ReasonCodes(plan, "orders"), (Strings{"schema_changed", "incompatible_type"}));
  EXPECT_EQ(Detail(plan, "orders", "incompatible_type"),
            "v DECIMAL(38,2)+DECIMAL(38,4)\u2192DOUBLE (may round)");

  Run();
  EXPECT_EQ(ColumnType("orders", "v"), "DOUBLE");
  EXPECT_EQ(Q("SELECT v::VARCHAR FROM staging.orders ORDER BY id"), (Strings{"1.23", "1.2345"}));
  EXPECT_EQ(Run()["run_id"], 0);
}

TEST_F(DriftTest, BigintMeetingFloatIsStagedAsDoubleAndKeeps16777217) {
  // DuckDB's supertype of BIGINT and FLOAT is FLOAT, which has no 2^24 + 1.
  Batch("orders/p0.parquet", "SELECT 1::INTEGER AS id, 16777217::BIGINT AS v");
  Run();
  Batch("orders/p1.parquet", "SELECT 2::INTEGER AS id, 0.5::FLOAT AS v");

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "rebuild");
  EXPECT_EQ(Detail(plan, "orders", "incompatible_type"), "v BIGINT+FLOAT\u2192DOUBLE (may round)");

  Run();
  EXPECT_EQ(ColumnType("orders", "v"), "DOUBLE");
  EXPECT_EQ(Q("SELECT v::DECIMAL(20,1)::VARCHAR FROM staging.orders ORDER BY id"),
            (Strings{"16777217.0", "0.5"}));
  EXPECT_EQ(Run()["run_id"], 0);
}

TEST_F(DriftTest, ValuesThatFitTheColumnsTypeAreAppendedWithACast) {
  // String to int, struct to scalar: the staged column's type is already the
  // common supertype, so a rebuild would produce the same table.
  Batch("orders/p0.parquet", "SELECT 1::INTEGER AS id, 'abc' AS v, {'a': 1} AS s");
  Run();
  Batch("orders/p1.parquet", "SELECT 2::INTEGER AS id, 42::INTEGER AS v, 5::INTEGER AS s");
  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "append");
  EXPECT_EQ(ReasonCodes(plan, "orders"), (Strings{"new_batches"}));
  Run();
  EXPECT_EQ(ColumnType("orders", "v"), "VARCHAR");
  EXPECT_EQ(ColumnType("orders", "s"), "JSON");
  EXPECT_EQ(Q("SELECT v FROM staging.orders ORDER BY id"), (Strings{"abc", "42"}));
  EXPECT_EQ(Json("SELECT s::VARCHAR FROM staging.orders ORDER BY id"), (Strings{"{\"a\":1}", "5"}));
}

TEST_F(DriftTest, NestedColumnsStayJsonAndChangesInsideThemAreNotChanges) {
  Batch("orders/p0.parquet",
        "SELECT 1::INTEGER AS id, {'a': 1} AS s, [1, 2] AS l, MAP {'k': 1} AS m");
  Run();
  EXPECT_EQ(ColumnType("orders", "s"), "JSON");
  EXPECT_EQ(ColumnType("orders", "l"), "JSON");
  EXPECT_EQ(ColumnType("orders", "m"), "JSON");
  Batch("orders/p1.parquet",
        "SELECT 2::INTEGER AS id, {'a': 2, 'b': 'x'} AS s, ['x', 'y'] AS l, MAP {'k': {'z': 1.5}} "
        "AS m");

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "append");
  EXPECT_EQ(ReasonCodes(plan, "orders"), (Strings{"new_batches"}));

  Run();
  EXPECT_EQ(Json("SELECT s::VARCHAR FROM staging.orders ORDER BY id"),
            (Strings{"{\"a\":1}", "{\"a\":2,\"b\":\"x\"}"}));
  EXPECT_EQ(Json("SELECT l::VARCHAR FROM staging.orders ORDER BY id"),
            (Strings{"[1,2]", "[\"x\",\"y\"]"}));
  EXPECT_EQ(Json("SELECT m::VARCHAR FROM staging.orders ORDER BY id"),
            (Strings{"{\"k\":1}", "{\"k\":{\"z\":1.5}}"}));
}

TEST_F(DriftTest, RequiredColumnBecomingNullableIsNotAChange) {
  WriteRequiredInt32Parquet(landing() / "orders/p0.parquet", {{"id", {1, 2}}, {"qty", {10, 20}}});
  Run();
  EXPECT_EQ(QueryDuckDb(":memory:", "SELECT repetition_type FROM parquet_schema('" +
              (landing() / "orders/p0.parquet").string() + "') WHERE name = 'qty'"),
            (Strings{"REQUIRED"}));
  EXPECT_EQ(Snapshot("orders")["columns"][1]["nullable"], false);
  Batch("orders/p1.parquet", "SELECT 3::INTEGER AS id, NULL::INTEGER AS qty");

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "append");
  EXPECT_EQ(ReasonCodes(plan, "orders"), (Strings{"new_batches"}));
  Run();
  EXPECT_EQ(Q("SELECT coalesce(qty::VARCHAR, 'NULL') FROM staging.orders ORDER BY id"),
            (Strings{"10", "20", "NULL"}));
  EXPECT_EQ(Snapshot("orders")["columns"][1]["nullable"], true)
      << "the snapshot records nullability";
}

TEST_F(DriftTest, NullableColumnBecomingRequiredIsNotAChange) {
  Batch("orders/p0.parquet", "SELECT 1::INTEGER AS id, NULL::INTEGER AS qty");
  Run();
  WriteRequiredInt32Parquet(landing() / "orders/p1.parquet", {{"id", {2, 3}}, {"qty", {20, -30}}});

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "append");
  EXPECT_EQ(ReasonCodes(plan, "orders"), (Strings{"new_batches"}));
  Run();
  EXPECT_EQ(Q("SELECT coalesce(qty::VARCHAR, 'NULL') FROM staging.orders ORDER BY id"),
            (Strings{"NULL", "20", "-30"}));
}

// ---- several batches at once ----

TEST_F(DriftTest, OldAndNewSchemaBatchesInOneRunShareOneTarget) {
  LandOrders("orders/p0.parquet", 2, 0);
  Run();
  LandOrders("orders/p1.parquet", 2, 10);  // the old schema
  Batch("orders/p2.parquet", "SELECT 20::BIGINT AS id, 'o20' AS name, 0.5 AS discount");
  Batch("orders/p3.parquet", "SELECT 30::INTEGER AS id");  // lacks name

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "evolve");
  EXPECT_EQ(ReasonCodes(plan, "orders"),
            (Strings{"new_batches", "schema_changed", "type_widened", "column_added"}));
  EXPECT_EQ(Detail(plan, "orders", "type_widened"), "id INTEGER\u2192BIGINT");
  EXPECT_EQ(Detail(plan, "orders", "column_added"), "discount DECIMAL(2,1)");
  EXPECT_EQ(TableOf(plan, "orders")["batches"],
            nlohmann::json::array({"orders/p1.parquet", "orders/p2.parquet", "orders/p3.parquet"}));

  Run();
  EXPECT_EQ(Columns("orders"), (Strings{"id", "name", "discount"}));
  EXPECT_EQ(ColumnType("orders", "id"), "BIGINT");
  EXPECT_EQ(
      Q("SELECT id || ':' || coalesce(name, 'NULL') || ':' || coalesce(discount::DECIMAL(10,1)::VARCHAR, 'NULL') "
        "FROM staging.orders ORDER BY id"),
      (Strings{"0:o0:NULL", "1:o1:NULL", "10:o10:NULL", "11:o11:NULL", "20:o20:0.5",
               "30:NULL:NULL"}));
  EXPECT_EQ(LedgerBatches("orders"), 4);
}

TEST_F(DriftTest, NewTableFromBatchesWithDifferentSchemasGetsTheirUnion) {
  Batch("orders/p0.parquet", "SELECT 1::INTEGER AS id, 'a' AS name");
  Batch("orders/p1.parquet", "SELECT 2::BIGINT AS id, 0.5::DOUBLE AS discount");
  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "create");
  Run();
  EXPECT_EQ(Columns("orders"), (Strings{"id", "name", "discount"}));
  EXPECT_EQ(ColumnType("orders", "id"), "BIGINT");
  EXPECT_EQ(Q("SELECT coalesce(name, 'NULL') || '/' || coalesce(discount::DECIMAL(10,1)::VARCHAR, 'NULL') FROM "
              "staging.orders "
              "ORDER BY id"),
            (Strings{"a/NULL", "NULL/0.5"}));
}

// ---- batches rewritten or deleted ----

TEST_F(DriftTest, RewrittenBatchRebuildsTheTableWithItsNewContent) {
  LandOrders("orders/p0.parquet", 3, 0);
  LandOrders("orders/p1.parquet", 2, 3);
  Run();
  LandOrders("orders/p0.parquet", 4, 100);  // same path, new content

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "rebuild");
  EXPECT_EQ(ReasonCodes(plan, "orders"), (Strings{"batch_rewritten"}));
  EXPECT_EQ(Detail(plan, "orders", "batch_rewritten"),
            "orders/p0.parquet changed content after it was staged");

  Run();
  EXPECT_EQ(Rows("orders"), 6);
  EXPECT_EQ(Q("SELECT id FROM staging.orders ORDER BY id"),
            (Strings{"3", "4", "100", "101", "102", "103"}));
  EXPECT_EQ(LedgerBatches("orders"), 2);
  EXPECT_EQ(Run()["run_id"], 0);
}

TEST_F(DriftTest, SameSizeRewriteWithItsOldMtimeRestoredRebuildsTheTable) {
  LandOrders("orders/p0.parquet", 3, 0);
  LandOrders("orders/p1.parquet", 2, 3);
  Run();
  const fs::path staged = landing() / "orders/p0.parquet";
  struct stat before;
  ASSERT_EQ(stat(staged.c_str(), &before), 0);
  // New content of the same size: ids 5..7, names o5..o7.
  const fs::path fresh = dir_ / "fresh.parquet";
  WriteParquet(fresh, "SELECT (i + 5)::INTEGER AS id, 'o' || (i + 5) AS name FROM range(3) t(i)");
  ASSERT_EQ(fs::file_size(fresh), static_cast<uintmax_t>(before.st_size))
      << "the test needs a same-size rewrite";
  std::string bytes;
  {
    std::ifstream in(fresh, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  // File times come from a coarse clock: make sure it has ticked since the
  // landing, so that the rewrite's ctime differs (it always does in practice).
  for (;;) {
    std::ofstream(dir_ / "probe") << "tick";
    struct stat probe;
    ASSERT_EQ(stat((dir_ / "probe").c_str(), &probe), 0);
    if (probe.st_ctim.tv_sec > before.st_ctim.tv_sec ||
        (probe.st_ctim.tv_sec == before.st_ctim.tv_sec &&
         probe.st_ctim.tv_nsec > before.st_ctim.tv_nsec)) {
      break;
    }
  }
  // What cp -p, rsync -t --inplace or a rewrite plus touch -r do: the same
  // inode rewritten, its old mtime put back.
  std::ofstream(staged, std::ios::binary | std::ios::trunc) << bytes;
  const struct timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(utimensat(AT_FDCWD, staged.c_str(), times, 0), 0);
  struct stat after;
  ASSERT_EQ(stat(staged.c_str(), &after), 0);
  ASSERT_EQ(after.st_ino, before.st_ino);
  ASSERT_EQ(after.st_size, before.st_size);
  ASSERT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
  ASSERT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "rebuild");
  EXPECT_EQ(ReasonCodes(plan, "orders"), (Strings{"batch_rewritten"}));

  Run();
  EXPECT_EQ(Q("SELECT id FROM staging.orders ORDER BY id"), (Strings{"3", "4", "5", "6", "7"}));
  EXPECT_EQ(Q("SELECT name FROM staging.orders WHERE id = 5"), (Strings{"o5"}));
  EXPECT_EQ(LedgerBatches("orders"), 2);
  EXPECT_EQ(Run()["run_id"], 0);
}

TEST_F(DriftTest, SymlinkToAFileOutsideTheLandingDirIsQuarantinedAndNeverRead) {
  LandOrders("orders/p0.parquet", 3, 0);
  WriteParquet(dir_ / "outside/secret.parquet",
               "SELECT (900 + i)::INTEGER AS id, 'secret' AS name FROM range(5) t(i)");
  fs::create_symlink(dir_ / "outside/secret.parquet", landing() / "orders/link.parquet");

  Run();
  EXPECT_EQ(Q("SELECT id FROM staging.orders ORDER BY id"), (Strings{"0", "1", "2"}));
  EXPECT_EQ(Q("SELECT count(*) FROM staging.orders WHERE name = 'secret'"), (Strings{"0"}));
  EXPECT_EQ(LedgerBatches("orders"), 1);
  EXPECT_EQ(Pg("SELECT status || ' ' || error_code FROM batches WHERE environment = $1 "
               "AND path = 'orders/link.parquet'"),
            (Strings{"quarantined not_a_regular_file"}));
  // Not retried: a second run has nothing to do.
  EXPECT_EQ(Run()["run_id"], 0);
}

TEST_F(DriftTest, DeletedBatchKeepsItsRowsByDefault) {
  LandOrders("orders/p0.parquet", 3, 0);
  LandOrders("orders/p1.parquet", 2, 3);
  Run();
  fs::remove(landing() / "orders/p1.parquet");

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "skip");
  EXPECT_EQ(ReasonCodes(plan, "orders"), (Strings{"batch_removed", "no_change"}));
  EXPECT_EQ(Detail(plan, "orders", "batch_removed"),
            "orders/p1.parquet was deleted; its rows are kept");

  EXPECT_EQ(Run()["run_id"], 0);
  EXPECT_EQ(Rows("orders"), 5);
  EXPECT_EQ(LedgerBatches("orders"), 2);
}

TEST_F(DriftTest, DeletedBatchRebuildsWithoutItUnderOnBatchRemovedRebuild) {
  AddConfig("on_batch_removed: rebuild\n");
  LandOrders("orders/p0.parquet", 3, 0);
  LandOrders("orders/p1.parquet", 2, 3);
  Run();
  fs::remove(landing() / "orders/p1.parquet");

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "rebuild");
  EXPECT_EQ(ReasonCodes(plan, "orders"), (Strings{"batch_removed"}));
  EXPECT_EQ(Detail(plan, "orders", "batch_removed"),
            "orders/p1.parquet was deleted; rebuilding without it");
  EXPECT_EQ(TableOf(plan, "orders")["batches"], nlohmann::json::array({"orders/p0.parquet"}));

  Run();
  EXPECT_EQ(Q("SELECT id FROM staging.orders ORDER BY id"), (Strings{"0", "1", "2"}));
  EXPECT_EQ(LedgerBatches("orders"), 1);
  EXPECT_EQ(Run()["run_id"], 0);
}

// ---- table folders that go and come back ----

TEST_F(DriftTest, VanishedFolderIsOrphanedAndKeptThenComesBack) {
  LandOrders();
  Batch("customers/p0.parquet", "SELECT 1 AS id");
  Run();
  fs::rename(landing() / "orders", dir_ / "orders.away");

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "orphan");
  EXPECT_EQ(ReasonCodes(plan, "orders"), (Strings{"table_removed"}));
  EXPECT_EQ(Detail(plan, "orders", "table_removed"),
            "table folder disappeared; staging table kept");
  EXPECT_EQ(ActionOf(plan, "customers"), "skip");

  auto out = Run();
  EXPECT_EQ(OutcomeOf(out, "orders")["status"], "succeeded");
  EXPECT_EQ(Rows("orders"), 3) << "an orphaned table keeps its rows";
  EXPECT_EQ(Pg("SELECT status FROM tables WHERE environment = $1 AND name = 'orders'"),
            (Strings{"orphaned"}));
  plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "skip");
  EXPECT_EQ(Detail(plan, "orders", "table_removed"), "folder still absent; staging table kept");
  EXPECT_EQ(Run()["run_id"], 0);

  // The folder comes back, with one more batch: normal planning resumes.
  fs::rename(dir_ / "orders.away", landing() / "orders");
  LandOrders("orders/p1.parquet", 2, 3);
  plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "append");
  EXPECT_EQ(ReasonCodes(plan, "orders"), (Strings{"new_batches", "table_returned"}));
  EXPECT_EQ(TableOf(plan, "orders")["batches"], nlohmann::json::array({"orders/p1.parquet"}));
  Run();
  EXPECT_EQ(Rows("orders"), 5);
  EXPECT_EQ(Pg("SELECT status FROM tables WHERE environment = $1 AND name = 'orders'"),
            (Strings{"active"}));
  EXPECT_EQ(ReasonCodes(Plan(), "orders"), (Strings{"no_change"}));
}

TEST_F(DriftTest, VanishedFolderIsDroppedUnderOnTableRemovedDropThenCreatedAgain) {
  AddConfig("on_table_removed: drop\n");
  LandOrders();
  Run();
  fs::remove_all(landing() / "orders");

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "drop");
  EXPECT_EQ(ReasonCodes(plan, "orders"), (Strings{"table_removed"}));
  EXPECT_EQ(Detail(plan, "orders", "table_removed"),
            "table folder disappeared; on_table_removed: drop");

  Run();
  EXPECT_FALSE(TableExists("orders"));
  EXPECT_EQ(LedgerBatches("orders"), 0);
  EXPECT_EQ(Pg("SELECT status FROM tables WHERE environment = $1 AND name = 'orders'"),
            (Strings{"dropped"}));
  EXPECT_EQ(Run()["run_id"], 0);

  LandOrders("orders/p0.parquet", 2, 50);
  plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "create");
  EXPECT_EQ(ReasonCodes(plan, "orders"), (Strings{"new_table"}));
  Run();
  EXPECT_EQ(Q("SELECT id FROM staging.orders ORDER BY id"), (Strings{"50", "51"}));
}

TEST_F(DriftTest, OnTableRemovedIsPerTable) {
  AddConfig("tables:\n  - {match: \"tmp_*\", on_table_removed: drop}\n");
  LandOrders("orders/p0.parquet");
  LandOrders("tmp_scratch/p0.parquet");
  Run();
  fs::remove_all(landing() / "orders");
  fs::remove_all(landing() / "tmp_scratch");
  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "orphan");
  EXPECT_EQ(ActionOf(plan, "tmp_scratch"), "drop");
  Run();
  EXPECT_EQ(Rows("orders"), 3);
  EXPECT_FALSE(TableExists("tmp_scratch"));
}

// ---- state that cannot be trusted ----

TEST_F(DriftTest, MissingTableStateIsRederivedFromLedgerAndFooters) {
  LandOrders();
  Run();
  Pg("DELETE FROM tables WHERE environment = $1 AND name = 'orders'");

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "skip");
  EXPECT_EQ(ReasonCodes(plan, "orders"), (Strings{"state_missing", "no_change"}));

  LandOrders("orders/p1.parquet", 2, 3);
  plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "append");
  EXPECT_EQ(ReasonCodes(plan, "orders"), (Strings{"new_batches", "state_missing"}));
  Run();
  EXPECT_EQ(Q("SELECT id FROM staging.orders ORDER BY id"), (Strings{"0", "1", "2", "3", "4"}));
  EXPECT_EQ(ReasonCodes(Plan(), "orders"), (Strings{"no_change"})) << "state is written back";
}

TEST_F(DriftTest, UnreadableTableStateIsRederivedAndDriftStillEvolves) {
  LandOrders();
  Run();
  Pg("UPDATE tables SET schema_json = '{\"columns\": 5}'::jsonb WHERE environment = $1 AND name = "
     "'orders'");
  Batch("orders/p1.parquet", "SELECT 3::INTEGER AS id, 'o3' AS name, 1.5::DOUBLE AS discount");

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "evolve");
  EXPECT_EQ(ReasonCodes(plan, "orders"),
            (Strings{"new_batches", "schema_changed", "state_unreadable", "column_added"}));
  Run();
  EXPECT_EQ(Q("SELECT coalesce(discount::DECIMAL(10,1)::VARCHAR, 'NULL') FROM staging.orders ORDER BY id"),
            (Strings{"NULL", "NULL", "NULL", "1.5"}));
}

TEST_F(DriftTest, MissingStateThatDisagreesWithTheWarehouseRebuilds) {
  LandOrders();
  Run();
  Pg("DELETE FROM tables WHERE environment = $1 AND name = 'orders'");
  WarehouseExec("ALTER TABLE staging.orders ADD COLUMN extra INTEGER");

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "rebuild");
  EXPECT_EQ(ReasonCodes(plan, "orders"), (Strings{"state_missing", "ledger_mismatch"}));
  EXPECT_NE(Detail(plan, "orders", "ledger_mismatch").find("extra INTEGER"), std::string::npos);

  Run();
  EXPECT_EQ(Columns("orders"), (Strings{"id", "name"}));
  EXPECT_EQ(Q("SELECT name FROM staging.orders ORDER BY id"), (Strings{"o0", "o1", "o2"}));
  EXPECT_EQ(Run()["run_id"], 0);
}

TEST_F(DriftTest, WarehouseTableDroppedByHandIsRebuilt) {
  LandOrders();
  Run();
  WarehouseExec("DROP TABLE staging.orders");

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "rebuild");
  EXPECT_EQ(ReasonCodes(plan, "orders"), (Strings{"warehouse_table_missing"}));
  Run();
  EXPECT_EQ(Q("SELECT name FROM staging.orders ORDER BY id"), (Strings{"o0", "o1", "o2"}));
  EXPECT_EQ(LedgerBatches("orders"), 1);
  EXPECT_EQ(Run()["run_id"], 0);
}

TEST_F(DriftTest, WarehouseColumnAddedByHandIsRebuiltAway) {
  LandOrders();
  Run();
  WarehouseExec("ALTER TABLE staging.orders ADD COLUMN extra INTEGER");

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "rebuild");
  EXPECT_EQ(ReasonCodes(plan, "orders"), (Strings{"warehouse_schema_mismatch"}));
  EXPECT_EQ(
      Detail(plan, "orders", "warehouse_schema_mismatch"),
      "state (id INTEGER, name VARCHAR), warehouse (id INTEGER, name VARCHAR, extra INTEGER)");
  Run();
  EXPECT_EQ(Columns("orders"), (Strings{"id", "name"}));
  EXPECT_EQ(Rows("orders"), 3);
  EXPECT_EQ(Run()["run_id"], 0);
}

TEST_F(DriftTest, WarehouseColumnDroppedByHandIsRebuiltBack) {
  LandOrders();
  Run();
  WarehouseExec("ALTER TABLE staging.orders DROP COLUMN name");

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "rebuild");
  EXPECT_EQ(ReasonCodes(plan, "orders"), (Strings{"warehouse_schema_mismatch"}));
  Run();
  EXPECT_EQ(Q("SELECT name FROM staging.orders ORDER BY id"), (Strings{"o0", "o1", "o2"}));
}

TEST_F(DriftTest, LedgerRowDeletedByHandDoesNotStageTheBatchTwice) {
  LandOrders("orders/p0.parquet", 3, 0);
  LandOrders("orders/p1.parquet", 2, 3);
  Run();
  WarehouseExec("DELETE FROM _landfall.ledger WHERE path = 'orders/p1.parquet'");

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "rebuild");
  EXPECT_EQ(ReasonCodes(plan, "orders"), (Strings{"ledger_mismatch"}));
  Run();
  EXPECT_EQ(Q("SELECT id FROM staging.orders ORDER BY id"), (Strings{"0", "1", "2", "3", "4"}));
  EXPECT_EQ(LedgerBatches("orders"), 2);
  EXPECT_EQ(Run()["run_id"], 0);
}

TEST_F(DriftTest, UnknownStateFormatVersionRebuildsEveryTableAndSaysWhy) {
  LandOrders();
  Batch("customers/p0.parquet", "SELECT 1 AS id");
  Run();
  Pg("UPDATE environments SET state_format_version = 999 WHERE name = $1");

  auto plan = Plan();
  EXPECT_EQ(plan["full_rebuild"], true);
  ASSERT_EQ(plan["reasons"].size(), 1u);
  EXPECT_EQ(plan["reasons"][0]["code"], "state_unusable");
  EXPECT_EQ(plan["reasons"][0]["detail"], "stored state format version 999, this landfall uses 1");
  for (const char* table : {"orders", "customers"}) {
    EXPECT_EQ(ActionOf(plan, table), "rebuild") << table;
    EXPECT_EQ(ReasonCodes(plan, table), (Strings{"state_unusable"})) << table;
  }
  auto text = Landfall({"plan"});
  EXPECT_NE(text.out.find("FULL REBUILD"), std::string::npos) << text.out;

  Run();
  EXPECT_EQ(Q("SELECT name FROM staging.orders ORDER BY id"), (Strings{"o0", "o1", "o2"}));
  EXPECT_EQ(Rows("customers"), 1);
  EXPECT_EQ(Pg("SELECT state_format_version FROM environments WHERE name = $1"), (Strings{"1"}));
  EXPECT_EQ(Run()["run_id"], 0);
}

// ---- schema_evolution policies ----

TEST_F(DriftTest, RebuildPolicyRebuildsTheTableOnAnySchemaChange) {
  AddConfig("schema_evolution: rebuild\n");
  LandOrders();
  Run();
  const Strings loaded = LoadedAt("orders", "id < 3");
  Batch("orders/p1.parquet", "SELECT 3::INTEGER AS id, 'o3' AS name, 1.5::DOUBLE AS discount");

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "rebuild");
  EXPECT_EQ(TableOf(plan, "orders")["policy"], "rebuild");
  EXPECT_EQ(ReasonCodes(plan, "orders"),
            (Strings{"schema_changed", "column_added", "policy_rebuild"}));

  Run();
  EXPECT_EQ(Q("SELECT coalesce(discount::DECIMAL(10,1)::VARCHAR, 'NULL') FROM staging.orders ORDER BY id"),
            (Strings{"NULL", "NULL", "NULL", "1.5"}));
  EXPECT_NE(LoadedAt("orders", "id < 3"), loaded) << "rebuilt, not altered";
  // Without a schema change the policy appends like evolve.
  LandOrders("orders/p2.parquet", 1, 4);
  EXPECT_EQ(ActionOf(Plan(), "orders"), "append");
}

TEST_F(DriftTest, FreezePolicyQuarantinesDifferingBatchesAndStagesTheRest) {
  WriteConfig("  quarantine_dir: quarantine\n");
  AddConfig("schema_evolution: freeze\n");
  LandOrders();
  Run();
  LandOrders("orders/p1.parquet", 2, 3);
  Batch("orders/p2.parquet", "SELECT 9::INTEGER AS id, 'o9' AS name, 1.5::DOUBLE AS discount");

  auto plan = Plan();
  auto t = TableOf(plan, "orders");
  EXPECT_EQ(t["action"], "append");
  EXPECT_EQ(t["policy"], "freeze");
  EXPECT_EQ(t["batches"], nlohmann::json::array({"orders/p1.parquet"}));
  EXPECT_EQ(t["quarantine"],
            nlohmann::json::array(
                {{{"batch", "orders/p2.parquet"},
                  {"code", "schema_frozen"},
                  {"detail", "schema_evolution: freeze; column_added: discount DOUBLE"}}}));
  EXPECT_EQ(Detail(plan, "orders", "schema_frozen"), "1 batch with a different schema quarantined");
  EXPECT_TRUE(fs::exists(landing() / "orders/p2.parquet")) << "plan is a dry run";

  auto out = Run();
  EXPECT_EQ(out["quarantined"], 1);
  EXPECT_EQ(Columns("orders"), (Strings{"id", "name"}));
  EXPECT_EQ(Q("SELECT id FROM staging.orders ORDER BY id"), (Strings{"0", "1", "2", "3", "4"}));
  EXPECT_TRUE(fs::exists(quarantine() / "orders/p2.parquet"));
  EXPECT_FALSE(fs::exists(landing() / "orders/p2.parquet"));
  EXPECT_EQ(Pg("SELECT status || ' ' || error_code FROM batches WHERE environment = $1 AND "
               "path = 'orders/p2.parquet'"),
            (Strings{"quarantined schema_frozen"}));
  auto again = Run();
  EXPECT_EQ(again["run_id"], 0);
  EXPECT_EQ(again["quarantined"], 0);
}

TEST_F(DriftTest, FailPolicyStopsOnlyMatchingTablesAndTheRunExitsOne) {
  AddConfig("tables:\n  - {match: \"strict_*\", schema_evolution: fail}\n");
  LandOrders("strict_orders/p0.parquet");
  LandOrders("orders/p0.parquet");
  Run();
  for (const char* table : {"strict_orders", "orders"}) {
    Batch(std::string(table) + "/p1.parquet",
          "SELECT 3::INTEGER AS id, 'o3' AS name, 1.5::DOUBLE AS discount");
  }

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "strict_orders"), "fail");
  EXPECT_EQ(TableOf(plan, "strict_orders")["policy"], "fail");
  EXPECT_EQ(ReasonCodes(plan, "strict_orders"),
            (Strings{"schema_changed", "column_added", "schema_change_blocked"}));
  EXPECT_EQ(ActionOf(plan, "orders"), "evolve");
  EXPECT_EQ(TableOf(plan, "orders")["policy"], "evolve");

  // `landfall plan` shows which policy applied to each table.
  auto text = Landfall({"plan"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("POLICY"), std::string::npos) << text.out;
  std::istringstream lines(text.out);
  bool saw_strict = false, saw_orders = false;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string table, action, batches, policy;
    words >> table >> action >> batches >> policy;
    if (table == "strict_orders") {
      saw_strict = true;
      EXPECT_EQ(action + " " + policy, "fail fail") << line;
      EXPECT_NE(line.find("schema_change_blocked"), std::string::npos) << line;
    } else if (table == "orders") {
      saw_orders = true;
      EXPECT_EQ(action + " " + policy, "evolve evolve") << line;
    }
  }
  EXPECT_TRUE(saw_strict && saw_orders) << text.out;

  auto out = Run({}, 1);
  EXPECT_EQ(out["ok"], false);
  EXPECT_EQ(OutcomeOf(out, "strict_orders")["status"], "failed");
  EXPECT_NE(
      OutcomeOf(out, "strict_orders")["error"].get<std::string>().find("schema_change_blocked"),
      std::string::npos);
  EXPECT_EQ(OutcomeOf(out, "orders")["status"], "succeeded");
  EXPECT_EQ(Columns("strict_orders"), (Strings{"id", "name"}));
  EXPECT_EQ(Rows("strict_orders"), 3);
  EXPECT_EQ(Columns("orders"), (Strings{"id", "name", "discount"}));
  EXPECT_EQ(Rows("orders"), 4);

  // The table stays stopped until an operator acts...
  EXPECT_EQ(Run({}, 1)["ok"], false);
  EXPECT_EQ(Rows("strict_orders"), 3);
  // ...here by changing its policy.
  WriteConfig();
  auto fixed = Run();
  EXPECT_EQ(ActionOf(fixed["plan"], "strict_orders"), "evolve");
  EXPECT_EQ(Rows("strict_orders"), 4);
}

TEST_F(DriftTest, FirstMatchingTablesEntryWins) {
  AddConfig(
      "schema_evolution: freeze\n"
      "tables:\n"
      "  - {match: \"strict_*\", schema_evolution: fail}\n"
      "  - {match: \"*_orders\", schema_evolution: rebuild}\n");
  for (const char* table : {"strict_orders", "web_orders", "customers"})
    LandOrders(std::string(table) + "/p0.parquet");
  auto plan = Plan();
  EXPECT_EQ(TableOf(plan, "strict_orders")["policy"], "fail");
  EXPECT_EQ(TableOf(plan, "web_orders")["policy"], "rebuild");
  EXPECT_EQ(TableOf(plan, "customers")["policy"], "freeze");
}

TEST_F(DriftTest, UnknownPolicyIsAConfigErrorNamingTheKey) {
  AddConfig("tables:\n  - {match: \"a*\", schema_evolution: sometimes}\n");
  auto r = Landfall({"check-config"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("tables[0].schema_evolution"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace landfall::testing
