// Partition keys, windows and which partitions a run picks (lib/model/partition.h).
#include "lib/model/partition.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace landfall::model {
namespace {

using ::testing::HasSubstr;
using std::chrono::sys_days;
using namespace std::chrono_literals;

TimePoint Day(int y, unsigned m, unsigned d) {
  return TimePoint{sys_days{std::chrono::year{y} / std::chrono::month{m} / std::chrono::day{d}}};
}

std::vector<std::string> Keys(const std::vector<PartitionPick>& picks) {
  std::vector<std::string> out;
  for (const auto& p : picks) out.push_back(p.key + ":" + p.reason);
  return out;
}

TEST(PartitionKeyTest, EachGranularityFormatsAndParsesItsKeys) {
  const TimePoint t = Day(2026, 4, 7) + 13h + 20min;
  EXPECT_EQ(FormatKey(Granularity::kHour, PartitionStart(Granularity::kHour, t)), "2026-04-07T13");
  EXPECT_EQ(FormatKey(Granularity::kDay, PartitionStart(Granularity::kDay, t)), "2026-04-07");
  EXPECT_EQ(FormatKey(Granularity::kMonth, PartitionStart(Granularity::kMonth, t)), "2026-04");
  EXPECT_EQ(FormatKey(Granularity::kYear, PartitionStart(Granularity::kYear, t)), "2026");
  for (auto [g, key] : std::vector<std::pair<Granularity, std::string>>{{Granularity::kHour, "2026-04-07T13"},
                                                                         {Granularity::kDay, "2026-04-07"},
                                                                         {Granularity::kMonth, "2026-04"},
                                                                         {Granularity::kYear, "2026"}}) {
    auto start = ParseKey(g, key);
    ASSERT_TRUE(start) << key;
    EXPECT_EQ(FormatKey(g, *start), key);
  }
  EXPECT_EQ(*ParseKey(Granularity::kHour, "2026-04-07T13"), Day(2026, 4, 7) + 13h);
}

TEST(PartitionKeyTest, AKeyMustSurviveParseAndFormatUnchanged) {
  for (const char* key : {"2026-4-7", "2026-04-7", "2026-04-07x", "2026-02-30", "2026-04-07T24", "", "abcd-01-01"}) {
    auto start = ParseKey(Granularity::kDay, key);
    ASSERT_FALSE(start) << key;
    EXPECT_EQ(start.error().code, "partition_invalid");
    EXPECT_THAT(start.error().message, HasSubstr("YYYY-MM-DD"));
  }
  EXPECT_FALSE(ParseKey(Granularity::kMonth, "2026-13"));
  EXPECT_FALSE(ParseKey(Granularity::kMonth, "2026-04-01"));
  EXPECT_FALSE(ParseKey(Granularity::kYear, "26"));
  EXPECT_FALSE(ParseKey(Granularity::kHour, "2026-04-07"));
}

TEST(PartitionKeyTest, WindowsFollowTheCalendar) {
  EXPECT_EQ(NextPartition(Granularity::kMonth, Day(2026, 2, 1)), Day(2026, 3, 1));  // 28 days
  EXPECT_EQ(NextPartition(Granularity::kMonth, Day(2028, 2, 1)), Day(2028, 3, 1));  // 29 days
  EXPECT_EQ(NextPartition(Granularity::kMonth, Day(2026, 12, 1)), Day(2027, 1, 1));
  EXPECT_EQ(PreviousPartition(Granularity::kMonth, Day(2026, 1, 1)), Day(2025, 12, 1));
  EXPECT_EQ(NextPartition(Granularity::kYear, Day(2026, 1, 1)), Day(2027, 1, 1));
  EXPECT_EQ(NextPartition(Granularity::kDay, Day(2026, 12, 31)), Day(2027, 1, 1));
  EXPECT_EQ(NextPartition(Granularity::kHour, Day(2026, 4, 7) + 23h), Day(2026, 4, 8));
  EXPECT_EQ(PartitionsBetween(Granularity::kDay, Day(2026, 2, 27), Day(2026, 3, 2)).size(), 4u);
  EXPECT_TRUE(PartitionsBetween(Granularity::kDay, Day(2026, 3, 2), Day(2026, 3, 1)).empty());
}

TEST(PartitionKeyTest, TheWindowReplacesBothVariablesAsQuotedUtcTimestamps) {
  EXPECT_EQ(WithWindow("SELECT * FROM e WHERE ts >= @start_date AND ts < @end_date AND note <> '@start_dates'",
                       Day(2026, 4, 7), Day(2026, 4, 8)),
            "SELECT * FROM e WHERE ts >= '2026-04-07 00:00:00' AND ts < '2026-04-08 00:00:00' AND note <> "
            "'@start_dates'");
  EXPECT_TRUE(UsesStartDate("x >= @start_date"));
  EXPECT_FALSE(UsesStartDate("x >= @start_dates"));
  EXPECT_FALSE(UsesEndDate("x >= @start_date"));
  EXPECT_EQ(SqlTimestamp(Day(2026, 4, 7) + 13h + 5min + 9s), "'2026-04-07 13:05:09'");
}

class PickTest : public ::testing::Test {
 protected:
  PickTest() {
    in_.granularity = Granularity::kDay;
    in_.first_partition = "2026-04-01";
    in_.now = Day(2026, 4, 10) + 12h;
  }
  std::vector<std::string> Pick() {
    auto picks = PickPartitions(in_);
    EXPECT_TRUE(picks) << picks.error().message;
    return picks ? Keys(*picks) : std::vector<std::string>{};
  }
  std::string ErrorOf() {
    auto picks = PickPartitions(in_);
    if (picks) return "no error";
    EXPECT_EQ(picks.error().code, "partition_invalid");
    return picks.error().message;
  }
  PartitionPickInput in_;
};

TEST_F(PickTest, FlagsPickTheirPartitions) {
  in_.selection.partition = "2026-04-03";
  EXPECT_EQ(Pick(), std::vector<std::string>{"2026-04-03:requested"});
  in_.selection = {.from = "2026-04-08", .to = "2026-04-10"};
  EXPECT_EQ(Pick(), (std::vector<std::string>{"2026-04-08:requested", "2026-04-09:requested", "2026-04-10:requested"}));
  in_.selection = {.latest = true};
  EXPECT_EQ(Pick(), std::vector<std::string>{"2026-04-10:requested"});
}

TEST_F(PickTest, BadFlagsAreErrorsNamingTheFlag) {
  in_.selection.partition = "2026-4-3";
  EXPECT_THAT(ErrorOf(), HasSubstr("--partition"));
  in_.selection = {.partition = "2026-03-31"};
  EXPECT_THAT(ErrorOf(), HasSubstr("before the model's first_partition"));
  in_.selection = {.partition = "2026-04-11"};
  EXPECT_THAT(ErrorOf(), HasSubstr("after the current partition"));
  in_.selection = {.from = "2026-04-05", .to = "2026-04-04"};
  EXPECT_THAT(ErrorOf(), HasSubstr("is after --to"));
}

TEST_F(PickTest, MissingFindsGapsFailuresInterruptionsAndWindowsClosedSinceTheirComputation) {
  in_.selection.missing = true;
  for (int d = 1; d <= 10; ++d) {
    char key[16];
    std::snprintf(key, sizeof key, "2026-04-%02d", d);
    in_.known[key] = {.status = "computed", .window_closed = true};
  }
  in_.known.erase("2026-04-02");
  in_.known["2026-04-04"] = {.status = "failed"};
  in_.known["2026-04-05"] = {.status = "interrupted"};
  in_.known["2026-04-06"] = {.status = "computed", .window_closed = false};  // closed since
  in_.known["2026-04-10"] = {.status = "computed", .window_closed = false};  // still open: not missing
  EXPECT_EQ(Pick(), (std::vector<std::string>{"2026-04-02:missing", "2026-04-04:failed_before",
                                              "2026-04-05:missing", "2026-04-06:window_reopened"}));
}

TEST_F(PickTest, TheDaemonsCasePicksTheChangedKeysAndLookbackWithinRange) {
  in_.changed["2026-04-05"] = {kPartitionUpstreamRows, "staging.events: 1 new batch"};
  in_.changed["2026-04-20"] = {kPartitionUpstreamRows, "future rows are not picked"};
  in_.lookback = 2;
  EXPECT_EQ(Pick(), (std::vector<std::string>{"2026-04-03:lookback", "2026-04-04:lookback", "2026-04-05:upstream_rows"}));
  in_.changed = {{"2026-04-01", {kPartitionChecksumChanged, ""}}};
  EXPECT_EQ(Pick(), std::vector<std::string>{"2026-04-01:checksum_changed"}) << "lookback stops at first_partition";
  in_.selection.lookback = 0;
  in_.changed = {{"2026-04-05", {kPartitionUpstreamRows, ""}}};
  EXPECT_EQ(Pick(), std::vector<std::string>{"2026-04-05:upstream_rows"}) << "--lookback 0 overrides the model's";
}

TEST_F(PickTest, ARebuildPicksEveryPartitionToNow) {
  in_.everything = true;
  in_.known["2026-04-03"] = {.status = "computed", .window_closed = true};
  auto picks = Pick();
  ASSERT_EQ(picks.size(), 10u);
  EXPECT_EQ(picks.front(), "2026-04-01:missing");
  EXPECT_EQ(picks.back(), "2026-04-10:missing");
}

TEST(BatchPartitionsTest, GroupsConsecutiveWindowsUpToTheBatchSize) {
  auto pick = [](int d) {
    return PartitionPick{FormatKey(Granularity::kDay, Day(2026, 4, d)), Day(2026, 4, d), Day(2026, 4, d + 1), "x", ""};
  };
  auto batches = BatchPartitions({pick(1), pick(2), pick(3), pick(5), pick(6)}, 2);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].size(), 2u);
  EXPECT_EQ(batches[1].size(), 1u);  // 3, then a gap
  EXPECT_EQ(batches[2].size(), 2u);
  EXPECT_EQ(BatchPartitions({pick(1), pick(2)}, 1).size(), 2u);
}

}  // namespace
}  // namespace landfall::model
