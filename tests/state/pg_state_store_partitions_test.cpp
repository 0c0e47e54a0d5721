// The partitions of time-interval models in the PostgreSQL state store,
// against a real server (tests/with-postgres.sh). Every test works in an
// environment of its own.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "lib/state/state_store.h"
#include "tests/state/state_testing.h"
#include "tests/support/testing.h"

namespace landfall::state {
namespace {

using ::landfall::testing::PgQuery;
using ::landfall::testing::UniqueEnvironment;

constexpr int64_t kDayUs = 86'400'000'000LL;
constexpr int64_t kApril7Us = 1'775'520'000'000'000LL;  // 2026-04-07 00:00:00 UTC

// Day `key` of April 2026, computed and closed, with every field set.
PartitionRecord Day(const std::string& model, int day, PartitionStatus status) {
  const int64_t start = kApril7Us + (day - 7) * kDayUs;
  PartitionRecord partition;
  partition.model = model;
  partition.key = "2026-04-" + std::string(day < 10 ? "0" : "") + std::to_string(day);
  partition.window_start_us = start;
  partition.window_end_us = start + kDayUs;
  partition.status = status;
  partition.computed_at_us = start + kDayUs + 3'600'000'000LL;
  partition.window_closed = true;
  partition.row_count = 100 + day;
  partition.checksum = std::to_string(100 + day) + ":12345678901234567890";
  partition.duration_us = 2500 + day;
  partition.run_id = 40 + day;
  partition.error = status == PartitionStatus::kFailed ? "Binder Error: day " + std::to_string(day)
                                                       : "";
  return partition;
}

std::vector<std::string> Keys(const std::vector<PartitionRecord>& partitions) {
  std::vector<std::string> keys;
  for (const auto& partition : partitions) keys.push_back(partition.key);
  return keys;
}

class PartitionStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LANDFALL_REQUIRE_POSTGRES();
    store_ = OpenMigrated(env_);
    ASSERT_TRUE(store_);
  }

  std::vector<PartitionRecord> Read(const std::string& model, const PartitionFilter& filter = {}) {
    auto partitions = store_->Partitions(model, filter);
    EXPECT_TRUE(partitions) << partitions.error().ToString();
    return partitions.value_or(std::vector<PartitionRecord>{});
  }

  std::vector<std::string> Query(const std::string& sql) { return PgQuery(sql, env_); }

  const std::string env_ = UniqueEnvironment("partitions");
  std::unique_ptr<StateStore> store_;
};

TEST(PartitionStatusTest, NamesRoundTripAndUnknownNamesAreNone) {
  // Four names read as four statuses that write them back: each status has
  // its own name.
  for (const char* name : {"computed", "failed", "in_progress", "interrupted"}) {
    auto status = PartitionStatusFromString(name);
    ASSERT_TRUE(status) << name;
    EXPECT_STREQ(ToString(*status), name);
  }
  for (const char* unknown : {"", "Computed", "in-progress", "missing"}) {
    EXPECT_EQ(PartitionStatusFromString(unknown), std::nullopt) << unknown;
  }
}

TEST_F(PartitionStateTest, PartitionRoundTripsEveryField) {
  PartitionRecord failed = Day("events_daily", 8, PartitionStatus::kFailed);
  // Never computed, in a window starting at the epoch: 0 is a bound there,
  // not "unknown"; quotes and braces are just characters.
  PartitionRecord first;
  first.model = "events_daily";
  first.key = "1970";
  first.window_start_us = 0;
  first.window_end_us = 365 * kDayUs;
  first.status = PartitionStatus::kInProgress;
  first.error = "a\"b; it's {x,y} \\ NULL";
  ASSERT_TRUE(store_->SavePartitions({failed, first}));

  const auto partitions = Read("events_daily");
  ASSERT_EQ(partitions.size(), 2u);
  const PartitionRecord& a = partitions[0];  // "1970" sorts first
  EXPECT_EQ(a.model, "events_daily");
  EXPECT_EQ(a.key, "1970");
  EXPECT_EQ(a.window_start_us, 0);
  EXPECT_EQ(a.window_end_us, 365 * kDayUs);
  EXPECT_EQ(a.status, PartitionStatus::kInProgress);
  EXPECT_EQ(a.computed_at_us, 0);
  EXPECT_FALSE(a.window_closed);
  EXPECT_EQ(a.row_count, 0);
  EXPECT_EQ(a.checksum, "");
  EXPECT_EQ(a.duration_us, 0);
  EXPECT_EQ(a.run_id, 0);
  EXPECT_EQ(a.error, first.error);
  EXPECT_GT(a.updated_at_us, 0);
  const PartitionRecord& b = partitions[1];
  EXPECT_EQ(b.key, "2026-04-08");
  EXPECT_EQ(b.window_start_us, kApril7Us + kDayUs);
  EXPECT_EQ(b.window_end_us, kApril7Us + 2 * kDayUs);
  EXPECT_EQ(b.status, PartitionStatus::kFailed);
  EXPECT_EQ(b.computed_at_us, failed.computed_at_us);
  EXPECT_TRUE(b.window_closed);
  EXPECT_EQ(b.row_count, 108);
  EXPECT_EQ(b.checksum, "108:12345678901234567890");
  EXPECT_EQ(b.duration_us, 2508);
  EXPECT_EQ(b.run_id, 48);
  EXPECT_EQ(b.error, "Binder Error: day 8");

  // Stored as the status's name, the window as timestamps.
  EXPECT_EQ(Query("SELECT status || ' ' || window_start::date || ' ' || (run_id IS NULL)"
                  "  FROM model_partitions WHERE environment = $1 ORDER BY key"),
            (std::vector<std::string>{"in_progress 1970-01-01 true", "failed 2026-04-08 false"}));
}

