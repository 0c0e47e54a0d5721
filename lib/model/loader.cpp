#include "lib/model/loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "lib/common/sha256.h"

namespace landfall::model {

namespace fs = std::filesystem;

namespace {

// Thrown only inside this file and turned into an Error at LoadModels' boundary.
struct LoadError {
  std::string message;
};

constexpr const char* kDefaultsFile = "_defaults.yaml";

// The keys of each section of a model's YAML. A section's keys are merged
// with the defaults' key by key.
const std::map<std::string, std::set<std::string>, std::less<>> kSectionKeys = {
    {"incremental", {"by", "driver", "timestamp_column", "lookback", "unique_key"}},
    {"merge", {"unique_key", "update_columns", "dedupe", "order_by"}},
    {"dynamic_table", {"target_lag", "warehouse"}},
    {"time_interval", {"time_column", "granularity", "first_partition", "lookback", "batch_size", "source_columns"}},
};

// The section a strategy reads; "" when it reads none.
std::string_view SectionOf(Strategy strategy) {
  switch (strategy) {
    case Strategy::kIncremental:
      return "incremental";
    case Strategy::kMerge:
      return "merge";
    case Strategy::kDynamicTable:
      return "dynamic_table";
    case Strategy::kTimeInterval:
      return "time_interval";
    default:
      return "";
  }
}

std::string List(const std::set<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// "file:line: key: what", the line when yaml-cpp knows it.
[[noreturn]] void Throw(const fs::path& file, const YAML::Node& node, const std::string& key,
                        const std::string& what) {
  std::ostringstream out;
  out << file.string();
  if (node.IsDefined() && node.Mark().line >= 0) out << ":" << node.Mark().line + 1;
  out << ": ";
  if (!key.empty()) out << key << ": ";
  out << what;
  throw LoadError{out.str()};
}

// One key's value ("incremental.by") and the file that set it. Put into maps
// with emplace, never assigned over: a YAML::Node assigned to writes through
// to the node it refers to, which would change the file's own settings.
struct Setting {
  YAML::Node node;
  fs::path file;
};
using Settings = std::map<std::string, Setting>;

// The keys of `map` (a mapping, or null for none), each checked against `allowed`.
std::vector<std::pair<std::string, YAML::Node>> Keys(const fs::path& file, const YAML::Node& map,
                                                     const std::string& where,
                                                     const std::set<std::string>& allowed) {
  std::vector<std::pair<std::string, YAML::Node>> out;
  if (map.IsNull()) return out;
  if (!map.IsMap()) Throw(file, map, where, "must be a mapping");
  std::set<std::string> seen;
  for (const auto& kv : map) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
    const std::string path = where.empty() ? key : where + "." + key;
    if (key.empty()) Throw(file, kv.first, where, "keys must be plain names");
    // yaml-cpp keeps the first of two equal keys; the second would be ignored silently.
    if (!seen.insert(key).second) Throw(file, kv.first, path, "duplicate key");
    if (!allowed.contains(key)) {
      Throw(file, kv.first, path, "unknown key (expected one of: " + List(allowed) + ")");
    }
    out.emplace_back(key, kv.second);
  }
  return out;
}

// The settings one YAML file makes. `depends_on` belongs to one model, so a
// _defaults.yaml may not set it.
Settings ReadSettings(const fs::path& file, bool defaults) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file.string());
  } catch (const YAML::Exception& e) {
    std::string where = file.string();
    if (e.mark.line >= 0) where += ":" + std::to_string(e.mark.line + 1);
    throw LoadError{where + ": " + e.msg};
  }
  std::set<std::string> top = {"strategy", "anomaly_runs", "anomaly_sigma"};
  if (!defaults) top.insert({"depends_on", "checks"});
  for (const auto& [section, keys] : kSectionKeys) top.insert(section);
  Settings out;
  if (!root.IsDefined()) return out;
  for (const auto& [key, value] : Keys(file, root, "", top)) {
    auto section = kSectionKeys.find(key);
    if (section == kSectionKeys.end()) {
      out.emplace(key, Setting{value, file});
      continue;
    }
    for (const auto& [sub, sub_value] : Keys(file, value, key, section->second)) {
      out.emplace(key + "." + sub, Setting{sub_value, file});
    }
  }
  return out;
}

