#include "lib/exec/model_checks.h"

#include <algorithm>
#include <optional>

#include <spdlog/spdlog.h>

namespace landfall::exec {

namespace {

warehouse::TargetCheck ToTargetCheck(const model::Check& check) {
  using Kind = warehouse::TargetCheck::Kind;
  warehouse::TargetCheck out;
  switch (check.kind) {
    case model::CheckKind::kRowCount:
      out.kind = Kind::kRowCount;
      break;
    case model::CheckKind::kNotNull:
      out.kind = Kind::kNotNull;
      break;
    case model::CheckKind::kUnique:
      out.kind = Kind::kUnique;
      break;
    case model::CheckKind::kAcceptedValues:
      out.kind = Kind::kAcceptedValues;
      break;
    case model::CheckKind::kFreshness:
      out.kind = Kind::kFreshness;
      break;
    case model::CheckKind::kExpression:
      out.kind = Kind::kExpression;
      break;
  }
  out.columns = check.columns;
  out.values = check.values;
  out.expression = check.expression;
  return out;
}

std::string Observed(const std::optional<double>& value) { return value ? fmt::format("{}", *value) : "none"; }

// The anomaly test's result, or nullopt when the row count cannot be read
// (logged: the test is skipped, not failed).
std::optional<state::CheckRecord> RowCountAnomaly(const model::Model& m, const std::string& schema,
                                                  warehouse::ModelWarehouse& wh, state::StateStore& state) {
  warehouse::TargetCheck count;
  count.kind = warehouse::TargetCheck::Kind::kRowCount;
  auto rows = wh.ObserveCheck(schema, m.name, count);
  if (!rows || !*rows) {
    spdlog::warn("model {}: row-count anomaly test skipped: {}", m.name,
                 rows ? "no row count" : rows.error().ToString());
    return std::nullopt;
  }
  auto history = state.ModelChecks(m.name, model::kRowCountAnomaly, m.anomaly.runs);
  if (!history) {
    spdlog::warn("model {}: row-count anomaly test skipped: {}", m.name, history.error().ToString());
    return std::nullopt;
  }
  std::vector<double> previous;
  for (const auto& h : *history) {
    if (h.observed) previous.push_back(*h.observed);
  }
  double mean = 0;
  for (double v : previous) mean += v;
  if (!previous.empty()) mean /= static_cast<double>(previous.size());
  state::CheckRecord out{.model = m.name, .check = model::kRowCountAnomaly, .severity = "warn"};
  out.observed = static_cast<double>(**rows);
  out.passed = !model::IsRowCountAnomaly(**rows, previous, m.anomaly.sigma);
  out.detail = previous.size() < 2 ? fmt::format("no baseline yet ({} earlier runs)", previous.size())
                                   : fmt::format("mean {:.1f} of the last {} runs, sigma {}", mean,
                                                 previous.size(), m.anomaly.sigma);
  return out;
}

}  // namespace

std::vector<state::CheckRecord> RunModelChecks(const model::Model& m, const std::string& schema, bool anomaly,
                                               warehouse::ModelWarehouse& wh, state::StateStore& state,
                                               int64_t run_id) {
  std::vector<state::CheckRecord> out;
  for (const auto& check : m.checks) {
    state::CheckRecord& result = out.emplace_back();
    result.model = m.name;
    result.check = model::CheckName(check);
    result.severity = model::ToString(check.severity);
    auto observed = wh.ObserveCheck(schema, m.name, ToTargetCheck(check));
    if (observed) {
      result.observed = *observed;
      result.passed = model::CheckPasses(check, *observed);
      result.detail = "expected " + model::CheckExpectation(check);
    } else {
      result.passed = false;
      result.detail = observed.error().message;
    }
    if (!result.passed) {
      spdlog::log(check.severity == model::CheckSeverity::kError ? spdlog::level::err : spdlog::level::warn,
                  "model {}: check {} failed ({}): observed {}, {}", m.name, result.check, result.severity,
                  Observed(result.observed), result.detail);
    }
  }
  if (anomaly) {
    if (auto result = RowCountAnomaly(m, schema, wh, state)) {
      if (!result->passed) {
        spdlog::warn("model {}: row-count anomaly: {} rows, {}", m.name, Observed(result->observed),
                     result->detail);
      }
      out.push_back(std::move(*result));
    }
  }
  if (run_id > 0 && !out.empty()) {
    if (auto s = state.RecordChecks(run_id, out); !s) {
      spdlog::warn("model {}: recording its check results: {}", m.name, s.error().ToString());
    }
  }
  return out;
}

bool ErrorCheckFailed(const std::vector<state::CheckRecord>& checks) {
  return std::any_of(checks.begin(), checks.end(),
                     [](const state::CheckRecord& c) { return !c.passed && c.severity == "error"; });
}

std::string FailedErrorChecks(const std::vector<state::CheckRecord>& checks) {
  std::string out;
  for (const auto& c : checks) {
    if (c.passed || c.severity != "error") continue;
    out += (out.empty() ? "" : ", ") + c.check + ": " + Observed(c.observed) + " (" + c.detail + ")";
  }
  return out;
}

std::string CheckResultLabel(const state::CheckRecord& check) {
  if (check.passed) return "pass";
  if (check.check == model::kRowCountAnomaly) return "anomaly";
  return check.severity == "error" ? "fail" : "warn";
}

}  // namespace landfall::exec