TEST_F(PartitionStateTest, SaveUpsertsByModelAndKey) {
  ASSERT_TRUE(store_->SavePartitions({Day("m", 7, PartitionStatus::kInProgress),
                                      Day("m", 8, PartitionStatus::kComputed)}));
  PartitionRecord recomputed = Day("m", 7, PartitionStatus::kComputed);
  recomputed.row_count = 5;
  recomputed.checksum = "5:1";
  recomputed.window_closed = false;
  recomputed.run_id = 99;
  // The same key twice in one save: the later record wins, as two saves would.
  PartitionRecord again = Day("m", 9, PartitionStatus::kFailed);
  PartitionRecord fixed = Day("m", 9, PartitionStatus::kComputed);
  ASSERT_TRUE(store_->SavePartitions({recomputed, again, fixed}));

  const auto partitions = Read("m");
  ASSERT_EQ(Keys(partitions), (std::vector<std::string>{"2026-04-07", "2026-04-08", "2026-04-09"}));
  EXPECT_EQ(partitions[0].status, PartitionStatus::kComputed);
  EXPECT_EQ(partitions[0].row_count, 5);
  EXPECT_EQ(partitions[0].checksum, "5:1");
  EXPECT_FALSE(partitions[0].window_closed);
  EXPECT_EQ(partitions[0].run_id, 99);
  EXPECT_EQ(partitions[1].status, PartitionStatus::kComputed);
  EXPECT_EQ(partitions[2].status, PartitionStatus::kComputed);
  EXPECT_EQ(partitions[2].error, "");
  EXPECT_TRUE(store_->SavePartitions({}));
}

TEST_F(PartitionStateTest, SaveIsOneTransaction) {
  ASSERT_TRUE(store_->SavePartitions({Day("m", 7, PartitionStatus::kInProgress)}));
  // A window end no timestamp can hold fails the statement: the good record
  // beside it is not saved either, and the old one stays.
  PartitionRecord bad = Day("m", 8, PartitionStatus::kComputed);
  bad.window_end_us = std::numeric_limits<int64_t>::max();
  auto saved = store_->SavePartitions({Day("m", 7, PartitionStatus::kComputed), bad});
  ASSERT_FALSE(saved);
  EXPECT_EQ(saved.error().code, "state_query_failed");
  const auto partitions = Read("m");
  ASSERT_EQ(partitions.size(), 1u);
  EXPECT_EQ(partitions[0].status, PartitionStatus::kInProgress);
}

TEST_F(PartitionStateTest, FilterSelectsByStatusKeyRangeAndLimit) {
  std::vector<PartitionRecord> days;
  for (int day = 1; day <= 9; ++day) {
    days.push_back(Day("m", day, day % 3 == 0 ? PartitionStatus::kFailed : PartitionStatus::kComputed));
  }
  days.push_back(Day("other", 5, PartitionStatus::kFailed));
  ASSERT_TRUE(store_->SavePartitions(days));

  EXPECT_EQ(Read("m").size(), 9u);
  EXPECT_EQ(Keys(Read("m", {.status = "failed"})),
            (std::vector<std::string>{"2026-04-03", "2026-04-06", "2026-04-09"}));
  EXPECT_EQ(Keys(Read("m", {.from = "2026-04-04", .to = "2026-04-06"})),
            (std::vector<std::string>{"2026-04-04", "2026-04-05", "2026-04-06"}));
  EXPECT_EQ(Keys(Read("m", {.from = "2026-04-08"})),
            (std::vector<std::string>{"2026-04-08", "2026-04-09"}));
  EXPECT_EQ(Keys(Read("m", {.to = "2026-04-02"})),
            (std::vector<std::string>{"2026-04-01", "2026-04-02"}));
  EXPECT_EQ(Keys(Read("m", {.status = "computed", .from = "2026-04-05", .limit = 2})),
            (std::vector<std::string>{"2026-04-05", "2026-04-07"}));
  EXPECT_EQ(Keys(Read("m", {.limit = -1})).size(), 9u);  // <= 0: all
  EXPECT_TRUE(Read("m", {.status = "in_progress"}).empty());
  EXPECT_TRUE(Read("m", {.from = "2026-04-09", .to = "2026-04-01"}).empty());
  EXPECT_TRUE(Read("never_seen").empty());
}

