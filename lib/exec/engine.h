// The engine: one pass of the data path. Refreshes the catalog of batches
// (BatchCatalog) from the landing directory, plans, runs the plan on the
// worker pool against the warehouse, and records every decision in the state
// store. It orchestrates; the catalog decides what the files are.
//
// Thread-safety: all public methods may be called from several threads; runs
// over disjoint sets of tables may proceed in parallel (the daemon's scheduler
// guarantees at most one job per table).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "lib/common/clock.h"
#include "lib/common/result.h"
#include "lib/common/thread_pool.h"
#include "lib/config/config.h"
#include "lib/exec/batch_catalog.h"
#include "lib/exec/model_runner.h"
#include "lib/exec/observer.h"
#include "lib/landing/catalog.h"
#include "lib/plan/plan.h"
#include "lib/schema/footer.h"
#include "lib/state/state_store.h"
#include "lib/warehouse/warehouse.h"

namespace landfall::exec {

struct RunRequest {
  std::vector<std::string> tables;  // empty: every table
  bool full_refresh = false;        // rebuild the selected tables from all their batches
  std::string trigger = "cli";
  // A truncated or empty file modified less than this long ago is taken to be
  // still being written (a producer that writes in place, in pieces): it is
  // left unrecorded, counted in CatalogStats::deferred, and looked at again by
  // a later run. So is a file that changes while it is inspected. Older than
  // this, a truncated file is quarantined. 0 (the CLI): quarantined at once.
  std::chrono::seconds truncated_grace{0};
  // Models (when the config has models.dir): `--models` ("" every model),
  // and with full_refresh and a selection, only those models are rebuilt
  // (the tables are not).
  std::string models;
  // Time-interval models: which partitions the selected ones compute
  // (`--partition`, `--from/--to`, `--latest`, `--missing`, `--lookback`).
  model::PartitionSelection partitions;
  // Called (on the calling thread) once the run is recorded, with its id,
  // before any table is executed; not called when nothing needs doing.
  std::function<void(int64_t run_id)> on_run_started;
};

struct TableOutcome {
  std::string table;
  plan::Action action = plan::Action::kSkip;
  state::TableRunStatus status = state::TableRunStatus::kSucceeded;
  int64_t rows = 0;
  int batches = 0;
  int64_t duration_us = 0;
  std::string error;
  bool transient = false;  // the error may go away on retry (e.g. warehouse busy)
};

struct RunOutcome {
  int64_t run_id = 0;  // 0 when nothing needed doing (no run is recorded)
  plan::ChangePlan plan;
  CatalogStats catalog;
  std::vector<TableOutcome> tables;  // one per actionable table
  // Warehouse statements executed while planning and running (0 when every table skips).
  int64_t warehouse_statements = 0;
  // Planning alone, after the catalog refresh (scan, inspection), and how many
  // tables were planned afresh; the others' quiet plans were reused.
  int64_t plan_us = 0;
  int tables_replanned = 0;
  // The model phase, after staging: every model in DAG order (none without
  // models.dir or when nothing needed doing), or why the models could not be
  // planned (invalid model files, the warehouse unavailable).
  std::vector<ModelOutcome> models;
  std::optional<Error> models_error;
  // The whole model phase (planning and every model), 0 when it did not run.
  int64_t models_us = 0;
  bool ok() const;
};

// {"run_id", "ok", "warehouse_statements", "files", "inspected", "quarantined",
//  "duplicates", "tables": [{"table", "action", "status", "rows", "batches",
//  "duration_ms", "error"}], "plan": plan::ToJson(plan), "models":
//  OutcomesToJson(models), "models_error", "models_error_code", "models_duration_ms"}: `landfall
//  run
//  --format json`.
std::string ToJson(const RunOutcome& outcome);

// Forgets a table's state (keeping a TableStatus::kReset marker) so its next run rebuilds
// it. Needs only the state store. False when the state store has no such table.
Result<bool> ResetTableState(state::StateStore& state, const std::string& table,
                             const Clock& clock);

// The state store's records, read ahead: migrates the store and loads it
// (state::StateStore::Load) on a thread of its own. daemon/runtime.cpp's
// OpenEngine starts it before the warehouse opens, so that DuckDB reading its
// file's catalog and libpq reading the batch records overlap (each ~1 G
// instructions at 100,000 batches); Engine::Start takes the result.
using StateReadAhead = std::future<Result<state::EnvironmentState>>;
StateReadAhead ReadStateAhead(state::StateStore& state);

class Engine {
 public:
  Engine(config::Config config, state::StateStore& state, warehouse::Warehouse& warehouse,
         schema::FooterReader& footers, ThreadPool& pool, const Clock& clock);
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Migrates the state store, prepares the warehouse, loads state and
  // reconciles it with the warehouse ledger (the truth about what is staged):
  // batch records the ledger holds are marked staged, and a table snapshot
  // that lags a warehouse commit is caught up (CatchUpSnapshots) and saved.
  // The state is read on a thread of its own while the warehouse is prepared
  // and inspected (the state store and the warehouse must allow that: both
  // seams are thread-safe). Errors: the first step's that failed, in the
  // order migrate, warehouse init, state load, inspect, models; call it once
  // per engine. With `ahead` (ReadStateAhead, of this engine's state store)
  // the migration and the read are that thread's, and its error is the state
  // load's; a cluster member waits for it and reads nothing of it.
  Status Start(StateReadAhead ahead = {});

