// `landfall serve`'s side of the HTTP API: api::ApiBackend over the engine,
// the state store and the daemon's scheduler.
//
// The table list comes from the engine's memory (rendered again only when it
// changed); model reads load the model files (model_graph.h) and ask the
// state store and, for target row counts, the warehouse; other reads go to the state store through
// a connection of their own, so the API neither waits behind the engine's writes nor takes the
// engine's lock for long. Runs,
// retries and webhooks go through the daemon (DaemonControl), whose scheduler
// keeps at most one job per table.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "api/backend.h"
#include "daemon/http_client.h"
#include "daemon/model_graph.h"
#include "lib/config/config.h"
#include "lib/exec/engine.h"
#include "lib/model/partition.h"
#include "lib/state/cluster_store.h"
#include "lib/state/state_store.h"

namespace landfall::daemon {

// The partitions of time-interval models a request asks for, as the engine takes them.
model::PartitionSelection SelectionOf(const api::PartitionFlags& flags);

// What the backend needs from the running daemon. Every method may be called
// from any thread (the API's workers) and may block briefly.
class DaemonControl {
 public:
  virtual ~DaemonControl() = default;
  // The engine, once started (migrations and reconciliation done); else null.
  virtual exec::Engine* StartedEngine() = 0;
  // True once the first full scan has finished.
  virtual bool FirstScanDone() = 0;
  // Starts a run now, outside the debounce: 202 with its id, or 200 when
  // nothing needs doing. Errors: "run_conflict" when a job covering one of
  // the tables is running; transient "daemon_unavailable" while starting or
  // stopping.
  virtual Result<api::Reply> StartRun(const api::RunTrigger& trigger) = 0;
  // A hint that `table` changed: it runs soon (debounced like a watcher event).
  virtual void Touch(const std::string& table, const std::string& trigger) = 0;
  // Forgets `table`'s state (Engine::DeleteTableState) unless a job covering
  // it is running, in one step: no job of the table starts between the check
  // and the delete (a run in flight would record the table again as it ends,
  // undoing the delete). False when the table is unknown. Errors:
  // "table_conflict" while a job covering it runs; transient
  // "daemon_unavailable" while starting or stopping.
  virtual Result<bool> DeleteTableStateIfIdle(const std::string& table) = 0;
  // How run `id` started by StartRun ended: see api::ApiBackend::RunOutcome.
  virtual Result<api::Reply> RunOutcome(int64_t id) = 0;
  // The engine's warehouse, once the engine started; else null. Outlives
  // every API call (it is closed after the API stops).
  virtual warehouse::Warehouse* StartedWarehouse() = 0;
  // How the process holding the environment's writer lock names itself
  // (state::WriterLock::identity()); "" before it has the lock.
  virtual std::string WriterIdentity() = 0;
  // This member's view of the cluster (config cluster.enabled), once it has
  // joined and its engine started; else null. Outlives every API call.
  virtual state::ClusterStore* Cluster() = 0;
};

class DaemonApiBackend final : public api::ApiBackend {
 public:
  // `config` must outlive the backend.
  DaemonApiBackend(const config::Config& config, DaemonControl& daemon);
  ~DaemonApiBackend() override;

  Result<std::string> ListTables() override;
  Result<std::string> GetTable(const std::string& name) override;
  Result<std::string> Plan(const api::PlanQuery& query) override;
  Result<std::string> Info() override;
  Result<std::string> Cluster() override;
  Result<api::Reply> RunOutcome(int64_t id) override;
  Result<api::Reply> TriggerRun(const api::RunTrigger& trigger) override;
  Result<std::string> ListRuns(int limit, const std::string& status) override;
  Result<std::string> GetRun(int64_t id) override;
  Result<std::string> ListBatches(const std::string& table, const std::string& status,
                                  int limit) override;
  Result<api::Reply> RetryBatch(const std::string& path) override;
  Result<api::Reply> DeleteTableState(const std::string& table) override;
  Result<api::Reply> FileArrived(const std::string& table, const std::string& rel_path) override;
  Result<std::string> ListModels() override;
  Result<std::string> GetModel(const std::string& name) override;
  Result<std::string> ModelChecks(const std::string& name) override;
  Result<std::string> Dag() override;
  Result<std::string> ListPartitions(const std::string& model, const std::string& status,
                                     const std::string& from, const std::string& to,
                                     int limit) override;
  Result<std::string> Lineage() override;
  Result<std::string> ModelLineage(const std::string& name) override;
  Result<api::Reply> DeleteModelState(const std::string& model) override;
  Result<warehouse::QueryAnswer> Query(const api::QueryAsk& ask) override;
  api::Readiness Ready() override;

 private:
  // The API's own state store connection, opened on first use (PostgreSQL may
  // come up after the daemon).
  Result<state::StateStore*> Reads();
  Result<exec::Engine*> Engine();
  // In a cluster: the member holding every one of `tables` (its node id).
  // "run_conflict" when no member or several hold them.
  Result<std::string> HolderOf(state::ClusterStore& cluster,
                               const std::vector<std::string>& tables);
  // Sends `call` to member `node`'s API (its address from the cluster);
  // its reply, with "member": node added to a JSON object.
  Result<api::Reply> AskMember(state::ClusterStore& cluster, const std::string& node,
                               HttpCall call);
  // In a cluster, when another member holds `lease` (a table, or
  // state::kModelsLease): that member's answer to `method target`, or why it
  // could not be asked. nullopt: this member is the one to answer.
  std::optional<Result<api::Reply>> AskHolder(const std::string& lease, const std::string& method,
                                              const std::string& target);
  // Each of `tables` is a table name and known (a folder, or remembered).
  Status CheckTables(const std::vector<std::string>& tables);
  // The body of GET /v1/tables.
  // `owners` (in a cluster): each table's lease holder.
  std::string TablesJson(const std::vector<state::TableSummary>& summaries,
                         const std::map<std::string, std::string>* owners = nullptr) const;
  // The model files and their DAG over the staging tables the engine knows,
  // read again on each call; the DAG is parsed again only when a model file
  // or the set of tables changed (graph_ keeps the last one).
  Result<ModelGraph> Graph(exec::Engine& engine);
  // What the model reads start from: the engine, the state store's model
  // rows, the target row counts and the graph (defined in the .cpp).
  struct ModelSources;
  Result<ModelSources> ReadModelSources();
  // The model graph (Graph() when the engine runs, else the files and the
  // landing directory's tables) and every model's lineage over the state
  // store's staging columns.
  struct LineageView;
  Result<LineageView> ReadLineage();
  // `spec` selects models of the graph (a POST /v1/runs' "models").
  Status CheckModelSelection(const std::string& spec);

  const config::Config& config_;
  DaemonControl& daemon_;
  std::mutex mu_;  // guards the fields below
  std::unique_ptr<state::StateStore> reads_;
  // GET /v1/tables as last rendered from the engine, for its Generation().
  std::string tables_body_;
  uint64_t tables_generation_ = 0;
  bool tables_cached_ = false;
  std::optional<ModelGraph> graph_;  // as Graph() last built it
};

}  // namespace landfall::daemon
