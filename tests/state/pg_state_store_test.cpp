// The PostgreSQL state store against a real server (tests/with-postgres.sh).
// Every test works in its own environment, so tests share one database and
// never clean up; tests that need a database of their own create one.
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "lib/state/state_store.h"
#include "tests/state/state_testing.h"
#include "tests/support/testing.h"

namespace landfall::state {
namespace {

using ::landfall::testing::PgSession;
using ::landfall::testing::UniqueEnvironment;

// A database of its own, for tests that change what all environments share
// (the migration version), dropped at the end.
class ScratchDatabase {
 public:
  ScratchDatabase() : name_(UniqueEnvironment("landfall_scratch")) {
    admin_.Query("CREATE DATABASE \"" + name_ + "\"");
    url_ = admin_.UrlFor(name_);
  }
  ~ScratchDatabase() { admin_.Query("DROP DATABASE IF EXISTS \"" + name_ + "\" WITH (FORCE)"); }
  const std::string& url() const { return url_; }

 private:
  PgSession admin_;
  std::string name_;
  std::string url_;
};

BatchRecord MakeBatch(const std::string& table, const std::string& path, int n) {
  BatchRecord batch;
  batch.table = table;
  batch.path = path;
  batch.fingerprint = std::string(64, static_cast<char>('a' + n % 6));
  batch.size = 1000 + n;
  batch.mtime_ns = 1'767'225'600'123'456'789LL + n;
  batch.ctime_ns = 1'767'225'700'987'654'321LL + n;
  batch.inode = 4'000'000'000LL + n;
  batch.rows = 10 * n;
  batch.status = BatchStatus::kPending;
  batch.discovered_at_us = 1'767'225'600'000'001LL + n;
  return batch;
}

void ExpectSameBatch(const BatchRecord& want, const BatchRecord& got) {
  EXPECT_EQ(got.table, want.table);
  EXPECT_EQ(got.path, want.path);
  EXPECT_EQ(got.fingerprint, want.fingerprint);
  EXPECT_EQ(got.size, want.size);
  EXPECT_EQ(got.mtime_ns, want.mtime_ns);
  EXPECT_EQ(got.ctime_ns, want.ctime_ns);
  EXPECT_EQ(got.inode, want.inode);
  EXPECT_EQ(got.rows, want.rows);
  EXPECT_EQ(got.status, want.status);
  EXPECT_EQ(got.error_code, want.error_code);
  EXPECT_EQ(got.error_message, want.error_message);
  if (want.schema_json.empty()) {
    EXPECT_EQ(got.schema_json, "");
  } else {
    EXPECT_EQ(nlohmann::json::parse(got.schema_json), nlohmann::json::parse(want.schema_json));
  }
  EXPECT_EQ(got.duplicate_of, want.duplicate_of);
  EXPECT_EQ(got.discovered_at_us, want.discovered_at_us);
  EXPECT_EQ(got.staged_at_us, want.staged_at_us);
}

TEST(BatchStatusTest, NamesRoundTrip) {
  for (BatchStatus status : {BatchStatus::kPending, BatchStatus::kStaged, BatchStatus::kQuarantined,
                             BatchStatus::kDuplicate}) {
    EXPECT_EQ(BatchStatusFromString(ToString(status)), status);
  }
  EXPECT_STREQ(ToString(BatchStatus::kQuarantined), "quarantined");
  EXPECT_EQ(BatchStatusFromString("Staged"), std::nullopt);
  EXPECT_EQ(BatchStatusFromString(""), std::nullopt);
}

TEST(TableStatusTest, NamesRoundTripAndUnknownNamesAreNone) {
  const std::pair<TableStatus, const char*> names[] = {
      {TableStatus::kNew, "new"},           {TableStatus::kActive, "active"},
      {TableStatus::kOrphaned, "orphaned"}, {TableStatus::kFailed, "failed"},
      {TableStatus::kDropped, "dropped"},   {TableStatus::kReset, "reset"}};
  for (const auto& [status, name] : names) {
    EXPECT_STREQ(ToString(status), name);
    EXPECT_EQ(TableStatusFromString(name), status) << name;
  }
  for (const char* unknown : {"", "Active", "deleted", "skipped"}) {
    EXPECT_EQ(TableStatusFromString(unknown), std::nullopt) << unknown;
  }
}

TEST(TableRunStatusTest, NamesRoundTripAndUnknownNamesAreNone) {
  EXPECT_STREQ(ToString(TableRunStatus::kSucceeded), "succeeded");
  EXPECT_STREQ(ToString(TableRunStatus::kFailed), "failed");
  for (auto status : {TableRunStatus::kSucceeded, TableRunStatus::kFailed}) {
    EXPECT_EQ(TableRunStatusFromString(ToString(status)), status);
  }
  for (const char* unknown : {"", "Failed", "skipped", "running"}) {
    EXPECT_EQ(TableRunStatusFromString(unknown), std::nullopt) << unknown;
  }
}

// The stored text is the wire format: other versions and operators read it.
TEST(PgStateStoreTest, TableStatusesAreStoredAsTheirNames) {
  LANDFALL_REQUIRE_POSTGRES();
  std::string env = UniqueEnvironment();
  auto store = OpenMigrated(env);
  ASSERT_TRUE(store);
  PgSession raw;
  for (auto status : {TableStatus::kActive, TableStatus::kOrphaned, TableStatus::kFailed,
                      TableStatus::kDropped, TableStatus::kReset}) {
    TableRecord table;
    table.name = std::string("t_") + ToString(status);
    table.status = status;
    ASSERT_TRUE(store->SaveTable(table));
    EXPECT_EQ(raw.Query("SELECT status FROM tables WHERE environment = $1 AND name = $2",
                        {env, table.name}),
              (std::vector<std::string>{ToString(status)}));
  }
  auto state = store->Load();
  ASSERT_TRUE(state) << state.error().ToString();
  ASSERT_EQ(state->tables.size(), 5u);
  for (const auto& t : state->tables) EXPECT_EQ(t.name, std::string("t_") + ToString(t.status));

  auto run = store->StartRun("cli", "{}");
  ASSERT_TRUE(run);
  ASSERT_TRUE(store->RecordTableRun(
      *run, {.table = "t_failed", .action = "fail", .status = TableRunStatus::kFailed}));
  EXPECT_EQ(
      raw.Query("SELECT status FROM table_runs WHERE run_id = $1::bigint", {std::to_string(*run)}),
      (std::vector<std::string>{"failed"}));
}

TEST(PgStateStoreTest, LoadRefusesATableStatusItDoesNotKnow) {
  LANDFALL_REQUIRE_POSTGRES();
  std::string env = UniqueEnvironment();
  auto store = OpenMigrated(env);
  ASSERT_TRUE(store);
  PgSession().Query(
      "INSERT INTO tables (environment, name, status) VALUES ($1, 'orders', 'exploded')", {env});
  auto state = store->Load();
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().code, "state_invalid");
  EXPECT_NE(state.error().message.find("\"exploded\""), std::string::npos) << state.error().message;
}

TEST(PgStateStoreTest, MigrateTwiceIsANoOp) {
  LANDFALL_REQUIRE_POSTGRES();
  auto store = OpenMigrated(UniqueEnvironment());
  ASSERT_TRUE(store);
  PgSession raw;
  std::string before = raw.QueryOne(
      "SELECT count(*) || '/' || max(version) || '/' || max(applied_at) FROM schema_migrations");

  ASSERT_TRUE(store->Migrate()) << "second migrate";

  EXPECT_EQ(raw.QueryOne("SELECT count(*) || '/' || max(version) || '/' || max(applied_at)"
                         " FROM schema_migrations"),
            before);
  EXPECT_EQ(raw.QueryOne("SELECT max(version) FROM schema_migrations"),
            std::to_string(EmbeddedMigrations().back().version));
}

TEST(PgStateStoreTest, ConcurrentMigrationsOfAFreshDatabaseApplyEachOnce) {
  LANDFALL_REQUIRE_POSTGRES();
  ScratchDatabase db;
  std::vector<std::unique_ptr<StateStore>> stores;
  for (int i = 0; i < 3; ++i) {
    auto store = OpenPostgres({.url = db.url(), .environment = UniqueEnvironment()});
    ASSERT_TRUE(store) << store.error().ToString();
    stores.push_back(std::move(*store));
  }
  std::vector<Status> results(stores.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < stores.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = stores[i]->Migrate(); });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) EXPECT_TRUE(r) << r.error().ToString();

  PgSession raw(db.url());
  EXPECT_EQ(raw.QueryOne("SELECT count(*) FROM schema_migrations"),
            std::to_string(EmbeddedMigrations().size()));
  ASSERT_TRUE(stores[0]->SetFormatVersion(kStateFormatVersion));
  auto state = stores[0]->Load();
  ASSERT_TRUE(state) << state.error().ToString();
  EXPECT_EQ(state->format_version, kStateFormatVersion);
}

