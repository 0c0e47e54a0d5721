// landfall-baseline: the raw DuckDB equivalent of each benchmark scenario, so
// that every landfall figure has a baseline measured on the same machine, from
// the same files, in the same run (bench/run.sh).
//
//   landfall-baseline --db FILE --landing DIR [--schema S] MODE [--table T] [--file F]
//
// Modes (each is one process, one DuckDB database, its own file: DuckDB lets
// only one process open a database file, so the baseline never shares
// landfall's):
//   load         for every table folder: CREATE TABLE t AS SELECT * FROM
//                read_parquet([every file of t]) — the initial load
//   insert       INSERT INTO t SELECT * FROM read_parquet(F) — one new batch
//   rebuild      CREATE OR REPLACE TABLE t AS SELECT * FROM read_parquet([every
//                file of t], union_by_name = true) — one table after a schema change
//   rebuild-all  `rebuild` of every table — the conservative full rebuild;
//                union_by_name only for the tables named by --mixed T,T (the
//                ones whose files differ in schema; the others need not pay
//                for reading every footer up front)
//   append-new   for every table: INSERT INTO t BY NAME SELECT * FROM read_parquet([its
//                files not loaded yet]) — a bulk append
//   quiet        one statement that lists the landing dir (glob) and anti-joins
//                it with the files loaded so far: what a hand-written loader
//                must do at least to learn that nothing is new
//   model-batch  an incremental model by hand, on a copy of landfall's
//                warehouse (--db): in one transaction, INSERT INTO a copy of the
//                model's target BY NAME the model's --select with {source}
//                replaced by staging.T restricted to the batch of --file
//                (_landfall_batch IN (...)), and the bookkeeping row that
//                records the batch as consumed — what the model's run does
//                at least (--target schema.name names the model)
//   sql          the statements of --select (separated by ";"), timed as one
//                piece of work: a time-interval partition by hand (BEGIN;
//                DELETE the window; INSERT the SQL's rows; COMMIT), or writing
//                the benchmark's data (COPY ... TO)
//
// Timings cover the data statements only: opening the database and recording
// which files were loaded (a table the `quiet` mode reads) are reported
// apart, so the baseline is the cheapest possible raw DuckDB. Output: one JSON
// object on stdout.
#include <duckdb.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "lib/warehouse/sql.h"

namespace {

using landfall::warehouse::sql::Literal;
using landfall::warehouse::sql::Ident;

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// landfall's default landing.ignore: names starting with . or _, temporary suffixes.
bool Ignored(const std::string& name) {
  auto ends = [&](const char* suffix) {
    const std::string s(suffix);
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  return name.empty() || name[0] == '.' || name[0] == '_' || ends(".tmp") || ends(".partial") ||
         ends(".inprogress");
}

// Table folder -> its batch files (absolute paths, sorted), as landfall sees them.
std::map<std::string, std::vector<std::string>> Landing(const fs::path& dir,
                                                        const std::string& only_table) {
  std::map<std::string, std::vector<std::string>> tables;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_directory() || Ignored(name)) continue;
    if (!only_table.empty() && name != only_table) continue;
    auto& files = tables[name];
    for (auto it = fs::recursive_directory_iterator(entry.path());
         it != fs::recursive_directory_iterator(); ++it) {
      if (Ignored(it->path().filename().string())) {
        if (it->is_directory()) it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file()) files.push_back(fs::absolute(it->path()).string());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) tables.erase(name);
  }
  return tables;
}

