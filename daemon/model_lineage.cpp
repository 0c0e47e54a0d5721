#include "daemon/model_lineage.h"

#include "lib/schema/schema.h"
#include "lib/warehouse/plan_probe.h"

namespace landfall::daemon {

Result<std::map<std::string, model::Lineage>> LineageOf(const ModelGraph& graph,
                                                        const std::vector<state::TableSummary>& tables) {
  std::map<std::string, schema::Schema> columns;
  for (const auto& summary : tables) {
    if (summary.table.schema_json.empty()) continue;
    auto snapshot = schema::SchemaFromJson(summary.table.schema_json);
    if (!snapshot) {
      return Fail("state_corrupt", "table " + summary.table.name +
                                       ": its schema snapshot does not parse: " +
                                       snapshot.error().message);
    }
    columns[summary.table.name] = std::move(*snapshot);
  }
  auto probe = warehouse::OpenPlanProbe();
  if (!probe) return Fail(probe.error());
  return model::AnalyzeLineage(graph.models, graph.dag, columns, **probe);
}

}  // namespace landfall::daemon
