#include "lib/model/dag.h"

#include <algorithm>
#include <cctype>
#include <deque>

namespace landfall::model {

namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "model a (models/a.sql)": how every error names its model.
std::string Named(const Model& m) { return "model " + m.name + " (" + m.sql_file.string() + ")"; }

// A parse error "line N: message" as "file:N: message", so editors can jump to it.
std::string ParseErrorAt(const Model& m, const std::string& message) {
  if (message.starts_with("line ")) {
    const auto colon = message.find(": ");
    const std::string line = message.substr(5, colon == std::string::npos ? 0 : colon - 5);
    if (!line.empty() &&
        std::all_of(line.begin(), line.end(), [](unsigned char c) { return std::isdigit(c); })) {
      return "model " + m.name + ": " + m.sql_file.string() + ":" + line + ": " +
             message.substr(colon + 2);
    }
  }
  return Named(m) + ": " + message;
}

// Resolves the tables models read against what exists. Identifiers compare
// case-insensitively, as DuckDB's do; the result carries the known spelling.
class Resolver {
 public:
  Resolver(const std::vector<Model>& models, const std::set<std::string>& staging_tables,
           std::string staging_schema, std::string models_schema)
      : staging_schema_(std::move(staging_schema)), models_schema_(std::move(models_schema)) {
    for (const auto& t : staging_tables) staging_[Lower(t)] = t;
    for (const auto& m : models) models_[Lower(m.name)] = m.name;
  }

  // `how` says where the reference came from: "reads" (SQL) or "depends_on".
  Result<TableRef> Resolve(const Model& m, const TableRef& ref, const std::string& how) const {
    const std::string shown = how + " " + ToString(ref);
    if (ref.schema.empty()) {
      return Fail("model_invalid", Named(m) + ": " + shown + " without a schema; write " +
                                       staging_schema_ + "." + ref.name +
                                       " for a staging table or " + models_schema_ + "." +
                                       ref.name + " for a model");
    }
    const std::string schema = Lower(ref.schema);
    if (schema == Lower(staging_schema_)) {
      auto it = staging_.find(Lower(ref.name));
      if (it == staging_.end()) {
        return Fail("model_unknown_table", Named(m) + ": " + shown + ", which is no staging table");
      }
      return TableRef{staging_schema_, it->second};
    }
    if (schema == Lower(models_schema_)) {
      auto it = models_.find(Lower(ref.name));
      if (it == models_.end()) {
        return Fail("model_unknown_table", Named(m) + ": " + shown + ", which is no model");
      }
      return TableRef{models_schema_, it->second};
    }
    return Fail("model_invalid", Named(m) + ": " + shown + "; a model reads only " +
                                     staging_schema_ + ".<table> and " + models_schema_ +
                                     ".<model>");
  }