// Typed reads of the merged settings of one model.
class Resolver {
 public:
  explicit Resolver(Settings settings) : settings_(std::move(settings)) {}

  const Setting* Find(const std::string& key) const {
    auto it = settings_.find(key);
    return it == settings_.end() || it->second.node.IsNull() ? nullptr : &it->second;
  }

  std::string String(const std::string& key) const {
    const Setting* s = Find(key);
    if (s == nullptr) return "";
    if (!s->node.IsScalar()) Throw(s->file, s->node, key, "must be a string");
    return s->node.Scalar();
  }

  // A list of names; one name alone is a list of one.
  // A whole number >= `min`; `fallback` when the key is absent.
  int Int(const std::string& key, int fallback, int min) const {
    const Setting* s = Find(key);
    if (s == nullptr) return fallback;
    int value = 0;
    const std::string text = s->node.IsScalar() ? s->node.Scalar() : "";
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < min) {
      Throw(s->file, s->node, key, "must be a whole number >= " + std::to_string(min));
    }
    return value;
  }

  // A mapping of names to names ({events: ts}).
  std::map<std::string, std::string> NameMap(const std::string& key) const {
    const Setting* s = Find(key);
    std::map<std::string, std::string> out;
    if (s == nullptr) return out;
    if (!s->node.IsMap()) Throw(s->file, s->node, key, "must be a mapping of table to column");
    for (const auto& kv : s->node) {
      if (!kv.first.IsScalar() || !kv.second.IsScalar() || kv.second.Scalar().empty()) {
        Throw(s->file, kv.first, key, "must be a mapping of table to column");
      }
      out[kv.first.Scalar()] = kv.second.Scalar();
    }
    return out;
  }

  std::vector<std::string> Names(const std::string& key) const {
    const Setting* s = Find(key);
    if (s == nullptr) return {};
    if (s->node.IsScalar()) return {s->node.Scalar()};
    if (!s->node.IsSequence()) Throw(s->file, s->node, key, "must be a list of names");
    std::vector<std::string> out;
    for (const auto& item : s->node) {
      if (!item.IsScalar() || item.Scalar().empty()) {
        Throw(s->file, item, key, "must be a list of non-empty names");
      }
      out.push_back(item.Scalar());
    }
    return out;
  }

  [[noreturn]] void Reject(const std::string& key, const std::string& what) const {
    const Setting* s = Find(key);
    Throw(s->file, s->node, key, what);
  }

  const Settings& all() const { return settings_; }

 private:
  Settings settings_;
};

bool IsModelName(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// "schema.name" as a TableRef.
TableRef ParseRef(const Resolver& r, const std::string& key, const std::string& text) {
  const auto dot = text.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == text.size() ||
      text.find('.', dot + 1) != std::string::npos) {
    r.Reject(key, "'" + text + "' must be schema.table (\"staging.orders\", \"analytics.daily\")");
  }
  return {text.substr(0, dot), text.substr(dot + 1)};
}