TEST(PgStateStoreTest, DatabaseMigratedByANewerLandfallIsStateTooNew) {
  LANDFALL_REQUIRE_POSTGRES();
  ScratchDatabase db;
  ASSERT_TRUE(OpenMigrated(UniqueEnvironment(), db.url()));
  int newer = EmbeddedMigrations().back().version + 1;
  {
    PgSession raw(db.url());
    raw.Query("INSERT INTO schema_migrations (version, name) VALUES ($1::int, 'from_the_future')",
              {std::to_string(newer)});
  }

  auto store = OpenPostgres({.url = db.url(), .environment = UniqueEnvironment()});
  ASSERT_TRUE(store) << store.error().ToString();
  auto migrated = (*store)->Migrate();
  ASSERT_FALSE(migrated);
  EXPECT_EQ(migrated.error().code, "state_too_new");
  EXPECT_FALSE(migrated.error().transient);
  EXPECT_NE(migrated.error().message.find(std::to_string(newer)), std::string::npos)
      << migrated.error().message;

  // The failed migration released its advisory lock: another session can
  // still take it at once (the key is "landfall" in ASCII).
  PgSession raw(db.url());
  EXPECT_EQ(raw.QueryOne("SELECT pg_try_advisory_lock(7809644606330596460)"), "t");
}

