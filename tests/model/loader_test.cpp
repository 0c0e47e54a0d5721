#include "lib/model/loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/testing.h"

namespace landfall::model {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A models folder in a temp dir, written file by file.
class LoaderTest : public ::testing::Test {
 protected:
  void Write(const std::string& rel, const std::string& text) {
    const fs::path file = dir() / rel;
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text;
  }
  fs::path dir() const { return tmp_ / "models"; }

  Result<std::vector<Model>> Load() {
    config::Config config;
    config.models.dir = dir();
    return LoadModels(config);
  }
  std::vector<Model> LoadOk() {
    auto models = Load();
    EXPECT_TRUE(models) << models.error().message;
    return models ? *models : std::vector<Model>{};
  }
  std::string ErrorOf() {
    auto models = Load();
    if (models) {
      ADD_FAILURE() << "expected an error";
      return "";
    }
    EXPECT_EQ(models.error().code, "model_invalid");
    return models.error().message;
  }
  std::string Path(const std::string& rel) const { return (dir() / rel).string(); }

  testing::TempDir tmp_;
};

TEST_F(LoaderTest, WithoutAModelsDirThereAreNoModels) {
  auto models = LoadModels(config::Config{});
  ASSERT_TRUE(models);
  EXPECT_TRUE(models->empty());
}

TEST_F(LoaderTest, AMissingModelsDirIsAnError) {
  EXPECT_THAT(ErrorOf(), HasSubstr("models.dir is not a directory"));
}

TEST_F(LoaderTest, ModelsAreSortedByNameAcrossSubFoldersWithTheirFiles) {
  Write("b.sql", "SELECT 2");
  Write("sub/a.sql", "SELECT 1");
  Write("sub/a.yaml", "strategy: view\n");
  const auto models = LoadOk();
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[0].name, "a");
  EXPECT_EQ(models[0].sql_file, dir() / "sub/a.sql");
  EXPECT_EQ(models[0].yaml_file, dir() / "sub/a.yaml");
  EXPECT_EQ(models[0].sql, "SELECT 1");
  EXPECT_EQ(models[0].strategy, Strategy::kView);
  EXPECT_EQ(models[1].name, "b");
  EXPECT_TRUE(models[1].yaml_file.empty());
  EXPECT_EQ(models[1].strategy, Strategy::kFullRefresh);
}

TEST_F(LoaderTest, HiddenFilesAndFoldersAreNotModels) {
  Write("a.sql", "SELECT 1");
  Write(".a.sql.swp", "x");
  Write(".git/b.sql", "SELECT 2");
  Write("notes.md", "# notes");
  const auto models = LoadOk();
  ASSERT_EQ(models.size(), 1u);
  EXPECT_EQ(models[0].name, "a");
}

TEST_F(LoaderTest, DefaultsApplyBelowTheirFolderNearestWinsKeyByKey) {
  Write("_defaults.yaml",
        "strategy: incremental\n"
        "incremental: {by: watermark, timestamp_column: ts, lookback: 1 hour}\n");
  Write("events/_defaults.yaml", "incremental: {timestamp_column: event_ts}\n");
  Write("events/clicks.sql", "SELECT 1");
  Write("events/clicks.yaml", "incremental: {lookback: 2 hours}\n");
  Write("events/views.sql", "SELECT 1");
  Write("orders.sql", "SELECT 1");
  const auto models = LoadOk();
  ASSERT_EQ(models.size(), 3u);
  const Model& clicks = models[0];
  EXPECT_EQ(clicks.strategy, Strategy::kIncremental);
  EXPECT_EQ(clicks.incremental.by, IncrementalConfig::By::kWatermark);
  EXPECT_EQ(clicks.incremental.timestamp_column, "event_ts");  // events/_defaults.yaml
  EXPECT_EQ(clicks.incremental.lookback, "2 hours");           // its own file
  const Model& orders = models[1];
  EXPECT_EQ(orders.incremental.timestamp_column, "ts");  // root defaults only
  EXPECT_EQ(orders.incremental.lookback, "1 hour");
  const Model& views = models[2];
  EXPECT_EQ(views.incremental.timestamp_column, "event_ts");
  EXPECT_EQ(views.incremental.lookback, "1 hour");
}

