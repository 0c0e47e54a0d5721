// Parsing the YAML config: defaults, every key read, ${VAR} expansion, paths
// resolved against the config file's folder, the schema_evolution policies,
// and errors that name the file, line and key (unknown, duplicate, missing or
// ill-typed keys, out-of-range values, YAML syntax errors, a quarantine dir
// inside the landing dir).
#include "lib/config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "tests/support/testing.h"

namespace landfall::config {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

// An absolute source path, so relative paths resolve the same from any working
// directory. ParseConfig never opens it.
const fs::path kSource = "/etc/landfall/landfall.yaml";

// The smallest valid config: every required key and nothing else.
const char* kMinimal =
    "landing:\n"
    "  dir: /srv/landing\n"
    "state:\n"
    "  postgres_url: postgresql://localhost/landfall\n"
    "warehouse:\n"
    "  path: /srv/warehouse.duckdb\n";

// Parses `text` and returns the error message, failing the test if it parsed.
std::string ErrorOf(const std::string& text, const fs::path& source = kSource) {
  auto config = ParseConfig(text, source);
  if (config) {
    ADD_FAILURE() << "expected an error for:\n" << text;
    return "";
  }
  EXPECT_EQ(config.error().code, "config_invalid");
  return config.error().message;
}

// Sets an environment variable for the test's lifetime.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// ---- valid configs and defaults ----

TEST(PolicyTest, NamesRoundTripAndUnknownNamesAreNone) {
  for (auto p : {SchemaEvolution::kEvolve, SchemaEvolution::kRebuild, SchemaEvolution::kFreeze,
                 SchemaEvolution::kFail}) {
    EXPECT_EQ(SchemaEvolutionFromString(ToString(p)), p) << ToString(p);
  }
  EXPECT_STREQ(ToString(SchemaEvolution::kFreeze), "freeze");
  for (auto p : {OnBatchRemoved::kKeep, OnBatchRemoved::kRebuild}) {
    EXPECT_EQ(OnBatchRemovedFromString(ToString(p)), p) << ToString(p);
  }
  EXPECT_STREQ(ToString(OnBatchRemoved::kRebuild), "rebuild");
  for (auto p : {OnTableRemoved::kKeep, OnTableRemoved::kDrop}) {
    EXPECT_EQ(OnTableRemovedFromString(ToString(p)), p) << ToString(p);
  }
  EXPECT_STREQ(ToString(OnTableRemoved::kDrop), "drop");
  EXPECT_EQ(SchemaEvolutionFromString("Evolve"), std::nullopt);
  EXPECT_EQ(SchemaEvolutionFromString(""), std::nullopt);
  EXPECT_EQ(OnBatchRemovedFromString("drop"), std::nullopt);
  EXPECT_EQ(OnTableRemovedFromString("rebuild"), std::nullopt);
}

TEST(PolicyTest, PoliciesAreReadByNameAndTablesOverrideThem) {
  auto config = ParseConfig(std::string(kMinimal) +
                                "schema_evolution: freeze\n"
                                "on_batch_removed: rebuild\n"
                                "on_table_removed: drop\n"
                                "tables:\n"
                                "  - match: raw_*\n"
                                "    schema_evolution: fail\n"
                                "    on_table_removed: keep\n",
                            kSource);
  ASSERT_TRUE(config) << config.error().ToString();
  const TablePolicy orders = config->PolicyFor("orders");
  EXPECT_EQ(orders.schema_evolution, SchemaEvolution::kFreeze);
  EXPECT_EQ(orders.on_batch_removed, OnBatchRemoved::kRebuild);
  EXPECT_EQ(orders.on_table_removed, OnTableRemoved::kDrop);
  const TablePolicy raw = config->PolicyFor("raw_events");
  EXPECT_EQ(raw.schema_evolution, SchemaEvolution::kFail);
  EXPECT_EQ(raw.on_batch_removed, OnBatchRemoved::kRebuild);
  EXPECT_EQ(raw.on_table_removed, OnTableRemoved::kKeep);
  EXPECT_THAT(
      ErrorOf(std::string(kMinimal) + "schema_evolution: Evolve\n"),
      HasSubstr("schema_evolution: must be one of evolve, fail, freeze, rebuild (got 'Evolve')"));
  EXPECT_THAT(
      ErrorOf(std::string(kMinimal) + "tables:\n  - match: x\n    on_table_removed: orphan\n"),
      HasSubstr("must be one of drop, keep (got 'orphan')"));
}

TEST(ConfigTest, MinimalConfigParses) {
  auto config = ParseConfig(kMinimal, kSource);
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->source, kSource);
  EXPECT_EQ(config->landing.dir, fs::path("/srv/landing"));
  EXPECT_EQ(config->state.postgres_url, "postgresql://localhost/landfall");
  EXPECT_EQ(config->warehouse.path, fs::path("/srv/warehouse.duckdb"));
}

