// The Prometheus metrics as an EngineObserver: the engine's reports move the
// counters, per-table labels appear only when allowed, and a failed action
// counts as failed and stages no rows.
#include "api/metrics.h"

#include <gmock/gmock.h>

namespace landfall::api {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsTest, EngineReportsMoveTheCounters) {
  Metrics m({"1.2.3", false});
  m.OnBatchDiscovered("orders");
  m.OnBatchDiscovered("orders");
  m.OnBatchQuarantined("orders", "not_parquet");
  m.OnBatchDuplicate("orders");
  m.OnPendingBatches(5);
  m.OnPlanned(0.02);
  exec::TableActionReport report;
  report.table = "orders";
  report.action = "append";
  report.rows = 150;
  report.batches = 2;
  report.seconds = 0.3;
  report.landed_to_staged_seconds = {1.5, 2.5};
  m.OnTableAction(report);
  m.OnRunFinished("succeeded", 0.4);
  m.OnRunFinished("noop", 0.01);
  m.OnWatcherRescan();
  m.OnWatcherOverflow();
  m.OnStateError();
  m.OnWarehouseError();

  const std::string text = m.Serialize();
  EXPECT_THAT(text, HasSubstr("landfall_batches_discovered_total 2"));
  EXPECT_THAT(text, HasSubstr(R"(landfall_batches_quarantined_total{reason="not_parquet"} 1)"));
  EXPECT_THAT(text, HasSubstr("landfall_batches_duplicate_total 1"));
  EXPECT_THAT(text, HasSubstr("landfall_batches_staged_total 2"));
  EXPECT_THAT(text, HasSubstr("landfall_rows_staged_total 150"));
  EXPECT_THAT(text, HasSubstr("landfall_pending_batches 5"));
  EXPECT_THAT(text, HasSubstr(R"(landfall_runs_total{outcome="succeeded"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(landfall_runs_total{outcome="noop"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(landfall_runs_total{outcome="error"} 0)"));
  EXPECT_THAT(text, HasSubstr("landfall_run_duration_seconds_count 1"))
      << "noop runs are not timed";
  EXPECT_THAT(text,
              HasSubstr(R"(landfall_table_action_duration_seconds_count{action="append"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(landfall_table_actions_total{action="append",result="ok"} 1)"));
  EXPECT_THAT(text, HasSubstr("landfall_landing_to_staged_seconds_count 2"));
  EXPECT_THAT(text, HasSubstr("landfall_landing_to_staged_seconds_sum 4"));
  EXPECT_THAT(text, HasSubstr("landfall_plan_duration_seconds_count 1"));
  EXPECT_THAT(text, HasSubstr("landfall_watcher_rescans_total 1"));
  EXPECT_THAT(text, HasSubstr("landfall_watcher_overflows_total 1"));
  EXPECT_THAT(text, HasSubstr("landfall_state_errors_total 1"));
  EXPECT_THAT(text, HasSubstr("landfall_warehouse_errors_total 1"));
  EXPECT_THAT(text, HasSubstr(R"(landfall_build_info{version="1.2.3"} 1)"));
  EXPECT_THAT(text, Not(HasSubstr("table=\""))) << "no per-table labels unless allowed";
}