TEST_F(LoaderTest, ASectionForAnotherStrategyIsFineInDefaultsButNotInTheModelsFile) {
  Write("_defaults.yaml", "merge: {unique_key: [id]}\n");
  Write("a.sql", "SELECT 1");
  ASSERT_EQ(LoadOk().size(), 1u);
  Write("a.yaml", "strategy: view\nmerge:\n  unique_key: [id]\n");
  EXPECT_THAT(ErrorOf(),
              StartsWith(Path("a.yaml") + ":3: merge.unique_key: applies only to strategy merge"));
}

TEST_F(LoaderTest, EveryKeyIsRead) {
  Write("m.sql", "SELECT 1");
  Write("m.yaml",
        "strategy: merge\n"
        "merge:\n"
        "  unique_key: [id, region]\n"
        "  update_columns: [amount]\n"
        "  dedupe: latest\n"
        "  order_by: updated_at\n"
        "depends_on: [staging.orders, analytics.other]\n");
  Write("d.sql", "SELECT 1");
  Write("d.yaml",
        "strategy: dynamic_table\ndynamic_table: {target_lag: 1 minute, warehouse: WH}\n");
  Write("i.sql", "SELECT 1");
  Write("i.yaml", "strategy: incremental\nincremental: {by: batch, driver: staging.orders}\n");
  const auto models = LoadOk();
  ASSERT_EQ(models.size(), 3u);
  EXPECT_EQ(models[0].dynamic_table, (DynamicTableConfig{"1 minute", "WH"}));
  EXPECT_EQ(models[1].incremental.by, IncrementalConfig::By::kBatch);
  EXPECT_EQ(models[1].incremental.driver, "staging.orders");
  EXPECT_EQ(models[2].merge, (MergeConfig{{"id", "region"}, {"amount"}, "latest", "updated_at"}));
  EXPECT_THAT(models[2].depends_on,
              ElementsAre(TableRef{"staging", "orders"}, TableRef{"analytics", "other"}));
}

TEST_F(LoaderTest, HashesFollowTheSqlAndTheEffectiveConfigOnly) {
  Write("a.sql", "SELECT 1");
  const Model before = LoadOk().at(0);
  EXPECT_EQ(before.sql_hash.size(), 64u);
  // A default no strategy of this model reads changes nothing.
  Write("_defaults.yaml", "merge: {unique_key: [id]}\n");
  const Model unread = LoadOk().at(0);
  EXPECT_EQ(unread.config_hash, before.config_hash);
  EXPECT_EQ(unread.sql_hash, before.sql_hash);
  Write("a.yaml", "strategy: view\n");
  const Model view = LoadOk().at(0);
  EXPECT_NE(view.config_hash, before.config_hash);
  EXPECT_EQ(view.sql_hash, before.sql_hash);
  Write("a.sql", "SELECT 2");
  EXPECT_NE(LoadOk().at(0).sql_hash, before.sql_hash);
}

TEST_F(LoaderTest, EveryCheckIsReadWithItsSeverity) {
  Write("m.sql", "SELECT 1");
  Write("m.yaml",
        "checks:\n"
        "  - row_count: {min: 1, max: 10}\n"
        "  - not_null: [id, email]\n"
        "  - unique: id\n"
        "    severity: warn\n"
        "  - accepted_values: {status: [new, paid], region: [eu]}\n"
        "  - freshness: {column: ts, max_age: 2 hours}\n"
        "  - expression: amount >= 0\n"
        "    severity: error\n"
        "anomaly_runs: 5\n"
        "anomaly_sigma: 2.5\n");
  const Model m = LoadOk().at(0);
  ASSERT_EQ(m.checks.size(), 7u);
  EXPECT_EQ(m.checks[0], (Check{.kind = CheckKind::kRowCount, .min = 1, .max = 10}));
  EXPECT_EQ(m.checks[1], (Check{.kind = CheckKind::kNotNull, .columns = {"id", "email"}}));
  EXPECT_EQ(m.checks[2],
            (Check{.kind = CheckKind::kUnique, .severity = CheckSeverity::kWarn, .columns = {"id"}}));
  EXPECT_EQ(m.checks[3],
            (Check{.kind = CheckKind::kAcceptedValues, .columns = {"status"}, .values = {"new", "paid"}}));
  EXPECT_EQ(m.checks[4], (Check{.kind = CheckKind::kAcceptedValues, .columns = {"region"}, .values = {"eu"}}));
  EXPECT_EQ(m.checks[5], (Check{.kind = CheckKind::kFreshness,
                                .columns = {"ts"},
                                .max_age = "2 hours",
                                .max_age_seconds = 7200}));
  EXPECT_EQ(m.checks[6], (Check{.kind = CheckKind::kExpression, .expression = "amount >= 0"}));
  EXPECT_EQ(m.anomaly, (AnomalyConfig{.runs = 5, .sigma = 2.5}));
}

