// The pure part of data checks: names, what passes, ages, the anomaly test.
#include "lib/model/checks.h"

#include <gtest/gtest.h>

namespace landfall::model {
namespace {

TEST(ChecksTest, NamesSayTheKindAndWhatItLooksAt) {
  EXPECT_EQ(CheckName({.kind = CheckKind::kRowCount, .min = 1}), "row_count");
  EXPECT_EQ(CheckName({.kind = CheckKind::kNotNull, .columns = {"id", "email"}}), "not_null(id, email)");
  EXPECT_EQ(CheckName({.kind = CheckKind::kAcceptedValues, .columns = {"status"}}), "accepted_values(status)");
  EXPECT_EQ(CheckName({.kind = CheckKind::kExpression, .expression = "amount >= 0"}),
            "expression(amount >= 0)");
}

TEST(ChecksTest, RowCountPassesWithinItsBoundsInclusive) {
  const Check check{.kind = CheckKind::kRowCount, .min = 1, .max = 3};
  EXPECT_FALSE(CheckPasses(check, 0.0));
  EXPECT_TRUE(CheckPasses(check, 1.0));
  EXPECT_TRUE(CheckPasses(check, 3.0));
  EXPECT_FALSE(CheckPasses(check, 4.0));
  EXPECT_TRUE(CheckPasses({.kind = CheckKind::kRowCount, .min = 1}, 1e9));
  EXPECT_EQ(CheckExpectation(check), "between 1 and 3");
  EXPECT_EQ(CheckExpectation({.kind = CheckKind::kRowCount, .max = 3}), "<= 3");
}

TEST(ChecksTest, RowChecksPassOnlyWithNoFailingRows) {
  const Check check{.kind = CheckKind::kNotNull, .columns = {"id"}};
  EXPECT_TRUE(CheckPasses(check, 0.0));
  EXPECT_FALSE(CheckPasses(check, 1.0));
  EXPECT_EQ(CheckExpectation(check), "0 rows");
}

TEST(ChecksTest, FreshnessFailsWhenOlderThanMaxAgeOrWithNoRows) {
  const Check check{.kind = CheckKind::kFreshness, .columns = {"ts"}, .max_age = "2 hours", .max_age_seconds = 7200};
  EXPECT_TRUE(CheckPasses(check, 7200.0));
  EXPECT_FALSE(CheckPasses(check, 7201.0));
  EXPECT_FALSE(CheckPasses(check, std::nullopt));
  EXPECT_EQ(CheckExpectation(check), "<= 7200 s (2 hours)");
}

TEST(ChecksTest, AgesAreNumbersWithUnits) {
  EXPECT_EQ(ParseAge("2 hours"), 7200);
  EXPECT_EQ(ParseAge("1 hour"), 3600);
  EXPECT_EQ(ParseAge("90 minutes"), 5400);
  EXPECT_EQ(ParseAge(" 1 day 6 hours "), 108000);
  EXPECT_EQ(ParseAge("1 week"), 604800);
  EXPECT_EQ(ParseAge("30seconds"), 30);
  EXPECT_EQ(ParseAge(""), std::nullopt);
  EXPECT_EQ(ParseAge("soon"), std::nullopt);
  EXPECT_EQ(ParseAge("2"), std::nullopt);
  EXPECT_EQ(ParseAge("2 fortnights"), std::nullopt);
  EXPECT_EQ(ParseAge("0 hours"), std::nullopt);
  EXPECT_EQ(ParseAge("-1 hours"), std::nullopt);
  EXPECT_EQ(ParseAge("99999999999 weeks"), std::nullopt);
}

TEST(ChecksTest, KindsRoundTripAndUnknownNamesAreNone) {
  for (auto kind : {CheckKind::kRowCount, CheckKind::kNotNull, CheckKind::kUnique, CheckKind::kAcceptedValues,
                    CheckKind::kFreshness, CheckKind::kExpression}) {
    EXPECT_EQ(CheckKindFromString(ToString(kind)), kind);
  }
  EXPECT_EQ(CheckKindFromString("not_empty"), std::nullopt);
}

TEST(ChecksTest, ARowCountFarFromTheTrailingMeanIsAnAnomaly) {
  const std::vector<double> previous = {100, 102, 98, 101, 99};  // mean 100, sd ~1.41
  EXPECT_FALSE(IsRowCountAnomaly(103, previous, 3));
  EXPECT_TRUE(IsRowCountAnomaly(105, previous, 3));
  EXPECT_TRUE(IsRowCountAnomaly(90, previous, 3));
  EXPECT_FALSE(IsRowCountAnomaly(105, previous, 4));
}

TEST(ChecksTest, FewerThanTwoEarlierRunsAreNoBaseline) {
  EXPECT_FALSE(IsRowCountAnomaly(1e6, {}, 3));
  EXPECT_FALSE(IsRowCountAnomaly(1e6, {1}, 3));
}

TEST(ChecksTest, AfterIdenticalCountsAnyOtherCountIsAnAnomaly) {
  EXPECT_FALSE(IsRowCountAnomaly(100, {100, 100, 100}, 3));
  EXPECT_TRUE(IsRowCountAnomaly(101, {100, 100, 100}, 3));
}

}  // namespace
}  // namespace landfall::model