// A database at schema version 3 (from before models, with a table and a run
// in it) takes the model migrations (models, then partitions) and keeps what
// it held.
TEST(PgStateStoreTest, DatabaseAtVersion3TakesTheModelMigrationsAndKeepsItsState) {
  LANDFALL_REQUIRE_POSTGRES();
  ScratchDatabase db;
  const std::string env = UniqueEnvironment();
  {
    PgSession raw(db.url());
    raw.Query(
        "CREATE TABLE schema_migrations (version int PRIMARY KEY, name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())");
    for (const Migration& migration : EmbeddedMigrations()) {
      if (migration.version > 3) break;
      raw.Script(migration.sql);
      raw.Query("INSERT INTO schema_migrations (version, name) VALUES ($1::int, $2)",
                {std::to_string(migration.version), migration.name});
    }
    raw.Query("INSERT INTO tables (environment, name, schema_hash) VALUES ($1, 'orders', 'h1')",
              {env});
    raw.Query("INSERT INTO runs (environment, trigger, status) VALUES ($1, 'cli', 'succeeded')",
              {env});
    raw.Query(
        "INSERT INTO batches (environment, path, table_name, status, schema_json)"
        " VALUES ($1, 'orders/0.parquet', 'orders', 'staged',"
        " '{\"columns\":[{\"name\":\"id\",\"type\":\"BIGINT\",\"nullable\":true}]}')",
        {env});
  }

  auto store = OpenMigrated(env, db.url());
  ASSERT_TRUE(store);
  PgSession raw(db.url());
  EXPECT_EQ(
      raw.Query("SELECT version || ' ' || name FROM schema_migrations WHERE version > 3"
                " ORDER BY version"),
      (std::vector<std::string>{"4 models", "5 partitions", "6 checks", "7 inline_time_functions",
                                "8 batch_schema_key", "9 cluster"}));
  auto state = store->Load();
  ASSERT_TRUE(state) << state.error().ToString();
  ASSERT_EQ(state->tables.size(), 1u);
  EXPECT_EQ(state->tables[0].schema_hash, "h1");
  // A batch row from before 0008 has its schema's key, and loads with its schema.
  ASSERT_EQ(state->batches.size(), 1u);
  EXPECT_EQ(
      nlohmann::json::parse(state->batches[0].schema_json),
      nlohmann::json::parse(R"({"columns":[{"name":"id","type":"BIGINT","nullable":true}]})"));
  auto runs = store->ListRuns(0);
  ASSERT_TRUE(runs) << runs.error().ToString();
  ASSERT_EQ(runs->size(), 1u);

  // The new tables work, on the run from before.
  ModelRecord model{.name = "daily", .strategy = "full_refresh", .columns_json = "[]"};
  ModelRunRecord record{.model = "daily", .action = "rebuild", .reasons_json = "[]"};
  ASSERT_TRUE(store->RecordModelOutcome(model, (*runs)[0].id, &record));
  auto stored = store->SaveDagSnapshot((*runs)[0].id, R"({"nodes":["daily"],"edges":[]})");
  ASSERT_TRUE(stored) << stored.error().ToString();
  EXPECT_TRUE(*stored);
  auto models = store->Models();
  ASSERT_TRUE(models) << models.error().ToString();
  ASSERT_EQ(models->size(), 1u);
  EXPECT_EQ(models->at(0).columns_json, "[]");
  ASSERT_TRUE(store->SavePartitions({{.model = "daily", .key = "2026"}}));
  auto partitions = store->Partitions("daily", {});
  ASSERT_TRUE(partitions) << partitions.error().ToString();
  ASSERT_EQ(partitions->size(), 1u);
  EXPECT_EQ(partitions->at(0).key, "2026");
}

TEST(PgStateStoreTest, NewEnvironmentLoadsEmpty) {
  LANDFALL_REQUIRE_POSTGRES();
  auto store = OpenMigrated(UniqueEnvironment());
  ASSERT_TRUE(store);
  auto state = store->Load();
  ASSERT_TRUE(state) << state.error().ToString();
  EXPECT_EQ(state->format_version, std::nullopt);
  EXPECT_TRUE(state->tables.empty());
  EXPECT_TRUE(state->batches.empty());

  ASSERT_TRUE(store->SetFormatVersion(kStateFormatVersion));
  ASSERT_TRUE(store->SetFormatVersion(7));
  state = store->Load();
  ASSERT_TRUE(state) << state.error().ToString();
  EXPECT_EQ(state->format_version, 7);
}

TEST(PgStateStoreTest, BatchesRoundTripWithStrangePaths) {
  LANDFALL_REQUIRE_POSTGRES();
  auto store = OpenMigrated(UniqueEnvironment());
  ASSERT_TRUE(store);

  std::vector<BatchRecord> batches = {
      MakeBatch("orders", "orders/date=2026-11-01/part-0.parquet", 1),
      MakeBatch("a\"b; drop table x", "a\"b; drop table x/it's {a,b} \\ \"q\".parquet", 2),
      MakeBatch("заказы", "заказы/日本語/ünï code 🚀.parquet", 3),
      MakeBatch("orders", "NULL", 4),
      MakeBatch("orders", "orders/'); DROP TABLE batches; --.parquet", 5),
  };
  batches[1].status = BatchStatus::kQuarantined;
  batches[1].error_code = "not_parquet";
  batches[1].error_message = "magic bytes \"PAR1\" missing; it's not Parquet";
  batches[2].status = BatchStatus::kStaged;
  batches[2].staged_at_us = 1'767'225'999'999'999LL;
  batches[2].schema_json = R"({"columns":[{"name":"ключ","type":"BIGINT","nullable":true}]})";
  batches[3].status = BatchStatus::kDuplicate;
  batches[3].duplicate_of = batches[0].path;
  ASSERT_TRUE(store->UpsertBatches(batches));

  auto state = store->Load();
  ASSERT_TRUE(state) << state.error().ToString();
  ASSERT_EQ(state->batches.size(), batches.size());
  for (const auto& want : batches) {
    auto it = std::find_if(state->batches.begin(), state->batches.end(),
                           [&](const BatchRecord& b) { return b.path == want.path; });
    ASSERT_NE(it, state->batches.end()) << want.path;
    ExpectSameBatch(want, *it);
  }
}

