#include "daemon/model_graph.h"

#include <algorithm>

#include "lib/landing/catalog.h"
#include "lib/model/loader.h"
#include "lib/model/parse.h"

namespace landfall::daemon {

namespace {

bool SameModels(const std::vector<model::Model>& a, const std::vector<model::Model>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.name == y.name && x.sql_hash == y.sql_hash && x.config_hash == y.config_hash;
  });
}

// The graph of `models` over `staging_tables`, reusing `reuse`'s DAG when it can.
Result<ModelGraph> Build(const config::Config& config, std::vector<model::Model> models,
                         std::set<std::string> staging_tables, const ModelGraph* reuse) {
  ModelGraph graph;
  graph.models = std::move(models);
  graph.staging_tables = std::move(staging_tables);
  if (reuse != nullptr && reuse->staging_tables == graph.staging_tables &&
      SameModels(reuse->models, graph.models)) {
    graph.dag = reuse->dag;
    return graph;
  }
  auto dag = model::BuildDag(graph.models, graph.staging_tables, config.warehouse.staging_schema,
                             config.models.schema, model::DuckDbParseFn());
  if (!dag) return Fail(dag.error());
  graph.dag = std::move(*dag);
  return graph;
}

}  // namespace

Result<ModelGraph> LoadModelGraph(const config::Config& config) {
  auto models = model::LoadModels(config);
  if (!models) return Fail(models.error());
  std::set<std::string> staging_tables;
  if (!models->empty()) {
    // Every table folder, even one without a batch yet: it is a staging table
    // as soon as its first file lands.
    auto scan = landing::Scan(config.landing.dir, config.landing.ignore);
    if (!scan) {
      return Fail(scan.error().code,
                  "cannot check the models' staging tables: " + scan.error().message);
    }
    staging_tables.insert(scan->tables.begin(), scan->tables.end());
  }
  return Build(config, std::move(*models), std::move(staging_tables), nullptr);
}

Result<ModelGraph> LoadModelGraph(const config::Config& config,
                                  std::set<std::string> staging_tables, const ModelGraph* reuse) {
  auto models = model::LoadModels(config);
  if (!models) return Fail(models.error());
  return Build(config, std::move(*models), std::move(staging_tables), reuse);
}

}  // namespace landfall::daemon