TEST_F(LoaderTest, WithoutChecksTheAnomalyTestHasItsDefaults) {
  Write("a.sql", "SELECT 1");
  const Model m = LoadOk().at(0);
  EXPECT_TRUE(m.checks.empty());
  EXPECT_EQ(m.anomaly, (AnomalyConfig{.runs = 10, .sigma = 3.0}));
}

TEST_F(LoaderTest, EditingChecksOrTheAnomalyKeysDoesNotChangeTheConfigHash) {
  Write("a.sql", "SELECT 1");
  const std::string before = LoadOk().at(0).config_hash;
  Write("a.yaml", "checks:\n  - not_null: [id]\nanomaly_sigma: 4\n");
  EXPECT_EQ(LoadOk().at(0).config_hash, before);
}

TEST_F(LoaderTest, AnomalyKeysMayComeFromDefaultsButChecksMayNot) {
  Write("a.sql", "SELECT 1");
  Write("_defaults.yaml", "anomaly_runs: 20\n");
  EXPECT_EQ(LoadOk().at(0).anomaly.runs, 20);
  Write("_defaults.yaml", "checks:\n  - row_count: {min: 1}\n");
  EXPECT_THAT(ErrorOf(), StartsWith(Path("_defaults.yaml") + ":1: checks: unknown key"));
}

TEST_F(LoaderTest, AnUnknownCheckNamesFileLineAndKey) {
  Write("a.sql", "SELECT 1");
  Write("a.yaml", "checks:\n  - not_null: [id]\n  - not_empty: [id]\n");
  EXPECT_THAT(ErrorOf(), StartsWith(Path("a.yaml") + ":3: checks[1].not_empty: unknown check"));
}

TEST_F(LoaderTest, ABadSeverityNamesFileLineAndKey) {
  Write("a.sql", "SELECT 1");
  Write("a.yaml", "checks:\n  - unique: [id]\n    severity: fatal\n");
  EXPECT_THAT(ErrorOf(), StartsWith(Path("a.yaml") + ":3: checks[0].severity: must be error or warn"));
}

TEST_F(LoaderTest, TwoChecksInOneItemAreAnError) {
  Write("a.sql", "SELECT 1");
  Write("a.yaml", "checks:\n  - unique: [id]\n    not_null: [id]\n");
  EXPECT_THAT(ErrorOf(), StartsWith(Path("a.yaml") + ":3: checks[0].not_null: one check per list item"));
}

