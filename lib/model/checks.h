// Data checks: what a model's `checks:` asks of its target after each write,
// and the row-count anomaly test every model gets. The types and the pure
// decisions live here; the loader (loader.cpp) reads them from YAML, the
// warehouse (model_sql.h) builds the query that observes each check's value,
// and the model runner (model_runner.cpp) runs them and records the results.
// README: "Data checks".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace landfall::model {

enum class CheckKind {
  kRowCount,        // observed: the target's rows; passes within [min, max]
  kNotNull,         // observed: rows with a NULL in any of `columns`; passes at 0
  kUnique,          // observed: rows whose `columns` key another row shares; passes at 0
  kAcceptedValues,  // observed: rows whose column (not NULL) is not one of `values`; passes at 0
  kFreshness,       // observed: seconds since MAX(column); passes at <= max_age_seconds
  kExpression,      // observed: rows where `expression` is false (NULL passes); passes at 0
};
// The YAML key of each kind ("row_count", "not_null", ...).
const char* ToString(CheckKind kind);
std::optional<CheckKind> CheckKindFromString(std::string_view text);

// error: a failing check fails the model (check_failed) and skips its
// downstream models; warn: a failing check is logged and recorded only.
enum class CheckSeverity { kError, kWarn };
const char* ToString(CheckSeverity severity);  // "error" | "warn"

struct Check {
  CheckKind kind = CheckKind::kRowCount;
  CheckSeverity severity = CheckSeverity::kError;
  std::optional<int64_t> min;  // row_count; at least one of min, max is set
  std::optional<int64_t> max;
  // not_null, unique: one or more; accepted_values, freshness: exactly one.
  std::vector<std::string> columns;
  std::vector<std::string> values;  // accepted_values, compared as text
  std::string max_age;              // freshness, as written ("2 hours")
  int64_t max_age_seconds = 0;      // freshness, max_age parsed by ParseAge
  std::string expression;           // expression: a SQL condition over the target's columns

  bool operator==(const Check&) const = default;
};

// The name a check is recorded and reported under: "row_count",
// "not_null(id, email)", "unique(id)", "accepted_values(status)",
// "freshness(ts)", "expression(amount >= 0)".
std::string CheckName(const Check& check);

// What a passing value is, for the check history and the log: "between 1
// and 10", ">= 1", "0 rows", "<= 7200 s (2 hours)".
std::string CheckExpectation(const Check& check);

// Whether `observed` (the value the check's query returned; nullopt when it
// was NULL, as freshness of an empty target is) passes the check.
bool CheckPasses(const Check& check, std::optional<double> observed);

// "2 hours", "90 minutes", "1 day 6 hours" as seconds: one or more
// "<whole number> <unit>" pairs, units second(s), minute(s), hour(s), day(s),
// week(s); nullopt for anything else (or a total of 0).
std::optional<int64_t> ParseAge(std::string_view text);

// The row-count anomaly test run after every write of every model.
inline constexpr const char* kRowCountAnomaly = "row_count_anomaly";
struct AnomalyConfig {
  int runs = 10;       // `anomaly_runs`: the trailing runs the mean is taken over
  double sigma = 3.0;  // `anomaly_sigma`: how many standard deviations away is an anomaly

  bool operator==(const AnomalyConfig&) const = default;
};

// Whether `rows` lies more than `sigma` standard deviations from the mean of
// `previous` (the row counts of the model's last runs). Fewer than two
// previous counts are no baseline: never an anomaly. When they are all equal
// (no deviation), any other count is one.
bool IsRowCountAnomaly(double rows, const std::vector<double>& previous, double sigma);

// The reason code of a model whose upstream model's error check failed in
// this run (ModelStep::reasons), and of that model itself.
inline constexpr const char* kCheckFailed = "check_failed";
inline constexpr const char* kUpstreamCheckFailed = "upstream_check_failed";

}  // namespace landfall::model