TEST(PgStateStoreTest, LoadGivesEachBatchItsOwnSchemaWhenBatchesShareSchemas) {
  LANDFALL_REQUIRE_POSTGRES();
  const std::string env = UniqueEnvironment();
  auto store = OpenMigrated(env);
  auto other = OpenMigrated(env + "_other");
  ASSERT_TRUE(store && other);
  const std::string a = R"({"columns":[{"name":"id","type":"BIGINT","nullable":true}]})";
  const std::string a_spaced =
      R"({ "columns" : [ {"nullable":true, "type":"BIGINT", "name":"id"} ] })";
  const std::string b = R"({"columns":[{"name":"id","type":"VARCHAR","nullable":false}]})";
  const std::string c = R"({"columns":[{"name":"other_env","type":"DATE","nullable":true}]})";
  // Loaded schemas come once per distinct schema: each batch must still get
  // its own, whatever its neighbours hold.
  std::vector<BatchRecord> batches = {
      MakeBatch("t", "t/3.parquet", 3), MakeBatch("t", "t/1.parquet", 1),
      MakeBatch("t", "t/2.parquet", 2), MakeBatch("u", "u/1.parquet", 4),
      MakeBatch("t", "t/4.parquet", 5),
  };
  batches[0].schema_json = a;
  batches[1].schema_json = b;
  batches[2].schema_json = a_spaced;  // the same JSON value as `a`
  batches[3].schema_json = a;
  // batches[4]: no schema
  ASSERT_TRUE(store->UpsertBatches(batches));
  BatchRecord elsewhere = MakeBatch("t", "t/1.parquet", 9);
  elsewhere.schema_json = c;
  ASSERT_TRUE(other->UpsertBatches({elsewhere}));

  auto state = store->Load();
  ASSERT_TRUE(state) << state.error().ToString();
  ASSERT_EQ(state->batches.size(), batches.size());
  std::vector<std::string> paths;
  for (const auto& got : state->batches) paths.push_back(got.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"t/1.parquet", "t/2.parquet", "t/3.parquet",
                                             "t/4.parquet", "u/1.parquet"}));  // by path
  for (const auto& want : batches) {
    auto it = std::find_if(state->batches.begin(), state->batches.end(),
                           [&](const BatchRecord& b) { return b.path == want.path; });
    ASSERT_NE(it, state->batches.end()) << want.path;
    ExpectSameBatch(want, *it);
  }

  // A batch whose schema changes loads with its new one.
  batches[0].schema_json = b;
  ASSERT_TRUE(store->UpsertBatches({batches[0]}));
  state = store->Load();
  ASSERT_TRUE(state) << state.error().ToString();
  auto changed = std::find_if(state->batches.begin(), state->batches.end(),
                              [&](const BatchRecord& x) { return x.path == batches[0].path; });
  ASSERT_NE(changed, state->batches.end());
  ExpectSameBatch(batches[0], *changed);
}

TEST(PgStateStoreTest, UpsertUpdatesExistingBatchesAndKeepsFirstDiscovery) {
  LANDFALL_REQUIRE_POSTGRES();
  auto store = OpenMigrated(UniqueEnvironment());
  ASSERT_TRUE(store);
  BatchRecord batch = MakeBatch("orders", "orders/part-0.parquet", 1);
  ASSERT_TRUE(store->UpsertBatches({batch}));

  BatchRecord staged = batch;
  staged.status = BatchStatus::kStaged;
  staged.rows = 12345;
  staged.staged_at_us = batch.discovered_at_us + 5'000'000;
  staged.discovered_at_us = 0;  // unknown: keeps the first discovery
  ASSERT_TRUE(store->UpsertBatches({staged}));

  auto state = store->Load();
  ASSERT_TRUE(state) << state.error().ToString();
  ASSERT_EQ(state->batches.size(), 1u);
  staged.discovered_at_us = batch.discovered_at_us;
  ExpectSameBatch(staged, state->batches[0]);
}

TEST(PgStateStoreTest, UpsertOfANewCtimeAloneIsStored) {
  // A rewrite in place that restores size and mtime differs only in ctime.
  LANDFALL_REQUIRE_POSTGRES();
  auto store = OpenMigrated(UniqueEnvironment());
  ASSERT_TRUE(store);
  BatchRecord batch = MakeBatch("orders", "orders/part-0.parquet", 1);
  ASSERT_TRUE(store->UpsertBatches({batch}));
  BatchRecord rewritten = batch;
  rewritten.ctime_ns += 1'000'000;
  ASSERT_TRUE(store->UpsertBatches({rewritten}));

  auto state = store->Load();
  ASSERT_TRUE(state) << state.error().ToString();
  ASSERT_EQ(state->batches.size(), 1u);
  EXPECT_EQ(state->batches[0].ctime_ns, rewritten.ctime_ns);
}

TEST(PgStateStoreTest, UpsertOfTheSamePathTwiceInOneCallKeepsTheLast) {
  LANDFALL_REQUIRE_POSTGRES();
  auto store = OpenMigrated(UniqueEnvironment());
  ASSERT_TRUE(store);
  BatchRecord first = MakeBatch("orders", "orders/part-0.parquet", 1);
  BatchRecord second = first;
  second.rows = 99;
  ASSERT_TRUE(store->UpsertBatches({first, second}));
  auto state = store->Load();
  ASSERT_TRUE(state) << state.error().ToString();
  ASSERT_EQ(state->batches.size(), 1u);
  EXPECT_EQ(state->batches[0].rows, 99);
}