  // ---- A cluster member (config.cluster.enabled; daemon/cluster.cpp) ----
  // Start() then loads no table: the member works only on the tables it
  // holds the lease of, and Plan and Run cover only those (a request naming
  // none of them does nothing).
  //
  // Takes `tables` on (their lease was just won): their batches, rows and
  // ledger are read afresh from the state store and the warehouse, and
  // reconciled as Start() does.
  Status Adopt(const std::set<std::string>& tables);
  // Gives `tables` up: no later run covers them and nothing more is written
  // for them. Unless `force` (the lease is already lost), what is owed for
  // them is written first and a table a run is working on is kept. Returns
  // those given up.
  std::set<std::string> Release(const std::set<std::string>& tables, bool force);
  // The tables held now.
  std::set<std::string> Owned();
  // Takes the model phase on (the models lease, state::kModelsLease, is
  // held) or gives it up. Only the member holding it runs models; holding
  // it, a run that covers none of its tables still runs the model phase.
  // Taking it over marks the partitions its last holder left in progress
  // interrupted (ModelRunner::TakeOver); an error leaves it not held. Each
  // call with true marks the models dirty, since the other members' runs
  // change what they read without this engine knowing: the next quiet cycle
  // plans them again.
  Status HoldModels(bool held);
  bool HoldsModels() const;

  // Scans and plans without changing anything a run decides (a dry run): the
  // warehouse is not touched, no file is moved, and a bad or half-written
  // file is neither quarantined nor recorded (a run deals with it). Newly seen
  // good files are fingerprinted and recorded as pending.
  Result<plan::ChangePlan> Plan(const RunRequest& request);

  // Scans, plans and executes. A failing table never stops the others; its
  // outcome carries the error. State writes that failed (the state store was
  // unreachable) stay marked in memory and are written again by the next
  // Plan or Run, after its scan and before it plans; when they still cannot be written at the end
  // of a run, the run returns that (transient) error even though the warehouse has committed, so
  // the caller retries: nothing memory knows is lost.
  Result<RunOutcome> Run(const RunRequest& request);

  // Forgets a table's state so its next run rebuilds it. False if unknown.
  Result<bool> DeleteTableState(const std::string& table);

  // The models' plan for `request` against the warehouse as it is now, with
  // the tables `tables` (Plan's result) changes counted as changed (a dry
  // run: `landfall plan`, GET /v1/plan). Errors as ModelRunner::Plan.
  Result<ModelPlan> PlanModels(const RunRequest& request, const plan::ChangePlan& tables);
  // Forgets a model's state so its next run rebuilds it. False if unknown.
  // "model_conflict" while a model phase (or a plan of one) is in progress:
  // its outcome would write the model's row again, undoing the delete.
  Result<bool> DeleteModelState(const std::string& model);
  // The rows each model target that is a table holds now, by model name
  // (ModelWarehouse::TargetRows); empty without models or a model warehouse.
  Result<std::map<std::string, int64_t>> ModelTargetRows();

  // Forgets the verdict on the quarantined batch at `rel_path` (moving it back
  // from the quarantine dir when it was moved there), so the next run of its
  // table inspects the file again. Returns the batch's table. Errors:
  // "batch_not_found", "batch_conflict" (the batch is not quarantined),
  // "batch_restore_failed" (it cannot be moved back), a state store error
  // (nothing changed). `rel_path` is the batch's recorded path: for a file
  // whose name is not valid UTF-8 (reason "invalid_file_name"), the escaped
  // form (EscapeFileName).
  Result<std::string> RetryQuarantined(const std::string& rel_path);

  // Reports progress to `observer` from now on (metrics); null: nobody. Set it
  // before Start(); the observer must outlive the engine.
  void SetObserver(EngineObserver* observer) { observer_ = observer ? observer : &no_observer_; }

  const config::Config& config() const { return config_; }

  // Every table known by a record or a batch, as the API lists it
  // (state::StateStore::TableSummaries), from memory: no I/O. Table snapshots
  // (schema_json) are left out.
  std::vector<state::TableSummary> TableSummaries();
  // Changes whenever what TableSummaries() returns may have changed.
  uint64_t Generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  struct Prepared;
  // `dry_run`: see Plan().
  Result<Prepared> Prepare(const RunRequest& request, CatalogStats* stats, bool dry_run);

