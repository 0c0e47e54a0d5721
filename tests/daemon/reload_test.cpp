// The SIGHUP report: every key of the config, changed alone, is named, as
// applied (live) or as needing a restart; live keys are the ones copied.
#include "daemon/reload.h"

#include <gtest/gtest.h>

#include <set>

namespace landfall::daemon {
namespace {

namespace fs = std::filesystem;

// Gives a field another value, whatever its type.
struct ChangeValue {
  void operator()(std::string* v) const { *v += "-changed"; }
  void operator()(int* v) const { *v += 1; }
  void operator()(bool* v) const { *v = !*v; }
  void operator()(fs::path* v) const { *v /= "changed"; }
  void operator()(std::optional<fs::path>* v) const {
    if (*v) {
      v->reset();
    } else {
      *v = "/srv/quarantine";
    }
  }
  void operator()(std::vector<std::string>* v) const { v->push_back("*.changed"); }
  void operator()(std::vector<config::TablePolicyOverride>* v) const {
    v->push_back({.match = "changed_*"});
  }
  void operator()(config::SchemaEvolution* v) const {
    *v = *v == config::SchemaEvolution::kFail ? config::SchemaEvolution::kEvolve
                                              : config::SchemaEvolution::kFail;
  }
  void operator()(config::OnBatchRemoved* v) const {
    *v = *v == config::OnBatchRemoved::kKeep ? config::OnBatchRemoved::kRebuild
                                             : config::OnBatchRemoved::kKeep;
  }
  void operator()(config::OnTableRemoved* v) const {
    *v = *v == config::OnTableRemoved::kKeep ? config::OnTableRemoved::kDrop
                                             : config::OnTableRemoved::kKeep;
  }
};

config::Config Base() {
  auto parsed = config::ParseConfig(R"(
environment: prod
landing:
  dir: /srv/landing
state:
  postgres_url: postgresql://localhost/landfall
warehouse:
  path: /srv/warehouse.duckdb
workers: 2
tables:
  - match: "events_*"
    schema_evolution: rebuild
)",
                                    "/etc/landfall/landfall.yaml");
  EXPECT_TRUE(parsed) << parsed.error().message;
  return *parsed;
}

std::vector<std::string> Names(bool live) {
  config::Config config = Base();
  std::vector<std::string> out;
  for (const auto& key : ConfigKeys(config)) {
    if (key.live == live) out.emplace_back(key.name);
  }
  return out;
}

TEST(ReloadDiffTest, TheSameConfigReadTwiceChangesNothing) {
  const auto diff = DiffConfigs(Base(), Base());
  EXPECT_TRUE(diff.applied.empty());
  EXPECT_TRUE(diff.need_restart.empty());
}

TEST(ReloadDiffTest, ChangingAnyKeyAloneReportsThatKeyAndNoOther) {
  config::Config probe = Base();
  const auto keys = ConfigKeys(probe);
  ASSERT_GE(keys.size(), 30u);
  for (size_t i = 0; i < keys.size(); ++i) {
    const config::Config running = Base();
    config::Config next = Base();
    std::visit(ChangeValue{}, ConfigKeys(next)[i].field);
    const auto diff = DiffConfigs(running, next);
    const std::vector<std::string> expected = {std::string(keys[i].name)};
    if (keys[i].live) {
      EXPECT_EQ(diff.applied, expected);
      EXPECT_TRUE(diff.need_restart.empty()) << keys[i].name;
    } else {
      EXPECT_EQ(diff.need_restart, expected);
      EXPECT_TRUE(diff.applied.empty()) << keys[i].name;
    }
  }
}

TEST(ReloadDiffTest, KeysAreNamedAsTheYamlSpellsThem) {
  config::Config config = Base();
  std::set<std::string> names;
  for (const auto& key : ConfigKeys(config)) names.insert(key.name);
  for (const char* name : {"environment", "landing.dir", "state.retention_days", "api.listen",
                           "api.tokens", "models.dir", "models.schema", "schema_evolution",
                           "on_table_removed", "tables"}) {
    EXPECT_TRUE(names.count(name)) << name;
  }
  for (const char* name :
       {"source", "api.listen_host", "api.listen_port", "policy.schema_evolution"}) {
    EXPECT_FALSE(names.count(name)) << name;
  }
}

TEST(ReloadDiffTest, KeyNamesAreUnique) {
  std::vector<std::string> all = Names(true);
  for (auto& name : Names(false)) all.push_back(name);
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), all.size());
}

TEST(ReloadDiffTest, LiveKeysAreLoggingDebounceScanIntervalAndShutdownTimeout) {
  const auto live = Names(true);
  EXPECT_EQ(std::set<std::string>(live.begin(), live.end()),
            (std::set<std::string>{"log.level", "log.format", "landing.debounce_ms",
                                   "landing.scan_interval_s", "shutdown_timeout_s"}));
}

TEST(ReloadDiffTest, ATableOverrideChangedInOneFieldIsReportedAsTables) {
  const config::Config running = Base();
  config::Config next = Base();
  next.tables[0].on_table_removed = config::OnTableRemoved::kDrop;
  EXPECT_EQ(DiffConfigs(running, next).need_restart, std::vector<std::string>{"tables"});
}

TEST(ReloadDiffTest, ApiListenIsOneKeyThoughItSetsHostAndPort) {
  const config::Config running = Base();
  config::Config next = Base();
  next.api.listen = "0.0.0.0:9000";
  next.api.listen_host = "0.0.0.0";
  next.api.listen_port = 9000;
  EXPECT_EQ(DiffConfigs(running, next).need_restart, std::vector<std::string>{"api.listen"});
}

TEST(ReloadDiffTest, LiveKeysAreReportedLogFirstAndTheOthersInDeclarationOrder) {
  const config::Config running = Base();
  config::Config next = Base();
  next.workers = 3;
  next.landing.scan_interval_s = 60;
  next.log.level = "debug";
  next.environment = "staging";
  const auto diff = DiffConfigs(running, next);
  EXPECT_EQ(diff.applied, (std::vector<std::string>{"log.level", "landing.scan_interval_s"}));
  EXPECT_EQ(diff.need_restart, (std::vector<std::string>{"environment", "workers"}));
}

TEST(ApplyLiveKeysTest, CopiesEveryLiveKeyAndNoOther) {
  config::Config running = Base();
  config::Config next = Base();
  for (const auto& key : ConfigKeys(next)) std::visit(ChangeValue{}, key.field);

  ApplyLiveKeys(running, next);

  const auto diff = DiffConfigs(running, next);
  EXPECT_TRUE(diff.applied.empty()) << diff.applied.front();
  EXPECT_EQ(diff.need_restart, Names(false));
  EXPECT_EQ(running.log.level, next.log.level);
  EXPECT_EQ(running.landing.debounce_ms, next.landing.debounce_ms);
  EXPECT_EQ(running.workers, Base().workers);
}

}  // namespace
}  // namespace landfall::daemon
