#include "lib/model/model.h"

namespace landfall::model {

namespace {

constexpr Strategy kStrategies[] = {Strategy::kFullRefresh,      Strategy::kView,
                                    Strategy::kIncremental,      Strategy::kMerge,
                                    Strategy::kMaterializedView, Strategy::kDynamicTable,
                                    Strategy::kTimeInterval};

}  // namespace

const char* ToString(Strategy strategy) {
  switch (strategy) {
    case Strategy::kFullRefresh:
      return "full_refresh";
    case Strategy::kView:
      return "view";
    case Strategy::kIncremental:
      return "incremental";
    case Strategy::kMerge:
      return "merge";
    case Strategy::kMaterializedView:
      return "materialized_view";
    case Strategy::kDynamicTable:
      return "dynamic_table";
    case Strategy::kTimeInterval:
      return "time_interval";
  }
  return "full_refresh";  // unreachable: every enumerator is handled above
}

std::optional<Strategy> StrategyFromString(std::string_view text) {
  for (Strategy s : kStrategies) {
    if (text == ToString(s)) return s;
  }
  return std::nullopt;
}

const char* ToString(IncrementalConfig::By by) {
  return by == IncrementalConfig::By::kWatermark ? "watermark" : "batch";
}

std::optional<IncrementalConfig::By> IncrementalByFromString(std::string_view text) {
  if (text == "batch") return IncrementalConfig::By::kBatch;
  if (text == "watermark") return IncrementalConfig::By::kWatermark;
  return std::nullopt;
}

std::string ToString(const TableRef& ref) {
  return ref.schema.empty() ? ref.name : ref.schema + "." + ref.name;
}

}  // namespace landfall::model