TEST(ConfigTest, MinimalConfigGetsDocumentedDefaults) {
  auto config = ParseConfig(kMinimal, kSource);
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->environment, "dev");
  EXPECT_EQ(config->landing.ignore,
            (std::vector<std::string>{".*", "_*", "*.tmp", "*.partial", "*.inprogress"}));
  EXPECT_FALSE(config->landing.quarantine_dir.has_value());
  EXPECT_EQ(config->landing.debounce_ms, 200);
  EXPECT_EQ(config->landing.scan_interval_s, 0);
  EXPECT_EQ(config->warehouse.type, "duckdb");
  EXPECT_EQ(config->warehouse.staging_schema, "staging");
  EXPECT_EQ(config->workers, 4);
  EXPECT_EQ(config->shutdown_timeout_s, 30);
  EXPECT_EQ(config->log.level, "info");
  EXPECT_EQ(config->log.format, "text");
}

TEST(ConfigTest, FullConfigReadsEveryKey) {
  const char* text =
      "environment: prod\n"
      "landing:\n"
      "  dir: /srv/landing\n"
      "  ignore: [\".*\", \"*.tmp\"]\n"
      "  quarantine_dir: /srv/quarantine\n"
      "  debounce_ms: 500\n"
      "  scan_interval_s: 3600\n"
      "state:\n"
      "  postgres_url: postgresql://db.example/landfall\n"
      "warehouse:\n"
      "  type: duckdb\n"
      "  path: /srv/warehouse.duckdb\n"
      "  staging_schema: raw\n"
      "workers: 16\n"
      "shutdown_timeout_s: 90\n"
      "log: {level: debug, format: json}\n";
  auto config = ParseConfig(text, kSource);
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->environment, "prod");
  EXPECT_EQ(config->landing.dir, fs::path("/srv/landing"));
  EXPECT_EQ(config->landing.ignore, (std::vector<std::string>{".*", "*.tmp"}));
  ASSERT_TRUE(config->landing.quarantine_dir.has_value());
  EXPECT_EQ(*config->landing.quarantine_dir, fs::path("/srv/quarantine"));
  EXPECT_EQ(config->landing.debounce_ms, 500);
  EXPECT_EQ(config->landing.scan_interval_s, 3600);
  EXPECT_EQ(config->state.postgres_url, "postgresql://db.example/landfall");
  EXPECT_EQ(config->warehouse.type, "duckdb");
  EXPECT_EQ(config->warehouse.path, fs::path("/srv/warehouse.duckdb"));
  EXPECT_EQ(config->warehouse.staging_schema, "raw");
  EXPECT_EQ(config->workers, 16);
  EXPECT_EQ(config->shutdown_timeout_s, 90);
  EXPECT_EQ(config->log.level, "debug");
  EXPECT_EQ(config->log.format, "json");
}

TEST(ConfigTest, EmptyIgnoreListIgnoresNothing) {
  auto text = std::string(
      "landing:\n"
      "  dir: /srv/landing\n"
      "  ignore: []\n"
      "state: {postgres_url: x}\n"
      "warehouse: {path: /w.duckdb}\n");
  auto empty = ParseConfig(text, kSource);
  ASSERT_TRUE(empty) << empty.error().ToString();
  EXPECT_TRUE(empty->landing.ignore.empty());
}

TEST(ConfigTest, NullQuarantineDirMeansNone) {
  auto config = ParseConfig(
      "landing: {dir: /l, quarantine_dir: ~}\nstate: {postgres_url: x}\nwarehouse: {path: /w}\n",
      kSource);
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_FALSE(config->landing.quarantine_dir.has_value());
}

TEST(ConfigTest, LoadConfigReadsTheFile) {
  testing::TempDir dir;
  const fs::path file = dir / "landfall.yaml";
  std::ofstream(file) << kMinimal << "environment: staging\n";
  auto config = LoadConfig(file);
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->source, file);
  EXPECT_EQ(config->environment, "staging");
}

TEST(ConfigTest, LoadConfigOfMissingFileNamesTheFile) {
  testing::TempDir dir;
  auto config = LoadConfig(dir / "absent.yaml");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().code, "config_invalid");
  EXPECT_THAT(config.error().message, HasSubstr("absent.yaml"));
}

// ---- ${VAR} expansion ----