class Db {
 public:
  bool Open(const std::string& path) {
    if (duckdb_open(path.c_str(), &db_) != DuckDBSuccess) return false;
    return duckdb_connect(db_, &con_) == DuckDBSuccess;
  }
  ~Db() {
    duckdb_disconnect(&con_);
    duckdb_close(&db_);
  }
  // Runs one statement; returns rows changed (or the first BIGINT cell with
  // `want_value`), -1 on error (printed).
  int64_t Exec(const std::string& sql, bool want_value = false) {
    ++statements;
    duckdb_result result;
    if (duckdb_query(con_, sql.c_str(), &result) != DuckDBSuccess) {
      std::fprintf(stderr, "landfall-baseline: %s\n  in: %.300s\n", duckdb_result_error(&result),
                   sql.c_str());
      duckdb_destroy_result(&result);
      return -1;
    }
    // CREATE TABLE AS reports its row count as a result ("Count"), not as rows changed.
    int64_t out = static_cast<int64_t>(duckdb_rows_changed(&result));
    if (want_value ||
        (out == 0 && duckdb_column_count(&result) == 1 && duckdb_row_count(&result) == 1)) {
      out = duckdb_value_int64(&result, 0, 0);
    }
    duckdb_destroy_result(&result);
    return out;
  }
  // The first column of every row, as text (empty on error, printed).
  std::vector<std::string> Column(const std::string& sql) {
    std::vector<std::string> out;
    duckdb_result result;
    if (duckdb_query(con_, sql.c_str(), &result) != DuckDBSuccess) {
      std::fprintf(stderr, "landfall-baseline: %s\n", duckdb_result_error(&result));
    } else {
      for (idx_t row = 0; row < duckdb_row_count(&result); ++row) {
        char* value = duckdb_value_varchar(&result, 0, row);
        out.emplace_back(value ? value : "");
        duckdb_free(value);
      }
    }
    duckdb_destroy_result(&result);
    return out;
  }
  int64_t statements = 0;

 private:
  duckdb_database db_ = nullptr;
  duckdb_connection con_ = nullptr;
};

// `text` with every "{source}" replaced by `source`.
std::string WithSource(std::string text, const std::string& source) {
  const std::string mark = "{source}";
  for (size_t at = 0; (at = text.find(mark, at)) != std::string::npos; at += source.size()) {
    text.replace(at, mark.size(), source);
  }
  return text;
}

std::string FileList(const std::vector<std::string>& files) {
  std::string list = "[";
  for (const auto& f : files) list += (list.size() > 1 ? ", " : "") + Literal(f);
  return list + "]";
}

