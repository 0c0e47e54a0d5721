#include "lib/model/compile.h"

#include <cctype>
#include <map>
#include <sstream>

namespace landfall::model {

namespace {

constexpr Dialect kDialects[] = {Dialect::kDuckDb, Dialect::kSnowflake, Dialect::kDatabricks,
                                 Dialect::kBigQuery};

// An identifier in the dialect's quotes, the quote character escaped.
std::string Ident(Dialect dialect, std::string_view name) {
  std::string out;
  switch (dialect) {
    case Dialect::kBigQuery:
      for (char c : name) out += c == '`' ? "\\`" : std::string(1, c);
      return "`" + out + "`";
    case Dialect::kDatabricks:
      for (char c : name) out += c == '`' ? "``" : std::string(1, c);
      return "`" + out + "`";
    case Dialect::kDuckDb:
    case Dialect::kSnowflake:
      break;
  }
  for (char c : name) out += c == '"' ? "\"\"" : std::string(1, c);
  return "\"" + out + "\"";
}

std::string Literal(std::string_view text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? "''" : std::string(1, c);
  return out + "'";
}

std::string Join(Dialect dialect, const std::vector<std::string>& names,
                 const std::string& prefix = "") {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + prefix + Ident(dialect, n);
  return out;
}

// The model's SQL without trailing blanks or a final ";", so it can be
// wrapped in a statement.
std::string Body(const std::string& sql) {
  std::string out = sql;
  while (!out.empty() &&
         (std::isspace(static_cast<unsigned char>(out.back())) || out.back() == ';')) {
    out.pop_back();
  }
  return out;
}

// "2 hours" as (2, "HOUR"); nullopt when it is not "<count> <unit>".
std::optional<std::pair<long, std::string>> Interval(std::string_view text) {
  std::istringstream in{std::string(text)};
  long count = 0;
  std::string unit, rest;
  if (!(in >> count >> unit) || (in >> rest) || count <= 0) return std::nullopt;
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.ends_with('S')) unit.pop_back();
  for (const char* known : {"SECOND", "MINUTE", "HOUR", "DAY", "WEEK"}) {
    if (unit == known) return std::pair{count, unit};
  }
  return std::nullopt;
}

// `{watermark}` minus `lookback` in the dialect's interval arithmetic.
std::string MinusLookback(Dialect dialect, const std::string& lookback) {
  if (dialect == Dialect::kBigQuery) {
    if (auto interval = Interval(lookback)) {
      return "TIMESTAMP_SUB({watermark}, INTERVAL " + std::to_string(interval->first) + " " +
             interval->second + ")";
    }
  }
  return "{watermark} - INTERVAL " + Literal(lookback);
}

class Writer {
 public:
  Writer(const Model& model, Dialect dialect, const std::string& models_schema)
      : m_(model),
        d_(dialect),
        target_(Ident(dialect, models_schema) + "." + Ident(dialect, model.name)) {}

  std::string Compile(const std::string& driver) {
    switch (m_.strategy) {
      case Strategy::kFullRefresh:
        Header("full_refresh");
        CreateAs("CREATE OR REPLACE TABLE");
        break;
      case Strategy::kView:
        Header("view");
        CreateAs("CREATE OR REPLACE VIEW");
        break;
      case Strategy::kMaterializedView:
        Header("materialized_view");
        if (d_ == Dialect::kDuckDb) {
          Unsupported("materialized views");
        } else {
          CreateAs("CREATE OR REPLACE MATERIALIZED VIEW");
        }
        break;
      case Strategy::kDynamicTable:
        Header("dynamic_table");
        DynamicTable();
        break;
      case Strategy::kIncremental:
        Incremental(driver);
        break;
      case Strategy::kTimeInterval: {
        const auto& ti = m_.time_interval;
        const std::string column = Ident(d_, ti.time_column);
        Header(std::string("time_interval by ") + ToString(ti.granularity) + " on " + ti.time_column);
        out_ << "-- first run: the target, empty, with the query's columns\n"
             << "CREATE OR REPLACE TABLE " << target_ << " AS SELECT * FROM (\n"
             << Body(m_.sql) << "\n) AS model_rows LIMIT 0;\n"
             << "-- each partition, in one transaction, with @start_date and @end_date its window\n"
             << "BEGIN;\nDELETE FROM " << target_ << " WHERE " << column << " >= @start_date AND " << column
             << " < @end_date;\nINSERT INTO " << target_ << " SELECT * FROM (\n"
             << Body(m_.sql) << "\n) AS model_rows;\nCOMMIT;\n";
        break;
      }
      case Strategy::kMerge:
        Header("merge on " + Names(m_.merge.unique_key));
        FirstRun();
        if (driver.empty()) {
          out_ << "-- later runs: the query's rows, merged on the key\n";
        } else {
          out_ << "-- later runs: the rows from the new batches, merged on the key\n";
          NewBatches(driver);
        }
        Merge(m_.merge.unique_key, m_.merge.update_columns, Source(m_.merge.dedupe == "latest"));
        break;
    }
    return out_.str();
  }

