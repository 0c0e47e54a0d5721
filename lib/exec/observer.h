// What the engine reports as it works, for metrics (api/metrics.h) or tests.
//
// Thread-safety: called from worker threads, concurrently, often while the
// engine holds its lock: implementations must be thread-safe, quick and must
// not call back into the engine. Every method defaults to doing nothing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace landfall::exec {

struct TableActionReport {
  std::string table;
  std::string action;  // plan::ToString: create, append, evolve, rebuild, orphan, drop, fail
  bool ok = true;      // false: the action failed
  int64_t rows = 0;    // rows staged by this action
  int batches = 0;     // batches staged by this action
  double seconds = 0;  // wall time of the action
  // For each batch staged by this action: seconds from the file landing
  // (its mtime) to its rows committing in the warehouse.
  std::vector<double> landed_to_staged_seconds;
};

// One model's action in a run's model phase (never a skip).
struct ModelActionReport {
  std::string model;
  std::string strategy;      // model::ToString: full_refresh, view, incremental, merge, ...
  std::string action;        // model::ToString: run, rebuild, fail
  bool ok = true;            // false: the action failed
  int64_t rows_written = 0;  // rows inserted plus rows updated
  double seconds = 0;        // wall time of the action
  // Time-interval models: the wall time of each partition computed (a batch
  // of batch_size partitions counts once per partition, with the batch's
  // time), and how many partitions failed.
  std::vector<double> partition_seconds;
  int partitions_failed = 0;
};

class EngineObserver {
 public:
  virtual ~EngineObserver() = default;

  // A new or changed batch file was inspected and recorded as pending.
  virtual void OnBatchDiscovered(const std::string& /*table*/) {}
  // A batch file was quarantined; `code` is the reason code (e.g. "not_parquet").
  virtual void OnBatchQuarantined(const std::string& /*table*/, const std::string& /*code*/) {}
  // A batch was found to have the same content as another batch of its table.
  virtual void OnBatchDuplicate(const std::string& /*table*/) {}
  // Batches known and not yet staged, after every catalog refresh and run.
  virtual void OnPendingBatches(int64_t /*count*/) {}
  // Scanning and planning took `seconds` (dry runs included).
  virtual void OnPlanned(double /*seconds*/) {}
  // One table action finished (successfully or not).
  virtual void OnTableAction(const TableActionReport& /*report*/) {}
  // One model's action finished, after the model phase: for every model that
  // ran, was rebuilt or failed (skips are not reported).
  virtual void OnModelFinished(const ModelActionReport& /*report*/) {}
  // One result of a model's data check, after the model phase; `result` is
  // "pass", "fail" (an error check), "warn" or "anomaly" (CheckResultLabel).
  virtual void OnCheck(const std::string& /*result*/) {}
  // A run ended. outcome: "succeeded", "failed" (a table failed), "error" (the
  // run as a whole failed, e.g. state store down) or "noop" (nothing to do).
  virtual void OnRunFinished(const std::string& /*outcome*/, double /*seconds*/) {}
  // A state store or warehouse call failed.
  virtual void OnStateError() {}
  virtual void OnWarehouseError() {}
};

}  // namespace landfall::exec
