#include "lib/model/checks.h"

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <utility>

namespace landfall::model {

namespace {

constexpr std::array<std::pair<CheckKind, const char*>, 6> kKinds = {{
    {CheckKind::kRowCount, "row_count"},
    {CheckKind::kNotNull, "not_null"},
    {CheckKind::kUnique, "unique"},
    {CheckKind::kAcceptedValues, "accepted_values"},
    {CheckKind::kFreshness, "freshness"},
    {CheckKind::kExpression, "expression"},
}};

std::string Joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

std::optional<int64_t> UnitSeconds(std::string_view unit) {
  if (unit.size() > 1 && unit.back() == 's') unit.remove_suffix(1);
  if (unit == "second") return 1;
  if (unit == "minute") return 60;
  if (unit == "hour") return 3600;
  if (unit == "day") return 86400;
  if (unit == "week") return 7 * 86400;
  return std::nullopt;
}

}  // namespace

const char* ToString(CheckKind kind) {
  for (const auto& [k, text] : kKinds) {
    if (k == kind) return text;
  }
  return "unknown";
}

std::optional<CheckKind> CheckKindFromString(std::string_view text) {
  for (const auto& [kind, name] : kKinds) {
    if (text == name) return kind;
  }
  return std::nullopt;
}

const char* ToString(CheckSeverity severity) {
  return severity == CheckSeverity::kWarn ? "warn" : "error";
}

std::string CheckName(const Check& check) {
  switch (check.kind) {
    case CheckKind::kRowCount:
      return "row_count";
    case CheckKind::kExpression:
      return "expression(" + check.expression + ")";
    default:
      return std::string(ToString(check.kind)) + "(" + Joined(check.columns) + ")";
  }
}

std::string CheckExpectation(const Check& check) {
  switch (check.kind) {
    case CheckKind::kRowCount:
      if (check.min && check.max) {
        return "between " + std::to_string(*check.min) + " and " + std::to_string(*check.max);
      }
      return check.min ? ">= " + std::to_string(*check.min) : "<= " + std::to_string(*check.max);
    case CheckKind::kFreshness:
      return "<= " + std::to_string(check.max_age_seconds) + " s (" + check.max_age + ")";
    default:
      return "0 rows";
  }
}

bool CheckPasses(const Check& check, std::optional<double> observed) {
  // A NULL observation is a target the check cannot vouch for (freshness of
  // no rows at all).
  if (!observed) return false;
  switch (check.kind) {
    case CheckKind::kRowCount:
      return (!check.min || *observed >= static_cast<double>(*check.min)) &&
             (!check.max || *observed <= static_cast<double>(*check.max));
    case CheckKind::kFreshness:
      return *observed <= static_cast<double>(check.max_age_seconds);
    default:
      return *observed == 0;
  }
}

std::optional<int64_t> ParseAge(std::string_view text) {
  int64_t total = 0;
  size_t i = 0;
  auto skip_spaces = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  skip_spaces();
  if (i == text.size()) return std::nullopt;
  while (i < text.size()) {
    int64_t number = 0;
    auto [end, ec] = std::from_chars(text.data() + i, text.data() + text.size(), number);
    if (ec != std::errc() || number < 0) return std::nullopt;
    i = static_cast<size_t>(end - text.data());
    skip_spaces();
    const size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    auto seconds = UnitSeconds(text.substr(unit_start, i - unit_start));
    if (!seconds) return std::nullopt;
    // Beyond a century is a typo, not an age; it also keeps the sum from overflowing.
    if (number > 100LL * 366 * 86400 / *seconds) return std::nullopt;
    total += number * *seconds;
    skip_spaces();
  }
  if (total == 0) return std::nullopt;
  return total;
}

bool IsRowCountAnomaly(double rows, const std::vector<double>& previous, double sigma) {
  if (previous.size() < 2) return false;
  double mean = 0;
  for (double v : previous) mean += v;
  mean /= static_cast<double>(previous.size());
  double variance = 0;
  for (double v : previous) variance += (v - mean) * (v - mean);
  const double deviation = std::sqrt(variance / static_cast<double>(previous.size()));
  return std::abs(rows - mean) > sigma * deviation;
}

}  // namespace landfall::model