TEST(ConfigTest, EnvironmentVariableIsExpanded) {
  ScopedEnv env("LANDFALL_TEST_STATE_URL", "postgresql://u@h:5433/db");
  auto config = ParseConfig(
      "landing: {dir: /l}\n"
      "state:\n"
      "  postgres_url: ${LANDFALL_TEST_STATE_URL}\n"
      "warehouse: {path: /w}\n",
      kSource);
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->state.postgres_url, "postgresql://u@h:5433/db");
}

TEST(ConfigTest, EnvironmentVariablesAreExpandedInsideLongerValues) {
  ScopedEnv user("LANDFALL_TEST_USER", "alice");
  ScopedEnv host("LANDFALL_TEST_HOST", "db.internal");
  auto config = ParseConfig(
      "landing: {dir: /l}\n"
      "state: {postgres_url: \"postgresql://${LANDFALL_TEST_USER}@${LANDFALL_TEST_HOST}/x$y\"}\n"
      "warehouse: {path: /w}\n",
      kSource);
  ASSERT_TRUE(config) << config.error().ToString();
  // A '$' not followed by '{' is kept as is.
  EXPECT_EQ(config->state.postgres_url, "postgresql://alice@db.internal/x$y");
}

TEST(ConfigTest, EnvironmentVariableCanSupplyAnInteger) {
  ScopedEnv workers("LANDFALL_TEST_WORKERS", "8");
  auto config = ParseConfig(std::string(kMinimal) + "workers: ${LANDFALL_TEST_WORKERS}\n", kSource);
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->workers, 8);
}

TEST(ConfigTest, RetentionDaysDefaultsTo30AndZeroKeepsHistory) {
  auto config = ParseConfig(kMinimal, kSource);
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->state.retention_days, 30);
  auto forever = ParseConfig(
      "landing: {dir: /l}\nstate: {postgres_url: x, retention_days: 0}\nwarehouse: {path: /w}\n",
      kSource);
  ASSERT_TRUE(forever) << forever.error().ToString();
  EXPECT_EQ(forever->state.retention_days, 0);
  EXPECT_THAT(ErrorOf("landing: {dir: /l}\nstate:\n  postgres_url: x\n  retention_days: -1\n"
                      "warehouse: {path: /w}\n"),
              StartsWith("/etc/landfall/landfall.yaml:4: state.retention_days: "));
}

TEST(ConfigTest, EnvironmentVariableCanSupplyAPath) {
  ScopedEnv root("LANDFALL_TEST_ROOT", "/data/landfall");
  auto config = ParseConfig(
      "landing: {dir: \"${LANDFALL_TEST_ROOT}/landing\"}\n"
      "state: {postgres_url: x}\n"
      "warehouse: {path: /w}\n",
      kSource);
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->landing.dir, fs::path("/data/landfall/landing"));
}

TEST(ConfigTest, MissingEnvironmentVariableNamesFileLineKeyAndVariable) {
  ScopedEnv unset("LANDFALL_TEST_UNSET_VAR", nullptr);
  std::string message = ErrorOf(
      "environment: dev\n"
      "landing: {dir: /l}\n"
      "state:\n"
      "  postgres_url: ${LANDFALL_TEST_UNSET_VAR}\n"
      "warehouse: {path: /w}\n");
  EXPECT_THAT(message, StartsWith("/etc/landfall/landfall.yaml:4: state.postgres_url: "));
  EXPECT_THAT(message, HasSubstr("LANDFALL_TEST_UNSET_VAR"));
}

TEST(ConfigTest, EmptyVariableNameIsAnError) {
  std::string message = ErrorOf(
      "landing: {dir: /l}\n"
      "state: {postgres_url: \"a${}b\"}\n"
      "warehouse: {path: /w}\n");
  EXPECT_THAT(message, StartsWith("/etc/landfall/landfall.yaml:2: state.postgres_url: "));
}

TEST(ConfigTest, UnterminatedVariableIsAnError) {
  std::string message = ErrorOf(
      "landing: {dir: /l}\n"
      "state: {postgres_url: \"${LANDFALL_TEST_STATE_URL\"}\n"
      "warehouse: {path: /w}\n");
  EXPECT_THAT(message, StartsWith("/etc/landfall/landfall.yaml:2: state.postgres_url: "));
  EXPECT_THAT(message, HasSubstr("unterminated"));
}

// ---- unknown keys ----

TEST(ConfigTest, UnknownTopLevelKeyNamesFileLineAndKey) {
  std::string message = ErrorOf(std::string(kMinimal) + "wrokers: 4\n");
  EXPECT_THAT(message, StartsWith("/etc/landfall/landfall.yaml:7: wrokers: unknown key"));
  // The message lists what is allowed, so a typo is easy to fix.
  EXPECT_THAT(message, HasSubstr("workers"));
}