TEST(PgStateStoreTest, UpsertsAndDeletesThousandsOfBatches) {
  LANDFALL_REQUIRE_POSTGRES();
  auto store = OpenMigrated(UniqueEnvironment());
  ASSERT_TRUE(store);
  std::vector<BatchRecord> batches;
  for (int i = 0; i < 12'000; ++i) {
    batches.push_back(
        MakeBatch("t" + std::to_string(i % 50),
                  "t" + std::to_string(i % 50) + "/part-" + std::to_string(i) + ".parquet", i));
  }
  ASSERT_TRUE(store->UpsertBatches(batches));
  ASSERT_TRUE(store->UpsertBatches(batches));  // unchanged: a no-op

  std::vector<std::string> gone;
  for (int i = 0; i < 12'000; i += 3) gone.push_back(batches[i].path);
  gone.push_back("never/existed.parquet");
  ASSERT_TRUE(store->DeleteBatches(gone));

  auto state = store->Load();
  ASSERT_TRUE(state) << state.error().ToString();
  EXPECT_EQ(state->batches.size(), 8'000u);
  for (const auto& b : state->batches) {
    int i = std::stoi(b.path.substr(b.path.find("part-") + 5));
    EXPECT_NE(i % 3, 0) << b.path;
  }
}

TEST(PgStateStoreTest, InvalidSchemaJsonIsAnErrorAndWritesNothing) {
  LANDFALL_REQUIRE_POSTGRES();
  auto store = OpenMigrated(UniqueEnvironment());
  ASSERT_TRUE(store);
  BatchRecord good = MakeBatch("orders", "orders/good.parquet", 1);
  BatchRecord bad = MakeBatch("orders", "orders/bad.parquet", 2);
  bad.schema_json = "{not json";
  auto upserted = store->UpsertBatches({good, bad});
  ASSERT_FALSE(upserted);
  EXPECT_NE(upserted.error().message.find("upsert batches"), std::string::npos)
      << upserted.error().message;
  EXPECT_FALSE(upserted.error().transient);

  // One transaction: the good batch is not there either, and the store works on.
  auto state = store->Load();
  ASSERT_TRUE(state) << state.error().ToString();
  EXPECT_TRUE(state->batches.empty());
}

TEST(PgStateStoreTest, SaveTableAppendsHistoryOnlyWhenTheHashChanges) {
  LANDFALL_REQUIRE_POSTGRES();
  std::string env = UniqueEnvironment();
  auto store = OpenMigrated(env);
  ASSERT_TRUE(store);
  PgSession raw;
  auto history = [&] {
    return raw.Query(
        "SELECT schema_hash FROM schema_history WHERE environment = $1 AND table_name = $2"
        " ORDER BY id",
        {env, "orders"});
  };

  TableRecord table;
  table.name = "orders";
  table.schema_json = R"({"columns":[{"name":"id","type":"BIGINT"}]})";
  table.schema_hash = "h1";
  ASSERT_TRUE(store->SaveTable(table));
  EXPECT_EQ(history(), (std::vector<std::string>{"h1"}));

  table.status = TableStatus::kFailed;
  table.last_error = "boom";
  ASSERT_TRUE(store->SaveTable(table));  // same hash
  EXPECT_EQ(history(), (std::vector<std::string>{"h1"}));

  table.schema_json =
      R"({"columns":[{"name":"id","type":"BIGINT"},{"name":"x","type":"VARCHAR"}]})";
  table.schema_hash = "h2";
  table.status = TableStatus::kActive;
  table.last_error = "";
  table.policy = "freeze";
  table.updated_at_us = 1'767'225'600'000'000LL;
  ASSERT_TRUE(store->SaveTable(table));
  EXPECT_EQ(history(), (std::vector<std::string>{"h1", "h2"}));

  auto state = store->Load();
  ASSERT_TRUE(state) << state.error().ToString();
  ASSERT_EQ(state->tables.size(), 1u);
  const TableRecord& got = state->tables[0];
  EXPECT_EQ(got.name, "orders");
  EXPECT_EQ(nlohmann::json::parse(got.schema_json), nlohmann::json::parse(table.schema_json));
  EXPECT_EQ(got.schema_hash, "h2");
  EXPECT_EQ(got.status, TableStatus::kActive);
  EXPECT_EQ(got.last_error, "");
  EXPECT_EQ(got.policy, "freeze");
  EXPECT_EQ(got.updated_at_us, table.updated_at_us);
}

TEST(PgStateStoreTest, TableWithoutSchemaHasNoHistory) {
  LANDFALL_REQUIRE_POSTGRES();
  std::string env = UniqueEnvironment();
  auto store = OpenMigrated(env);
  ASSERT_TRUE(store);
  TableRecord table;
  table.name = "empty";
  ASSERT_TRUE(store->SaveTable(table));
  PgSession raw;
  EXPECT_EQ(raw.QueryOne("SELECT count(*) FROM schema_history WHERE environment = $1", {env}), "0");
  auto state = store->Load();
  ASSERT_TRUE(state) << state.error().ToString();
  ASSERT_EQ(state->tables.size(), 1u);
  EXPECT_EQ(state->tables[0].schema_json, "");
  EXPECT_GT(state->tables[0].updated_at_us, 0);  // now, when not given
}

TEST(PgStateStoreTest, DeleteTableForgetsTheTableButKeepsHistoryAndBatches) {
  LANDFALL_REQUIRE_POSTGRES();
  std::string env = UniqueEnvironment();
  auto store = OpenMigrated(env);
  ASSERT_TRUE(store);
  TableRecord table;
  table.name = "orders";
  table.schema_json = R"({"columns":[]})";
  table.schema_hash = "h1";
  ASSERT_TRUE(store->SaveTable(table));
  ASSERT_TRUE(store->UpsertBatches({MakeBatch("orders", "orders/p.parquet", 1)}));

  auto deleted = store->DeleteTable("orders");
  ASSERT_TRUE(deleted) << deleted.error().ToString();
  EXPECT_TRUE(*deleted);
  deleted = store->DeleteTable("orders");
  ASSERT_TRUE(deleted) << deleted.error().ToString();
  EXPECT_FALSE(*deleted);

  auto state = store->Load();
  ASSERT_TRUE(state) << state.error().ToString();
  EXPECT_TRUE(state->tables.empty());
  EXPECT_EQ(state->batches.size(), 1u);
  PgSession raw;
  EXPECT_EQ(raw.QueryOne("SELECT count(*) FROM schema_history WHERE environment = $1", {env}), "1");

  // Saved again, the same snapshot is new to the table: history records it.
  ASSERT_TRUE(store->SaveTable(table));
  EXPECT_EQ(raw.QueryOne("SELECT count(*) FROM schema_history WHERE environment = $1", {env}), "2");
}

TEST(PgStateStoreTest, RunLifecycle) {
  LANDFALL_REQUIRE_POSTGRES();
  auto store = OpenMigrated(UniqueEnvironment());
  ASSERT_TRUE(store);

  auto first = store->StartRun("cli", R"({"tables":[{"table":"orders","action":"append"}]})");
  ASSERT_TRUE(first) << first.error().ToString();
  auto second = store->StartRun("watcher", "");
  ASSERT_TRUE(second) << second.error().ToString();
  EXPECT_GT(*second, *first);

  TableRunRecord orders{.table = "orders",
                        .action = "append",
                        .reasons_json = R"([{"code":"new_batches","detail":"2 new"}])",
                        .status = TableRunStatus::kSucceeded,
                        .rows = 1234,
                        .batches = 2,
                        .duration_us = 56789,
                        .error = ""};
  TableRunRecord users{.table = "users",
                       .action = "rebuild",
                       .reasons_json = "",
                       .status = TableRunStatus::kFailed,
                       .rows = 0,
                       .batches = 0,
                       .duration_us = 1,
                       .error = "type conflict: it's \"bad\""};
  ASSERT_TRUE(store->RecordTableRun(*first, orders));
  ASSERT_TRUE(store->RecordTableRun(*first, users));
  ASSERT_TRUE(store->FinishRun(*first, "failed", "1 table failed"));

  auto runs = store->ListRuns(10);
  ASSERT_TRUE(runs) << runs.error().ToString();
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[0].id, *second);  // newest first
  EXPECT_EQ((*runs)[0].trigger, "watcher");
  EXPECT_EQ((*runs)[0].status, "running");
  EXPECT_EQ((*runs)[0].finished_at_us, 0);
  EXPECT_EQ((*runs)[0].plan_json, "");
  const RunSummary& done = (*runs)[1];
  EXPECT_EQ(done.id, *first);
  EXPECT_EQ(done.trigger, "cli");
  EXPECT_EQ(done.status, "failed");
  EXPECT_EQ(done.error, "1 table failed");
  EXPECT_GT(done.started_at_us, 0);
  EXPECT_GE(done.finished_at_us, done.started_at_us);
  EXPECT_EQ(nlohmann::json::parse(done.plan_json)["tables"][0]["action"], "append");

  auto limited = store->ListRuns(1);
  ASSERT_TRUE(limited) << limited.error().ToString();
  ASSERT_EQ(limited->size(), 1u);
  EXPECT_EQ((*limited)[0].id, *second);

  auto records = store->TableRuns(*first);
  ASSERT_TRUE(records) << records.error().ToString();
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].table, "orders");
  EXPECT_EQ((*records)[0].action, "append");
  EXPECT_EQ(nlohmann::json::parse((*records)[0].reasons_json),
            nlohmann::json::parse(orders.reasons_json));
  EXPECT_EQ((*records)[0].status, TableRunStatus::kSucceeded);
  EXPECT_EQ((*records)[0].rows, 1234);
  EXPECT_EQ((*records)[0].batches, 2);
  EXPECT_EQ((*records)[0].duration_us, 56789);
  EXPECT_EQ((*records)[0].error, "");
  EXPECT_EQ((*records)[1].table, "users");
  EXPECT_EQ(nlohmann::json::parse((*records)[1].reasons_json), nlohmann::json::array());
  EXPECT_EQ((*records)[1].error, users.error);

  auto none = store->TableRuns(*second);
  ASSERT_TRUE(none) << none.error().ToString();
  EXPECT_TRUE(none->empty());
}