 private:
  const std::string staging_schema_;
  const std::string models_schema_;
  std::map<std::string, std::string> staging_;  // lower-case name -> name
  std::map<std::string, std::string> models_;   // lower-case name -> name
};

// An incremental model by batch is driven by exactly one staging table: the
// one it reads, or the one `driver` names among those it reads.
Status CheckDriver(const Model& m, const std::vector<TableRef>& upstream,
                   const std::string& staging_schema) {
  if (m.strategy != Strategy::kIncremental || m.incremental.by != IncrementalConfig::By::kBatch) {
    return Ok();
  }
  std::vector<std::string> staging;
  for (const auto& ref : upstream) {
    if (ref.schema == staging_schema) staging.push_back(ToString(ref));
  }
  const std::string config_file = m.yaml_file.empty() ? m.sql_file.string() : m.yaml_file.string();
  if (!m.incremental.driver.empty()) {
    const std::string driver = Lower(m.incremental.driver);
    const bool reads = std::any_of(staging.begin(), staging.end(),
                                   [&](const std::string& s) { return Lower(s) == driver; });
    if (!reads) {
      return Fail("model_invalid", "model " + m.name + ": " + config_file +
                                       ": incremental.driver: " + m.incremental.driver +
                                       " is not a staging table the model reads");
    }
    return Ok();
  }
  if (staging.size() == 1) return Ok();
  std::string list;
  for (const auto& s : staging) list += (list.empty() ? "" : ", ") + s;
  return Fail(
      "model_invalid",
      "model " + m.name + ": " + config_file + ": incremental by batch reads " +
          std::to_string(staging.size()) + " staging tables" +
          (staging.empty() ? std::string() : " (" + list + ")") +
          (staging.empty() ? "; it needs one whose batches drive it"
                           : "; name the one whose batches drive it with incremental.driver"));
}

// The models of one cycle among `remaining` (models not yet ordered, each
// with an upstream model also remaining), as "a -> b -> a" where each reads
// the next.
std::string FindCycle(const std::set<std::string>& remaining,
                      const std::map<std::string, std::vector<std::string>>& reads) {
  // Walk "reads" edges from the smallest name until a model repeats; every
  // remaining model reads another remaining one, so the walk must repeat.
  std::vector<std::string> path;
  std::string at = *remaining.begin();
  while (std::find(path.begin(), path.end(), at) == path.end()) {
    path.push_back(at);
    for (const auto& next : reads.at(at)) {
      if (remaining.contains(next)) {
        at = next;
        break;
      }
    }
  }
  std::string out;
  for (auto it = std::find(path.begin(), path.end(), at); it != path.end(); ++it)
    out += *it + " -> ";
  return out + at;
}

}  // namespace

Result<Dag> BuildDag(const std::vector<Model>& models, const std::set<std::string>& staging_tables,
                     const std::string& staging_schema, const std::string& models_schema,
                     const ParseFn& parse) {
  const Resolver resolver(models, staging_tables, staging_schema, models_schema);
  std::map<std::string, const Model*> by_name;
  for (const auto& m : models) by_name[m.name] = &m;

  Dag dag;
  dag.staging_schema = staging_schema;
  dag.models_schema = models_schema;
  std::map<std::string, std::vector<std::string>> reads;  // model -> models it reads
  for (const auto& m : models) {
    auto refs = parse(m.sql);
    if (!refs) return Fail(refs.error().code, ParseErrorAt(m, refs.error().message));
    std::set<TableRef> upstream;
    for (const auto& ref : *refs) {
      auto resolved = resolver.Resolve(m, ref, "reads");
      if (!resolved) return Fail(resolved.error());
      upstream.insert(*resolved);
    }
    for (const auto& ref : m.depends_on) {
      auto resolved = resolver.Resolve(m, ref, m.yaml_file.string() + ": depends_on:");
      if (!resolved) return Fail(resolved.error());
      upstream.insert(*resolved);
    }
    auto& list = dag.upstream[m.name];
    list.assign(upstream.begin(), upstream.end());
    if (auto ok = CheckDriver(m, list, staging_schema); !ok) return Fail(ok.error());
    dag.downstream_models[m.name];
    reads[m.name];
    for (const auto& ref : list) {
      if (ref.schema == staging_schema) {
        dag.staging_readers[ref.name].push_back(m.name);
      } else {
        reads[m.name].push_back(ref.name);
      }
    }
  }
  for (const auto& [name, upstream_models] : reads) {
    for (const auto& up : upstream_models) dag.downstream_models[up].push_back(name);
  }
  for (auto& [name, readers] : dag.staging_readers) std::sort(readers.begin(), readers.end());
  for (auto& [name, downstream] : dag.downstream_models)
    std::sort(downstream.begin(), downstream.end());

  // Kahn's algorithm; the ready set is ordered, so ties go by name.
  std::map<std::string, size_t> waiting;  // model -> upstream models not yet ordered
  std::set<std::string> ready;
  for (const auto& [name, ups] : reads) {
    waiting[name] = ups.size();
    if (ups.empty()) ready.insert(name);
  }
  while (!ready.empty()) {
    const std::string next = *ready.begin();
    ready.erase(ready.begin());
    dag.order.push_back(next);
    for (const auto& down : dag.downstream_models[next]) {
      if (--waiting[down] == 0) ready.insert(down);
    }
  }
  if (dag.order.size() != models.size()) {
    std::set<std::string> remaining;
    for (const auto& [name, count] : waiting) {
      if (count > 0) remaining.insert(name);
    }
    // Models downstream of a cycle are remaining too but read a remaining
    // model only through it; FindCycle's walk still ends on the cycle.
    const std::string cycle = FindCycle(remaining, reads);
    std::string files;
    std::set<std::string> in_cycle;
    for (size_t start = 0, end; start < cycle.size(); start = end + 4) {
      end = cycle.find(" -> ", start);
      if (end == std::string::npos) end = cycle.size();
      const std::string name = cycle.substr(start, end - start);
      if (in_cycle.insert(name).second) {
        files += (files.empty() ? "" : ", ") + by_name.at(name)->sql_file.string();
      }
    }
    return Fail("model_cycle", "models read each other in a cycle: " + cycle + " (" + files + ")");
  }
  return dag;
}