TEST(ConfigTest, UnknownLandingKeyNamesFileLineAndKey) {
  std::string message = ErrorOf(
      "landing:\n"
      "  dir: /srv/landing\n"
      "  bogus: 1\n"
      "state: {postgres_url: x}\n"
      "warehouse: {path: /w}\n");
  EXPECT_THAT(message, HasSubstr("landfall.yaml:3: landing.bogus"));
  EXPECT_THAT(message, HasSubstr("unknown key"));
}

TEST(ConfigTest, UnknownStateKeyNamesFileLineAndKey) {
  std::string message = ErrorOf(
      "landing: {dir: /l}\n"
      "state:\n"
      "  postgres_url: x\n"
      "  password: secret\n"
      "warehouse: {path: /w}\n");
  EXPECT_THAT(message, HasSubstr("landfall.yaml:4: state.password: unknown key"));
}

TEST(ConfigTest, UnknownWarehouseKeyNamesFileLineAndKey) {
  std::string message = ErrorOf(
      "landing: {dir: /l}\n"
      "state: {postgres_url: x}\n"
      "warehouse:\n"
      "  path: /w\n"
      "\n"
      "  schema: staging\n");
  EXPECT_THAT(message, HasSubstr("landfall.yaml:6: warehouse.schema: unknown key"));
}

TEST(ConfigTest, UnknownLogKeyNamesFileLineAndKey) {
  std::string message = ErrorOf(std::string(kMinimal) + "log:\n  level: info\n  colour: true\n");
  EXPECT_THAT(message, HasSubstr("landfall.yaml:9: log.colour: unknown key"));
}

TEST(ConfigTest, DuplicateKeyNamesFileLineAndKey) {
  std::string message = ErrorOf(std::string(kMinimal) + "workers: 2\nworkers: 3\n");
  EXPECT_THAT(message, StartsWith("/etc/landfall/landfall.yaml:8: workers: duplicate key"));
}

TEST(ConfigTest, DuplicateNestedKeyNamesFileLineAndKey) {
  std::string message = ErrorOf(
      "landing:\n"
      "  dir: /a\n"
      "  dir: /b\n"
      "state: {postgres_url: x}\n"
      "warehouse: {path: /w}\n");
  EXPECT_THAT(message, StartsWith("/etc/landfall/landfall.yaml:3: landing.dir: duplicate key"));
}

TEST(ConfigTest, KeyThatIsNotANameIsAnErrorWithALine) {
  std::string message = ErrorOf(std::string(kMinimal) + "? [a, b]\n: 2\n");
  EXPECT_THAT(message, StartsWith("/etc/landfall/landfall.yaml:7: (top level): "));
}

// ---- required keys and wrong types ----

TEST(ConfigTest, MissingRequiredSectionNamesKey) {
  std::string message = ErrorOf("landing: {dir: /l}\nstate: {postgres_url: x}\n");
  EXPECT_THAT(message, HasSubstr("landfall.yaml"));
  EXPECT_THAT(message, HasSubstr("warehouse: is required"));
}

TEST(ConfigTest, MissingLandingDirNamesNestedKey) {
  std::string message = ErrorOf(
      "landing:\n"
      "  ignore: []\n"
      "state: {postgres_url: x}\n"
      "warehouse: {path: /w}\n");
  EXPECT_THAT(message, HasSubstr("landing.dir: is required"));
}

TEST(ConfigTest, TopLevelMustBeAMapping) {
  std::string message = ErrorOf("- landing\n- state\n");
  EXPECT_THAT(message, HasSubstr("(top level): must be a mapping"));
}

TEST(ConfigTest, SectionThatIsNotAMappingNamesFileLineAndKey) {
  std::string message = ErrorOf(
      "landing: /srv/landing\n"
      "state: {postgres_url: x}\n"
      "warehouse: {path: /w}\n");
  EXPECT_THAT(message, StartsWith("/etc/landfall/landfall.yaml:1: landing: must be a mapping"));
}

TEST(ConfigTest, WorkersThatIsNotANumberNamesFileLineAndKey) {
  std::string message = ErrorOf(std::string(kMinimal) + "workers: many\n");
  EXPECT_THAT(message, StartsWith("/etc/landfall/landfall.yaml:7: workers: "));
  EXPECT_THAT(message, HasSubstr("integer"));
}

TEST(ConfigTest, WorkersWithAFractionIsAnError) {
  std::string message = ErrorOf(std::string(kMinimal) + "workers: 2.5\n");
  EXPECT_THAT(message, StartsWith("/etc/landfall/landfall.yaml:7: workers: "));
  EXPECT_THAT(message, HasSubstr("integer"));
}