// One `checks:` item's mapping, its keys checked: `kind` and `severity`.
std::vector<Check> ReadCheck(const fs::path& file, const YAML::Node& item, const std::string& key) {
  if (!item.IsMap() || item.size() == 0) {
    Throw(file, item, key, "each check must be a mapping like {not_null: [id]} (with an optional severity)");
  }
  Check check;
  std::optional<CheckKind> kind;
  YAML::Node body;
  for (const auto& kv : item) {
    const std::string name = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
    if (name == "severity") {
      const std::string text = kv.second.IsScalar() ? kv.second.Scalar() : std::string();
      if (text != "error" && text != "warn") {
        Throw(file, kv.second, key + ".severity", "must be error or warn (got '" + text + "')");
      }
      check.severity = text == "warn" ? CheckSeverity::kWarn : CheckSeverity::kError;
      continue;
    }
    auto k = CheckKindFromString(name);
    if (!k) {
      Throw(file, kv.first, key + "." + name,
            "unknown check (expected one of: accepted_values, expression, freshness, not_null, row_count, "
            "unique; and severity)");
    }
    if (kind) Throw(file, kv.first, key + "." + name, "one check per list item (this one is already " +
                                                        std::string(ToString(*kind)) + ")");
    kind = k;
    body = kv.second;
  }
  if (!kind) Throw(file, item, key, "names no check, only its severity");
  check.kind = *kind;
  const std::string where = key + "." + ToString(*kind);
  auto name_list = [&](const YAML::Node& node, const std::string& at) {
    std::vector<std::string> out;
    if (node.IsScalar() && !node.Scalar().empty()) return std::vector<std::string>{node.Scalar()};
    if (!node.IsSequence() || node.size() == 0) Throw(file, node, at, "must be a non-empty list of column names");
    for (const auto& n : node) {
      if (!n.IsScalar() || n.Scalar().empty()) Throw(file, n, at, "must be a list of non-empty column names");
      out.push_back(n.Scalar());
    }
    return out;
  };
  auto scalar = [&](const YAML::Node& node, const std::string& at) {
    if (!node.IsScalar() || node.Scalar().empty()) Throw(file, node, at, "must be a non-empty string");
    return node.Scalar();
  };
  std::vector<Check> out;
  switch (check.kind) {
    case CheckKind::kRowCount: {
      for (const auto& [sub, value] : Keys(file, body, where, {"min", "max"})) {
        int64_t n = -1;
        if (!value.IsScalar() || !YAML::convert<int64_t>::decode(value, n) || n < 0) {
          Throw(file, value, where + "." + sub, "must be a whole number >= 0");
        }
        (sub == "min" ? check.min : check.max) = n;
      }
      if (!check.min && !check.max) Throw(file, body, where, "needs min, max or both");
      if (check.min && check.max && *check.min > *check.max) Throw(file, body, where, "min is above max");
      out.push_back(check);
      break;
    }
    case CheckKind::kNotNull:
    case CheckKind::kUnique:
      check.columns = name_list(body, where);
      out.push_back(check);
      break;
    case CheckKind::kAcceptedValues: {
      if (!body.IsMap() || body.size() == 0) {
        Throw(file, body, where, "must map each column to its accepted values ({status: [new, paid]})");
      }
      // One check per column: each is recorded and reported on its own.
      for (const auto& kv : body) {
        const std::string column = scalar(kv.first, where);
        const YAML::Node& values = kv.second;
        if (!values.IsSequence() || values.size() == 0) {
          Throw(file, values, where + "." + column, "must be a non-empty list of values");
        }
        Check one = check;
        one.columns = {column};
        for (const auto& v : values) {
          if (!v.IsScalar()) Throw(file, v, where + "." + column, "values must be scalars");
          one.values.push_back(v.Scalar());
        }
        out.push_back(std::move(one));
      }
      break;
    }
    case CheckKind::kFreshness: {
      for (const auto& [sub, value] : Keys(file, body, where, {"column", "max_age"})) {
        if (sub == "column") check.columns = {scalar(value, where + ".column")};
        if (sub == "max_age") {
          check.max_age = scalar(value, where + ".max_age");
          auto seconds = ParseAge(check.max_age);
          if (!seconds) {
            Throw(file, value, where + ".max_age",
                  "'" + check.max_age + "' is not an age like \"2 hours\" or \"1 day 6 hours\"");
          }
          check.max_age_seconds = *seconds;
        }
      }
      if (check.columns.empty()) Throw(file, body, where + ".column", "is required");
      if (check.max_age.empty()) Throw(file, body, where + ".max_age", "is required");
      out.push_back(check);
      break;
    }
    case CheckKind::kExpression:
      check.expression = scalar(body, where);
      out.push_back(check);
      break;
  }
  return out;
}

std::vector<Check> ReadChecks(const Setting& setting) {
  if (!setting.node.IsSequence()) {
    Throw(setting.file, setting.node, "checks", "must be a list of checks (- not_null: [id])");
  }
  std::vector<Check> out;
  for (size_t i = 0; i < setting.node.size(); ++i) {
    for (auto& check : ReadCheck(setting.file, setting.node[i], "checks[" + std::to_string(i) + "]")) {
      out.push_back(std::move(check));
    }
  }
  return out;
}

