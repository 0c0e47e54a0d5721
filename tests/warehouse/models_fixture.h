// The fixture of the model-write tests of both warehouses (models_test.cpp)
// and of PostgreSQL's own (pg_models_test.cpp).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tests/support/duckdb_testing.h"
#include "tests/support/testing.h"
#include "tests/support/warehouse_testing.h"

namespace landfall::warehouse {

using landfall::testing::WarehouseKind;

// A scratch warehouse of the parameter's kind with the models schema
// "analytics", batches landed into its staging tables, and model writes.
class ModelsWarehouseTest : public ::testing::TestWithParam<WarehouseKind> {
 protected:
  void SetUp() override {
    if (GetParam() == WarehouseKind::kPostgres) LANDFALL_REQUIRE_POSTGRES();
    auto reader = NewDuckDbFooterReader();
    ASSERT_TRUE(reader) << reader.error().ToString();
    reader_ = std::move(*reader);
    scratch_ = std::make_unique<landfall::testing::ScratchWarehouse>(GetParam());
    ASSERT_NE(wh(), nullptr);
    ASSERT_TRUE(wh()->Init());
    ASSERT_NE(models(), nullptr);
    auto init = models()->InitModels("analytics");
    ASSERT_TRUE(init) << init.error().ToString();
  }

  Warehouse* wh() { return scratch_->get(); }
  ModelWarehouse* models() { return wh()->Models(); }
  std::vector<std::string> Query(const std::string& sql) { return scratch_->Query(sql); }
  void Script(const std::string& sql) { scratch_->Script(sql); }

  // Lands one batch of `select` (DuckDB's SQL) into staging table `table`.
  void Land(const std::string& table, const std::string& name, const std::string& select) {
    const std::filesystem::path file = scratch_->landing() / table / name;
    landfall::testing::WriteParquet(file, select);
    auto info = reader_->Read(file);
    ASSERT_TRUE(info) << info.error().ToString();
    BatchFile batch{.batch_id = table + "/" + name, .rel_path = table + "/" + name, .abs_path = file,
                    .rows = info->rows, .schema = info->schema};
    auto contents = wh()->Inspect();
    ASSERT_TRUE(contents);
    auto applied = (*contents)[table].exists ? wh()->Append(table, info->schema, std::span(&batch, 1))
                                             : wh()->Rebuild(table, info->schema, std::span(&batch, 1));
    ASSERT_TRUE(applied) << applied.error().ToString();
  }

  ModelWrite Write(ModelWriteKind kind, std::string name, std::string sql) {
    ModelWrite write;
    write.schema = "analytics";
    write.name = std::move(name);
    write.sql = std::move(sql);
    write.kind = kind;
    write.sources = {{.schema = "staging", .name = "orders"}};
    write.driver = "orders";
    return write;
  }

  ModelWriteStats MustWrite(const ModelWrite& write) {
    auto stats = models()->WriteModel(write);
    EXPECT_TRUE(stats) << stats.error().ToString();
    return stats ? *stats : ModelWriteStats{};
  }

  // Builds merge model `name` on key id from `sql` over the batches landed so
  // far (a full refresh), and returns its write merging the next batches,
  // updating `update_columns`.
  ModelWrite BuiltMerge(const std::string& name, const std::string& sql,
                        std::vector<std::string> update_columns) {
    auto write = Write(ModelWriteKind::kReplaceTable, name, sql);
    write.unique_key = {"id"};
    MustWrite(write);
    write.kind = ModelWriteKind::kMergeBatches;
    write.update_columns = std::move(update_columns);
    return write;
  }

  std::unique_ptr<schema::FooterReader> reader_;
  std::unique_ptr<landfall::testing::ScratchWarehouse> scratch_;
};

}  // namespace landfall::warehouse