TEST(ConfigTest, WorkersThatIsAListSaysAnIntegerIsExpected) {
  std::string message = ErrorOf(std::string(kMinimal) + "workers: [1, 2]\n");
  EXPECT_THAT(message, StartsWith("/etc/landfall/landfall.yaml:7: workers: "));
  EXPECT_THAT(message, HasSubstr("integer"));
}

TEST(ConfigTest, ZeroWorkersIsAnError) {
  std::string message = ErrorOf(std::string(kMinimal) + "workers: 0\n");
  EXPECT_THAT(message, StartsWith("/etc/landfall/landfall.yaml:7: workers: must be between 1"));
}

TEST(ConfigTest, NegativeWorkersIsAnError) {
  std::string message = ErrorOf(std::string(kMinimal) + "workers: -3\n");
  EXPECT_THAT(message, StartsWith("/etc/landfall/landfall.yaml:7: workers: "));
}

TEST(ConfigTest, HugeWorkersIsAnErrorNotAnOverflow) {
  std::string message = ErrorOf(std::string(kMinimal) + "workers: 99999999999999999999999\n");
  EXPECT_THAT(message, StartsWith("/etc/landfall/landfall.yaml:7: workers: "));
}

TEST(ConfigTest, OneWorkerIsAllowed) {
  auto config = ParseConfig(std::string(kMinimal) + "workers: 1\n", kSource);
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->workers, 1);
}

TEST(ConfigTest, ZeroShutdownTimeoutIsAnError) {
  std::string message = ErrorOf(std::string(kMinimal) + "shutdown_timeout_s: 0\n");
  EXPECT_THAT(message,
              StartsWith("/etc/landfall/landfall.yaml:7: shutdown_timeout_s: must be between 1"));
}

TEST(ConfigTest, IgnoreThatIsNotAListNamesKey) {
  std::string message = ErrorOf(
      "landing:\n"
      "  dir: /l\n"
      "  ignore: \"*.tmp\"\n"
      "state: {postgres_url: x}\n"
      "warehouse: {path: /w}\n");
  EXPECT_THAT(message, StartsWith("/etc/landfall/landfall.yaml:3: landing.ignore: "));
}

TEST(ConfigTest, NestedValueWhereAStringIsExpectedNamesKey) {
  std::string message = ErrorOf(
      "landing: {dir: /l}\n"
      "state:\n"
      "  postgres_url: {host: h}\n"
      "warehouse: {path: /w}\n");
  EXPECT_THAT(message, StartsWith("/etc/landfall/landfall.yaml:3: state.postgres_url: "));
}

TEST(ConfigTest, NegativeDebounceIsAnError) {
  std::string message = ErrorOf(
      "landing: {dir: /l, debounce_ms: -1}\nstate: {postgres_url: x}\nwarehouse: {path: /w}\n");
  EXPECT_THAT(message, HasSubstr("landfall.yaml:1: landing.debounce_ms: "));
}

TEST(ConfigTest, InvalidLogLevelNamesKeyAndValue) {
  std::string message = ErrorOf(std::string(kMinimal) + "log:\n  level: verbose\n");
  EXPECT_THAT(message, StartsWith("/etc/landfall/landfall.yaml:8: log.level: "));
  EXPECT_THAT(message, HasSubstr("verbose"));
}

TEST(ConfigTest, InvalidLogFormatNamesKey) {
  std::string message = ErrorOf(std::string(kMinimal) + "log: {format: xml}\n");
  EXPECT_THAT(message, StartsWith("/etc/landfall/landfall.yaml:7: log.format: "));
}

TEST(ConfigTest, EveryLogLevelIsAccepted) {
  for (const char* level : {"trace", "debug", "info", "warn", "error"}) {
    auto config = ParseConfig(std::string(kMinimal) + "log: {level: " + level + "}\n", kSource);
    ASSERT_TRUE(config) << level << ": " << config.error().ToString();
    EXPECT_EQ(config->log.level, level);
  }
}

TEST(ConfigTest, UnsupportedWarehouseTypeIsAnError) {
  std::string message = ErrorOf(
      "landing: {dir: /l}\nstate: {postgres_url: x}\nwarehouse:\n  type: snowflake\n  path: /w\n");
  EXPECT_THAT(message, StartsWith("/etc/landfall/landfall.yaml:4: warehouse.type: "));
}

TEST(ConfigTest, StagingSchemaMayNotBeTheLedgerSchema) {
  std::string message = ErrorOf(
      "landing: {dir: /l}\nstate: {postgres_url: x}\n"
      "warehouse:\n  path: /w\n  staging_schema: _landfall\n");
  EXPECT_THAT(message, StartsWith("/etc/landfall/landfall.yaml:5: warehouse.staging_schema: "));
}

