#include "lib/model/lineage.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "lib/model/partition.h"
#include "lib/warehouse/plan_probe.h"

namespace landfall::model {

namespace {

using nlohmann::json;

// DuckDB's column index for a table's row id (and for count(*), which reads
// rows but no column): COLUMN_IDENTIFIER_ROW_ID.
constexpr uint64_t kRowIdColumn = std::numeric_limits<uint64_t>::max();

// Plan JSON this code does not recognise; caught in LineageFromPlan.
struct Unrecognised {
  std::string reason;
};

using Columns = std::vector<TableColumns>;  // an operator's outputs, by position

char Fold(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

const json& Field(const json& node, const char* key) {
  auto it = node.find(key);
  if (it == node.end()) {
    throw Unrecognised{"plan JSON: " + std::string(node.value("type", "a node")) + " without \"" +
                       key + "\""};
  }
  return *it;
}

const json& ArrayField(const json& node, const char* key) {
  const json& field = Field(node, key);
  if (!field.is_array()) throw Unrecognised{"plan JSON: \"" + std::string(key) + "\" is not a list"};
  return field;
}

std::string Text(const json& node, const char* key) {
  const json& field = Field(node, key);
  if (!field.is_string()) throw Unrecognised{"plan JSON: \"" + std::string(key) + "\" is not text"};
  return field.get<std::string>();
}

uint64_t Index(const json& node, const char* key) {
  const json& field = Field(node, key);
  if (!field.is_number_unsigned()) {
    throw Unrecognised{"plan JSON: \"" + std::string(key) + "\" is not an index"};
  }
  return field.get<uint64_t>();
}

const json& Child(const json& op, size_t i) {
  const json& children = ArrayField(op, "children");
  if (children.size() <= i) {
    throw Unrecognised{"plan JSON: " + Text(op, "type") + " with " +
                       std::to_string(children.size()) + " children"};
  }
  return children[i];
}

void Merge(TableColumns& into, const TableColumns& from) {
  for (const auto& [table, columns] : from) into[table].insert(columns.begin(), columns.end());
}

// The operators whose outputs and reads this code follows. Anything else
// (a new operator in a DuckDB upgrade, PIVOT's internals) is unknown lineage.
bool IsKnownOperator(const std::string& type) {
  static const std::set<std::string> kKnown = {
      "LOGICAL_PROJECTION",    "LOGICAL_FILTER",         "LOGICAL_AGGREGATE_AND_GROUP_BY",
      "LOGICAL_WINDOW",        "LOGICAL_UNNEST",         "LOGICAL_LIMIT",
      "LOGICAL_ORDER_BY",      "LOGICAL_TOP_N",          "LOGICAL_DISTINCT",
      "LOGICAL_GET",           "LOGICAL_CHUNK_GET",      "LOGICAL_DELIM_GET",
      "LOGICAL_EXPRESSION_GET", "LOGICAL_DUMMY_SCAN",    "LOGICAL_EMPTY_RESULT",
      "LOGICAL_CTE_REF",       "LOGICAL_COMPARISON_JOIN", "LOGICAL_DELIM_JOIN",
      "LOGICAL_ANY_JOIN",      "LOGICAL_CROSS_PRODUCT",  "LOGICAL_POSITIONAL_JOIN",
      "LOGICAL_ASOF_JOIN",     "LOGICAL_UNION",          "LOGICAL_EXCEPT",
      "LOGICAL_INTERSECT",     "LOGICAL_RECURSIVE_CTE",  "LOGICAL_MATERIALIZED_CTE",
  };
  return kKnown.contains(type);
}

// "schema.table" of a LOGICAL_GET that scans a table; throws for anything
// else (a table function), which is a read lineage cannot follow.
std::string ScannedTable(const json& get) {
  const std::string function = Text(get, "name");
  auto data = get.find("function_data");
  if (function != "seq_scan" || data == get.end() || !data->is_object() ||
      !data->contains("table")) {
    throw Unrecognised{"reads " + function + "(...), not a table"};
  }
  return Text(*data, "schema") + "." + Text(*data, "table");
}

// The column a LOGICAL_GET's column index names; nullopt for the row id.
std::optional<std::string> ScannedColumn(const json& get, const json& column_index) {
  const json& names = ArrayField(get, "names");
  const uint64_t index = Index(column_index, "index");
  if (index == kRowIdColumn) return std::nullopt;
  if (index >= names.size() || !names[index].is_string()) {
    throw Unrecognised{"plan JSON: column index " + std::to_string(index) + " of " +
                       ScannedTable(get) + " names no column"};
  }
  return names[index].get<std::string>();
}

// The read set: every LOGICAL_GET's table and columns. Also refuses what
// makes lineage unknown anywhere in the tree: an operator not in the known
// set, row sampling, a non-deterministic function.
void CollectReads(const json& node, const std::set<std::string>& non_deterministic,
                  TableColumns& reads) {
  if (node.is_array()) {
    for (const auto& child : node) CollectReads(child, non_deterministic, reads);
    return;
  }
  if (!node.is_object()) return;
  if (auto type = node.find("type"); type != node.end() && type->is_string() &&
                                     type->get<std::string>().starts_with("LOGICAL_")) {
    const std::string op = type->get<std::string>();
    if (op == "LOGICAL_SAMPLE") throw Unrecognised{"samples rows (USING SAMPLE), at random"};
    if (!IsKnownOperator(op)) throw Unrecognised{"plan operator " + op + " is not followed"};
    if (op == "LOGICAL_GET") {
      ColumnSet& columns = reads[ScannedTable(node)];
      for (const auto& index : ArrayField(node, "column_indexes")) {
        if (auto column = ScannedColumn(node, index)) columns.insert(std::move(*column));
      }
    }
  }
  if (auto cls = node.find("expression_class"); cls != node.end() && cls->is_string()) {
    const std::string name = node.value("name", "");
    if ((*cls == "BOUND_FUNCTION" || *cls == "BOUND_AGGREGATE") && non_deterministic.contains(name)) {
      throw Unrecognised{"calls " + name + "(), which is not deterministic"};
    }
  }
  for (const auto& [key, child] : node.items()) {
    if (child.is_structured()) CollectReads(child, non_deterministic, reads);
  }
}

// The output side: per operator, what each of its output columns is computed
// from. Expressions in the bound plan address their input by position
// (BOUND_REF index into the child's outputs, or into left then right for joins).
class OutputWalker {
 public:
  Columns Eval(const json& op) {
    const std::string type = Text(op, "type");
    if (type == "LOGICAL_GET") return Get(op);
    if (type == "LOGICAL_PROJECTION") return Each(ArrayField(op, "expressions"), Eval(Child(op, 0)));
    if (type == "LOGICAL_FILTER") return Select(Eval(Child(op, 0)), op, "projection_map");
    if (type == "LOGICAL_ORDER_BY") return Select(Eval(Child(op, 0)), op, "projections");
    if (type == "LOGICAL_LIMIT" || type == "LOGICAL_TOP_N" || type == "LOGICAL_DISTINCT") {
      return Eval(Child(op, 0));
    }
    if (type == "LOGICAL_AGGREGATE_AND_GROUP_BY") return Aggregate(op);
    if (type == "LOGICAL_WINDOW" || type == "LOGICAL_UNNEST") {
      Columns in = Eval(Child(op, 0));
      Columns added = Each(ArrayField(op, "expressions"), in);
      in.insert(in.end(), added.begin(), added.end());
      return in;
    }
    if (type == "LOGICAL_COMPARISON_JOIN" || type == "LOGICAL_DELIM_JOIN" ||
        type == "LOGICAL_ANY_JOIN" || type == "LOGICAL_ASOF_JOIN" ||
        type == "LOGICAL_CROSS_PRODUCT" || type == "LOGICAL_POSITIONAL_JOIN") {
      return Join(op, type);
    }
    if (type == "LOGICAL_UNION" || type == "LOGICAL_EXCEPT" || type == "LOGICAL_INTERSECT") {
      return Pairwise(Eval(Child(op, 0)), Eval(Child(op, 1)));
    }
    if (type == "LOGICAL_MATERIALIZED_CTE") {
      ctes_[Index(op, "table_index")] = Eval(Child(op, 0));
      return Eval(Child(op, 1));
    }
    if (type == "LOGICAL_RECURSIVE_CTE") return RecursiveCte(op);
    if (type == "LOGICAL_CTE_REF") {
      auto it = ctes_.find(Index(op, "cte_index"));
      if (it == ctes_.end()) throw Unrecognised{"a CTE reference before its definition"};
      return it->second;
    }
    if (type == "LOGICAL_DELIM_GET") {
      if (delim_.empty()) throw Unrecognised{"a DELIM_GET outside a DELIM_JOIN"};
      return delim_.back();
    }
    if (type == "LOGICAL_EXPRESSION_GET") return ExpressionGet(op);
    // One column (DuckDB binds a dummy scan's single column), no sources.
    if (type == "LOGICAL_DUMMY_SCAN") return Columns(1);
    if (type == "LOGICAL_CHUNK_GET") return Columns(ArrayField(op, "chunk_types").size());
    throw Unrecognised{"the outputs of " + type + " are not followed"};
  }

 private:
  // Every table column each expression's BOUND_REFs reach in `in`.
  static TableColumns Sources(const json& expression, const Columns& in) {
    TableColumns out;
    Collect(expression, in, out);
    return out;
  }
  static void Collect(const json& node, const Columns& in, TableColumns& out) {
    if (node.is_array()) {
      for (const auto& child : node) Collect(child, in, out);
      return;
    }
    if (!node.is_object()) return;
    if (node.value("expression_class", "") == "BOUND_REF") {
      const uint64_t index = Index(node, "index");
      if (index >= in.size()) throw Unrecognised{"a column reference past its input"};
      Merge(out, in[index]);
      return;
    }
    for (const auto& [key, child] : node.items()) {
      // A function's bind data is not its input: a lambda's body there
      // numbers its own parameters (its captures are the function's children).
      if (key == "function_data") continue;
      if (child.is_structured()) Collect(child, in, out);
    }
  }
  static Columns Each(const json& expressions, const Columns& in) {
    Columns out;
    for (const auto& e : expressions) out.push_back(Sources(e, in));
    return out;
  }
  // `in` restricted to the positions `op[key]` lists (none listed: all of it).
  static Columns Select(Columns in, const json& op, const char* key) {
    const json& map = ArrayField(op, key);
    if (map.empty()) return in;
    Columns out;
    for (const auto& i : map) {
      if (!i.is_number_unsigned() || i.get<uint64_t>() >= in.size()) {
        throw Unrecognised{"plan JSON: \"" + std::string(key) + "\" past its input"};
      }
      out.push_back(in[i.get<uint64_t>()]);
    }
    return out;
  }
  static Columns Pairwise(Columns left, const Columns& right) {
    if (left.size() != right.size()) throw Unrecognised{"set operation sides of different widths"};
    for (size_t i = 0; i < left.size(); ++i) Merge(left[i], right[i]);
    return left;
  }

  Columns Get(const json& get) {
    const std::string table = ScannedTable(get);
    Columns all;
    for (const auto& index : ArrayField(get, "column_indexes")) {
      TableColumns sources;
      if (auto column = ScannedColumn(get, index)) sources[table].insert(std::move(*column));
      all.push_back(std::move(sources));
    }
    return Select(std::move(all), get, "projection_ids");
  }

  // Groups, then aggregates, then one column per GROUPING() call.
  Columns Aggregate(const json& op) {
    const Columns in = Eval(Child(op, 0));
    Columns out = Each(ArrayField(op, "groups"), in);
    TableColumns all_groups;
    for (const auto& g : out) Merge(all_groups, g);
    Columns aggregates = Each(ArrayField(op, "expressions"), in);
    out.insert(out.end(), aggregates.begin(), aggregates.end());
    out.insert(out.end(), ArrayField(op, "grouping_functions").size(), all_groups);
    return out;
  }

  Columns Join(const json& op, const std::string& type) {
    const std::string join_type = type == "LOGICAL_CROSS_PRODUCT" || type == "LOGICAL_POSITIONAL_JOIN"
                                      ? "INNER"
                                      : Text(op, "join_type");
    Columns left = Eval(Child(op, 0));
    const bool delim = type == "LOGICAL_DELIM_JOIN";
    if (delim) {
      if (op.value("delim_flipped", false)) throw Unrecognised{"a flipped DELIM_JOIN"};
      delim_.push_back(Each(ArrayField(op, "duplicate_eliminated_columns"), left));
    }
    Columns right = Eval(Child(op, 1));
    if (delim) delim_.pop_back();
    if (join_type == "SEMI" || join_type == "ANTI") {
      return Select(std::move(left), op, "left_projection_map");
    }
    if (join_type == "MARK") {
      // The mark (true when a row of the right side matched) depends on what
      // the conditions compare on both sides.
      TableColumns mark;
      for (const auto& c : ArrayField(op, "conditions")) {
        Merge(mark, Sources(Field(c, "left"), left));
        Merge(mark, Sources(Field(c, "right"), right));
      }
      left = Select(std::move(left), op, "left_projection_map");
      left.push_back(std::move(mark));
      return left;
    }
    if (join_type != "INNER" && join_type != "LEFT" && join_type != "RIGHT" &&
        join_type != "OUTER" && join_type != "SINGLE") {
      throw Unrecognised{"join type " + join_type + " is not followed"};
    }
    if (type != "LOGICAL_CROSS_PRODUCT" && type != "LOGICAL_POSITIONAL_JOIN") {
      left = Select(std::move(left), op, "left_projection_map");
      right = Select(std::move(right), op, "right_projection_map");
    }
    left.insert(left.end(), right.begin(), right.end());
    return left;
  }

  // The recursive part reads the CTE itself: iterate until its sources stop growing.
  Columns RecursiveCte(const json& op) {
    const uint64_t index = Index(op, "table_index");
    Columns current = Eval(Child(op, 0));
    for (int round = 0; round < 16; ++round) {
      ctes_[index] = current;
      Columns next = Pairwise(current, Eval(Child(op, 1)));
      if (next == current) return current;
      current = std::move(next);
    }
    throw Unrecognised{"a recursive CTE whose sources do not settle"};
  }

  // VALUES: column i of every row.
  Columns ExpressionGet(const json& op) {
    const Columns in = Eval(Child(op, 0));
    Columns out(ArrayField(op, "expr_types").size());
    for (const auto& row : ArrayField(op, "expressions")) {
      if (!row.is_array() || row.size() != out.size()) throw Unrecognised{"a VALUES row of another width"};
      for (size_t i = 0; i < out.size(); ++i) Merge(out[i], Sources(row[i], in));
    }
    return out;
  }

  std::map<uint64_t, Columns> ctes_;  // by the defining operator's table_index
  std::vector<Columns> delim_;        // the enclosing DELIM_JOINs' duplicate-eliminated columns
};

}  // namespace

bool NameLess::operator()(std::string_view a, std::string_view b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                      [](char x, char y) { return Fold(x) < Fold(y); });
}

bool Lineage::MayRead(std::string_view table, std::string_view column) const {
  if (!known) return true;
  auto it = reads.find(table);
  return it != reads.end() && it->second.contains(column);
}

Lineage UnknownLineage(std::string reason) {
  Lineage out;
  out.unknown_reason = std::move(reason);
  out.outputs_unknown_reason = out.unknown_reason;
  return out;
}

Lineage LineageFromPlan(std::string_view plan_json, const std::vector<std::string>& output_names,
                        const std::set<std::string>& non_deterministic) {
  const json doc = json::parse(plan_json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return UnknownLineage("plan JSON does not parse");
  if (doc.value("error", false)) {
    return UnknownLineage("DuckDB could not plan it: " + doc.value("error_message", std::string()));
  }
  auto plans = doc.find("plans");
  if (plans == doc.end() || !plans->is_array() || plans->size() != 1) {
    return UnknownLineage("plan JSON: not exactly one plan");
  }
  Lineage out;
  try {
    CollectReads(plans->front(), non_deterministic, out.reads);
  } catch (const Unrecognised& e) {
    return UnknownLineage(e.reason);
  } catch (const json::exception& e) {
    return UnknownLineage(std::string("plan JSON: ") + e.what());
  }
  out.known = true;
  try {
    Columns columns = OutputWalker().Eval(plans->front());
    if (columns.size() != output_names.size()) {
      throw Unrecognised{"the plan has " + std::to_string(columns.size()) + " output columns, the query " +
                         std::to_string(output_names.size())};
    }
    for (size_t i = 0; i < columns.size(); ++i) {
      out.outputs.push_back({output_names[i], std::move(columns[i])});
    }
  } catch (const Unrecognised& e) {
    out.outputs.clear();
    out.outputs_unknown_reason = e.reason;
  } catch (const json::exception& e) {
    out.outputs.clear();
    out.outputs_unknown_reason = std::string("plan JSON: ") + e.what();
  }
  return out;
}

namespace {

// A time-interval model's SQL with one fixed window, as a run substitutes
// each partition's (any window binds the same columns).
std::string SqlToBind(const Model& model) {
  if (model.strategy != Strategy::kTimeInterval) return model.sql;
  using std::chrono::sys_days;
  constexpr auto kDay = std::chrono::year{2000} / 1 / 1;
  const TimePoint start = std::chrono::time_point_cast<std::chrono::seconds>(sys_days(kDay));
  return WithWindow(model.sql, start, start + std::chrono::days(1));
}

}  // namespace

Result<std::map<std::string, Lineage>> AnalyzeLineage(
    const std::vector<Model>& models, const Dag& dag,
    const std::map<std::string, schema::Schema>& staging_columns, warehouse::PlanProbe& probe) {
  auto non_deterministic = probe.NonDeterministicFunctions();
  if (!non_deterministic) return Fail(non_deterministic.error());
  std::map<std::string, const Model*> by_name;
  for (const auto& m : models) by_name[m.name] = &m;

  // Tables that could not be given to the probe, with why.
  std::map<std::string, std::string, NameLess> missing;
  for (const auto& [table, readers] : dag.staging_readers) {
    const TableRef ref{dag.staging_schema, table};
    auto columns = staging_columns.find(table);
    if (columns == staging_columns.end() || columns->second.columns.empty()) {
      missing[ToString(ref)] = "its columns are not known (not staged yet)";
    } else if (auto added = probe.AddTable(ref.schema, ref.name, columns->second); !added) {
      missing[ToString(ref)] = added.error().message;
    }
  }

  std::map<std::string, Lineage> out;
  for (const auto& name : dag.order) {
    const Model& model = *by_name.at(name);
    std::string blocked;
    for (const auto& upstream : dag.upstream.at(name)) {
      if (auto it = missing.find(ToString(upstream)); it != missing.end()) {
        blocked = "upstream " + ToString(upstream) + ": " + it->second;
        break;
      }
    }
    const TableRef self{dag.models_schema, name};
    if (!blocked.empty()) {
      out[name] = UnknownLineage(blocked);
      missing[ToString(self)] = "its lineage is unknown";
      continue;
    }
    auto bound = probe.Bind(SqlToBind(model));
    if (!bound) {
      out[name] = UnknownLineage("the SQL does not bind: " + bound.error().message);
      missing[ToString(self)] = "its SQL does not bind";
      continue;
    }
    std::vector<std::string> names;
    for (const auto& c : bound->columns.columns) names.push_back(c.name);
    out[name] = LineageFromPlan(bound->plan_json, names, *non_deterministic);
    if (auto added = probe.AddTable(self.schema, self.name, bound->columns); !added) {
      missing[ToString(self)] = added.error().message;
    }
  }
  return out;
}

namespace {

json TableColumnsJson(const TableColumns& tables) {
  json out = json::object();
  for (const auto& [table, columns] : tables) out[table] = json(std::vector<std::string>(columns.begin(), columns.end()));
  return out;
}

json LineageJson(const Dag& dag, const std::map<std::string, Lineage>& lineages,
                const std::string& model, const Lineage& lineage) {
  const std::string self = ToString(TableRef{dag.models_schema, model});
  json columns = json::array();
  for (const auto& c : lineage.outputs) {
    columns.push_back({{"name", c.name},
                       {"sources", TableColumnsJson(c.sources)},
                       {"read_by", ReadersOf(dag, lineages, self, c.name)}});
  }
  auto reason = [](const std::string& r) { return r.empty() ? json(nullptr) : json(r); };
  return {{"model", model},
          {"known", lineage.known},
          {"unknown_reason", reason(lineage.unknown_reason)},
          {"reads", TableColumnsJson(lineage.reads)},
          {"columns", std::move(columns)},
          {"columns_unknown_reason", reason(lineage.outputs_unknown_reason)}};
}

}  // namespace

std::string ModelLineageJson(const Dag& dag, const std::map<std::string, Lineage>& lineages,
                             const std::string& model) {
  auto it = lineages.find(model);
  if (it == lineages.end()) return "";
  return LineageJson(dag, lineages, model, it->second).dump();
}

std::string LineagesToJson(const Dag& dag, const std::map<std::string, Lineage>& lineages) {
  json models = json::array();
  for (const auto& name : dag.order) {
    if (auto it = lineages.find(name); it != lineages.end()) {
      models.push_back(LineageJson(dag, lineages, name, it->second));
    }
  }
  return json{{"models", std::move(models)}}.dump();
}

std::vector<std::string> ReadersOf(const Dag& dag, const std::map<std::string, Lineage>& lineages,
                                   std::string_view table, std::string_view column) {
  std::vector<std::string> out;
  for (const auto& name : dag.order) {
    auto it = lineages.find(name);
    if (it == lineages.end()) continue;
    const auto& upstream = dag.upstream.at(name);
    const bool reads_table = std::any_of(upstream.begin(), upstream.end(), [&](const TableRef& t) {
      return !NameLess()(ToString(t), table) && !NameLess()(table, ToString(t));
    });
    if (reads_table && it->second.MayRead(table, column)) out.push_back(name);
  }
  return out;
}

}  // namespace landfall::model