 private:
  static std::string Names(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
  }

  void Header(const std::string& what) { out_ << "-- model " << m_.name << ": " << what << "\n"; }

  void CreateAs(const std::string& create) {
    out_ << create << " " << target_ << " AS\n" << Statement();
  }

  // The model's SQL ended by ";" — on a line of its own when the last line
  // holds a "--" that may start a comment, which would swallow it.
  std::string Statement() const {
    const std::string body = Body(m_.sql);
    const auto last_line = body.rfind('\n');
    const bool comment =
        body.find("--", last_line == std::string::npos ? 0 : last_line) != std::string::npos;
    return body + (comment ? "\n;\n" : ";\n");
  }

  void Unsupported(const std::string& what) {
    out_ << "-- " << ToString(d_) << " has no " << what;
    // landfall runs models on DuckDB; the other dialects are only compiled.
    if (d_ == Dialect::kDuckDb) out_ << ": the plan fails this model with unsupported_by_warehouse";
    out_ << "\n";
  }

  void FirstRun() {
    out_ << "-- first run\n";
    CreateAs("CREATE OR REPLACE TABLE");
  }

  // How a batch-driven run reads its driver.
  void NewBatches(const std::string& driver) {
    if (driver.empty()) {
      out_ << "-- with each staging table it reads restricted to its new batches\n";
    } else {
      out_ << "-- with " << driver << " read as (SELECT * FROM " << driver
           << " WHERE _landfall_batch IN ({new_batches}))\n";
    }
  }

  void Incremental(const std::string& driver) {
    const IncrementalConfig& inc = m_.incremental;
    if (inc.by == IncrementalConfig::By::kBatch) {
      Header("incremental by batch" + (driver.empty() ? std::string() : ", driven by " + driver));
      FirstRun();
      out_ << "-- later runs: the rows from the new batches\n";
      NewBatches(driver);
      out_ << "INSERT INTO " << target_ << "\nSELECT * FROM (\n"
           << Body(m_.sql) << "\n) AS model_rows;\n";
      return;
    }
    Header("incremental by watermark on " + inc.timestamp_column);
    FirstRun();
    const std::string ts = Ident(d_, inc.timestamp_column);
    out_ << "-- later runs ({watermark}: MAX(" << inc.timestamp_column
         << ") of the target after the last successful run)\n";
    if (inc.lookback.empty()) {
      out_ << "INSERT INTO " << target_ << "\nSELECT * FROM (\n"
           << Body(m_.sql) << "\n) AS model_rows\nWHERE " << ts << " > {watermark};\n";
      return;
    }
    const std::string since = MinusLookback(d_, inc.lookback);
    const std::string window =
        "SELECT * FROM (\n" + Body(m_.sql) + "\n) AS model_rows\nWHERE " + ts + " > " + since;
    if (!inc.unique_key.empty()) {
      out_ << "-- rows of the last " << inc.lookback << " are read again and merged on "
           << Names(inc.unique_key) << "\n";
      Merge(inc.unique_key, {}, window);
      return;
    }
    out_ << "-- rows of the last " << inc.lookback << " are replaced\n";
    out_ << "DELETE FROM " << target_ << " WHERE " << ts << " > " << since << ";\n";
    out_ << "INSERT INTO " << target_ << "\n" << window << ";\n";
  }

  // The merge source: the model's rows, the newest per key when deduplicated.
  std::string Source(bool latest) const {
    std::string source = "SELECT * FROM (\n" + Body(m_.sql) + "\n) AS model_rows";
    if (!latest) return source;
    // WHERE TRUE: BigQuery accepts QUALIFY only beside WHERE, GROUP BY or HAVING.
    return source + "\nWHERE TRUE\nQUALIFY row_number() OVER (PARTITION BY " +
           Join(d_, m_.merge.unique_key) + " ORDER BY " + Ident(d_, m_.merge.order_by) +
           " DESC) = 1";
  }

