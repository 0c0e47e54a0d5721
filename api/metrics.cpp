#include "api/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <mutex>
#include <set>

namespace landfall::api {

namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

// Seconds, from a quick table action to a long rebuild or a slow producer.
const Histogram::BucketBoundaries kDurationBuckets = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};
const Histogram::BucketBoundaries kHttpBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                  0.25,  0.5,    1,     2.5,  5,     10};

}  // namespace

struct Metrics::Impl {
  explicit Impl(Options o)
      : options(std::move(o)), registry(std::make_shared<prometheus::Registry>()) {}

  // Counters whose label is the table only with per_table (else no label).
  Counter& PerTable(Family<Counter>& family, const std::string& table) {
    return options.per_table ? family.Add({{"table", table}}) : family.Add({});
  }

  const Options options;
  std::shared_ptr<prometheus::Registry> registry;

  Family<Counter>& batches_discovered = prometheus::BuildCounter()
                                            .Name("landfall_batches_discovered_total")
                                            .Help("Batch files inspected and recorded as pending.")
                                            .Register(*registry);
  Family<Counter>& batches_staged =
      prometheus::BuildCounter()
          .Name("landfall_batches_staged_total")
          .Help("Batches whose rows were committed to a staging table.")
          .Register(*registry);
  Family<Counter>& batches_quarantined = prometheus::BuildCounter()
                                             .Name("landfall_batches_quarantined_total")
                                             .Help("Batch files quarantined, by reason.")
                                             .Register(*registry);
  Family<Counter>& batches_duplicate =
      prometheus::BuildCounter()
          .Name("landfall_batches_duplicate_total")
          .Help("Batch files found to duplicate another batch's content.")
          .Register(*registry);
  Family<Counter>& rows_staged = prometheus::BuildCounter()
                                     .Name("landfall_rows_staged_total")
                                     .Help("Rows committed to staging tables.")
                                     .Register(*registry);
  Family<Counter>& runs =
      prometheus::BuildCounter()
          .Name("landfall_runs_total")
          .Help(
              "Runs by outcome: succeeded, failed (a table failed), error (the run failed), noop.")
          .Register(*registry);
  Family<Histogram>& run_duration =
      prometheus::BuildHistogram()
          .Name("landfall_run_duration_seconds")
          .Help("Wall time of runs that did work, scan and plan included.")
          .Register(*registry);
  Family<Histogram>& action_duration = prometheus::BuildHistogram()
                                           .Name("landfall_table_action_duration_seconds")
                                           .Help("Wall time of one table action, by action.")
                                           .Register(*registry);
  Family<Counter>& table_actions = prometheus::BuildCounter()
                                       .Name("landfall_table_actions_total")
                                       .Help("Table actions by action and result (ok, failed).")
                                       .Register(*registry);
  Family<Histogram>& plan_duration = prometheus::BuildHistogram()
                                         .Name("landfall_plan_duration_seconds")
                                         .Help("Wall time to scan the landing directory and plan.")
                                         .Register(*registry);
  Family<Histogram>& landing_to_staged =
      prometheus::BuildHistogram()
          .Name("landfall_landing_to_staged_seconds")
          .Help("From a batch file landing (its mtime) to its rows being committed.")
          .Register(*registry);
  Family<Gauge>& pending = prometheus::BuildGauge()
                               .Name("landfall_pending_batches")
                               .Help("Batches known and not yet staged.")
                               .Register(*registry);
  Family<Counter>& watcher_rescans =
      prometheus::BuildCounter()
          .Name("landfall_watcher_rescans_total")
          .Help("Full scans of the landing directory (start-up, overflow, periodic).")
          .Register(*registry);
  Family<Counter>& watcher_overflows =
      prometheus::BuildCounter()
          .Name("landfall_watcher_overflows_total")
          .Help("inotify queue overflows (each followed by a rescan).")
          .Register(*registry);
  Family<Counter>& state_errors = prometheus::BuildCounter()
                                      .Name("landfall_state_errors_total")
                                      .Help("Failed state store operations.")
                                      .Register(*registry);
  Family<Counter>& warehouse_errors = prometheus::BuildCounter()
                                          .Name("landfall_warehouse_errors_total")
                                          .Help("Failed warehouse operations.")
                                          .Register(*registry);
  Family<Counter>& http_requests =
      prometheus::BuildCounter()
          .Name("landfall_http_requests_total")
          .Help("HTTP requests answered, by route pattern and status code.")
          .Register(*registry);
  Family<Histogram>& http_duration =
      prometheus::BuildHistogram()
          .Name("landfall_http_request_duration_seconds")
          .Help(
              "From a request's header being read to its response being written, by route pattern.")
          .Register(*registry);
  Family<Counter>& checks = prometheus::BuildCounter()
                                .Name("landfall_checks_total")
                                .Help("Model data check results by result (pass, fail, warn, anomaly).")
                                .Register(*registry);
  Family<Counter>& queries =
      prometheus::BuildCounter()
          .Name("landfall_queries_total")
          .Help("Read-only queries (POST /v1/query) by outcome: ok, refused, timeout, too_large, failed, "
                "busy (over api.max_queries).")
          .Register(*registry);
  Family<Histogram>& query_duration =
      prometheus::BuildHistogram()
          .Name("landfall_query_duration_seconds")
          .Help("Wall time of the read-only queries that ran (refused and busy ones excluded).")
          .Register(*registry);
  Family<Counter>& model_runs =
      prometheus::BuildCounter()
          .Name("landfall_model_runs_total")
          .Help("Model actions (run, rebuild, fail) by strategy, action and result (ok, failed).")
          .Register(*registry);
  Family<Histogram>& model_duration =
      prometheus::BuildHistogram()
          .Name("landfall_model_run_duration_seconds")
          .Help("Wall time of one model action, by strategy and action.")
          .Register(*registry);
  Family<Counter>& model_rows = prometheus::BuildCounter()
                                    .Name("landfall_model_rows_written_total")
                                    .Help("Rows inserted or updated in model targets, by strategy.")
                                    .Register(*registry);
  Family<Gauge>& models_failing = prometheus::BuildGauge()
                                      .Name("landfall_models_failing")
                                      .Help("Models whose latest action in this process failed.")
                                      .Register(*registry);
  // Labelled by model: a time-interval model is configured one by one, and
  // "which model's partitions fail" is the question these answer.
  Family<Counter>& model_partitions =
      prometheus::BuildCounter()
          .Name("landfall_model_partitions_total")
          .Help("Partitions of time-interval models, by model and result (computed, failed).")
          .Register(*registry);
  Family<Histogram>& partition_duration =
      prometheus::BuildHistogram()
          .Name("landfall_model_partition_duration_seconds")
          .Help("Wall time of one partition computed (a batch of partitions: its time, once per "
                "partition), by model.")
          .Register(*registry);
  std::mutex failing_mu;  // guards failing
  std::set<std::string> failing;
  Family<Gauge>& build_info = prometheus::BuildGauge()
                                  .Name("landfall_build_info")
                                  .Help("Always 1; the version is in the label.")
                                  .Register(*registry);
};