TEST(ConfigTest, WarehouseMemoryLimitAndThreadsHaveDefaultsAndAreChecked) {
  auto defaults =
      ParseConfig("landing: {dir: /l}\nstate: {postgres_url: x}\nwarehouse: {path: /w}\n", kSource);
  ASSERT_TRUE(defaults) << defaults.error().message;
  EXPECT_EQ(defaults->warehouse.memory_limit, "512MB");
  EXPECT_EQ(defaults->warehouse.threads, 0);
  auto set = ParseConfig(
      "landing: {dir: /l}\nstate: {postgres_url: x}\n"
      "warehouse: {path: /w, memory_limit: 512 mib, threads: 1}\n",
      kSource);
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->warehouse.memory_limit, "512MiB");
  EXPECT_EQ(set->warehouse.threads, 1);
  for (const char* bad : {"lots", "512", "0GB", "1.5GB", "-1GB", "80%"}) {
    EXPECT_THAT(ErrorOf(std::string("landing: {dir: /l}\nstate: {postgres_url: x}\n"
                                    "warehouse:\n  path: /w\n  memory_limit: ") +
                        bad + "\n"),
                StartsWith("/etc/landfall/landfall.yaml:5: warehouse.memory_limit: must be a size"))
        << bad;
  }
  EXPECT_THAT(ErrorOf("landing: {dir: /l}\nstate: {postgres_url: x}\n"
                      "warehouse:\n  path: /w\n  threads: -2\n"),
              StartsWith("/etc/landfall/landfall.yaml:5: warehouse.threads: "));
}

// 0 leaves DuckDB the cores the workers do not take, at least one; a number
// is taken as it is.
TEST(ConfigTest, WarehouseThreadsZeroLeavesTheWorkersTheirCores) {
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  Config config;
  config.workers = 1;
  EXPECT_EQ(WarehouseThreads(config), cores);
  config.workers = cores;
  EXPECT_EQ(WarehouseThreads(config), 1);
  config.workers = cores + 3;
  EXPECT_EQ(WarehouseThreads(config), 1);
  config.warehouse.threads = 3;
  EXPECT_EQ(WarehouseThreads(config), 3);
}

TEST(ConfigTest, EmptyPostgresUrlIsAnError) {
  std::string message =
      ErrorOf("landing: {dir: /l}\nstate:\n  postgres_url: \"\"\nwarehouse: {path: /w}\n");
  EXPECT_THAT(message, StartsWith("/etc/landfall/landfall.yaml:3: state.postgres_url: "));
}

TEST(ConfigTest, EmptyEnvironmentNameIsAnError) {
  std::string message = ErrorOf(std::string("environment: \"\"\n") + kMinimal);
  EXPECT_THAT(message, StartsWith("/etc/landfall/landfall.yaml:1: environment: "));
}

TEST(ConfigTest, EmptyPathIsAnError) {
  std::string message =
      ErrorOf("landing: {dir: \"\"}\nstate: {postgres_url: x}\nwarehouse: {path: /w}\n");
  EXPECT_THAT(message, StartsWith("/etc/landfall/landfall.yaml:1: landing.dir: "));
}

// ---- paths ----

TEST(ConfigTest, RelativePathsResolveAgainstTheConfigFilesFolder) {
  auto config = ParseConfig(
      "landing:\n"
      "  dir: ./var/landing\n"
      "  quarantine_dir: var/quarantine\n"
      "state: {postgres_url: x}\n"
      "warehouse: {path: ../data/warehouse.duckdb}\n",
      kSource);
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->landing.dir, fs::path("/etc/landfall/var/landing"));
  ASSERT_TRUE(config->landing.quarantine_dir.has_value());
  EXPECT_EQ(*config->landing.quarantine_dir, fs::path("/etc/landfall/var/quarantine"));
  EXPECT_EQ(config->warehouse.path, fs::path("/etc/data/warehouse.duckdb"));
}

TEST(ConfigTest, AbsolutePathsAreKept) {
  auto config = ParseConfig(kMinimal, kSource);
  ASSERT_TRUE(config);
  EXPECT_EQ(config->landing.dir, fs::path("/srv/landing"));
  EXPECT_EQ(config->warehouse.path, fs::path("/srv/warehouse.duckdb"));
}

TEST(ConfigTest, RelativePathsDoNotDependOnTheWorkingDirectory) {
  testing::TempDir dir;
  fs::create_directories(dir / "etc");
  const fs::path file = dir / "etc/landfall.yaml";
  std::ofstream(file) << "landing: {dir: ./landing}\nstate: {postgres_url: x}\n"
                         "warehouse: {path: wh.duckdb}\n";
  const fs::path old_cwd = fs::current_path();
  fs::current_path(dir.path());
  auto config = LoadConfig("etc/landfall.yaml");  // a relative config path, too
  fs::current_path(old_cwd);
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->landing.dir, (dir / "etc/landing").lexically_normal());
  EXPECT_EQ(config->warehouse.path, (dir / "etc/wh.duckdb").lexically_normal());
  EXPECT_TRUE(config->landing.dir.is_absolute());
}