TEST_F(LoaderTest, ABadCheckValueNamesFileLineAndKey) {
  Write("a.sql", "SELECT 1");
  Write("a.yaml", "checks:\n  - row_count: {min: -1}\n");
  EXPECT_THAT(ErrorOf(), StartsWith(Path("a.yaml") + ":2: checks[0].row_count.min: must be a whole number"));
  Write("a.yaml", "checks:\n  - row_count: {min: 5, max: 2}\n");
  EXPECT_THAT(ErrorOf(), StartsWith(Path("a.yaml") + ":2: checks[0].row_count: min is above max"));
  Write("a.yaml", "checks:\n  - not_null: []\n");
  EXPECT_THAT(ErrorOf(), StartsWith(Path("a.yaml") + ":2: checks[0].not_null: must be a non-empty list"));
  Write("a.yaml", "checks:\n  - freshness: {column: ts}\n");
  EXPECT_THAT(ErrorOf(), StartsWith(Path("a.yaml") + ":2: checks[0].freshness.max_age: is required"));
  Write("a.yaml", "checks:\n  - freshness:\n      column: ts\n      max_age: soon\n");
  EXPECT_THAT(ErrorOf(), StartsWith(Path("a.yaml") + ":4: checks[0].freshness.max_age: 'soon' is not an age"));
  Write("a.yaml", "checks: {not_null: [id]}\n");
  EXPECT_THAT(ErrorOf(), StartsWith(Path("a.yaml") + ":1: checks: must be a list of checks"));
  Write("a.yaml", "anomaly_sigma: 0\n");
  EXPECT_THAT(ErrorOf(), StartsWith(Path("a.yaml") + ":1: anomaly_sigma: must be a number > 0"));
}

// ---- errors name the file, the line and the key ----

TEST_F(LoaderTest, AnUnknownKeyNamesFileLineAndKey) {
  Write("a.sql", "SELECT 1");
  Write("a.yaml", "strategy: view\nmaterialized: true\n");
  const std::string message = ErrorOf();
  EXPECT_THAT(message, StartsWith(Path("a.yaml") + ":2: materialized: unknown key"));
  EXPECT_THAT(message, HasSubstr("strategy"));
}

TEST_F(LoaderTest, AnUnknownKeyInASectionOfDefaultsNamesFileLineAndKey) {
  Write("sub/a.sql", "SELECT 1");
  Write("sub/_defaults.yaml", "incremental:\n  by: batch\n  driverr: staging.x\n");
  EXPECT_THAT(ErrorOf(),
              StartsWith(Path("sub/_defaults.yaml") + ":3: incremental.driverr: unknown key"));
}

TEST_F(LoaderTest, DependsOnInDefaultsIsAnUnknownKey) {
  Write("a.sql", "SELECT 1");
  Write("_defaults.yaml", "depends_on: [staging.a]\n");
  EXPECT_THAT(ErrorOf(), StartsWith(Path("_defaults.yaml") + ":1: depends_on: unknown key"));
}

TEST_F(LoaderTest, ABadStrategyNamesFileLineAndValue) {
  Write("a.sql", "SELECT 1");
  Write("a.yaml", "\nstrategy: snapshot\n");
  const std::string message = ErrorOf();
  EXPECT_THAT(message, StartsWith(Path("a.yaml") + ":2: strategy: must be one of"));
  EXPECT_THAT(message, HasSubstr("'snapshot'"));
}

TEST_F(LoaderTest, ABadIncrementalByNamesFileLineAndKey) {
  Write("a.sql", "SELECT 1");
  Write("a.yaml", "strategy: incremental\nincremental:\n  by: time\n");
  EXPECT_THAT(ErrorOf(),
              StartsWith(Path("a.yaml") + ":3: incremental.by: must be batch or watermark"));
}

TEST_F(LoaderTest, WatermarkWithoutTimestampColumnNamesWhereByWasSet) {
  Write("a.sql", "SELECT 1");
  Write("a.yaml", "strategy: incremental\nincremental:\n  by: watermark\n");
  EXPECT_THAT(ErrorOf(),
              StartsWith(Path("a.yaml") + ":3: incremental.timestamp_column: is required when "
                                          "incremental.by is watermark"));
}

TEST_F(LoaderTest, LookbackWithBatchIsAnError) {
  Write("a.sql", "SELECT 1");
  Write("a.yaml", "strategy: incremental\nincremental:\n  lookback: 1 hour\n");
  EXPECT_THAT(ErrorOf(),
              StartsWith(Path("a.yaml") +
                         ":3: incremental.lookback: applies only to incremental.by: watermark"));
}

TEST_F(LoaderTest, MergeWithoutUniqueKeyNamesWhereTheStrategyWasSet) {
  Write("a.sql", "SELECT 1");
  Write("_defaults.yaml", "# comment\nstrategy: merge\n");
  EXPECT_THAT(ErrorOf(), StartsWith(Path("_defaults.yaml") +
                                    ":2: merge.unique_key: is required for strategy merge"));
}

