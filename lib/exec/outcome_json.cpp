#include <nlohmann/json.hpp>

#include "lib/exec/engine.h"

namespace landfall::exec {

std::string ToJson(const RunOutcome& outcome) {
  using json = nlohmann::json;
  json tables = json::array();
  for (const auto& t : outcome.tables) {
    tables.push_back({{"table", t.table},
                      {"action", plan::ToString(t.action)},
                      {"status", state::ToString(t.status)},
                      {"rows", t.rows},
                      {"batches", t.batches},
                      {"duration_ms", t.duration_us / 1000.0},
                      {"error", t.error}});
  }
  json out = {{"run_id", outcome.run_id},
              {"ok", outcome.ok()},
              {"warehouse_statements", outcome.warehouse_statements},
              {"files", outcome.catalog.files},
              {"inspected", outcome.catalog.inspected},
              {"quarantined", outcome.catalog.quarantined},
              {"duplicates", outcome.catalog.duplicates},
              {"tables", std::move(tables)},
              {"plan", json::parse(plan::ToJson(outcome.plan))},
              {"models", json::parse(OutcomesToJson(outcome.models))},
              {"models_error", outcome.models_error ? outcome.models_error->ToString() : ""},
              {"models_error_code", outcome.models_error ? outcome.models_error->code : ""},
              {"models_duration_ms", outcome.models_us / 1000.0}};
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace landfall::exec