// ---- files that are not configs ----

TEST(ConfigTest, EmptyFileIsAnErrorNamingTheFile) {
  std::string message = ErrorOf("");
  EXPECT_THAT(message, StartsWith("/etc/landfall/landfall.yaml"));
  EXPECT_THAT(message, HasSubstr("empty"));
}

TEST(ConfigTest, FileWithOnlyCommentsIsEmpty) {
  std::string message = ErrorOf("# nothing here yet\n\n");
  EXPECT_THAT(message, HasSubstr("empty"));
}

TEST(ConfigTest, EmptyFileOnDiskIsAnError) {
  testing::TempDir dir;
  const fs::path file = dir / "empty.yaml";
  std::ofstream(file).flush();
  auto config = LoadConfig(file);
  ASSERT_FALSE(config);
  EXPECT_THAT(config.error().message, HasSubstr("empty.yaml"));
}

TEST(ConfigTest, YamlSyntaxErrorNamesFileAndLine) {
  std::string message = ErrorOf(
      "landing:\n"
      "  dir: /l\n"
      "state: {postgres_url: x\n"
      "warehouse: {path: /w}\n");
  EXPECT_THAT(message, MatchesRegex("/etc/landfall/landfall\\.yaml:[0-9]+: .+"));
}

TEST(ConfigTest, YamlSyntaxErrorPointsAtTheBadLine) {
  std::string message = ErrorOf(
      "environment: dev\n"
      "landing:\n"
      "  dir: /l\n"
      "   bad: x\n"
      "state: {postgres_url: x}\n");
  EXPECT_THAT(message, StartsWith("/etc/landfall/landfall.yaml:4: "));
}

TEST(ConfigTest, YamlSyntaxErrorInAFlowListPointsAtTheBadLine) {
  std::string message = ErrorOf(
      "environment: dev\n"
      "landing:\n"
      "  dir: /l\n"
      "  ignore: [\".*\"\n"
      "  - bad\n");
  EXPECT_THAT(message, StartsWith("/etc/landfall/landfall.yaml:5: "));
}

}  // namespace
}  // namespace landfall::config

namespace landfall::config {
namespace {

// A quarantine dir inside the landing dir would be a table whose
// bad files are quarantined again, one level deeper each time.
TEST(ConfigQuarantineDirTest, QuarantineDirInsideTheLandingDirNamesFileLineAndKey) {
  std::string message = ErrorOf(
      "landing:\n"
      "  dir: /srv/landing\n"
      "  quarantine_dir: /srv/landing/quarantine\n"
      "state: {postgres_url: x}\n"
      "warehouse: {path: /w}\n");
  EXPECT_THAT(
      message,
      StartsWith(
          "/etc/landfall/landfall.yaml:3: landing.quarantine_dir: must not be inside landing.dir"));
}

TEST(ConfigQuarantineDirTest, QuarantineDirThatIsTheLandingDirIsAnError) {
  std::string message = ErrorOf(
      "landing:\n"
      "  dir: /srv/landing\n"
      "  quarantine_dir: /srv/x/../landing/\n"
      "state: {postgres_url: x}\n"
      "warehouse: {path: /w}\n");
  EXPECT_THAT(message, HasSubstr("landfall.yaml:3: landing.quarantine_dir"));
}

TEST(ConfigQuarantineDirTest, QuarantineDirBesideTheLandingDirIsAccepted) {
  auto config = ParseConfig(
      "landing:\n"
      "  dir: /srv/landing\n"
      "  quarantine_dir: /srv/landing-quarantine\n"
      "state: {postgres_url: x}\n"
      "warehouse: {path: /w}\n",
      kSource);
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(*config->landing.quarantine_dir, fs::path("/srv/landing-quarantine"));
}

// ---- models ----

TEST(ModelsConfigTest, WithoutAModelsSectionThereAreNoModels) {
  auto config = ParseConfig(kMinimal, kSource);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_FALSE(config->models.dir.has_value());
  EXPECT_EQ(config->models.schema, "analytics");
}

TEST(ModelsConfigTest, DirIsRelativeToTheConfigFileAndSchemaIsRead) {
  auto config =
      ParseConfig(std::string(kMinimal) + "models:\n  dir: models\n  schema: marts\n", kSource);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->models.dir, fs::path("/etc/landfall/models"));
  EXPECT_EQ(config->models.schema, "marts");
}

TEST(ModelsConfigTest, UnknownKeyNamesFileLineAndKey) {
  auto config =
      ParseConfig(std::string(kMinimal) + "models:\n  dir: models\n  folder: x\n", kSource);
  ASSERT_FALSE(config);
  EXPECT_THAT(config.error().message, HasSubstr("landfall.yaml:9: models.folder: unknown key"));
}

TEST(ModelsConfigTest, SchemaMayNotBeTheStagingSchema) {
  auto config = ParseConfig(std::string(kMinimal) + "models:\n  schema: staging\n", kSource);
  ASSERT_FALSE(config);
  EXPECT_THAT(config.error().message, HasSubstr("landfall.yaml:8: models.schema: must differ"));
}

TEST(ModelsConfigTest, SchemaMayNotBeALandfallSchema) {
  auto config = ParseConfig(std::string(kMinimal) + "models:\n  schema: _landfall\n", kSource);
  ASSERT_FALSE(config);
  EXPECT_THAT(config.error().message, HasSubstr("models.schema: must be non-empty"));
}

}  // namespace
}  // namespace landfall::config

