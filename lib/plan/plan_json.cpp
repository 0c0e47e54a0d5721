#include <nlohmann/json.hpp>
#include <sstream>

#include "lib/plan/plan.h"

namespace landfall::plan {

namespace {

nlohmann::json Reasons(const std::vector<PlanReason>& reasons) {
  auto out = nlohmann::json::array();
  for (const auto& r : reasons) out.push_back({{"code", r.code}, {"detail", r.detail}});
  return out;
}

nlohmann::json Renames(const TablePlan& t) {
  auto out = nlohmann::json::array();
  for (const auto& r : t.renames) out.push_back({{"from", r.from}, {"to", r.to}});
  return out;
}

nlohmann::json Quarantine(const TablePlan& t) {
  auto out = nlohmann::json::array();
  for (const auto& q : t.quarantine) {
    out.push_back({{"batch", q.rel_path}, {"code", q.code}, {"detail", q.detail}});
  }
  return out;
}

nlohmann::json TableJson(const TablePlan& t) {
  nlohmann::json columns = nlohmann::json::array();
  for (const auto& c : t.target.columns) columns.push_back({{"name", c.name}, {"type", c.type}});
  return {{"table", t.table},
          {"action", ToString(t.action)},
          {"batches", t.batches},
          {"reasons", Reasons(t.reasons)},
          {"policy", config::ToString(t.policy)},
          {"renames", Renames(t)},
          {"quarantine", Quarantine(t)},
          {"schema_hash", t.target.columns.empty() ? "" : t.target.Hash()},
          {"columns", std::move(columns)}};
}

std::string Dump(const nlohmann::json& doc) {
  // Replace invalid UTF-8 (odd file names) rather than throwing.
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string ReasonsToJson(const std::vector<PlanReason>& reasons) {
  return Reasons(reasons).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string ToJson(const ChangePlan& plan) {
  nlohmann::json tables = nlohmann::json::array();
  for (const auto& t : plan.tables) tables.push_back(TableJson(t));
  return Dump({{"full_rebuild", plan.full_rebuild},
               {"reasons", Reasons(plan.reasons)},
               {"tables", std::move(tables)}});
}

std::string ToRunJson(const ChangePlan& plan) {
  nlohmann::json tables = nlohmann::json::array();
  int skipped = 0;
  for (const auto& t : plan.tables) {
    if (t.action == Action::kSkip) {
      ++skipped;
      continue;
    }
    auto table = TableJson(t);
    table.erase("batches");
    table["batch_count"] = t.batches.size();
    tables.push_back(std::move(table));
  }
  return Dump({{"full_rebuild", plan.full_rebuild},
               {"reasons", Reasons(plan.reasons)},
               {"tables", std::move(tables)},
               {"tables_skipped", skipped}});
}

std::string ToText(const ChangePlan& plan) {
  std::ostringstream out;
  if (plan.full_rebuild) {
    out << "FULL REBUILD";
    for (const auto& r : plan.reasons) out << " - " << r.code << ": " << r.detail;
    out << "\n";
  }
  size_t width = 5;
  for (const auto& t : plan.tables) width = std::max(width, t.table.size());
  out << std::string("TABLE") << std::string(width - 5 + 2, ' ') << "ACTION   BATCHES  POLICY   REASONS\n";
  for (const auto& t : plan.tables) {
    std::string reasons;
    for (const auto& r : t.reasons) {
      reasons += (reasons.empty() ? "" : "; ") + r.code + (r.detail.empty() ? "" : ": " + r.detail);
    }
    std::string action = ToString(t.action);
    std::string batches = std::to_string(t.batches.size());
    std::string policy = config::ToString(t.policy);
    out << t.table << std::string(width - t.table.size() + 2, ' ') << action
        << std::string(action.size() < 9 ? 9 - action.size() : 1, ' ') << batches
        << std::string(batches.size() < 9 ? 9 - batches.size() : 1, ' ') << policy
        << std::string(policy.size() < 9 ? 9 - policy.size() : 1, ' ') << reasons << "\n";
  }
  out << plan.tables.size() << " tables, " << plan.ActionableCount() << " to change\n";
  return out.str();
}

}  // namespace landfall::plan