void ResolveAnomaly(const Resolver& r, AnomalyConfig& out) {
  if (const Setting* s = r.Find("anomaly_runs")) {
    int runs = 0;
    if (!s->node.IsScalar() || !YAML::convert<int>::decode(s->node, runs) || runs < 2) {
      r.Reject("anomaly_runs", "must be a whole number >= 2");
    }
    out.runs = runs;
  }
  if (const Setting* s = r.Find("anomaly_sigma")) {
    double sigma = 0;
    if (!s->node.IsScalar() || !YAML::convert<double>::decode(s->node, sigma) || !(sigma > 0)) {
      r.Reject("anomaly_sigma", "must be a number > 0");
    }
    out.sigma = sigma;
  }
}

void ResolveIncremental(const Resolver& r, IncrementalConfig& out) {
  if (const Setting* by = r.Find("incremental.by")) {
    auto value = IncrementalByFromString(r.String("incremental.by"));
    if (!value)
      r.Reject("incremental.by", "must be batch or watermark (got '" + by->node.Scalar() + "')");
    out.by = *value;
  }
  out.driver = r.String("incremental.driver");
  out.timestamp_column = r.String("incremental.timestamp_column");
  out.lookback = r.String("incremental.lookback");
  out.unique_key = r.Names("incremental.unique_key");
  if (out.by == IncrementalConfig::By::kWatermark) {
    if (out.timestamp_column.empty()) {
      const Setting* by = r.Find("incremental.by");
      Throw(by->file, by->node, "incremental.timestamp_column",
            "is required when incremental.by is watermark");
    }
    if (!out.driver.empty())
      r.Reject("incremental.driver", "applies only to incremental.by: batch");
  } else {
    for (const char* key : {"incremental.timestamp_column", "incremental.lookback"}) {
      if (r.Find(key)) r.Reject(key, "applies only to incremental.by: watermark");
    }
    if (!out.driver.empty()) ParseRef(r, "incremental.driver", out.driver);
  }
}

void ResolveMerge(const Resolver& r, MergeConfig& out) {
  out.unique_key = r.Names("merge.unique_key");
  out.update_columns = r.Names("merge.update_columns");
  out.dedupe = r.String("merge.dedupe");
  out.order_by = r.String("merge.order_by");
  if (out.unique_key.empty()) {
    const Setting* strategy = r.Find("strategy");
    Throw(strategy->file, strategy->node, "merge.unique_key", "is required for strategy merge");
  }
  if (!out.dedupe.empty() && out.dedupe != "latest") {
    r.Reject("merge.dedupe", "must be latest (or absent: duplicate keys are an error)");
  }
  if (out.dedupe == "latest" && out.order_by.empty()) {
    r.Reject("merge.dedupe", "latest needs merge.order_by, the column whose largest value wins");
  }
  if (out.dedupe.empty() && !out.order_by.empty()) {
    r.Reject("merge.order_by", "applies only with merge.dedupe: latest");
  }
}

void ResolveTimeInterval(const Resolver& r, Model& m, TimeIntervalConfig& out) {
  const Setting* strategy = r.Find("strategy");
  auto required = [&](const char* key) {
    std::string value = r.String(key);
    if (value.empty()) Throw(strategy->file, strategy->node, key, "is required for strategy time_interval");
    return value;
  };
  out.time_column = required("time_interval.time_column");
  const std::string granularity = required("time_interval.granularity");
  auto g = GranularityFromString(granularity);
  if (!g) r.Reject("time_interval.granularity", "must be hour, day, month or year (got '" + granularity + "')");
  out.granularity = *g;
  out.first_partition = required("time_interval.first_partition");
  if (auto key = ParseKey(out.granularity, out.first_partition); !key) {
    r.Reject("time_interval.first_partition", key.error().message);
  }
  out.lookback = r.Int("time_interval.lookback", 0, 0);
  out.batch_size = r.Int("time_interval.batch_size", 1, 1);
  out.source_columns = r.NameMap("time_interval.source_columns");
  for (const auto& [table, column] : out.source_columns) ParseRef(r, "time_interval.source_columns", table);
  if (!UsesStartDate(m.sql) && !UsesEndDate(m.sql)) {
    Throw(m.sql_file, YAML::Node(), "",
          "a time_interval model's SQL must use @start_date and @end_date to read only its window");
  }
  if (UsesStartDate(m.sql) != UsesEndDate(m.sql)) {
    m.warnings.push_back(m.sql_file.string() + ": uses " + (UsesStartDate(m.sql) ? "@start_date" : "@end_date") +
                         " but not " + (UsesStartDate(m.sql) ? "@end_date" : "@start_date") +
                         ": each partition reads every row on the other side of its window");
  }
}

}  // namespace