namespace landfall::config {
namespace {

TEST(ConfigTest, APostgresWarehouseTakesAUrlFromTheEnvironmentAndNoPath) {
  const std::string head =
      "landing: {dir: /srv/landing}\nstate: {postgres_url: postgresql://localhost/landfall}\n";
  ScopedEnv url("LANDFALL_TEST_WAREHOUSE_URL", "postgresql://wh.example/dw");
  auto config = ParseConfig(
      head + "warehouse:\n  type: postgres\n  url: ${LANDFALL_TEST_WAREHOUSE_URL}\n", kSource);
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->warehouse.type, "postgres");
  EXPECT_EQ(config->warehouse.url, "postgresql://wh.example/dw");
  EXPECT_EQ(config->warehouse.Describe(), "postgres (schema staging)") << "never the URL";

  EXPECT_THAT(ErrorOf(head + "warehouse:\n  type: postgres\n"),
              HasSubstr("warehouse.url: is required"));
  EXPECT_THAT(ErrorOf(head + "warehouse:\n  type: postgres\n  url: x\n  path: /srv/w.duckdb\n"),
              HasSubstr("warehouse.path: is for type duckdb; type postgres takes url"));
  EXPECT_THAT(ErrorOf(head + "warehouse:\n  path: /srv/w.duckdb\n  url: x\n"),
              HasSubstr("warehouse.url: is for type postgres"));
  // Models are built on it (time_interval models are refused by the model loader).
  auto models = ParseConfig(
      head + "warehouse:\n  type: postgres\n  url: x\nmodels: {dir: models}\n", kSource);
  ASSERT_TRUE(models) << models.error().ToString();
  EXPECT_TRUE(models->models.dir.has_value());
  EXPECT_THAT(ErrorOf(head + "warehouse:\n  type: snowflake\n  path: x\n"),
              HasSubstr("must be one of duckdb, postgres"));
}

// Several daemons share an environment only on the PostgreSQL warehouse.
TEST(ConfigTest, ClusterDefaultsOffAndNeedsThePostgresWarehouse) {
  auto plain = ParseConfig(kMinimal, kSource);
  ASSERT_TRUE(plain) << plain.error().ToString();
  EXPECT_FALSE(plain->cluster.enabled);
  EXPECT_EQ(plain->cluster.lease_ttl_s, 15);

  const std::string pg =
      "landing: {dir: /l}\nstate: {postgres_url: x}\nwarehouse: {type: postgres, url: y}\n";
  auto on = ParseConfig(pg + "cluster:\n  enabled: true\n  lease_ttl_s: 30\n", kSource);
  ASSERT_TRUE(on) << on.error().ToString();
  EXPECT_TRUE(on->cluster.enabled);
  EXPECT_EQ(on->cluster.lease_ttl_s, 30);

  EXPECT_THAT(ErrorOf(std::string(kMinimal) + "cluster:\n  enabled: true\n"),
              StartsWith("/etc/landfall/landfall.yaml:8: cluster.enabled: "));
  EXPECT_THAT(ErrorOf(pg + "cluster:\n  lease_ttl_s: 1\n"),
              StartsWith("/etc/landfall/landfall.yaml:5: cluster.lease_ttl_s: "));
  EXPECT_THAT(ErrorOf(pg + "cluster:\n  leases: 3\n"), HasSubstr("cluster.leases"));
  // Models are shared too: one member at a time holds their lease.
  auto models = ParseConfig(pg + "models: {dir: models}\ncluster:\n  enabled: true\n", kSource);
  ASSERT_TRUE(models) << models.error().ToString();
  EXPECT_TRUE(models->cluster.enabled);
}

}  // namespace
}  // namespace landfall::config