int Usage() {
  std::fprintf(
      stderr,
      "usage: landfall-baseline --db FILE --landing DIR [--schema S] "
      "load|insert|rebuild|rebuild-all|append-new|quiet|model-batch|sql [--table T] [--file F] [--mixed T,T]\n"
      "       [--target SCHEMA.NAME --select 'SELECT ... FROM {source}'] [--select 'STATEMENTS' (sql)]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string db_path, landing, schema = "staging", mode, table, file, target, select;
  std::set<std::string> mixed;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) {
      if (!mode.empty()) return Usage();
      mode = a;
      continue;
    }
    if (i + 1 >= argc) return Usage();
    std::string v = argv[++i];
    if (a == "--db")
      db_path = v;
    else if (a == "--landing")
      landing = v;
    else if (a == "--schema")
      schema = v;
    else if (a == "--table")
      table = v;
    else if (a == "--file")
      file = v;
    else if (a == "--target")
      target = v;
    else if (a == "--select")
      select = v;
    else if (a == "--mixed") {
      for (size_t start = 0, comma; start <= v.size(); start = comma + 1) {
        comma = v.find(',', start);
        if (comma == std::string::npos) comma = v.size();
        if (comma > start) mixed.insert(v.substr(start, comma - start));
      }
    } else
      return Usage();
  }
  if (db_path.empty() || landing.empty() || mode.empty()) return Usage();
  if ((mode == "insert" && (table.empty() || file.empty())) ||
      (mode == "rebuild" && table.empty()) ||
      (mode == "model-batch" &&
       (table.empty() || file.empty() || target.find('.') == std::string::npos || select.empty())) ||
      (mode == "sql" && select.empty())) {
    return Usage();
  }

  const auto process_start = Clock::now();
  Db db;
  if (!db.Open(db_path)) {
    std::fprintf(stderr, "landfall-baseline: cannot open %s\n", db_path.c_str());
    return 1;
  }
  db.Exec("CREATE SCHEMA IF NOT EXISTS " + Ident(schema));
  db.Exec("CREATE SCHEMA IF NOT EXISTS _baseline");
  db.Exec("CREATE TABLE IF NOT EXISTS _baseline.loaded (table_name VARCHAR, path VARCHAR)");
  const double open_ms = MsSince(process_start);

  int64_t rows = 0, files = 0, tables = 0, result_value = 0, data_statements = 0;
  double work_ms = 0, max_table_ms = 0, bookkeeping_ms = 0;
  // The table with the most rows (the large table of the initial load).
  std::string largest_table;
  int64_t largest_rows = -1;
  double largest_ms = 0;
  auto note_table = [&](const std::string& t, int64_t n, double ms) {
    work_ms += ms;
    max_table_ms = std::max(max_table_ms, ms);
    rows += n;
    ++tables;
    ++data_statements;
    if (n > largest_rows) {
      largest_table = t;
      largest_rows = n;
      largest_ms = ms;
    }
  };
  auto qualified = [&](const std::string& t) { return Ident(schema) + "." + Ident(t); };
  // Records which files a table now holds (untimed bookkeeping for `quiet`).
  auto record = [&](const std::string& t, const std::vector<std::string>& paths, bool replace) {
    const auto started = Clock::now();
    if (replace) db.Exec("DELETE FROM _baseline.loaded WHERE table_name = " + Literal(t));
    std::string values;
    for (const auto& p : paths) {
      values +=
          (values.empty() ? "" : ", ") + std::string("(") + Literal(t) + ", " + Literal(p) + ")";
    }
    if (!values.empty()) db.Exec("INSERT INTO _baseline.loaded VALUES " + values);
    bookkeeping_ms += MsSince(started);
  };

  if (mode == "load" || mode == "rebuild" || mode == "rebuild-all") {
    const bool rebuild = mode != "load";
    for (const auto& [t, paths] : Landing(landing, mode == "rebuild" ? table : "")) {
      const auto started = Clock::now();
      const int64_t n =
          db.Exec(std::string(rebuild ? "CREATE OR REPLACE TABLE " : "CREATE TABLE ") +
                  qualified(t) + " AS SELECT * FROM read_parquet(" + FileList(paths) +
                  (mode == "rebuild" || mixed.contains(t) ? ", union_by_name = true)" : ")"));
      if (n < 0) return 1;
      note_table(t, n, MsSince(started));
      files += static_cast<int64_t>(paths.size());
      record(t, paths, true);
    }
    if (mode == "rebuild" && tables == 0) {
      std::fprintf(stderr, "landfall-baseline: no table %s in %s\n", table.c_str(),
                   landing.c_str());
      return 1;
    }
  } else if (mode == "append-new") {
    // Which files each table holds already (bookkeeping, untimed).
    std::map<std::string, std::vector<std::string>> fresh;
    const auto listing = Clock::now();
    fresh = Landing(landing, "");
    {
      // Drop the ones already loaded, in one query.
      std::string values;
      for (const auto& [t, paths] : fresh) {
        for (const auto& p : paths)
          values += (values.empty() ? "" : ", ") + ("(" + Literal(p) + ")");
      }
      if (!values.empty()) {
        db.Exec("CREATE OR REPLACE TEMP TABLE present(path VARCHAR)");
        db.Exec("INSERT INTO present VALUES " + values);
        std::vector<std::string> loaded =
            db.Column("SELECT path FROM present WHERE path IN (SELECT path FROM _baseline.loaded)");
        std::set<std::string> done(loaded.begin(), loaded.end());
        for (auto& [t, paths] : fresh) {
          std::erase_if(paths, [&](const std::string& p) { return done.contains(p); });
        }
      }
    }
    bookkeeping_ms += MsSince(listing);
    for (const auto& [t, paths] : fresh) {
      if (paths.empty()) continue;
      const auto started = Clock::now();
      // BY NAME: tables changed by the schema-change scenarios have more columns.
      const int64_t n =
          db.Exec("INSERT INTO " + qualified(t) + " BY NAME SELECT * FROM read_parquet(" +
                  FileList(paths) + ", union_by_name = true)");
      if (n < 0) return 1;
      note_table(t, n, MsSince(started));
      files += static_cast<int64_t>(paths.size());
      record(t, paths, false);
    }
  } else if (mode == "insert") {
    const std::string path = fs::absolute(file).string();
    const auto started = Clock::now();
    rows = db.Exec("INSERT INTO " + qualified(table) + " SELECT * FROM read_parquet(" +
                   Literal(path) + ")");
    if (rows < 0) return 1;
    work_ms = max_table_ms = MsSince(started);
    files = tables = data_statements = 1;
    record(table, {path}, false);
  } else if (mode == "quiet") {
    // Every candidate file (first-level folder = table, any depth below it)
    // that is not yet loaded. landfall's ignore globs are approximated by the
    // hidden-name and suffix filters.
    const std::string root = fs::absolute(landing).string();
    const auto started = Clock::now();
    result_value = db.Exec(
        "SELECT count(*) FROM glob(" + Literal(root + "/*/**") +
            ") g WHERE NOT regexp_matches(g.file, '/[._][^/]*$|\\.(tmp|partial|inprogress)$')"
            " AND g.file NOT IN (SELECT path FROM _baseline.loaded)",
        true);
    work_ms = max_table_ms = MsSince(started);
    if (result_value < 0) return 1;
    data_statements = 1;
  } else if (mode == "model-batch") {
    // Untimed: the batch landfall staged from --file, and a copy of the
    // model's target (as landfall left it) to insert into.
    const auto preparing = Clock::now();
    const std::string model = target.substr(target.find('.') + 1);
    const std::vector<std::string> batches =
        db.Column("SELECT batch_id FROM _landfall.ledger WHERE table_name = " + Literal(table) +
                  " AND ends_with(path, " + Literal(fs::path(file).filename().string()) + ")");
    if (batches.empty()) {
      std::fprintf(stderr, "landfall-baseline: no batch of %s from %s in _landfall.ledger\n",
                   table.c_str(), file.c_str());
      return 1;
    }
    std::string ids;
    for (const auto& b : batches) ids += (ids.empty() ? "" : ", ") + Literal(b);
    if (db.Exec("CREATE OR REPLACE TABLE _baseline.model_target AS SELECT * FROM " +
                Ident(target.substr(0, target.find('.'))) + "." + Ident(model)) < 0 ||
        db.Exec("CREATE TABLE IF NOT EXISTS _baseline.model_ledger"
                " (model VARCHAR, source VARCHAR, token VARCHAR)") < 0) {
      return 1;
    }
    result_value = db.Exec("SELECT count(*) FROM " + qualified(table), true);
    bookkeeping_ms += MsSince(preparing);
    db.statements = 0;
    const auto started = Clock::now();
    const std::string source =
        "(SELECT * FROM " + qualified(table) + " WHERE _landfall_batch IN (" + ids + "))";
    if (db.Exec("BEGIN") < 0) return 1;
    rows = db.Exec("INSERT INTO _baseline.model_target BY NAME " + WithSource(select, source));
    if (rows < 0) return 1;
    std::string ledger_rows;
    for (const auto& b : batches) {
      ledger_rows += std::string(ledger_rows.empty() ? "" : ", ") + "(" + Literal(model) + ", " +
                     Literal(schema + "." + table) + ", " + Literal(b) + ")";
    }
    if (db.Exec("INSERT INTO _baseline.model_ledger VALUES " + ledger_rows) < 0) return 1;
    if (db.Exec("COMMIT") < 0) return 1;
    work_ms = max_table_ms = MsSince(started);
    files = static_cast<int64_t>(batches.size());
    tables = 1;
    data_statements = db.statements;
  } else if (mode == "sql") {
    const auto started = Clock::now();
    rows = db.Exec(select);
    if (rows < 0) return 1;
    work_ms = max_table_ms = MsSince(started);
    data_statements = 1;
  } else {
    return Usage();
  }

  const nlohmann::json out = {{"mode", mode},
                               {"tables", tables},
                               {"files", files},
                               {"rows", rows},
                               {"work_ms", work_ms},
                               {"max_table_ms", max_table_ms},
                               {"open_ms", open_ms},
                               {"bookkeeping_ms", bookkeeping_ms},
                               {"total_ms", MsSince(process_start)},
                               {"statements", data_statements},
                               {"new_files", result_value},
                               {"staging_rows", mode == "model-batch" ? result_value : 0},
                               {"largest_table", largest_table},
                               {"largest_table_rows", std::max<int64_t>(largest_rows, 0)},
                               {"largest_table_ms", largest_ms}};
  std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  return 0;
}