TEST(MetricsTest, ModelActionsAreCountedByStrategyAndActionAndFailuresUntilASuccess) {
  Metrics m({"1.2.3", false});
  EXPECT_THAT(m.Serialize(), HasSubstr("landfall_models_failing 0"));
  m.OnModelFinished({.model = "daily",
                     .strategy = "full_refresh",
                     .action = "rebuild",
                     .ok = true,
                     .rows_written = 40,
                     .seconds = 0.2});
  m.OnModelFinished({.model = "clean",
                     .strategy = "incremental",
                     .action = "run",
                     .ok = true,
                     .rows_written = 7,
                     .seconds = 0.05});
  m.OnModelFinished({.model = "merged",
                     .strategy = "merge",
                     .action = "fail",
                     .ok = false,
                     .rows_written = 0,
                     .seconds = 0.01});
  std::string text = m.Serialize();
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(landfall_model_runs_total{action="rebuild",result="ok",strategy="full_refresh"} 1)"));
  EXPECT_THAT(
      text,
      HasSubstr(R"(landfall_model_runs_total{action="fail",result="failed",strategy="merge"} 1)"));
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(landfall_model_run_duration_seconds_count{action="run",strategy="incremental"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(landfall_model_rows_written_total{strategy="full_refresh"} 40)"));
  EXPECT_THAT(text, HasSubstr(R"(landfall_model_rows_written_total{strategy="incremental"} 7)"));
  EXPECT_THAT(text, HasSubstr("landfall_models_failing 1"));
  EXPECT_THAT(text, Not(HasSubstr(R"(model=")"))) << "no label per model but for partitions";

  m.OnModelFinished({.model = "merged",
                     .strategy = "merge",
                     .action = "rebuild",
                     .ok = true,
                     .rows_written = 3,
                     .seconds = 0.1});
  EXPECT_THAT(m.Serialize(), HasSubstr("landfall_models_failing 0"));
}

TEST(MetricsTest, PartitionsAreCountedAndTimedByModel) {
  Metrics m({"1.2.3", false});
  // Three partitions computed (two in one batch of 0.25 s), one failed.
  m.OnModelFinished({.model = "events_daily",
                     .strategy = "time_interval",
                     .action = "run",
                     .ok = false,
                     .seconds = 1.0,
                     .partition_seconds = {0.25, 0.25, 2.0},
                     .partitions_failed = 1});
  // Nothing to compute: its series exist, at 0.
  m.OnModelFinished({.model = "events_hourly", .strategy = "time_interval", .action = "run"});
  m.OnModelFinished({.model = "clean", .strategy = "incremental", .action = "run"});
  const std::string text = m.Serialize();
  EXPECT_THAT(text,
              HasSubstr(R"(landfall_model_partitions_total{model="events_daily",result="computed"} 3)"));
  EXPECT_THAT(text,
              HasSubstr(R"(landfall_model_partitions_total{model="events_daily",result="failed"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(landfall_model_partition_duration_seconds_count{model="events_daily"} 3)"));
  EXPECT_THAT(text, HasSubstr(R"(landfall_model_partition_duration_seconds_sum{model="events_daily"} 2.5)"));
  EXPECT_THAT(text, HasSubstr(
                        R"(landfall_model_partition_duration_seconds_bucket{model="events_daily",le="0.5"} 2)"));
  EXPECT_THAT(text,
              HasSubstr(R"(landfall_model_partitions_total{model="events_hourly",result="failed"} 0)"));
  EXPECT_THAT(text, HasSubstr(R"(landfall_model_partition_duration_seconds_count{model="events_hourly"} 0)"));
  EXPECT_THAT(text, Not(HasSubstr(R"(model="clean")"))) << "other strategies have no partitions";
}

TEST(MetricsTest, CheckResultsAreCountedByResult) {
  Metrics m({"1.2.3", false});
  for (const char* result : {"pass", "pass", "fail", "warn", "anomaly"}) m.OnCheck(result);
  const std::string text = m.Serialize();
  EXPECT_THAT(text, HasSubstr(R"(landfall_checks_total{result="pass"} 2)"));
  EXPECT_THAT(text, HasSubstr(R"(landfall_checks_total{result="fail"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(landfall_checks_total{result="warn"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(landfall_checks_total{result="anomaly"} 1)"));
}

TEST(MetricsTest, PerTableLabelsOnlyWhenAllowed) {
  Metrics m({"dev", true});
  m.OnBatchDiscovered("orders");
  m.OnBatchQuarantined("customers", "truncated");
  exec::TableActionReport report;
  report.table = "orders";
  report.action = "create";
  report.rows = 10;
  report.batches = 1;
  m.OnTableAction(report);
  const std::string text = m.Serialize();
  EXPECT_THAT(text, HasSubstr(R"(landfall_batches_discovered_total{table="orders"} 1)"));
  EXPECT_THAT(
      text,
      HasSubstr(R"(landfall_batches_quarantined_total{reason="truncated",table="customers"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(landfall_rows_staged_total{table="orders"} 10)"));
}

TEST(MetricsTest, AFailedActionStagesNothing) {
  Metrics m({"dev", false});
  exec::TableActionReport report;
  report.table = "orders";
  report.action = "rebuild";
  report.ok = false;
  report.rows = 99;
  m.OnTableAction(report);
  const std::string text = m.Serialize();
  EXPECT_THAT(text, HasSubstr("landfall_rows_staged_total 0"));
  EXPECT_THAT(text,
              HasSubstr(R"(landfall_table_actions_total{action="rebuild",result="failed"} 1)"));
}

}  // namespace
}  // namespace landfall::api