// Only what the strategy reads, so a default that no model reads changes no hash.
// `checks` and the anomaly keys are left out: they judge the target after a
// write and change nothing it holds, so editing them must not rebuild the
// model (the next write runs the new checks; a model whose error check
// failed has them run again on every run until they pass, see
// ModelRunner::RunOne).
std::string CanonicalConfig(const Model& m) {
  nlohmann::json j;
  j["strategy"] = ToString(m.strategy);
  j["depends_on"] = nlohmann::json::array();
  for (const auto& ref : m.depends_on) j["depends_on"].push_back(ToString(ref));
  switch (m.strategy) {
    case Strategy::kIncremental:
      j["incremental"] = {{"by", ToString(m.incremental.by)},
                          {"driver", m.incremental.driver},
                          {"timestamp_column", m.incremental.timestamp_column},
                          {"lookback", m.incremental.lookback},
                          {"unique_key", m.incremental.unique_key}};
      break;
    case Strategy::kMerge:
      j["merge"] = {{"unique_key", m.merge.unique_key},
                    {"update_columns", m.merge.update_columns},
                    {"dedupe", m.merge.dedupe},
                    {"order_by", m.merge.order_by}};
      break;
    case Strategy::kDynamicTable:
      j["dynamic_table"] = {{"target_lag", m.dynamic_table.target_lag},
                            {"warehouse", m.dynamic_table.warehouse}};
      break;
    case Strategy::kTimeInterval:
      // lookback and batch_size change which partitions a run computes, not
      // what a partition holds: they do not rebuild the model.
      j["time_interval"] = {{"time_column", m.time_interval.time_column},
                            {"granularity", ToString(m.time_interval.granularity)},
                            {"first_partition", m.time_interval.first_partition},
                            {"source_columns", m.time_interval.source_columns}};
      break;
    default:
      break;
  }
  return j.dump();
}

namespace {

// Fills `m`'s strategy and config from its merged settings.
void Resolve(const Resolver& r, Model& m) {
  if (const Setting* s = r.Find("strategy")) {
    auto strategy = StrategyFromString(r.String("strategy"));
    if (!strategy) {
      r.Reject("strategy",
               "must be one of full_refresh, view, incremental, merge, materialized_view, "
               "dynamic_table, time_interval (got '" +
                   s->node.Scalar() + "')");
    }
    m.strategy = *strategy;
  }
  // A section the strategy does not read is harmless in a _defaults.yaml
  // (it is for other models) but a mistake in the model's own file.
  const std::string_view section = SectionOf(m.strategy);
  for (const auto& [key, setting] : r.all()) {
    const auto dot = key.find('.');
    if (dot == std::string::npos || setting.file != m.yaml_file) continue;
    if (std::string_view(key).substr(0, dot) != section) {
      Throw(setting.file, setting.node, key,
            "applies only to strategy " + key.substr(0, dot) + " (this model's strategy is " +
                ToString(m.strategy) + ")");
    }
  }
  if (m.strategy == Strategy::kIncremental) ResolveIncremental(r, m.incremental);
  if (m.strategy == Strategy::kMerge) ResolveMerge(r, m.merge);
  if (m.strategy == Strategy::kTimeInterval) ResolveTimeInterval(r, m, m.time_interval);
  if (m.strategy == Strategy::kDynamicTable) {
    m.dynamic_table.target_lag = r.String("dynamic_table.target_lag");
    m.dynamic_table.warehouse = r.String("dynamic_table.warehouse");
  }
  for (const auto& text : r.Names("depends_on"))
    m.depends_on.push_back(ParseRef(r, "depends_on", text));
  if (const Setting* checks = r.Find("checks")) m.checks = ReadChecks(*checks);
  ResolveAnomaly(r, m.anomaly);
}

std::string ReadText(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw LoadError{file.string() + ": cannot read the file"};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The model files found under the models dir.
struct Found {
  std::map<std::string, std::vector<fs::path>> sql;  // by model name
  std::vector<fs::path> yaml;                        // <name>.yaml, not _defaults.yaml
};

Found Discover(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw LoadError{dir.string() + ": models.dir is not a directory"};
  Found found;
  fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec);
  if (ec) throw LoadError{dir.string() + ": " + ec.message()};
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) throw LoadError{dir.string() + ": " + ec.message()};
    const fs::path& path = it->path();
    // Hidden files and folders (editors' swap files, .git) are not models.
    if (path.filename().string().starts_with(".")) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(ec)) continue;
    if (path.extension() == ".sql") {
      found.sql[path.stem().string()].push_back(path);
    } else if (path.extension() == ".yaml" && path.filename() != kDefaultsFile) {
      found.yaml.push_back(path);
    }
  }
  return found;
}