TEST_F(PartitionStateTest, MarkInterruptedTurnsOnlyInProgressPartitionsInterrupted) {
  ASSERT_TRUE(store_->SavePartitions({Day("a", 7, PartitionStatus::kInProgress),
                                      Day("a", 8, PartitionStatus::kComputed),
                                      Day("a", 9, PartitionStatus::kFailed),
                                      Day("b", 7, PartitionStatus::kInProgress)}));
  auto marked = store_->MarkPartitionsInterrupted();
  ASSERT_TRUE(marked) << marked.error().ToString();
  EXPECT_EQ(*marked, 2);

  auto a = Read("a");
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0].status, PartitionStatus::kInterrupted);
  EXPECT_NE(a[0].error.find("interrupted"), std::string::npos) << a[0].error;
  EXPECT_EQ(a[0].row_count, 107);  // the rest of its last state stays
  EXPECT_EQ(a[1].status, PartitionStatus::kComputed);
  EXPECT_EQ(a[2].status, PartitionStatus::kFailed);
  EXPECT_EQ(a[2].error, "Binder Error: day 9");
  EXPECT_EQ(Read("b")[0].status, PartitionStatus::kInterrupted);

  marked = store_->MarkPartitionsInterrupted();
  ASSERT_TRUE(marked);
  EXPECT_EQ(*marked, 0);
}

TEST_F(PartitionStateTest, DeletePartitionsForgetsOneModels) {
  ASSERT_TRUE(store_->SavePartitions({Day("a", 7, PartitionStatus::kComputed),
                                      Day("a", 8, PartitionStatus::kFailed),
                                      Day("b", 7, PartitionStatus::kComputed)}));
  ASSERT_TRUE(store_->DeletePartitions("a"));
  EXPECT_TRUE(Read("a").empty());
  EXPECT_EQ(Read("b").size(), 1u);
  EXPECT_TRUE(store_->DeletePartitions("never_seen"));
}

TEST_F(PartitionStateTest, DeleteModelDeletesItsPartitions) {
  ModelRecord model;
  model.name = "a";
  model.strategy = "time_interval";
  model.status = ModelStatus::kActive;
  ASSERT_TRUE(store_->RecordModelOutcome(model, 0, nullptr));
  ASSERT_TRUE(store_->SavePartitions({Day("a", 7, PartitionStatus::kComputed),
                                      Day("b", 7, PartitionStatus::kComputed)}));

  auto deleted = store_->DeleteModel("a");
  ASSERT_TRUE(deleted) << deleted.error().ToString();
  EXPECT_TRUE(*deleted);
  EXPECT_TRUE(Read("a").empty());
  EXPECT_EQ(Read("b").size(), 1u);

  // A model with no row still loses its partitions, and is reported not found.
  deleted = store_->DeleteModel("b");
  ASSERT_TRUE(deleted);
  EXPECT_FALSE(*deleted);
  EXPECT_TRUE(Read("b").empty());
}

TEST_F(PartitionStateTest, EnvironmentsShareNoPartitions) {
  const std::string other_env = UniqueEnvironment("partitions_other");
  auto other = OpenMigrated(other_env);
  ASSERT_TRUE(other);
  ASSERT_TRUE(store_->SavePartitions({Day("m", 7, PartitionStatus::kInProgress),
                                      Day("m", 8, PartitionStatus::kComputed)}));

  auto theirs = other->Partitions("m", {});
  ASSERT_TRUE(theirs) << theirs.error().ToString();
  EXPECT_TRUE(theirs->empty());
  auto marked = other->MarkPartitionsInterrupted();
  ASSERT_TRUE(marked);
  EXPECT_EQ(*marked, 0);
  ASSERT_TRUE(other->DeletePartitions("m"));
  ModelRecord model;
  model.name = "m";
  model.strategy = "time_interval";
  ASSERT_TRUE(other->RecordModelOutcome(model, 0, nullptr));
  ASSERT_TRUE(other->DeleteModel("m"));

  // Its own partition of the same model and key is another row.
  ASSERT_TRUE(other->SavePartitions({Day("m", 7, PartitionStatus::kFailed)}));
  theirs = other->Partitions("m", {});
  ASSERT_TRUE(theirs);
  ASSERT_EQ(theirs->size(), 1u);
  EXPECT_EQ((*theirs)[0].status, PartitionStatus::kFailed);

  const auto ours = Read("m");
  ASSERT_EQ(ours.size(), 2u);
  EXPECT_EQ(ours[0].status, PartitionStatus::kInProgress);
  EXPECT_EQ(ours[0].error, "");
  EXPECT_EQ(ours[1].status, PartitionStatus::kComputed);
}

}  // namespace
}  // namespace landfall::state