TEST(PgStateStoreTest, PruneHistoryForgetsOldRunsAndSnapshotsButEachTablesNewest) {
  LANDFALL_REQUIRE_POSTGRES();
  std::string env = UniqueEnvironment();
  auto store = OpenMigrated(env);
  ASSERT_TRUE(store);
  PgSession raw;
  // Five finished runs touching orders, the first two also users; one run
  // still marked running. All but the last finished one are 40 days old.
  std::vector<int64_t> runs;
  for (int i = 0; i < 5; ++i) {
    auto id = store->StartRun("cli", "{}");
    ASSERT_TRUE(id) << id.error().ToString();
    runs.push_back(*id);
    ASSERT_TRUE(store->RecordTableRun(
        *id, {"orders", "append", "[]", TableRunStatus::kSucceeded, 1, 1, 10, ""}));
    if (i < 2) {
      ASSERT_TRUE(store->RecordTableRun(
          *id, {"users", "append", "[]", TableRunStatus::kSucceeded, 1, 1, 10, ""}));
    }
    ASSERT_TRUE(store->FinishRun(*id, "succeeded", ""));
  }
  auto running = store->StartRun("cli", "{}");
  ASSERT_TRUE(running);
  for (const char* hash : {"h1", "h2", "h3"}) {
    TableRecord table;
    table.name = "orders";
    table.schema_json = R"({"columns":[]})";
    table.schema_hash = hash;
    ASSERT_TRUE(store->SaveTable(table));
  }
  raw.Query(
      "UPDATE runs SET started_at = now() - interval '40 days' WHERE environment = $1"
      " AND id <> $2::bigint",
      {env, std::to_string(runs.back())});
  raw.Query(
      "UPDATE schema_history SET recorded_at = now() - interval '40 days'"
      " WHERE environment = $1",
      {env});

  // Chunks of 2 rows: several statements per kind.
  auto pruned = store->PruneHistory(30, 2);
  ASSERT_TRUE(pruned) << pruned.error().ToString();
  // orders' records of runs 1-4 go (run 5 is recent); users keeps its newest (run 2).
  EXPECT_EQ(pruned->table_runs, 5);
  EXPECT_EQ(pruned->runs, 3);  // runs 1, 3, 4: run 2 holds users' newest record
  EXPECT_EQ(pruned->schema_versions, 2);
  EXPECT_EQ(raw.Query("SELECT id FROM runs WHERE environment = $1 ORDER BY id", {env}),
            (std::vector<std::string>{std::to_string(runs[1]), std::to_string(runs[4]),
                                      std::to_string(*running)}));
  EXPECT_EQ(raw.Query("SELECT schema_hash FROM schema_history WHERE environment = $1", {env}),
            (std::vector<std::string>{"h3"}));
  auto state = store->Load();
  ASSERT_TRUE(state);
  ASSERT_EQ(state->last_actions.size(), 1u);  // orders has a table row
  EXPECT_EQ(state->last_actions[0].run_id, runs[4]);
  auto users = store->TableHistory("users", 0);
  ASSERT_TRUE(users);
  ASSERT_EQ(users->size(), 1u);
  EXPECT_EQ((*users)[0].run_id, runs[1]);

  // Nothing older left: a second prune deletes nothing.
  auto again = store->PruneHistory(30, 2);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->runs + again->table_runs + again->schema_versions, 0);
}

