// What a command opens from the config: state store, warehouse, footer reader,
// worker pool and engine. Shared by the one-shot commands and `landfall serve`.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>

#include "lib/common/result.h"
#include "lib/common/thread_pool.h"
#include "lib/config/config.h"
#include "lib/exec/engine.h"
#include "lib/schema/footer.h"
#include "lib/state/state_store.h"
#include "lib/state/writer_lock.h"
#include "lib/warehouse/duckdb_warehouse.h"
#include "lib/warehouse/warehouse.h"

namespace landfall::daemon {

// Members are declared in dependency order, so they are destroyed engine
// first, state store last, and the writer lock (when taken) after everything
// that writes.
struct Runtime {
  config::Config config;
  std::unique_ptr<state::WriterLock> writer;
  std::unique_ptr<state::StateStore> state;
  // The state store's records, read while the warehouse opens (OpenEngine);
  // for the engine's Start.
  exec::StateReadAhead state_read;
  std::unique_ptr<warehouse::Warehouse> warehouse;
  std::unique_ptr<schema::FooterReader> footers;
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<exec::Engine> engine;
};

// Connects to the state store. The state store may be starting up or briefly
// unreachable: transient failures are retried with kConnectBackoff
// (daemon/retry.h) until `deadline` passes or `stop` is requested; the last error is returned.
// `node`: a cluster member's node id (state::PgOptions::node), "" otherwise.
Result<std::unique_ptr<state::StateStore>> OpenStateWithRetry(
    const config::Config& config, std::chrono::steady_clock::time_point deadline,
    std::stop_token stop = {}, const std::string& node = "");

// Makes this process the environment's one writer: takes its writer lock
// (rt.writer; see lib/state/writer_lock.h), migrates the state store, and
// marks the runs a crashed writer left "running" as interrupted. Transient
// failures (PostgreSQL away, a holder of this host that was just killed) are
// retried like OpenStateWithRetry, keeping the lock once taken; a live
// writer's "writer_conflict" is returned at once. Needs rt.state.
Status BecomeWriter(Runtime& rt, std::chrono::steady_clock::time_point deadline,
                    std::stop_token stop = {});

// The DuckDB options `config.warehouse` asks for (file, schema, threads,
// memory limit); read-write.
warehouse::DuckDbOptions DuckDbOptionsFor(const config::Config& config);

// Opens the warehouse, the footer reader and the worker pool of `rt.config`,
// and builds the engine (not started: rt.engine->Start(std::move(rt.state_read))).
// Outside a cluster the state store's records are read meanwhile
// (exec::ReadStateAhead, into rt.state_read). Needs rt.state.
Status OpenEngine(Runtime& rt);

// A query of `landfall query` or POST /v1/query, with the config's limits:
// interrupted after api.query_timeout_ms, file reads only below landing.dir.
warehouse::QueryRequest QueryRequestFor(const config::Config& config, std::string sql,
                                        warehouse::QueryFormat format,
                                        std::optional<int64_t> limit);

// Forgets history older than config.state.retention_days (nothing when 0),
// in small chunks, and logs what went. A failure is logged, not returned:
// pruning is housekeeping and never fails a run.
void PruneHistory(state::StateStore& state, const config::Config& config);

}  // namespace landfall::daemon