TEST_F(LoaderTest, DedupeLatestNeedsOrderBy) {
  Write("a.sql", "SELECT 1");
  Write("a.yaml", "strategy: merge\nmerge: {unique_key: id, dedupe: latest}\n");
  EXPECT_THAT(ErrorOf(),
              StartsWith(Path("a.yaml") + ":2: merge.dedupe: latest needs merge.order_by"));
}

TEST_F(LoaderTest, AStringWhereAListOfNamesIsExpectedIsAnError) {
  Write("a.sql", "SELECT 1");
  Write("a.yaml", "strategy: merge\nmerge:\n  unique_key: {id: 1}\n");
  EXPECT_THAT(ErrorOf(),
              StartsWith(Path("a.yaml") + ":3: merge.unique_key: must be a list of names"));
}

TEST_F(LoaderTest, DependsOnWithoutASchemaIsAnError) {
  Write("a.sql", "SELECT 1");
  Write("a.yaml", "depends_on: [orders]\n");
  EXPECT_THAT(ErrorOf(),
              StartsWith(Path("a.yaml") + ":1: depends_on: 'orders' must be schema.table"));
}

TEST_F(LoaderTest, TheSameNameInTwoFoldersNamesBothFiles) {
  Write("x/a.sql", "SELECT 1");
  Write("y/a.sql", "SELECT 2");
  const std::string message = ErrorOf();
  EXPECT_THAT(message,
              StartsWith(Path("y/a.sql") + ": model 'a' is also defined by " + Path("x/a.sql")));
}

TEST_F(LoaderTest, AYamlWithoutItsSqlIsAnError) {
  Write("a.sql", "SELECT 1");
  Write("sub/b.yaml", "strategy: view\n");
  EXPECT_THAT(ErrorOf(), StartsWith(Path("sub/b.yaml") + ": has no b.sql beside it"));
}

TEST_F(LoaderTest, ANameThatIsNotAnIdentifierIsAnError) {
  Write("daily-revenue.sql", "SELECT 1");
  EXPECT_THAT(ErrorOf(),
              StartsWith(Path("daily-revenue.sql") + ": 'daily-revenue' is not a model name"));
}

TEST_F(LoaderTest, AnEmptySqlFileIsAnError) {
  Write("a.sql", "\n  \n");
  EXPECT_THAT(ErrorOf(), StartsWith(Path("a.sql") + ": is empty"));
}

TEST_F(LoaderTest, AYamlSyntaxErrorNamesFileAndLine) {
  Write("a.sql", "SELECT 1");
  Write("a.yaml", "strategy: view\nmerge: [unclosed\n");
  EXPECT_THAT(ErrorOf(), StartsWith(Path("a.yaml") + ":"));
}

TEST_F(LoaderTest, ATopLevelThatIsNotAMappingIsAnError) {
  Write("a.sql", "SELECT 1");
  Write("a.yaml", "- strategy: view\n");
  EXPECT_THAT(ErrorOf(), HasSubstr(Path("a.yaml") + ":1: must be a mapping"));
}

TEST_F(LoaderTest, AnEmptyYamlChangesNothing) {
  Write("a.sql", "SELECT 1");
  Write("a.yaml", "# nothing yet\n");
  ASSERT_EQ(LoadOk().at(0).strategy, Strategy::kFullRefresh);
}

TEST_F(LoaderTest, ATimeIntervalModelReadsItsKeysWithDefaults) {
  Write("daily.sql", "SELECT CAST(ts AS DATE) AS d FROM staging.e WHERE ts >= @start_date AND ts < @end_date");
  Write("daily.yaml",
        "strategy: time_interval\ntime_interval:\n  time_column: d\n  granularity: month\n"
        "  first_partition: \"2026-01\"\n  source_columns: {staging.e: ts}\n");
  const Model m = LoadOk().at(0);
  EXPECT_EQ(m.strategy, Strategy::kTimeInterval);
  EXPECT_EQ(m.time_interval.time_column, "d");
  EXPECT_EQ(m.time_interval.granularity, Granularity::kMonth);
  EXPECT_EQ(m.time_interval.first_partition, "2026-01");
  EXPECT_EQ(m.time_interval.lookback, 0);
  EXPECT_EQ(m.time_interval.batch_size, 1);
  EXPECT_EQ(m.time_interval.source_columns.at("staging.e"), "ts");
}