TEST(PgStateStoreTest, EnvironmentsShareNothing) {
  LANDFALL_REQUIRE_POSTGRES();
  auto prod = OpenMigrated(UniqueEnvironment("prod"));
  auto dev = OpenMigrated(UniqueEnvironment("dev"));
  ASSERT_TRUE(prod && dev);

  ASSERT_TRUE(prod->SetFormatVersion(kStateFormatVersion));
  TableRecord table;
  table.name = "orders";
  table.schema_hash = "h1";
  table.schema_json = "{}";
  ASSERT_TRUE(prod->SaveTable(table));
  ASSERT_TRUE(prod->UpsertBatches({MakeBatch("orders", "orders/p.parquet", 1)}));
  auto run = prod->StartRun("cli", "{}");
  ASSERT_TRUE(run) << run.error().ToString();
  ASSERT_TRUE(prod->RecordTableRun(
      *run, {.table = "orders", .action = "create", .status = TableRunStatus::kSucceeded}));

  // The same names in dev are other rows.
  BatchRecord dev_batch = MakeBatch("orders", "orders/p.parquet", 2);
  ASSERT_TRUE(dev->UpsertBatches({dev_batch}));

  auto dev_state = dev->Load();
  ASSERT_TRUE(dev_state) << dev_state.error().ToString();
  EXPECT_EQ(dev_state->format_version, std::nullopt);
  EXPECT_TRUE(dev_state->tables.empty());
  ASSERT_EQ(dev_state->batches.size(), 1u);
  EXPECT_EQ(dev_state->batches[0].rows, dev_batch.rows);
  auto dev_runs = dev->ListRuns(0);
  ASSERT_TRUE(dev_runs) << dev_runs.error().ToString();
  EXPECT_TRUE(dev_runs->empty());

  // Dev cannot reach into prod's run.
  auto records = dev->TableRuns(*run);
  ASSERT_TRUE(records) << records.error().ToString();
  EXPECT_TRUE(records->empty());
  auto finished = dev->FinishRun(*run, "succeeded", "");
  ASSERT_FALSE(finished);
  EXPECT_EQ(finished.error().code, "state_not_found");
  auto recorded = dev->RecordTableRun(
      *run, {.table = "x", .action = "skip", .status = TableRunStatus::kFailed});
  ASSERT_FALSE(recorded);
  EXPECT_EQ(recorded.error().code, "state_not_found");
  auto deleted = dev->DeleteTable("orders");
  ASSERT_TRUE(deleted) << deleted.error().ToString();
  EXPECT_FALSE(*deleted);

  auto prod_state = prod->Load();
  ASSERT_TRUE(prod_state) << prod_state.error().ToString();
  EXPECT_EQ(prod_state->format_version, kStateFormatVersion);
  EXPECT_EQ(prod_state->tables.size(), 1u);
  ASSERT_EQ(prod_state->batches.size(), 1u);
  EXPECT_EQ(prod_state->batches[0].rows, 10);
  auto prod_runs = prod->ListRuns(0);
  ASSERT_TRUE(prod_runs) << prod_runs.error().ToString();
  ASSERT_EQ(prod_runs->size(), 1u);
  EXPECT_EQ((*prod_runs)[0].status, "running");
}

TEST(PgStateStoreTest, UnreachableServerIsTransientAndHidesThePassword) {
  LANDFALL_REQUIRE_POSTGRES();
  auto store =
      OpenPostgres({.url = "postgresql://landfall:s3cr3t-pw@127.0.0.1:1/landfall?connect_timeout=2",
                    .environment = UniqueEnvironment()});
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, "state_unavailable");
  EXPECT_TRUE(store.error().transient);
  EXPECT_NE(store.error().message.find("127.0.0.1"), std::string::npos) << store.error().message;
  EXPECT_NE(store.error().message.find("port=1"), std::string::npos) << store.error().message;
  EXPECT_EQ(store.error().message.find("s3cr3t-pw"), std::string::npos) << store.error().message;
}

TEST(PgStateStoreTest, MalformedUrlIsAnErrorWithoutThePassword) {
  LANDFALL_REQUIRE_POSTGRES();
  auto store = OpenPostgres(
      {.url = "postgresql://u:s3cr3t%zz@127.0.0.1:5432/db", .environment = UniqueEnvironment()});
  ASSERT_FALSE(store);
  EXPECT_FALSE(store.error().transient);
  EXPECT_EQ(store.error().message.find("s3cr3t"), std::string::npos) << store.error().message;
}

