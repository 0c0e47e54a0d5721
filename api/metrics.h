// landfall's Prometheus metrics: a prometheus-cpp registry, fed by the engine
// (as its EngineObserver), by the daemon (watcher) and by the HTTP server, and
// serialized in the text exposition format for GET /metrics.
//
// Names follow Prometheus conventions: landfall_ prefix, units in the name
// (_seconds, _total for counters). Tables can number in thousands, so only
// with `per_table` are the batch and row counters labelled by table. Model
// series are labelled by strategy and action, never by model, except the
// partition series of time-interval models, which are labelled by model.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <memory>
#include <string>

#include "lib/exec/observer.h"

namespace landfall::api {

class Metrics final : public exec::EngineObserver {
 public:
  struct Options {
    std::string version = "dev";
    bool per_table = false;
  };
  explicit Metrics(Options options);
  ~Metrics() override;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // exec::EngineObserver
  void OnBatchDiscovered(const std::string& table) override;
  void OnBatchQuarantined(const std::string& table, const std::string& code) override;
  void OnBatchDuplicate(const std::string& table) override;
  void OnPendingBatches(int64_t count) override;
  void OnPlanned(double seconds) override;
  void OnTableAction(const exec::TableActionReport& report) override;
  void OnModelFinished(const exec::ModelActionReport& report) override;
  void OnCheck(const std::string& result) override;
  void OnRunFinished(const std::string& outcome, double seconds) override;
  void OnStateError() override;
  void OnWarehouseError() override;

  // The daemon's watcher.
  void OnWatcherRescan();
  void OnWatcherOverflow();

  // One HTTP request answered. `route` is the route's pattern (bounded
  // cardinality), never the raw path.
  void OnHttpRequest(const std::string& route, int status, double seconds);

  // The registry in the Prometheus text format (version 0.0.4).
  std::string Serialize() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace landfall::api