Metrics::Metrics(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {
  auto& m = *impl_;
  m.build_info.Add({{"version", m.options.version}}).Set(1);
  // Series without labels exist from the start, so a dashboard sees 0, not "no data".
  if (!m.options.per_table) {
    for (auto* f :
         {&m.batches_discovered, &m.batches_staged, &m.batches_duplicate, &m.rows_staged}) {
      f->Add({});
    }
  }
  m.pending.Add({});
  m.models_failing.Add({});
  m.watcher_rescans.Add({});
  m.watcher_overflows.Add({});
  m.state_errors.Add({});
  m.warehouse_errors.Add({});
  m.plan_duration.Add({}, kDurationBuckets);
  m.run_duration.Add({}, kDurationBuckets);
  m.landing_to_staged.Add({}, kDurationBuckets);
  for (const char* outcome : {"succeeded", "failed", "error", "noop"}) {
    m.runs.Add({{"outcome", outcome}});
  }
}

Metrics::~Metrics() = default;

void Metrics::OnBatchDiscovered(const std::string& table) {
  impl_->PerTable(impl_->batches_discovered, table).Increment();
}

void Metrics::OnBatchQuarantined(const std::string& table, const std::string& code) {
  auto& m = *impl_;
  // Reason codes are a small fixed set; tables only when allowed.
  prometheus::Labels labels = {{"reason", code.empty() ? "unknown" : code}};
  if (m.options.per_table) labels["table"] = table;
  m.batches_quarantined.Add(labels).Increment();
}

void Metrics::OnBatchDuplicate(const std::string& table) {
  impl_->PerTable(impl_->batches_duplicate, table).Increment();
}

void Metrics::OnPendingBatches(int64_t count) {
  impl_->pending.Add({}).Set(static_cast<double>(count));
}

void Metrics::OnPlanned(double seconds) {
  impl_->plan_duration.Add({}, kDurationBuckets).Observe(seconds);
}

void Metrics::OnTableAction(const exec::TableActionReport& report) {
  auto& m = *impl_;
  m.action_duration.Add({{"action", report.action}}, kDurationBuckets).Observe(report.seconds);
  m.table_actions.Add({{"action", report.action}, {"result", report.ok ? "ok" : "failed"}})
      .Increment();
  if (!report.ok) return;
  m.PerTable(m.batches_staged, report.table).Increment(static_cast<double>(report.batches));
  m.PerTable(m.rows_staged, report.table).Increment(static_cast<double>(report.rows));
  auto& latency = m.landing_to_staged.Add({}, kDurationBuckets);
  for (double s : report.landed_to_staged_seconds) latency.Observe(s);
}

void Metrics::OnCheck(const std::string& result) { impl_->checks.Add({{"result", result}}).Increment(); }

void Metrics::OnModelFinished(const exec::ModelActionReport& report) {
  auto& m = *impl_;
  m.model_runs
      .Add({{"strategy", report.strategy},
            {"action", report.action},
            {"result", report.ok ? "ok" : "failed"}})
      .Increment();
  m.model_duration.Add({{"strategy", report.strategy}, {"action", report.action}}, kDurationBuckets)
      .Observe(report.seconds);
  if (report.ok) {
    m.model_rows.Add({{"strategy", report.strategy}})
        .Increment(static_cast<double>(report.rows_written));
  }
  // A time-interval model's series exist from its first action, so a
  // dashboard sees 0 failed rather than "no data".
  if (report.strategy == "time_interval" || !report.partition_seconds.empty() ||
      report.partitions_failed > 0) {
    m.model_partitions.Add({{"model", report.model}, {"result", "computed"}})
        .Increment(static_cast<double>(report.partition_seconds.size()));
    m.model_partitions.Add({{"model", report.model}, {"result", "failed"}})
        .Increment(static_cast<double>(report.partitions_failed));
    auto& duration = m.partition_duration.Add({{"model", report.model}}, kDurationBuckets);
    for (double seconds : report.partition_seconds) duration.Observe(seconds);
  }
  // A model fails until one of its actions succeeds.
  std::lock_guard lock(m.failing_mu);
  if (report.ok) {
    m.failing.erase(report.model);
  } else {
    m.failing.insert(report.model);
  }
  m.models_failing.Add({}).Set(static_cast<double>(m.failing.size()));
}

void Metrics::OnRunFinished(const std::string& outcome, double seconds) {
  auto& m = *impl_;
  m.runs.Add({{"outcome", outcome}}).Increment();
  if (outcome != "noop") m.run_duration.Add({}, kDurationBuckets).Observe(seconds);
}

void Metrics::OnStateError() { impl_->state_errors.Add({}).Increment(); }
void Metrics::OnWarehouseError() { impl_->warehouse_errors.Add({}).Increment(); }
void Metrics::OnWatcherRescan() { impl_->watcher_rescans.Add({}).Increment(); }
void Metrics::OnWatcherOverflow() { impl_->watcher_overflows.Add({}).Increment(); }

void Metrics::OnQuery(const std::string& outcome, double seconds) {
  auto& m = *impl_;
  m.queries.Add({{"outcome", outcome}}).Increment();
  if (outcome != "refused" && outcome != "busy") {
    m.query_duration.Add({}, kDurationBuckets).Observe(seconds);
  }
}

void Metrics::OnHttpRequest(const std::string& route, int status, double seconds) {
  auto& m = *impl_;
  m.http_requests.Add({{"route", route}, {"status", std::to_string(status)}}).Increment();
  m.http_duration.Add({{"route", route}}, kHttpBuckets).Observe(seconds);
}

std::string Metrics::Serialize() const {
  return prometheus::TextSerializer().Serialize(impl_->registry->Collect());
}

}  // namespace landfall::api
