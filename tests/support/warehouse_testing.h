// Batches, targets and scratch warehouses for tests of a Warehouse
// implementation (DuckDB's and PostgreSQL's): Parquet written with DuckDB,
// footers read as the engine does.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lib/schema/footer.h"
#include "lib/warehouse/duckdb_warehouse.h"
#include "lib/warehouse/pg_warehouse.h"
#include "lib/warehouse/warehouse.h"
#include "tests/support/duckdb_testing.h"
#include "tests/support/testing.h"

namespace landfall::testing {

// Writes landing/`rel_path` from `select` and returns it as a batch with the
// footer `reader` reads and the id "fp-<rel_path>".
inline warehouse::BatchFile WriteBatch(schema::FooterReader& reader,
                                       const std::filesystem::path& landing,
                                       const std::string& rel_path, const std::string& select) {
  const std::filesystem::path file = landing / rel_path;
  WriteParquet(file, select);
  auto info = reader.Read(file);
  EXPECT_TRUE(info) << info.error().ToString();
  warehouse::BatchFile batch;
  batch.batch_id = "fp-" + rel_path;
  batch.rel_path = rel_path;
  batch.abs_path = file;
  if (info) {
    batch.rows = info->rows;
    batch.schema = info->schema;
  }
  return batch;
}

// A target schema from (name, staging type) pairs.
inline schema::Schema TargetOf(std::vector<std::pair<std::string, std::string>> columns) {
  schema::Schema schema;
  for (auto& [name, type] : columns) {
    schema.columns.push_back(schema::Column{.name = name, .type = type});
  }
  return schema;
}

// Which warehouse a test runs on: the parameter of a suite run on both.
enum class WarehouseKind { kDuckDb, kPostgres };

// The test name suffix of a WarehouseKind parameter (INSTANTIATE_TEST_SUITE_P).
inline std::string WarehouseKindName(const ::testing::TestParamInfo<WarehouseKind>& info) {
  return info.param == WarehouseKind::kDuckDb ? "DuckDb" : "Postgres";
}

// A warehouse of either kind in scratch space, open through landfall's
// Warehouse: a DuckDB file in a temp dir, or a database of its own on the
// test PostgreSQL, dropped when this is destroyed. For kPostgres the test
// must have checked that PostgreSQL is there (LANDFALL_REQUIRE_POSTGRES).
// Failures to create or open fail the current test; get() is then null.
class ScratchWarehouse {
 public:
  explicit ScratchWarehouse(WarehouseKind kind, const std::string& staging_schema = "staging")
      : kind_(kind), staging_schema_(staging_schema) {
    if (kind_ == WarehouseKind::kPostgres) {
      database_ = UniqueEnvironment("wh");
      PgSession admin;
      admin.Script("CREATE DATABASE " + database_);
      url_ = admin.UrlFor(database_);
      session_ = std::make_unique<PgSession>(url_);
    }
    Open();
  }
  ~ScratchWarehouse() {
    warehouse_.reset();
    session_.reset();
    if (!database_.empty()) PgSession().Script("DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)");
  }
  ScratchWarehouse(const ScratchWarehouse&) = delete;
  ScratchWarehouse& operator=(const ScratchWarehouse&) = delete;

  WarehouseKind kind() const { return kind_; }
  warehouse::Warehouse* get() const { return warehouse_.get(); }
  // The landing directory beside it, for batches (WriteBatch).
  std::filesystem::path landing() const { return dir_ / "landing"; }

  // The first column of each row of `sql` ("NULL" for NULL), read behind the
  // Warehouse's back. DuckDB locks its file, so there the Warehouse is closed
  // for the query and opened again: get() may change.
  std::vector<std::string> Query(const std::string& sql) {
    if (kind_ == WarehouseKind::kPostgres) return session_->Query(sql);
    warehouse_.reset();
    auto rows = QueryDuckDb(dir_ / "warehouse.duckdb", sql);
    Open();
    return rows;
  }
  // Runs statements behind the Warehouse's back, as Query does.
  void Script(const std::string& sql) {
    if (kind_ == WarehouseKind::kPostgres) return session_->Script(sql);
    warehouse_.reset();
    ExecDuckDb(dir_ / "warehouse.duckdb", sql);
    Open();
  }

 private:
  void Open() {
    auto opened = kind_ == WarehouseKind::kPostgres
                      ? warehouse::OpenPostgresWarehouse({.url = url_, .staging_schema = staging_schema_})
                      : warehouse::OpenDuckDb({.path = dir_ / "warehouse.duckdb", .staging_schema = staging_schema_});
    if (!opened) {
      ADD_FAILURE() << opened.error().ToString();
      return;
    }
    warehouse_ = std::move(*opened);
  }

  const WarehouseKind kind_;
  const std::string staging_schema_;
  TempDir dir_;
  std::string database_;  // kPostgres: the scratch database
  std::string url_;       // and its URL
  std::unique_ptr<PgSession> session_;
  std::unique_ptr<warehouse::Warehouse> warehouse_;
};

}  // namespace landfall::testing
