#include <duckdb.h>

#include "lib/warehouse/duckdb_connection.h"
#include "lib/warehouse/lineage_sql.h"
#include "lib/warehouse/model_sql.h"
#include "lib/warehouse/plan_probe.h"
#include "lib/warehouse/sql.h"

namespace landfall::warehouse {

namespace {

using internal::RunQuery;

class DuckDbPlanProbe final : public PlanProbe {
 public:
  DuckDbPlanProbe() = default;
  ~DuckDbPlanProbe() override {
    if (con_ != nullptr) duckdb_disconnect(&con_);
    if (db_ != nullptr) duckdb_close(&db_);
  }
  DuckDbPlanProbe(const DuckDbPlanProbe&) = delete;
  DuckDbPlanProbe& operator=(const DuckDbPlanProbe&) = delete;

  Status Open() {
    if (duckdb_open(nullptr, &db_) != DuckDBSuccess) {
      return Fail("warehouse_error", "lineage: could not open an in-memory DuckDB");
    }
    if (duckdb_connect(db_, &con_) != DuckDBSuccess) {
      return Fail("warehouse_error", "lineage: could not connect to an in-memory DuckDB");
    }
    return {};
  }

  Status AddTable(const std::string& schema, const std::string& name,
                  const schema::Schema& columns) override {
    for (const auto& column : columns.columns) {
      if (!sql::IsSafeTypeName(column.type)) {
        return Fail("invalid_type", schema + "." + name + "." + column.name + ": type '" +
                                        column.type + "' cannot be spelled in SQL");
      }
    }
    if (auto r = RunQuery(con_, sql::CreateSchemaIfMissing(schema)); !r) {
      return Fail("warehouse_error", "lineage: schema " + schema + ": " + r.error().message);
    }
    if (auto r = RunQuery(con_, sql::CreateEmptyTable(schema, name, columns)); !r) {
      return Fail("warehouse_error",
                  "lineage: table " + schema + "." + name + ": " + r.error().message);
    }
    return {};
  }

  Result<BoundQuery> Bind(const std::string& select) override {
    const std::string& text = select;
    BoundQuery out;
    // DESCRIBE first: it binds exactly as a run would and reports binder
    // errors as errors, where json_serialize_plan folds them into its JSON.
    auto described = RunQuery(con_, sql::Describe(text));
    if (!described) return Fail("model_sql_invalid", described.error().message);
    for (int64_t row = 0; row < described->RowCount(); ++row) {
      schema::Column column;
      column.name = described->Text(0, row).value_or("");
      column.type = sql::NormalizeType(described->Text(1, row).value_or(""));
      out.columns.columns.push_back(std::move(column));
    }
    auto plan = RunQuery(con_, sql::SerializePlan(text));
    if (!plan) return Fail("model_sql_invalid", plan.error().message);
    out.plan_json = plan->Text(0, 0).value_or("");
    return out;
  }

  Result<std::set<std::string>> NonDeterministicFunctions() override {
    auto r = RunQuery(con_, sql::NonDeterministicFunctionsQuery());
    if (!r) return Fail("warehouse_error", "lineage: function catalog: " + r.error().message);
    std::set<std::string> out;
    for (int64_t row = 0; row < r->RowCount(); ++row) out.insert(r->Text(0, row).value_or(""));
    return out;
  }

 private:
  duckdb_database db_ = nullptr;
  duckdb_connection con_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<PlanProbe>> OpenPlanProbe() {
  auto probe = std::make_unique<DuckDbPlanProbe>();
  if (auto opened = probe->Open(); !opened) return Fail(opened.error());
  return std::unique_ptr<PlanProbe>(std::move(probe));
}

}  // namespace landfall::warehouse
