#include "lib/model/parse.h"

#include "lib/warehouse/sql_parse.h"

namespace landfall::model {

ParseFn DuckDbParseFn() {
  return [](const std::string& sql) -> Result<std::vector<TableRef>> {
    auto tables = warehouse::TablesReadBy(sql);
    if (!tables) return Fail(tables.error());
    std::vector<TableRef> out;
    for (const auto& t : *tables) {
      out.push_back({t.catalog.empty() ? t.schema : t.catalog + "." + t.schema, t.name});
    }
    return out;
  };
}

}  // namespace landfall::model