std::vector<Model> Load(const fs::path& dir) {
  const Found found = Discover(dir);
  for (const auto& yaml : found.yaml) {
    fs::path sql = yaml;
    sql.replace_extension(".sql");
    if (!fs::exists(sql)) {
      throw LoadError{yaml.string() + ": has no " + sql.filename().string() +
                      " beside it (a model's YAML configures the SQL file of the same name)"};
    }
  }
  std::map<fs::path, Settings> defaults_by_folder;  // each _defaults.yaml read once
  auto defaults_of = [&](const fs::path& folder) -> const Settings& {
    auto it = defaults_by_folder.find(folder);
    if (it != defaults_by_folder.end()) return it->second;
    Settings settings;
    if (fs::exists(folder / kDefaultsFile)) settings = ReadSettings(folder / kDefaultsFile, true);
    return defaults_by_folder.emplace(folder, std::move(settings)).first->second;
  };

  std::vector<Model> models;
  for (const auto& [name, files] : found.sql) {
    if (files.size() > 1) {
      std::vector<fs::path> sorted = files;
      std::sort(sorted.begin(), sorted.end());
      throw LoadError{sorted[1].string() + ": model '" + name + "' is also defined by " +
                      sorted[0].string() + " (names are unique across sub-folders)"};
    }
    Model m;
    m.name = name;
    m.sql_file = files.front();
    if (!IsModelName(name)) {
      throw LoadError{m.sql_file.string() + ": '" + name +
                      "' is not a model name (letters, digits and _, not starting with a digit)"};
    }
    m.sql = ReadText(m.sql_file);
    if (m.sql.find_first_not_of(" \t\r\n") == std::string::npos) {
      throw LoadError{m.sql_file.string() + ": is empty (a model is one SELECT)"};
    }
    if (fs::path yaml = fs::path(m.sql_file).replace_extension(".yaml"); fs::exists(yaml)) {
      m.yaml_file = yaml;
    }
    // Defaults from the models dir down to the model's folder, nearer
    // folders overriding, then the model's own file: key by key.
    Settings merged;
    const fs::path relative = m.sql_file.parent_path().lexically_relative(dir);
    fs::path folder = dir;
    auto overlay = [&merged](const Settings& settings) {
      for (const auto& [key, setting] : settings) {
        merged.erase(key);
        merged.emplace(key, setting);
      }
    };
    overlay(defaults_of(folder));
    for (const auto& part : relative) {
      if (part == ".") continue;
      folder /= part;
      overlay(defaults_of(folder));
    }
    if (!m.yaml_file.empty()) overlay(ReadSettings(m.yaml_file, false));
    Resolve(Resolver(std::move(merged)), m);
    m.sql_hash = Sha256Hex(m.sql);
    m.config_hash = Sha256Hex(CanonicalConfig(m));
    models.push_back(std::move(m));
  }
  // found.sql is a map: models are already sorted by name.
  return models;
}

}  // namespace

Result<std::vector<Model>> LoadModels(const config::Config& config) {
  if (!config.models.dir) return std::vector<Model>{};
  try {
    return Load(*config.models.dir);
  } catch (const LoadError& e) {
    return Fail("model_invalid", e.message);
  } catch (const fs::filesystem_error& e) {
    return Fail("model_invalid", e.what());
  } catch (const YAML::Exception& e) {
    return Fail("model_invalid", e.what());
  }
}

}  // namespace landfall::model