std::string DriverOf(const Dag& dag, const Model& model) {
  if (model.strategy == Strategy::kIncremental && !model.incremental.driver.empty()) {
    return model.incremental.driver;
  }
  auto it = dag.upstream.find(model.name);
  if (it == dag.upstream.end()) return "";
  std::string driver;
  for (const auto& ref : it->second) {
    if (ref.schema != dag.staging_schema) continue;
    if (!driver.empty()) return "";  // several: none drives on its own
    driver = ToString(ref);
  }
  return driver;
}

std::vector<std::string> InDagOrder(const Dag& dag, const std::set<std::string>& models) {
  std::vector<std::string> out;
  for (const auto& name : dag.order) {
    if (models.contains(name)) out.push_back(name);
  }
  return out;
}

namespace {

// `from` and every model reachable from it over `edges`, into `out`.
void Reach(const std::string& from, const std::map<std::string, std::vector<std::string>>& edges,
           std::set<std::string>& out) {
  std::set<std::string> seen;  // `out` may hold models before this walk
  std::deque<std::string> todo = {from};
  while (!todo.empty()) {
    std::string at = std::move(todo.front());
    todo.pop_front();
    if (!seen.insert(at).second) continue;
    out.insert(at);
    if (auto it = edges.find(at); it != edges.end()) {
      for (const auto& next : it->second) todo.push_back(next);
    }
  }
}

}  // namespace

Result<std::set<std::string>> Select(const Dag& dag, std::string_view spec) {
  std::map<std::string, std::vector<std::string>> upstream_models;
  for (const auto& [name, downstream] : dag.downstream_models) {
    for (const auto& down : downstream) upstream_models[down].push_back(name);
  }
  const std::string whole(spec);
  std::set<std::string> out;
  while (true) {
    const auto comma = spec.find(',');
    std::string_view term = spec.substr(0, comma);
    while (!term.empty() && term.front() == ' ') term.remove_prefix(1);
    while (!term.empty() && term.back() == ' ') term.remove_suffix(1);
    const bool with_upstream = term.starts_with('+');
    if (with_upstream) term.remove_prefix(1);
    const bool with_downstream = term.ends_with('+');
    if (with_downstream) term.remove_suffix(1);
    const std::string name(term);
    if (name.empty()) {
      return Fail("model_selection_invalid", "'" + whole + "': an empty term (write a,b  a+  +a)");
    }
    if (!dag.Contains(name))
      return Fail("model_selection_invalid", "no model named '" + name + "'");
    out.insert(name);
    if (with_downstream) Reach(name, dag.downstream_models, out);
    if (with_upstream) Reach(name, upstream_models, out);
    if (comma == std::string_view::npos) break;
    spec.remove_prefix(comma + 1);
  }
  return out;
}

std::vector<std::string> DownstreamOfStaging(const Dag& dag,
                                             const std::set<std::string>& staging_tables) {
  std::set<std::string> affected;
  for (const auto& table : staging_tables) {
    auto it = dag.staging_readers.find(table);
    if (it == dag.staging_readers.end()) continue;
    for (const auto& reader : it->second) Reach(reader, dag.downstream_models, affected);
  }
  return InDagOrder(dag, affected);
}

}  // namespace landfall::model