TEST(PgStateStoreTest, ReconnectsAfterTheServerDropsTheConnection) {
  LANDFALL_REQUIRE_POSTGRES();
  std::string env = UniqueEnvironment();
  PgSession raw;
  // Our own application_name (the URL overrides landfall's default) finds
  // this store's session among everyone else's.
  std::string url =
      raw.UrlFor(raw.QueryOne("SELECT current_database()")) + " application_name='" + env + "'";
  auto store = OpenMigrated(env, url);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->UpsertBatches({MakeBatch("orders", "orders/p.parquet", 1)}));

  auto kill_session = [&] {
    EXPECT_EQ(raw.QueryOne("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                           " WHERE application_name = $1",
                           {env}),
              "1");
    // pg_terminate_backend only signals; wait until the session is gone.
    for (int i = 0; i < 100; ++i) {
      if (raw.QueryOne("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                       {env}) == "0") {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "session did not end";
  };

  kill_session();
  auto state = store->Load();
  ASSERT_TRUE(state) << state.error().ToString();
  EXPECT_EQ(state->batches.size(), 1u);

  kill_session();
  auto run = store->StartRun("cli", "");  // lost before anything was sent: redone
  ASSERT_TRUE(run) << run.error().ToString();
  auto runs = store->ListRuns(0);
  ASSERT_TRUE(runs) << runs.error().ToString();
  EXPECT_EQ(runs->size(), 1u);

  // The same for a table's outcome, sent as one pipeline: lost at its BEGIN, redone once.
  kill_session();
  BatchRecord staged = MakeBatch("orders", "orders/p.parquet", 1);
  staged.status = BatchStatus::kStaged;
  TableRecord table{.name = "orders", .schema_json = R"({"columns":[]})", .schema_hash = "h1"};
  TableRunRecord record{
      .table = "orders", .action = "append", .status = TableRunStatus::kSucceeded};
  auto recorded = store->RecordTableOutcome({staged}, table, *run, &record);
  ASSERT_TRUE(recorded) << recorded.error().ToString();
  auto records = store->TableRuns(*run);
  ASSERT_TRUE(records) << records.error().ToString();
  EXPECT_EQ(records->size(), 1u);
  auto after = store->Load();
  ASSERT_TRUE(after) << after.error().ToString();
  ASSERT_EQ(after->batches.size(), 1u);
  EXPECT_EQ(after->batches[0].status, BatchStatus::kStaged);
  ASSERT_EQ(after->tables.size(), 1u);
  EXPECT_EQ(after->tables[0].schema_hash, "h1");
}

TEST(PgStateStoreTest, TableOutcomeWritesBatchesTableAndRunTogether) {
  LANDFALL_REQUIRE_POSTGRES();
  auto store = OpenMigrated(UniqueEnvironment());
  ASSERT_TRUE(store);
  auto run = store->StartRun("cli", "");
  ASSERT_TRUE(run) << run.error().ToString();
  std::vector<BatchRecord> staged;
  for (int i = 0; i < 3; ++i) {
    staged.push_back(MakeBatch("orders", "orders/" + std::to_string(i) + ".parquet", i));
    staged.back().status = BatchStatus::kStaged;
  }
  TableRecord table{.name = "orders", .schema_json = R"({"columns":[]})", .schema_hash = "h1"};
  TableRunRecord record{
      .table = "orders", .action = "create", .status = TableRunStatus::kSucceeded, .rows = 3};
  ASSERT_TRUE(store->RecordTableOutcome(staged, table, *run, &record));
  // Without a run (a CLI run recording nothing) and without batches.
  table.schema_hash = "h2";
  ASSERT_TRUE(store->RecordTableOutcome({}, table, 0, nullptr));

  auto state = store->Load();
  ASSERT_TRUE(state) << state.error().ToString();
  EXPECT_EQ(state->batches.size(), 3u);
  for (const auto& b : state->batches) EXPECT_EQ(b.status, BatchStatus::kStaged) << b.path;
  ASSERT_EQ(state->tables.size(), 1u);
  EXPECT_EQ(state->tables[0].schema_hash, "h2");
  ASSERT_EQ(state->last_actions.size(), 1u);
  EXPECT_EQ(state->last_actions[0].action, "create");
  EXPECT_EQ(state->last_actions[0].run_id, *run);
  auto history = store->SchemaHistory("orders", 0);
  ASSERT_TRUE(history) << history.error().ToString();
  EXPECT_EQ(history->size(), 2u);

  // A run id of another environment (or none): the record is refused.
  auto refused = store->RecordTableOutcome({}, std::nullopt, *run + 1000, &record);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "state_not_found");
  // A failing statement rolls back the others (schema_json must be JSON).
  table.schema_hash = "h3";
  table.schema_json = "not json";
  auto bad = store->RecordTableOutcome(staged, table, *run, &record);
  ASSERT_FALSE(bad);
  auto unchanged = store->TableRuns(*run);
  ASSERT_TRUE(unchanged);
  EXPECT_EQ(unchanged->size(), 1u);
}

TEST(PgStateStoreTest, ConcurrentCallsFromManyThreadsAreSerialized) {
  LANDFALL_REQUIRE_POSTGRES();
  auto store = OpenMigrated(UniqueEnvironment());
  ASSERT_TRUE(store);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        std::string path = "t" + std::to_string(t) + "/p" + std::to_string(i) + ".parquet";
        EXPECT_TRUE(store->UpsertBatches({MakeBatch("t" + std::to_string(t), path, i)}));
        EXPECT_TRUE(store->Load());
      }
    });
  }
  for (auto& th : threads) th.join();
  auto state = store->Load();
  ASSERT_TRUE(state) << state.error().ToString();
  EXPECT_EQ(state->batches.size(), 100u);
}

}  // namespace
}  // namespace landfall::state
