// `warehouse.hold_open: false`: a DuckDB warehouse that has its file open
// only while it is used, so that other processes (DuckDB's CLI, Python, a BI
// tool) can open the file between runs.
#pragma once

#include <chrono>
#include <memory>

#include "lib/warehouse/duckdb_warehouse.h"

namespace landfall::warehouse {

// A Warehouse over the DuckDB file of `options` that opens the file on the
// first call and closes it once no call has run for `idle_close` (a run's
// calls come close together, so a run opens the file once). Calls that
// would run no statement (Append or Evolve of no batch) do not open it.
//
// While another process has the file open (a reader: DuckDB lets no writer
// in then), every call fails at once with a transient "warehouse_busy" error
// naming that process when DuckDB does ("... (PID 123)"); the engine's
// scheduler retries transient failures with backoff. The first such failure
// after the file was last open is logged at warn, later ones at debug, and
// WaitingFor() says so until an open succeeds.
//
// Models() opens the file per call the same way. Hold() keeps it open until
// the hold ends: the engine takes one around a run's model phase, so that the
// phase's many calls share one open and no reader takes the file between two
// models; the idle close counts from the hold's end. (A model's temp tables
// and views live within one call, so nothing is lost when the file closes
// between calls.) Thread-safe, like the DuckDB warehouse.
Result<std::unique_ptr<Warehouse>> OpenDuckDbOnDemand(
    const DuckDbOptions& options,
    std::chrono::milliseconds idle_close = std::chrono::milliseconds(500));

}  // namespace landfall::warehouse
