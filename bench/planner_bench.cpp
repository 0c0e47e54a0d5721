// landfall-planner-bench: Google Benchmark micro-benchmarks of the pure parts
// of a cycle — the planner and schema unification, hashing, comparison and
// (de)serialization — at 10,000 tables (and at 1,000 tables x 100 batches, the
// shape of bench/run.sh's quiet-cycle scenario). No I/O: the inputs are built
// in memory, as Engine::Prepare hands them to plan::PlanAll.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "lib/plan/plan.h"
#include "lib/schema/schema.h"

namespace {

using namespace landfall;

schema::Schema BaseSchema() {
  schema::Schema s;
  s.columns = {{"id", "BIGINT", false, std::nullopt, "BIGINT"},
               {"customer", "VARCHAR", true, std::nullopt, "VARCHAR"},
               {"amount", "DOUBLE", true, std::nullopt, "DOUBLE"},
               {"created_at", "TIMESTAMP", true, std::nullopt, "TIMESTAMP"},
               {"region", "VARCHAR", true, std::nullopt, "VARCHAR"},
               {"quantity", "INTEGER", true, std::nullopt, "INTEGER"},
               {"discount", "DECIMAL(18,2)", true, std::nullopt, "DECIMAL(18,2)"},
               {"payload", "JSON", true, std::nullopt, "STRUCT(a INTEGER, b VARCHAR)"}};
  return s;
}

schema::Schema WithAddedColumn() {
  schema::Schema s = BaseSchema();
  s.columns.push_back({"channel", "VARCHAR", true, std::nullopt, "VARCHAR"});
  return s;
}

// A stand-in for the warehouse's supertype (no DuckDB here): equal types
// unify, anything else widens to VARCHAR.
Result<std::string> Supertype(const std::string& a, const std::string& b) {
  if (a == b) return a;
  return std::string("VARCHAR");
}

std::string BatchId(int table, int batch) {
  // 64 hex characters, like a SHA-256 fingerprint.
  std::string id = std::to_string(table) + ":" + std::to_string(batch);
  id.resize(64, 'f');
  return id;
}

std::string TableName(int t) {
  std::string n = std::to_string(t);
  return "table_" + std::string(n.size() < 5 ? 5 - n.size() : 0, '0') + n;
}

// `tables` tables of `batches` batches each, all staged: state, warehouse and
// landing directory agree.
std::vector<plan::TableInputs> QuietInputs(int tables, int batches) {
  const schema::Schema schema = BaseSchema();
  std::vector<plan::TableInputs> inputs;
  inputs.reserve(tables);
  // One footer schema shared by every batch, as the engine shares them.
  const auto shared = std::make_shared<const schema::Schema>(schema);
  for (int t = 0; t < tables; ++t) {
    plan::TableInputs in;
    in.table = TableName(t);
    in.folder_exists = true;
    in.remembered = plan::RememberedTable{schema, false, state::TableStatus::kActive};
    in.warehouse.exists = true;
    in.warehouse.columns = schema;
    for (int b = 0; b < batches; ++b) {
      const std::string path = in.table + "/part-" + std::to_string(b) + ".parquet";
      const std::string id = BatchId(t, b);
      in.batches.push_back({id, path, 1000, shared});
      in.warehouse.ledger[id] = {id, path, 1000, 1'700'000'000'000'000};
    }
    inputs.push_back(std::move(in));
  }
  return inputs;
}

void Report(benchmark::State& state, int tables) {
  state.counters["tables"] = tables;
  state.SetItemsProcessed(state.iterations() * tables);  // items: tables
}

// A quiet cycle: every table skips.
void BM_PlanAllQuiet(benchmark::State& state) {
  const int tables = static_cast<int>(state.range(0));
  const auto inputs = QuietInputs(tables, static_cast<int>(state.range(1)));
  for (auto _ : state) {
    auto plan = plan::PlanAll(inputs, {}, Supertype);
    if (plan.ActionableCount() != 0) state.SkipWithError("expected a quiet plan");
    benchmark::DoNotOptimize(plan);
  }
  Report(state, tables);
}
BENCHMARK(BM_PlanAllQuiet)->Args({10'000, 10})->Args({1'000, 100})->Unit(benchmark::kMillisecond);

// One table of the quiet inputs got one new batch with `schema`: PlanAll must
// plan exactly one action.
void PlanAllWithOneNewBatch(benchmark::State& state, const schema::Schema& schema) {
  const int tables = static_cast<int>(state.range(0));
  auto inputs = QuietInputs(tables, static_cast<int>(state.range(1)));
  auto& changed = inputs[tables / 2];
  changed.batches.push_back({BatchId(-1, 0), changed.table + "/part-new.parquet", 1000,
                             std::make_shared<const schema::Schema>(schema)});
  for (auto _ : state) {
    auto plan = plan::PlanAll(inputs, {}, Supertype);
    if (plan.ActionableCount() != 1) state.SkipWithError("expected one action");
    benchmark::DoNotOptimize(plan);
  }
  Report(state, tables);
}

// One table got a new batch with the same schema: append.
void BM_PlanAllOneNewBatch(benchmark::State& state) { PlanAllWithOneNewBatch(state, BaseSchema()); }
BENCHMARK(BM_PlanAllOneNewBatch)
    ->Args({10'000, 10})
    ->Args({1'000, 100})
    ->Unit(benchmark::kMillisecond);

// One table got a batch with an added column: the schema diff runs, evolve.
void BM_PlanAllOneSchemaChange(benchmark::State& state) {
  PlanAllWithOneNewBatch(state, WithAddedColumn());
}
BENCHMARK(BM_PlanAllOneSchemaChange)->Args({10'000, 10})->Unit(benchmark::kMillisecond);

// Schema unification of one new batch into each table's snapshot.
void BM_SchemaUnify(benchmark::State& state) {
  const int tables = static_cast<int>(state.range(0));
  const schema::Schema base = BaseSchema();
  const schema::Schema added = WithAddedColumn();
  for (auto _ : state) {
    for (int t = 0; t < tables; ++t) {
      auto unified = schema::Unify(base, {t % 100 == 0 ? &added : &base}, Supertype);
      benchmark::DoNotOptimize(unified);
    }
  }
  Report(state, tables);
}
BENCHMARK(BM_SchemaUnify)->Arg(10'000)->Unit(benchmark::kMillisecond);

void BM_SchemaHash(benchmark::State& state) {
  const int tables = static_cast<int>(state.range(0));
  const schema::Schema base = BaseSchema();
  for (auto _ : state) {
    for (int t = 0; t < tables; ++t) benchmark::DoNotOptimize(base.Hash());
  }
  Report(state, tables);
}
BENCHMARK(BM_SchemaHash)->Arg(10'000)->Unit(benchmark::kMillisecond);

// The staging-column diff the planner runs to compare state with the warehouse.
void BM_SchemaDiff(benchmark::State& state) {
  const int tables = static_cast<int>(state.range(0));
  const schema::Schema base = BaseSchema();
  const schema::Schema other = BaseSchema();
  const schema::Schema added = WithAddedColumn();
  for (auto _ : state) {
    for (int t = 0; t < tables; ++t) {
      benchmark::DoNotOptimize(base.SameStagingColumns(t % 100 == 0 ? added : other));
    }
  }
  Report(state, tables);
}
BENCHMARK(BM_SchemaDiff)->Arg(10'000)->Unit(benchmark::kMillisecond);

// Snapshots as the state store keeps them (the engine parses each table's once
// per cycle).
void BM_SchemaFromJson(benchmark::State& state) {
  const int tables = static_cast<int>(state.range(0));
  const std::string json = schema::ToJson(BaseSchema());
  for (auto _ : state) {
    for (int t = 0; t < tables; ++t) benchmark::DoNotOptimize(schema::SchemaFromJson(json));
  }
  Report(state, tables);
}
BENCHMARK(BM_SchemaFromJson)->Arg(10'000)->Unit(benchmark::kMillisecond);

void BM_SchemaToJson(benchmark::State& state) {
  const int tables = static_cast<int>(state.range(0));
  const schema::Schema base = BaseSchema();
  for (auto _ : state) {
    for (int t = 0; t < tables; ++t) benchmark::DoNotOptimize(schema::ToJson(base));
  }
  Report(state, tables);
}
BENCHMARK(BM_SchemaToJson)->Arg(10'000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
