#include "daemon/model_graph.h"

#include <set>

#include "lib/landing/catalog.h"
#include "lib/model/loader.h"
#include "lib/model/parse.h"

namespace landfall::daemon {

Result<ModelGraph> LoadModelGraph(const config::Config& config) {
  auto models = model::LoadModels(config);
  if (!models) return Fail(models.error());
  ModelGraph graph;
  graph.models = std::move(*models);
  std::set<std::string> staging_tables;
  if (!graph.models.empty()) {
    // Every table folder, even one without a batch yet: it is a staging table
    // as soon as its first file lands.
    auto scan = landing::Scan(config.landing.dir, config.landing.ignore);
    if (!scan) {
      return Fail(scan.error().code,
                  "cannot check the models' staging tables: " + scan.error().message);
    }
    staging_tables.insert(scan->tables.begin(), scan->tables.end());
  }
  auto dag = model::BuildDag(graph.models, staging_tables, config.warehouse.staging_schema,
                             config.models.schema, model::DuckDbParseFn());
  if (!dag) return Fail(dag.error());
  graph.dag = std::move(*dag);
  return graph;
}

}  // namespace landfall::daemon
