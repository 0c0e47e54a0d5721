#include "daemon/runtime.h"

#include <spdlog/spdlog.h>

#include "daemon/retry.h"
#include "lib/warehouse/duckdb_warehouse.h"
#include "lib/warehouse/on_demand_warehouse.h"
#include "lib/warehouse/pg_warehouse.h"

namespace landfall::daemon {

Result<std::unique_ptr<state::StateStore>> OpenStateWithRetry(
    const config::Config& config, std::chrono::steady_clock::time_point deadline,
    std::stop_token stop, const std::string& node) {
  std::unique_ptr<state::StateStore> store;
  auto opened = RetryTransient(
      [&]() -> Status {
        auto opening =
            state::OpenPostgres({.url = config.state.postgres_url,
                                 .environment = config.environment,
                                 .node = node,
                                 .lease_ttl = std::chrono::seconds(config.cluster.lease_ttl_s)});
        if (!opening) return Fail(opening.error());
        store = std::move(*opening);
        return Ok();
      },
      kConnectBackoff, deadline, stop,
      [](const Error& error, std::chrono::milliseconds delay) {
        spdlog::warn("state store unreachable ({}); retrying in {} ms", error.message,
                     delay.count());
      });
  if (!opened) return Fail(opened.error());
  return store;
}

Status BecomeWriter(Runtime& rt, std::chrono::steady_clock::time_point deadline,
                    std::stop_token stop) {
  auto step = [&]() -> Status {
    if (!rt.writer) {
      auto lock = state::WriterLock::Acquire({rt.config.state.postgres_url, rt.config.environment});
      if (!lock) return Fail(lock.error());
      rt.writer = std::move(*lock);
      spdlog::debug("writer lock of environment {} taken as '{}'", rt.config.environment,
                    rt.writer->identity());
    }
    // The runs table must exist before runs can be marked.
    if (auto s = rt.state->Migrate(); !s) return s;
    auto interrupted = rt.state->MarkRunsInterrupted();
    if (!interrupted) return Fail(interrupted.error());
    for (const auto& run : *interrupted) {
      spdlog::warn(
          "run {} ({}) was left running by a writer that ended without finishing it; "
          "marked interrupted",
          run.id, run.trigger);
    }
    return Ok();
  };
  return RetryTransient(step, kConnectBackoff, deadline, stop,
                        [](const Error& error, std::chrono::milliseconds delay) {
                          spdlog::warn("{}; retrying in {} ms", error.message, delay.count());
                        });
}

warehouse::DuckDbOptions DuckDbOptionsFor(const config::Config& config) {
  return {.path = config.warehouse.path,
          .staging_schema = config.warehouse.staging_schema,
          .threads = landfall::config::WarehouseThreads(config),
          .memory_limit = config.warehouse.memory_limit};
}

Status OpenEngine(Runtime& rt) {
  const warehouse::DuckDbOptions options = DuckDbOptionsFor(rt.config);
  if (!rt.config.cluster.enabled) rt.state_read = exec::ReadStateAhead(*rt.state);
  auto wh = rt.config.warehouse.type == "postgres"
                ? warehouse::OpenPostgresWarehouse(
                      {.url = rt.config.warehouse.url,
                       .staging_schema = rt.config.warehouse.staging_schema,
                       .threads = options.threads,
                       .memory_limit = rt.config.warehouse.memory_limit})
            : rt.config.warehouse.hold_open ? warehouse::OpenDuckDb(options)
                                            : warehouse::OpenDuckDbOnDemand(options);
  if (!wh) return Fail(wh.error());
  rt.warehouse = std::move(*wh);
  auto footers = warehouse::NewDuckDbFooterReader();
  if (!footers) return Fail(footers.error());
  rt.footers = std::move(*footers);
  rt.pool = std::make_unique<ThreadPool>(rt.config.workers);
  rt.engine = std::make_unique<exec::Engine>(rt.config, *rt.state, *rt.warehouse, *rt.footers,
                                             *rt.pool, SystemClock::Instance());
  return Ok();
}

void PruneHistory(state::StateStore& state, const config::Config& config) {
  if (config.state.retention_days <= 0) return;
  constexpr int kChunk = 1000;
  auto pruned = state.PruneHistory(config.state.retention_days, kChunk);
  if (!pruned) {
    spdlog::warn("state: pruning history: {}", pruned.error().ToString());
    return;
  }
  if (pruned->runs + pruned->table_runs + pruned->schema_versions + pruned->model_runs +
          pruned->dag_snapshots >
      0) {
    spdlog::info(
        "state: pruned history older than {} days: {} runs, {} table run records, {} schema "
        "snapshots, {} model run records, {} DAG snapshots",
        config.state.retention_days, pruned->runs, pruned->table_runs, pruned->schema_versions,
        pruned->model_runs, pruned->dag_snapshots);
  }
}

warehouse::QueryRequest QueryRequestFor(const config::Config& config, std::string sql,
                                        warehouse::QueryFormat format,
                                        std::optional<int64_t> limit) {
  return {.sql = std::move(sql),
          .format = format,
          .limit = limit,
          .timeout = std::chrono::milliseconds(config.api.query_timeout_ms),
          .max_bytes = config.api.query_max_bytes,
          .readable_dir = config.landing.dir};
}

}  // namespace landfall::daemon