  // ---- Refresh: the catalog brought in line with the landing directory. ----
  // Scans the request's tables (every table when none) into `scanned`,
  // inspects what is new or changed, merges it into the catalog, follows up
  // on what changed, and writes what is owed to the state store.
  Result<CatalogStats> RefreshCatalog(const RunRequest& request, bool dry_run, Scanned& scanned);
  // What a catalog merge changed: state writes marked, plans dropped, pending
  // batches counted again, quarantined files queued to be moved. Needs mu_.
  void FollowCatalog(const CatalogChanges& changes);

  // ---- Plan: which tables to plan, and their plans. ----
  // The planner's options for `request`. Needs mu_.
  plan::PlanOptions PlanOptionsFor(const RunRequest& request);
  // The tables to plan now, the quiet plans reused instead, and the names
  // that collide (plan::NameCollisions). Needs mu_.
  struct Selection {
    std::vector<plan::TablePlan> reused;
    std::vector<std::string> to_plan;
    std::map<std::string, std::string> collisions;
  };
  Selection SelectTables(const RunRequest& request, const Scanned& scanned,
                         const plan::PlanOptions& options);
  // Names differing only in case (plan::NameCollisions) among every name the
  // landing dir, the warehouse, the state or the catalog holds. Needs mu_.
  std::map<std::string, std::string> NameCollisions(const std::set<std::string>& folders);
  // Plans `slice` into `plan`, remembering quiet plans unless something changed meanwhile.
  void PlanSlice(const std::set<std::string>& slice, const Scanned& scanned,
                 const plan::PlanOptions& options, const Selection& selection,
                 plan::ChangePlan& plan);
  // The planner's inputs for `names` (each table's batches, ledger, state).
  // Needs mu_.
  std::vector<plan::TableInputs> Inputs(const std::set<std::string>& names, const Scanned& scanned);

  // ---- Run: quarantine what the plan refuses, execute, record. ----
  Result<RunOutcome> RunUnobserved(const RunRequest& request);
  // schema_evolution: freeze — the batches the plan refuses, quarantined.
  void QuarantineRefused(const plan::ChangePlan& plan, CatalogStats& stats);
  // Executes every actionable table of `plan` on the pool, one job a table.
  std::vector<TableOutcome> ExecuteTables(const plan::ChangePlan& plan, int64_t run_id);
  // The model runner's request for a run's `request`. Takes mu_.
  ModelRunRequest ModelRequestFor(const RunRequest& request);
  bool RunsModels() const;
  // The model phase of a run: every model downstream of what changed.
  void RunModels(const RunRequest& request, RunOutcome& outcome);
  // The run's end (and the state format version when due), written.
  Status RecordRunEnd(const RunOutcome& outcome);
  TableOutcome Execute(const plan::TablePlan& table_plan, int64_t run_id);
  // The files of the plan's batches; `vanished` names the first one the
  // catalog has forgotten since (then the list is incomplete).
  std::vector<warehouse::BatchFile> BatchFiles(const plan::TablePlan& table_plan,
                                               std::string& vanished);
  // Sends the plan's action to the warehouse; `table_status` is the table's
  // status after it (active, orphaned, dropped).
  Result<warehouse::ApplyStats> Apply(const plan::TablePlan& table_plan,
                                      const std::vector<warehouse::BatchFile>& files,
                                      state::TableStatus& table_status);
  // Records what the warehouse did (or why not) in memory, marked for the
  // state store, and fills `out` and `report`. Needs mu_.
  void RecordOutcome(const plan::TablePlan& table_plan,
                     const Result<warehouse::ApplyStats>& applied,
                     const std::vector<warehouse::BatchFile>& files,
                     state::TableStatus table_status, int64_t run_id, TableOutcome& out,
                     TableActionReport& report);
  // The warehouse's new contents after `applied`, and the batches it staged
  // (or rejected); the table's new snapshot in `record`. Returns how many
  // batch records are now staged. Needs mu_.
  int RecordApplied(const plan::TablePlan& table_plan, const warehouse::ApplyStats& applied,
                    const std::vector<warehouse::BatchFile>& files, state::TableRecord& record,
                    TableActionReport& report);