TEST_F(LoaderTest, ATimeIntervalModelsLookbackAndBatchSizeDoNotChangeItsConfigHash) {
  Write("daily.sql", "SELECT @start_date AS d");
  Write("daily.yaml", "strategy: time_interval\ntime_interval: {time_column: d, granularity: day, first_partition: 2026-01-01}\n");
  const std::string before = LoadOk().at(0).config_hash;
  Write("daily.yaml", "strategy: time_interval\ntime_interval: {time_column: d, granularity: day, first_partition: 2026-01-01, lookback: 3, batch_size: 7}\n");
  EXPECT_EQ(LoadOk().at(0).config_hash, before);
  Write("daily.yaml", "strategy: time_interval\ntime_interval: {time_column: d, granularity: day, first_partition: 2026-01-02}\n");
  EXPECT_NE(LoadOk().at(0).config_hash, before);
}

TEST_F(LoaderTest, ATimeIntervalModelsBadKeysNameFileLineAndKey) {
  Write("daily.sql", "SELECT @start_date AS d, @end_date AS e");
  Write("daily.yaml", "strategy: time_interval\ntime_interval:\n  time_column: d\n  granularity: week\n  first_partition: 2026-01-01\n");
  EXPECT_THAT(ErrorOf(), HasSubstr(Path("daily.yaml") + ":4: time_interval.granularity: must be hour, day, month or year"));
  Write("daily.yaml", "strategy: time_interval\ntime_interval:\n  time_column: d\n  granularity: day\n  first_partition: 2026-1-1\n");
  EXPECT_THAT(ErrorOf(), HasSubstr(Path("daily.yaml") + ":5: time_interval.first_partition: '2026-1-1' is not a day partition key"));
  Write("daily.yaml", "strategy: time_interval\ntime_interval:\n  granularity: day\n  first_partition: 2026-01-01\n");
  EXPECT_THAT(ErrorOf(), HasSubstr("time_interval.time_column: is required for strategy time_interval"));
  Write("daily.yaml", "strategy: time_interval\ntime_interval:\n  time_column: d\n  granularity: day\n  first_partition: 2026-01-01\n  lookback: -1\n");
  EXPECT_THAT(ErrorOf(), HasSubstr(":6: time_interval.lookback: must be a whole number >= 0"));
  Write("daily.yaml", "strategy: time_interval\ntime_interval:\n  time_column: d\n  granularity: day\n  first_partition: 2026-01-01\n  batch_size: 0\n");
  EXPECT_THAT(ErrorOf(), HasSubstr(":6: time_interval.batch_size: must be a whole number >= 1"));
}

TEST_F(LoaderTest, ATimeIntervalModelsSqlMustUseItsWindow) {
  Write("daily.sql", "SELECT DATE '2026-01-01' AS d");
  Write("daily.yaml", "strategy: time_interval\ntime_interval: {time_column: d, granularity: day, first_partition: 2026-01-01}\n");
  EXPECT_THAT(ErrorOf(), HasSubstr(Path("daily.sql") + ": a time_interval model's SQL must use @start_date and @end_date"));
}

TEST(StrategyTest, NamesRoundTripAndUnknownNamesAreNone) {
  for (Strategy s : {Strategy::kFullRefresh, Strategy::kView, Strategy::kIncremental,
                     Strategy::kMerge, Strategy::kMaterializedView, Strategy::kDynamicTable,
                     Strategy::kTimeInterval}) {
    EXPECT_EQ(StrategyFromString(ToString(s)), s);
  }
  EXPECT_EQ(StrategyFromString("table"), std::nullopt);
  EXPECT_STREQ(ToString(Strategy::kMaterializedView), "materialized_view");
}

}  // namespace
}  // namespace landfall::model