  void Merge(const std::vector<std::string>& key, const std::vector<std::string>& update_columns,
             const std::string& source) {
    const bool update_set =
        update_columns.empty() && (d_ == Dialect::kSnowflake || d_ == Dialect::kBigQuery);
    if (update_set)
      out_ << "-- {update_set}: c = source.c for every non-key column c of the query\n";
    if (d_ == Dialect::kSnowflake) {
      out_ << "-- {insert_columns}, {insert_values}: every column c of the query, and source.c for "
              "each\n";
    }
    out_ << "MERGE INTO " << target_ << " AS target\nUSING (\n" << source << "\n) AS source\nON ";
    for (size_t i = 0; i < key.size(); ++i) {
      out_ << (i ? " AND " : "") << "target." << Ident(d_, key[i]) << " = source."
           << Ident(d_, key[i]);
    }
    out_ << "\nWHEN MATCHED THEN UPDATE";
    if (!update_columns.empty()) {
      out_ << " SET ";
      for (size_t i = 0; i < update_columns.size(); ++i) {
        const std::string c = Ident(d_, update_columns[i]);
        out_ << (i ? ", " : "") << c << " = source." << c;
      }
    } else if (d_ == Dialect::kDatabricks) {
      out_ << " SET *";
    } else if (d_ != Dialect::kDuckDb) {
      out_ << " SET {update_set}";
    }
    out_ << "\nWHEN NOT MATCHED THEN INSERT";
    switch (d_) {
      case Dialect::kDuckDb:
        out_ << " BY NAME";
        break;
      case Dialect::kDatabricks:
        out_ << " *";
        break;
      case Dialect::kBigQuery:
        out_ << " ROW";
        break;
      case Dialect::kSnowflake:
        out_ << " ({insert_columns}) VALUES ({insert_values})";
        break;
    }
    out_ << ";\n";
  }

  void DynamicTable() {
    const DynamicTableConfig& dt = m_.dynamic_table;
    switch (d_) {
      case Dialect::kSnowflake:
        out_ << "CREATE OR REPLACE DYNAMIC TABLE " << target_ << "\n  TARGET_LAG = "
             << (dt.target_lag.empty() ? "DOWNSTREAM" : Literal(dt.target_lag)) << "\n";
        if (dt.warehouse.empty()) {
          out_ << "  -- WAREHOUSE = <name>: set dynamic_table.warehouse\n";
        } else {
          out_ << "  WAREHOUSE = " << dt.warehouse << "\n";
        }
        out_ << "AS\n" << Statement();
        return;
      case Dialect::kDatabricks:
        out_ << "CREATE OR REPLACE MATERIALIZED VIEW " << target_ << "\n";
        if (auto schedule = DatabricksSchedule(dt.target_lag)) {
          out_ << "  " << *schedule << "\n";
        } else if (!dt.target_lag.empty()) {
          out_ << "  -- target_lag '" << dt.target_lag
               << "' has no Databricks schedule (EVERY takes hours, days or weeks; CRON whole "
                  "minutes): refreshed on demand\n";
        }
        out_ << "AS\n" << Statement();
        return;
      case Dialect::kBigQuery:
      case Dialect::kDuckDb:
        Unsupported("dynamic tables");
        return;
    }
  }

  // Databricks' SCHEDULE for a lag: EVERY n HOURS|DAYS|WEEKS, or a Quartz
  // cron for whole minutes that divide an hour.
  static std::optional<std::string> DatabricksSchedule(const std::string& lag) {
    auto interval = Interval(lag);
    if (!interval) return std::nullopt;
    const auto [count, unit] = *interval;
    if (unit == "HOUR" || unit == "DAY" || unit == "WEEK") {
      return "SCHEDULE EVERY " + std::to_string(count) + " " + unit + (count == 1 ? "" : "S");
    }
    if (unit == "MINUTE" && 60 % count == 0) {
      return "SCHEDULE CRON '0 0/" + std::to_string(count) + " * * * ?'";
    }
    return std::nullopt;
  }

  const Model& m_;
  const Dialect d_;
  const std::string target_;
  std::ostringstream out_;
};

}  // namespace

const char* ToString(Dialect dialect) {
  switch (dialect) {
    case Dialect::kDuckDb:
      return "duckdb";
    case Dialect::kSnowflake:
      return "snowflake";
    case Dialect::kDatabricks:
      return "databricks";
    case Dialect::kBigQuery:
      return "bigquery";
  }
  return "duckdb";  // unreachable: every enumerator is handled above
}

std::optional<Dialect> DialectFromString(std::string_view text) {
  for (Dialect d : kDialects) {
    if (text == ToString(d)) return d;
  }
  return std::nullopt;
}

std::string CompileModel(const Model& model, Dialect dialect, const std::string& models_schema,
                         const std::string& driver) {
  return Writer(model, dialect, models_schema).Compile(driver);
}

std::string CompileModels(const std::vector<Model>& models, const Dag& dag, Dialect dialect,
                          const std::set<std::string>* selected) {
  std::map<std::string, const Model*> by_name;
  for (const auto& m : models) by_name[m.name] = &m;
  std::string out;
  for (const auto& name : dag.order) {
    if (selected != nullptr && !selected->contains(name)) continue;
    const Model& m = *by_name.at(name);
    if (!out.empty()) out += "\n";
    out += CompileModel(m, dialect, dag.models_schema, DriverOf(dag, m));
  }
  return out;
}

}  // namespace landfall::model