  // Start-up (and Adopt): table records whose schema snapshot lags a
  // warehouse commit that the state write never followed, caught up from the
  // warehouse's columns (in tables_) and marked for the next FlushState; of
  // `tables`, or every table when `all`. Needs mu_.
  void CatchUpSnapshots(const std::set<std::string>& tables, bool all);
  // Start-up (and Adopt): batch records the ledger holds marked staged;
  // quarantined ones queued to be moved; of `tables`, or every table when
  // `all`. Needs mu_.
  void ReconcileWithLedger(const std::set<std::string>& tables, bool all);
  // The table of a batch's relative path.
  static std::string TableOf(std::string_view path);
  // A run's hold on the tables it covers (Plan, Run).
  class Holding;
  // Marks `record` quarantined (NoteQuarantined). Needs mu_.
  void Quarantine(state::BatchRecord& record, const std::string& code, const std::string& message);
  // Logs and reports a quarantined batch. The file is moved to quarantine_dir
  // (when set) only once the record is in the state store (MoveQuarantined),
  // so a crash or an outage never leaves a moved file without a record. Needs mu_.
  void NoteQuarantined(const state::BatchRecord& record);
  // Moves the files of recorded quarantined batches still in the landing
  // dir to quarantine_dir, and marks their records (message) to be written.
  void MoveQuarantined();
  // Where a batch's file is, relative to the landing (or quarantine) dir:
  // its path, unescaped for an invalid_file_name.
  static std::string OnDiskPath(const state::BatchRecord& record);
  // Start(): a file in quarantine_dir with no record gets one. Needs mu_.
  void RecordUnlistedQuarantine();

  // ---- Writing state: memory first, then the state store, never lost. ----
  // Every change to what the state store keeps is marked here (under mu_)
  // and written by FlushState(); a write that fails leaves its marks, so the
  // next flush writes it again.
  void MarkBatch(const std::string& path);   // upserted if known, deleted if not
  void MarkTable(const std::string& table);  // tables_[table] saved
  // Writes everything marked. A transient failure leaves the rest marked and
  // is returned; a permanent one (the store refuses a record) is logged and
  // its marks dropped, so one bad record cannot stall every later write.
  // Takes flush_mu_ then mu_ (never call it holding mu_).
  Status FlushState();
  struct Owed;
  // What is marked, as it is now. Needs mu_.
  Owed TakeOwed();
  // Writes `owed`, clearing each mark once written (unless changed again since).
  Status WriteOwed(Owed& owed);
  // A write of `what` failed: true to keep its marks (a transient error).
  bool KeepAfter(const Error& error, const char* what);
  // Tells the observer how many batches are pending, counting again in
  // `tables` only (null: every table). Needs mu_.
  void ReportPending(const std::set<std::string>* tables);
  // Something about `table` changed: its quiet plan is dropped and the table
  // list (TableSummaries) counts as changed. Needs mu_.
  void Changed(const std::string& table);
  schema::SupertypeFn Supertype();

  const config::Config config_;
  state::StateStore& state_;
  warehouse::Warehouse& warehouse_;
  ThreadPool& pool_;
  const Clock& clock_;
  EngineObserver no_observer_;
  EngineObserver* observer_ = &no_observer_;
  ModelRunner models_;

  std::mutex mu_;  // guards the fields below
  std::optional<int> format_version_;
  BatchCatalog catalog_;
  std::map<std::string, state::TableRecord> tables_;
  std::map<std::string, warehouse::TableContents> contents_;
  std::map<std::string, state::TableRunRecord> last_actions_;  // by table
  std::map<std::string, int64_t> pending_by_table_;            // pending batches, tables with any
  // Quiet tables' plans, reused while nothing the planner looks at changed:
  // a cycle over every table then plans only the tables that changed.
  struct QuietPlan {
    bool folder_exists = false;
    plan::TablePlan plan;
  };
  std::map<std::string, QuietPlan> quiet_plans_;
  uint64_t plan_epoch_ = 0;  // counts invalidations of quiet_plans_
  std::atomic<uint64_t> generation_{0};
  // State writes owed to the state store (see FlushState), each with the
  // write_seq_ of its latest change: a flush clears a mark only if nothing
  // changed it again while the flush was writing.
  uint64_t write_seq_ = 0;
  std::map<std::string, uint64_t> unsaved_batches_;  // by rel path
  std::map<std::string, uint64_t> unsaved_tables_;   // by name
  struct UnsavedRun {
    uint64_t seq = 0;
    int64_t run_id = 0;
    bool finish = false;           // FinishRun(run_id, status, error) rather than a table record
    state::TableRunRecord record;  // when !finish
    std::string status, error;     // when finish
  };
  std::vector<UnsavedRun> unsaved_runs_;  // in the order they happened
  std::set<std::string> unmoved_;         // quarantined batches whose file is still to be moved
  // A cluster member: the tables it holds, and how many runs cover each now.
  std::set<std::string> owned_;
  std::map<std::string, int> busy_;
  std::atomic<bool> models_held_{false};  // HoldModels

  // Serializes FlushState(): two flushes writing at once could land an older
  // snapshot of a record after a newer one. Taken before mu_, never under it.
  std::mutex flush_mu_;
};

}  // namespace landfall::exec
