// landfall-bench-report: turns what bench/run.sh collected (bench/out/raw) into
// the report: every landfall figure beside its raw DuckDB baseline, the ratio,
// the goal from issue 6 and whether it was met.
//
//   landfall-bench-report --raw DIR --out DIR    writes DIR/report.json and DIR/report.md
//   landfall-bench-report time FILE -- CMD...    runs CMD; writes "wall_s user_s sys_s maxrss_kb"
//                                                to FILE (what /usr/bin/time -f '%e %U %S %M' does,
//                                                without needing the `time` package)
//
// Ratios are landfall's time over the baseline's (below 1: landfall is faster).
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

// ---- time FILE -- CMD ----------------------------------------------------------

int TimeCommand(int argc, char** argv) {
  // argv: time FILE -- CMD...
  if (argc < 5 || std::string(argv[3]) != "--") {
    std::cerr << "usage: landfall-bench-report time FILE -- CMD [ARGS...]\n";
    return 2;
  }
  const auto started = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 2;
  }
  if (pid == 0) {
    execvp(argv[4], argv + 4);
    perror(argv[4]);
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  if (wait4(pid, &status, 0, &usage) < 0) {
    perror("wait4");
    return 2;
  }
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  auto secs = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  std::ofstream(argv[2]) << wall << " " << secs(usage.ru_utime) << " " << secs(usage.ru_stime)
                         << " " << usage.ru_maxrss << "\n";
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

// ---- reading what run.sh collected ---------------------------------------------

fs::path raw_dir;

std::optional<std::string> ReadText(const std::string& name) {
  std::ifstream in(raw_dir / name);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Json LoadJson(const std::string& name) {
  auto text = ReadText(name);
  if (!text) return nullptr;
  try {
    // A tool may print log lines before its JSON: take the last line that parses.
    std::istringstream lines(*text);
    std::string line;
    Json last = nullptr;
    while (std::getline(lines, line)) {
      if (line.empty() || (line[0] != '{' && line[0] != '[')) continue;
      try {
        last = Json::parse(line);
      } catch (const Json::exception&) {
      }
    }
    if (!last.is_null()) return last;
    return Json::parse(*text);
  } catch (const Json::exception&) {
    return nullptr;
  }
}

struct Times {
  double wall_s = NAN, user_s = NAN, sys_s = NAN, maxrss_kb = NAN;
  bool ok() const { return !std::isnan(wall_s); }
};

Times LoadTimes(const std::string& name) {
  Times t;
  auto text = ReadText(name);
  if (!text) return t;
  std::istringstream in(*text);
  in >> t.wall_s >> t.user_s >> t.sys_s >> t.maxrss_kb;
  if (!in) return Times{};
  return t;
}

double Num(const Json& j, const char* key) {
  if (j.is_object() && j.contains(key) && j[key].is_number()) return j[key].get<double>();
  return NAN;
}

// The step labelled `label` of an engine-bench output.
Json Step(const Json& engine, const std::string& label) {
  if (!engine.is_object() || !engine.contains("steps")) return nullptr;
  for (const auto& s : engine["steps"]) {
    if (s.value("label", "") == label) return s;
  }
  return nullptr;
}

// The first table outcome of a run step (the one table a change touched).
Json FirstTable(const Json& step) {
  if (step.is_object() && step.contains("tables") && !step["tables"].empty()) {
    return step["tables"][0];
  }
  return nullptr;
}

// ---- the report ----------------------------------------------------------------

std::string Fmt(double v, const char* unit, int digits = -1) {
  if (std::isnan(v)) return "n/a";
  if (digits < 0) digits = std::fabs(v) >= 100 ? 0 : std::fabs(v) >= 10 ? 1 : 2;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  std::string out = buf;
  if (*unit) out += std::string(" ") + unit;
  return out;
}

std::string Ms(double ms) {
  if (std::isnan(ms)) return "n/a";
  if (ms >= 10'000) return Fmt(ms / 1000, "s", 1);
  return Fmt(ms, "ms");
}

std::string Mb(double kb) { return std::isnan(kb) ? "n/a" : Fmt(kb / 1024, "MB", 0); }

struct Row {
  std::string scenario;
  std::string measure;
  std::string landfall;
  std::string baseline = "—";
  double landfall_value = NAN;
  double baseline_value = NAN;
  std::string unit;
  double ratio = NAN;  // landfall / baseline (time)
  std::string goal = "—";
  std::string verdict = "—";  // met | missed | —
  std::string note;
};

std::vector<Row> rows;

Row& Add(std::string scenario, std::string measure, std::string landfall, double value,
         std::string unit) {
  Row r;
  r.scenario = std::move(scenario);
  r.measure = std::move(measure);
  r.landfall = std::move(landfall);
  r.landfall_value = value;
  r.unit = std::move(unit);
  rows.push_back(std::move(r));
  return rows.back();
}

void Baseline(Row& r, std::string text, double value) {
  r.baseline = std::move(text);
  r.baseline_value = value;
  if (!std::isnan(value) && value > 0 && !std::isnan(r.landfall_value)) {
    r.ratio = r.landfall_value / value;
  }
}

void Goal(Row& r, std::string goal, std::optional<bool> met) {
  r.goal = std::move(goal);
  if (met) r.verdict = *met ? "met" : "missed";
}

void RatioGoal(Row& r, double at_most) {
  char text[64];
  std::snprintf(text, sizeof text, "≤ %.2f× baseline", at_most);
  Goal(r, text, std::isnan(r.ratio) ? std::nullopt : std::optional<bool>(r.ratio <= at_most));
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

// "2026-11-21T13:00:00.123+00:00" (or +0000) -> seconds since the epoch.
std::optional<double> ParseLogTime(const std::string& ts) {
  std::tm tm{};
  int ms = 0, off_h = 0, off_m = 0, used = 0;
  char sign = '+';
  if (std::sscanf(ts.c_str(), "%d-%d-%dT%d:%d:%d.%3d%c%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &sign, &used) != 8) {
    return std::nullopt;
  }
  if (std::sscanf(ts.c_str() + used, "%2d:%2d", &off_h, &off_m) != 2 &&
      std::sscanf(ts.c_str() + used, "%2d%2d", &off_h, &off_m) != 2) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const double offset = (off_h * 3600 + off_m * 60) * (sign == '-' ? -1 : 1);
  return static_cast<double>(timegm(&tm)) + ms / 1000.0 - offset;
}

// Prometheus text: the cumulative buckets of one histogram, by upper bound.
std::map<double, double> Buckets(const std::string& text, const std::string& metric) {
  std::map<double, double> out;
  std::istringstream in(text);
  std::string line;
  const std::string prefix = metric + "_bucket{";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) != 0) continue;
    auto le = line.find("le=\"");
    auto close = line.find("\"}", le);
    if (le == std::string::npos || close == std::string::npos) continue;
    std::string bound = line.substr(le + 4, close - le - 4);
    double upper = bound == "+Inf" ? INFINITY : std::stod(bound);
    out[upper] = std::stod(line.substr(close + 2));
  }
  return out;
}

double CounterSum(const std::string& text, const std::string& metric) {
  double total = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(metric, 0) != 0) continue;
    const char next = line.size() > metric.size() ? line[metric.size()] : ' ';
    if (next != '{' && next != ' ') continue;
    auto space = line.rfind(' ');
    if (space != std::string::npos) total += std::stod(line.substr(space + 1));
  }
  return total;
}

// histogram_quantile() over the difference of two scrapes.
double HistogramQuantile(const std::map<double, double>& before,
                         const std::map<double, double>& after, double q) {
  std::vector<std::pair<double, double>> buckets;
  for (const auto& [upper, count] : after) {
    auto it = before.find(upper);
    buckets.emplace_back(upper, count - (it == before.end() ? 0 : it->second));
  }
  if (buckets.empty() || buckets.back().second <= 0) return NAN;
  const double rank = q * buckets.back().second;
  double lower = 0, below = 0;
  for (const auto& [upper, count] : buckets) {
    if (count >= rank) {
      if (std::isinf(upper)) return lower;
      return lower + (upper - lower) * (rank - below) / std::max(count - below, 1e-9);
    }
    lower = upper;
    below = count;
  }
  return NAN;
}

// wrk's "Latency Distribution" and "Requests/sec".
struct Wrk {
  double rps = NAN, p50_ms = NAN, p75_ms = NAN, p90_ms = NAN, p99_ms = NAN;
  double requests = NAN, errors = 0;
};

double WrkDuration(const std::string& v) {
  double x = std::stod(v);
  if (v.ends_with("us")) return x / 1000;
  if (v.ends_with("ms")) return x;
  if (v.ends_with("s")) return x * 1000;
  return x;
}

Wrk ParseWrk(const std::string& text) {
  Wrk w;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string first, second;
    words >> first >> second;
    if (first == "Requests/sec:") w.rps = std::stod(second);
    if (first == "50%") w.p50_ms = WrkDuration(second);
    if (first == "75%") w.p75_ms = WrkDuration(second);
    if (first == "90%") w.p90_ms = WrkDuration(second);
    if (first == "99%") w.p99_ms = WrkDuration(second);
    if (second == "requests") w.requests = std::stod(first);
    if (line.find("Non-2xx or 3xx responses:") != std::string::npos) {
      w.errors += std::stod(line.substr(line.find(':') + 1));
    }
    if (first == "Socket" && line.find("errors:") != std::string::npos) {
      // "Socket errors: connect 0, read 0, write 0, timeout 3"
      std::string rest = line.substr(line.find(':') + 1);
      for (char& c : rest) {
        if (c == ',') c = ' ';
      }
      std::istringstream parts(rest);
      std::string kind;
      double n;
      while (parts >> kind >> n) w.errors += n;
    }
  }
  return w;
}

std::map<std::string, std::string> Sizes() {
  std::map<std::string, std::string> out;
  auto text = ReadText("sizes.env");
  if (!text) return out;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

void Scenario1() {
  const Json lf = LoadJson("s1_landfall.json");
  const Times lt = LoadTimes("s1_landfall.time");
  const Json bl = LoadJson("s1_baseline.json");
  const Times bt = LoadTimes("s1_baseline.time");
  double rows_loaded = 0, big_ms = NAN;
  const std::string big = bl.is_object() ? bl.value("largest_table", "") : "";
  if (lf.is_object()) {
    for (const auto& t : lf["tables"]) {
      rows_loaded += t.value("rows", 0.0);
      if (t.value("table", "") == big) big_ms = t.value("duration_ms", NAN);
    }
  }
  const double base_ms = Num(bl, "open_ms") + Num(bl, "work_ms");
  const double tables = lf.is_object() ? static_cast<double>(lf["tables"].size()) : NAN;
  const double files = Num(lf, "files");
  auto& wall =
      Add("1 initial load",
          "wall time, " + Fmt(tables, "", 0) + " tables / " + Fmt(files, "", 0) + " files / " +
              Fmt(rows_loaded / 1e6, "M rows", 1) + " (landfall: `landfall run`, whole process)",
          Ms(lt.wall_s * 1000), lt.wall_s * 1000, "ms");
  Baseline(wall, Ms(base_ms), base_ms);
  RatioGoal(wall, 1.10);
  wall.note =
      "baseline: one CREATE TABLE AS SELECT * FROM read_parquet([files]) per table, in one process";
  auto& rate = Add("1 initial load", "rows/s", Fmt(rows_loaded / lt.wall_s / 1e6, "M rows/s"),
                   rows_loaded / lt.wall_s, "rows/s");
  const double base_rows = Num(bl, "rows");
  Baseline(rate, Fmt(base_rows / base_ms * 1000 / 1e6, "M rows/s"), base_rows / base_ms * 1000);
  rate.ratio = wall.ratio;
  auto& cpu = Add("1 initial load", "CPU time (user + sys)", Fmt(lt.user_s + lt.sys_s, "s"),
                  (lt.user_s + lt.sys_s) * 1000, "ms");
  Baseline(cpu, Fmt(bt.user_s + bt.sys_s, "s"), (bt.user_s + bt.sys_s) * 1000);
  cpu.note = "baseline CPU includes its untimed bookkeeping";
  if (!big.empty()) {
    auto& b = Add("1 initial load",
                  "the large table (" + Fmt(Num(bl, "largest_table_rows") / 1e6, "M rows", 1) +
                      "): its table action",
                  Ms(big_ms), big_ms, "ms");
    Baseline(b, Ms(Num(bl, "largest_table_ms")), Num(bl, "largest_table_ms"));
    b.note = "landfall loads it while other tables load in parallel";
  }
  auto& rss =
      Add("1 initial load", "peak RSS of the process", Mb(lt.maxrss_kb), lt.maxrss_kb, "KB");
  Baseline(rss, Mb(bt.maxrss_kb), bt.maxrss_kb);
}

void Scenario2() {
  const Json engine = LoadJson("s2_engine.json");
  const Json quiet = Step(engine, "quiet");
  const Json cli = LoadJson("s2_cli_run.json");
  const Times cli_t = LoadTimes("s2_cli_run.time");
  const Times plan_t = LoadTimes("s2_cli_plan.time");
  const Json bq = LoadJson("s2_baseline_quiet.json");
  const Json planner = LoadJson("s9_planner.json");
  double files = NAN, scan_ms = NAN;
  if (engine.is_object()) {
    for (const auto& s : engine["steps"]) {
      if (s.value("step", "") == "scan") {
        scan_ms = Num(s, "wall_ms");
        files = Num(s, "files");
      }
    }
  }
  const double statements = Num(quiet, "warehouse_statements") + Num(cli, "warehouse_statements");
  auto& st = Add("2 quiet cycle",
                 "warehouse statements (" + Fmt(Num(quiet, "runs"), "", 0) +
                     " in-process cycles + `landfall run`)",
                 Fmt(statements, "", 0), statements, "statements");
  Baseline(st, "1", 1);
  st.ratio = NAN;
  Goal(st, "0", std::isnan(statements) ? std::nullopt : std::optional<bool>(statements == 0));
  auto& cyc = Add(
      "2 quiet cycle",
      "cycle wall time, in process (scan " + Fmt(files, "files", 0) + " + catalog + plan; median)",
      Ms(Num(quiet, "wall_ms")), Num(quiet, "wall_ms"), "ms");
  Baseline(cyc, Ms(Num(bq, "work_ms")), Num(bq, "work_ms"));
  Goal(cyc, "< 5 ms",
       std::isnan(cyc.landfall_value) ? std::nullopt : std::optional<bool>(cyc.landfall_value < 5));
  cyc.note = "baseline: one glob() of the landing dir anti-joined with the loaded files";
  Add("2 quiet cycle", "… of which the directory scan alone (readdir + stat)", Ms(scan_ms), scan_ms,
      "ms");
  Add("2 quiet cycle", "cycle CPU time, in process (user + sys, all threads; median)",
      Ms(Num(quiet, "cpu_ms")), Num(quiet, "cpu_ms"), "ms");
  const double plan_ms = Num(quiet, "plan_ms");
  auto& pl = Add("2 quiet cycle",
                 "plan time in the cycle (after the scan; quiet tables' plans reused; median)",
                 Ms(plan_ms), plan_ms, "ms");
  Goal(pl, "< 5 ms", std::isnan(plan_ms) ? std::nullopt : std::optional<bool>(plan_ms < 5));
  pl.note = Fmt(Num(quiet, "tables_replanned"), "", 0) + " tables planned afresh in " +
            Fmt(Num(quiet, "runs"), "", 0) + " cycles";
  if (planner.is_object()) {
    for (const auto& b : planner["benchmarks"]) {
      if (b.value("name", "") == "BM_PlanAllQuiet/1000/100") {
        const double ms = Num(b, "real_time");
        auto& p = Add("2 quiet cycle", "planner alone (PlanAll, 1,000 tables × 100 batches)",
                      Ms(ms), ms, "ms");
        p.note = "every table planned afresh, as in the first cycle after start-up";
      }
    }
  }
  const Json start = engine.is_object() ? engine["start"] : Json(nullptr);
  auto& su = Add("2 quiet cycle", "CLI fixed start-up: state load + ledger reconcile (wall / CPU)",
                 Ms(Num(start, "wall_ms")) + " / " + Ms(Num(start, "cpu_ms")),
                 Num(start, "wall_ms"), "ms");
  su.note = "paid once by `landfall serve`, by every `landfall run`";
  auto& run = Add("2 quiet cycle", "`landfall run`, nothing new: wall / user + sys",
                  Ms(cli_t.wall_s * 1000) + " / " + Ms((cli_t.user_s + cli_t.sys_s) * 1000),
                  cli_t.wall_s * 1000, "ms");
  Baseline(run, Ms(Num(bq, "total_ms")), Num(bq, "total_ms"));
  run.note = "baseline: its whole process (open + glob)";
  Add("2 quiet cycle", "`landfall plan`, nothing new: wall / user + sys",
      Ms(plan_t.wall_s * 1000) + " / " + Ms((plan_t.user_s + plan_t.sys_s) * 1000),
      plan_t.wall_s * 1000, "ms");
  const Json daemon = LoadJson("s8_daemon.json");
  if (daemon.is_object()) {
    const double ms = Num(daemon, "idle_cpu_ticks") * 1000 / Num(daemon, "clk_tck");
    std::string runs = "n/a";
    auto before = ReadText("s8_metrics_idle_before.txt");
    auto after = ReadText("s8_metrics_idle_after.txt");
    if (before && after && !before->empty()) {
      runs = Fmt(
          CounterSum(*after, "landfall_runs_total") - CounterSum(*before, "landfall_runs_total"),
          "", 0);
    }
    auto& d = Add("2 quiet cycle",
                  "`landfall serve` idle " + Fmt(Num(daemon, "idle_seconds"), "s", 0) +
                      " (inotify, nothing lands): runs / CPU",
                  runs + " / " + Ms(ms), ms, "ms");
    d.note = "the daemon plans only when the watcher reports a change";
  }
  const Json grow = Step(LoadJson("s2_grow_engine.json"), "grow");
  if (grow.is_object()) {
    const Json bg = LoadJson("s2_grow_baseline.json");
    auto& g = Add("2 quiet cycle",
                  "growing to this state: a run appending " + Fmt(Num(bg, "files"), "batches", 0) +
                      " (in process)",
                  Ms(Num(grow, "wall_ms")), Num(grow, "wall_ms"), "ms");
    Baseline(g, Ms(Num(bg, "work_ms")), Num(bg, "work_ms"));
    g.note = "baseline: one INSERT … read_parquet([new files]) per table";
  }
}

double MedianOf(std::vector<double> v) {
  std::erase_if(v, [](double x) { return std::isnan(x); });
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// One kind of change: `prefix`_table_1..N (runs of that table, as the daemon
// runs them; medians) and `prefix`_cycle (a run of all tables), beside the
// baseline's `prefix`_baseline_table_1..N and `prefix`_baseline_cycle.
void ChangeRows(const std::string& scenario, const std::string& what, const Json& engine,
                const std::string& prefix, double goal, bool touched_row) {
  std::vector<double> wall, action, base;
  std::string action_name = "?";
  double statements = NAN;
  for (int k = 1;; ++k) {
    const Json t = Step(engine, prefix + "_table_" + std::to_string(k));
    if (!t.is_object()) break;
    wall.push_back(Num(t, "wall_ms"));
    action.push_back(Num(FirstTable(t), "duration_ms"));
    if (k == 1) {
      statements = Num(t, "warehouse_statements");
      if (FirstTable(t).is_object()) action_name = FirstTable(t).value("action", "?");
    }
    base.push_back(
        Num(LoadJson(prefix + "_baseline_table_" + std::to_string(k) + ".json"), "work_ms"));
  }
  const Json c = Step(engine, prefix + "_cycle");
  const Json bc = LoadJson(prefix + "_baseline_cycle.json");
  const std::string base_what =
      scenario.starts_with("3") ? "single INSERT" : "rebuild of that table";
  const std::string n = " (median of " + std::to_string(wall.size()) + " tables)";
  if (touched_row) {
    const double touched = Num(c, "tables_touched");
    std::string act = "n/a";
    if (FirstTable(c).is_object()) act = FirstTable(c).value("action", "n/a");
    auto& r = Add(scenario,
                  what + ": tables touched by a run of all " +
                      Fmt(Num(c, "tables_planned"), "", 0) + " tables (action)",
                  Fmt(touched, "", 0) + " (" + act + ")", touched, "tables");
    Goal(r, "exactly 1", std::isnan(touched) ? std::nullopt : std::optional<bool>(touched == 1));
  }
  auto& run = Add(scenario, what + ": landfall's run of that table, as the daemon runs it" + n,
                  Ms(MedianOf(wall)), MedianOf(wall), "ms");
  Baseline(run, Ms(MedianOf(base)), MedianOf(base));
  RatioGoal(run, goal);
  run.note =
      "landfall: scan of the table, fingerprint, footer, plan, warehouse transaction, state "
      "records; baseline: " +
      base_what;
  auto& act = Add(scenario,
                  what + ": … of which the warehouse transaction (" + action_name + ", " +
                      Fmt(statements, "statements", 0) + ")",
                  Ms(MedianOf(action)), MedianOf(action), "ms");
  Baseline(act, Ms(MedianOf(base)), MedianOf(base));
  auto& cyc = Add(scenario, what + ": a run of all tables (`landfall run` after start-up)",
                  Ms(Num(c, "wall_ms")), Num(c, "wall_ms"), "ms");
  Baseline(cyc, Ms(Num(bc, "work_ms")), Num(bc, "work_ms"));
}

void Scenarios345() {
  const Json engine = LoadJson("s345_engine.json");
  ChangeRows("3 one new batch", "new batch", engine, "s3", 1.15, false);
  ChangeRows("4 schema change", "added column", engine, "s4_added", 1.2, true);
  ChangeRows("4 schema change", "incompatible type", engine, "s4_incompatible", 1.2, true);

  const Json full = Step(engine, "s5_full");
  const Json bl = LoadJson("s5_baseline.json");
  const double base_ms = Num(bl, "open_ms") + Num(bl, "work_ms");
  auto& f = Add("5 full-rebuild fallback",
                "full rebuild of all " + Fmt(Num(full, "tables_touched"), "tables", 0) +
                    " (`landfall run --full-refresh` after start-up)",
                Ms(Num(full, "wall_ms")), Num(full, "wall_ms"), "ms");
  Baseline(f, Ms(base_ms), base_ms);
  RatioGoal(f, 1.10);
  f.note =
      "baseline: CREATE OR REPLACE TABLE AS SELECT * FROM read_parquet([files]) per table "
      "(union_by_name for the tables with a schema change)";
  for (const char* label : {"s4_added_cycle", "s4_incompatible_cycle"}) {
    const Json c = Step(engine, label);
    const bool added = std::string(label).find("added") != std::string::npos;
    auto& r = Add(
        "5 full-rebuild fallback",
        std::string("per-table plan vs full rebuild, same change (") +
            (added ? "added column" : "incompatible type") + "): landfall's run / the full rebuild",
        Ms(Num(c, "wall_ms")) + " vs " + Ms(Num(full, "wall_ms")), Num(c, "wall_ms"), "ms");
    r.baseline = "—";
    if (Num(full, "wall_ms") > 0) r.ratio = Num(c, "wall_ms") / Num(full, "wall_ms");
    r.note = "ratio: the share of the conservative full rebuild's time that landfall spends";
  }
}

void Scenario6(int debounce_ms) {
  auto landings = ReadText("s6_landings.tsv");
  auto log = ReadText("daemon.log");
  if (!landings || !log) return;
  // First append of each table per the log, in time order.
  std::map<std::string, std::vector<double>> appends;
  std::istringstream lines(*log);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find(": append ") == std::string::npos) continue;
    try {
      Json j = Json::parse(line);
      const std::string msg = j.value("msg", "");
      if (!msg.starts_with("table ")) continue;
      auto colon = msg.find(": append ");
      auto at = ParseLogTime(j.value("ts", ""));
      if (colon == std::string::npos || !at) continue;
      appends[msg.substr(6, colon - 6)].push_back(*at);
    } catch (const Json::exception&) {
    }
  }
  std::vector<double> latencies;
  int landed = 0;
  std::istringstream in(*landings);
  while (std::getline(in, line)) {
    auto tab = line.find('\t');
    if (tab == std::string::npos) continue;
    ++landed;
    const std::string table = line.substr(0, tab);
    const double renamed = std::stod(line.substr(tab + 1));
    // Log times are truncated to the millisecond.
    for (double t : appends[table]) {
      if (t >= renamed - 0.001) {
        latencies.push_back(std::max(0.0, t - renamed) * 1000);
        break;
      }
    }
  }
  const std::string scenario = "6 landing → visible";
  auto& seen = Add(scenario, "files landed one by one / seen committed",
                   Fmt(landed, "", 0) + " / " + Fmt(latencies.size(), "", 0),
                   static_cast<double>(latencies.size()), "files");
  seen.note =
      "a file is visible when its table's append committed (the daemon's log line, ms "
      "resolution; DuckDB lets only the daemon open the database)";
  const double p50 = Percentile(latencies, 0.50), p95 = Percentile(latencies, 0.95),
               p99 = Percentile(latencies, 0.99);
  auto& r50 = Add(scenario, "p50, rename → commit (log)", Ms(p50), p50, "ms");
  Goal(r50, "≤ debounce + 50 = " + std::to_string(debounce_ms + 50) + " ms",
       std::isnan(p50) ? std::nullopt : std::optional<bool>(p50 <= debounce_ms + 50));
  Add(scenario, "p95, rename → commit (log)", Ms(p95), p95, "ms");
  auto& r99 = Add(scenario, "p99, rename → commit (log)", Ms(p99), p99, "ms");
  Goal(r99, "≤ debounce + 250 = " + std::to_string(debounce_ms + 250) + " ms",
       std::isnan(p99) ? std::nullopt : std::optional<bool>(p99 <= debounce_ms + 250));
  auto before = ReadText("s6_metrics_before.txt");
  auto after = ReadText("s6_metrics_after.txt");
  if (before && after && !after->empty()) {
    const auto b = Buckets(*before, "landfall_landing_to_staged_seconds");
    const auto a = Buckets(*after, "landfall_landing_to_staged_seconds");
    auto& h = Add(scenario,
                  "p50 / p95 / p99 per the daemon's histogram landfall_landing_to_staged_seconds "
                  "(file mtime → commit; bucket-interpolated)",
                  Ms(HistogramQuantile(b, a, 0.5) * 1000) + " / " +
                      Ms(HistogramQuantile(b, a, 0.95) * 1000) + " / " +
                      Ms(HistogramQuantile(b, a, 0.99) * 1000),
                  HistogramQuantile(b, a, 0.5) * 1000, "ms");
    h.note = "buckets 0.1, 0.25, 0.5, 1 s: coarse";
  }
}

void Scenario7() {
  if (auto skipped = ReadText("s7_skipped.txt")) {
    Add("7 API", "wrk against GET /v1/tables and GET /healthz", "skipped: API not available", NAN,
        "");
    return;
  }
  for (const auto& [file, route] : std::vector<std::pair<std::string, std::string>>{
           {"s7_v1_tables.wrk", "GET /v1/tables"}, {"s7_healthz.wrk", "GET /healthz"}}) {
    auto text = ReadText(file);
    if (!text) continue;
    const Wrk w = ParseWrk(*text);
    auto& rps = Add("7 API", route + ": requests/s (wrk, 2 threads)", Fmt(w.rps, "req/s", 0), w.rps,
                    "req/s");
    Goal(rps, "≥ 10,000 req/s",
         std::isnan(w.rps) ? std::nullopt : std::optional<bool>(w.rps >= 10'000));
    if (w.errors > 0) rps.note = Fmt(w.errors, "errors or non-2xx responses", 0);
    auto& lat = Add("7 API", route + ": latency p50 / p90 / p99",
                    Ms(w.p50_ms) + " / " + Ms(w.p90_ms) + " / " + Ms(w.p99_ms), w.p99_ms, "ms");
    Goal(lat, "p99 < 10 ms",
         std::isnan(w.p99_ms) ? std::nullopt : std::optional<bool>(w.p99_ms < 10));
  }
  // Probes while slow calls (dry runs and full refreshes of every table) hold
  // the slow lane; the baseline is the same probe on the quiet daemon above.
  for (const std::string route : {"healthz", "readyz", "metrics"}) {
    auto quiet = ReadText("s7_" + route + ".wrk");
    auto busy = ReadText("s7_slow_" + route + ".wrk");
    if (!busy) continue;
    const Wrk b = ParseWrk(*busy);
    auto& lat = Add("7 API", "GET /" + route + " while slow calls run: latency p50 / p99",
                    Ms(b.p50_ms) + " / " + Ms(b.p99_ms), b.p99_ms, "ms");
    if (quiet) {
      const Wrk q = ParseWrk(*quiet);
      Baseline(lat, Ms(q.p99_ms) + " (quiet daemon)", q.p99_ms);
    }
    Goal(lat, "p99 < 50 ms", std::isnan(b.p99_ms) ? std::nullopt : std::optional<bool>(b.p99_ms < 50));
    if (b.errors > 0) lat.note = Fmt(b.errors, "errors or non-2xx responses", 0);
  }
}

void Scenario8() {
  const Json d = LoadJson("s8_daemon.json");
  const Json e = LoadJson("s8_engine.json");
  const Times base = LoadTimes("s1_baseline.time");
  const std::string scenario = "8 memory";
  if (d.is_object()) {
    Add(scenario, "`landfall serve` peak RSS through start-up (VmHWM)",
        Mb(Num(d, "startup_hwm_kb")), Num(d, "startup_hwm_kb"), "KB");
    Add(scenario, "`landfall serve` RSS idle (VmRSS)", Mb(Num(d, "idle_rss_kb")),
        Num(d, "idle_rss_kb"), "KB");
    auto& r = Add(scenario,
                  "`landfall serve` peak RSS during a run of all " +
                      Fmt(Num(d, "run_tables"), "", 0) + " tables (VmHWM, reset before)",
                  Mb(Num(d, "run_hwm_kb")), Num(d, "run_hwm_kb"), "KB");
    Baseline(r, Mb(base.maxrss_kb), base.maxrss_kb);
    r.note = "baseline: the raw DuckDB initial load's peak RSS, for scale";
  }
  const Json idle = Step(e, "idle");
  const Json all = Step(e, "all_tables");
  auto& h1 = Add(scenario, "landfall's own heap, idle (glibc malloc; excludes DuckDB's jemalloc)",
                 Mb(Num(idle, "heap_end_kb")), Num(idle, "heap_end_kb"), "KB");
  Goal(h1, "< 150 MB",
       std::isnan(h1.landfall_value) ? std::nullopt
                                     : std::optional<bool>(h1.landfall_value < 150 * 1024));
  auto& h2 = Add(scenario, "landfall's own heap, peak during a quiet cycle",
                 Mb(Num(idle, "heap_peak_kb")), Num(idle, "heap_peak_kb"), "KB");
  Goal(h2, "< 150 MB",
       std::isnan(h2.landfall_value) ? std::nullopt
                                     : std::optional<bool>(h2.landfall_value < 150 * 1024));
  auto& h3 = Add(scenario, "landfall's own heap, peak during a run of all tables",
                 Mb(Num(all, "heap_peak_kb")), Num(all, "heap_peak_kb"), "KB");
  Goal(h3, "< 150 MB",
       std::isnan(h3.landfall_value) ? std::nullopt
                                     : std::optional<bool>(h3.landfall_value < 150 * 1024));
  h3.note = "process RSS meanwhile (DuckDB included): " + Mb(Num(all, "rss_peak_kb"));
}

void Scenario9() {
  const Json planner = LoadJson("s9_planner.json");
  if (!planner.is_object()) return;
  for (const auto& b : planner["benchmarks"]) {
    const std::string name = b.value("name", "");
    const double ms = Num(b, "real_time");
    const double tables = Num(b, "tables");
    auto& r = Add("9 micro-benchmarks", name, Ms(ms), ms, "ms");
    if (tables > 0) r.note = Fmt(ms * 1e6 / tables, "ns per table", 0);
  }
}


// ---- scenarios 10-13: models (bench/models.sh) -----------------------------------

// The one model of a run's "models" that did something (nullptr if none or several).
Json TheModelThatRan(const Json& run) {
  Json found = nullptr;
  if (!run.is_object() || !run.contains("models")) return found;
  for (const auto& m : run["models"]) {
    if (m.value("action", "") == "skip") continue;
    if (!found.is_null()) return nullptr;
    found = m;
  }
  return found;
}

int ModelsThatRan(const Json& run) {
  int n = 0;
  if (run.is_object() && run.contains("models")) {
    for (const auto& m : run["models"]) n += m.value("action", "") != "skip";
  }
  return n;
}

void ScenarioModelsInitial(const std::string& sizes_models) {
  const Json run = LoadJson("m_initial.json");
  const Times t = LoadTimes("m_initial.time");
  if (!run.is_object()) return;
  auto& r = Add("10-13 models: set-up", "first `landfall run`: stage every table, build " +
                                            Fmt(ModelsThatRan(run), "models", 0),
                Ms(t.wall_s * 1000), t.wall_s * 1000, "ms");
  r.note = "model phase " + Ms(Num(run, "models_duration_ms")) + "; " + sizes_models;
}

void Scenario11() {
  std::vector<double> model_ms, phase_ms, base_ms, ran, statements;
  for (int k = 1;; ++k) {
    const Json run = LoadJson("s11_run_" + std::to_string(k) + ".json");
    if (!run.is_object()) break;
    const Json base = LoadJson("s11_baseline_" + std::to_string(k) + ".json");
    const Json model = TheModelThatRan(run);
    model_ms.push_back(Num(model, "duration_ms"));
    phase_ms.push_back(Num(run, "models_duration_ms"));
    base_ms.push_back(Num(base, "work_ms"));
    ran.push_back(ModelsThatRan(run));
    statements.push_back(Num(run, "warehouse_statements"));
  }
  if (model_ms.empty()) return;
  const std::string scenario = "11 one new batch → its model";
  const std::string times = " (median of " + Fmt(model_ms.size(), "", 0) + ")";
  const double base = MedianOf(base_ms);
  const std::string base_text = Ms(base);
  auto& own = Add(scenario, "the model's own run (`models[].duration_ms`)" + times, Ms(MedianOf(model_ms)),
                  MedianOf(model_ms), "ms");
  Baseline(own, base_text, base);
  RatioGoal(own, 1.20);
  own.note =
      "baseline: on a copy of the warehouse, INSERT INTO a copy of the target BY NAME the model's SELECT over "
      "staging.t WHERE _landfall_batch IN (the batch) + its ledger row, in one transaction; models that ran "
      "per run: " + Fmt(MedianOf(ran), "", 0);
  auto& phase = Add(scenario, "the whole model phase (`models_duration_ms`: plan " +
                                  std::string("every model + run the one)") + times,
                    Ms(MedianOf(phase_ms)), MedianOf(phase_ms), "ms");
  Baseline(phase, base_text, base);
  phase.note = "warehouse statements of the whole run (staging + models): " + Fmt(MedianOf(statements), "", 0);
}

void Scenario12() {
  const std::string scenario = "12 incremental model on a large table";
  double per_label[2] = {NAN, NAN};
  int i = 0;
  for (const char* label : {"mid", "big"}) {
    const Json run = LoadJson(std::string("s12_run_") + label + ".json");
    const Json base = LoadJson(std::string("s12_baseline_") + label + ".json");
    const Json model = TheModelThatRan(run);
    const double rows = Num(base, "staging_rows");
    const double ms = Num(model, "duration_ms");
    per_label[i++] = ms;
    if (!run.is_object()) continue;
    auto& r = Add(scenario,
                  "a " + Fmt(Num(model, "rows_inserted"), "", 0) + "-row batch of a " +
                      Fmt(rows / 1e6, "M-row", 1) + " table: the model's run",
                  Ms(ms), ms, "ms");
    Baseline(r, Ms(Num(base, "work_ms")), Num(base, "work_ms"));
    r.note = "whole model phase " + Ms(Num(run, "models_duration_ms"));
  }
  if (!std::isnan(per_label[0]) && !std::isnan(per_label[1])) {
    auto& r = Add(scenario, "the larger table's model run / the smaller one's",
                  Ms(per_label[1]) + " vs " + Ms(per_label[0]), per_label[1], "ms");
    r.ratio = per_label[1] / per_label[0];
    Goal(r, "about 1× (≤ 1.5×)", r.ratio <= 1.5);
    r.note = "the same new batch: the cost should follow the batch, not the table";
  }
}

void Scenario10() {
  const Json with = LoadJson("s10_cli_models.json");
  const Json plain = LoadJson("s10_cli_plain.json");
  const Json em = LoadJson("s10_engine_models.json");
  const Json ep = LoadJson("s10_engine_plain.json");
  if (!with.is_object() && !em.is_object()) return;
  const std::string scenario = "10 quiet cycle with models";
  auto& cli = Add(scenario, "`landfall run`, nothing new: warehouse statements, with models",
                  Fmt(Num(with, "warehouse_statements"), "", 0), Num(with, "warehouse_statements"),
                  "statements");
  cli.baseline = Fmt(Num(plain, "warehouse_statements"), "without models", 0);
  cli.baseline_value = Num(plain, "warehouse_statements");
  cli.note = "each CLI process plans the models once: it reads the warehouse's record of what each model "
             "consumed (" + Fmt(ModelsThatRan(with), "models ran", 0) + ")";
  const Json first = Step(em, "first");
  const Json quiet = Step(em, "quiet");
  auto& f = Add(scenario, "in process (the daemon's Engine): the first quiet cycle's statements",
                Fmt(Num(first, "warehouse_statements"), "", 0), Num(first, "warehouse_statements"),
                "statements");
  f.baseline = Fmt(Num(Step(ep, "first"), "warehouse_statements"), "without models", 0);
  f.baseline_value = Num(Step(ep, "first"), "warehouse_statements");
  f.note = "plans the models once after start-up";
  const double q = Num(quiet, "warehouse_statements");
  auto& r = Add(scenario,
                "in process: statements of the next " + Fmt(Num(quiet, "runs"), "quiet cycles", 0),
                Fmt(q, "", 0), q, "statements");
  r.baseline = Fmt(Num(Step(ep, "quiet"), "warehouse_statements"), "without models", 0);
  r.baseline_value = Num(Step(ep, "quiet"), "warehouse_statements");
  Goal(r, "0", std::isnan(q) ? std::nullopt : std::optional<bool>(q == 0));
  auto& w = Add(scenario, "in process: quiet cycle wall time (median)", Ms(Num(quiet, "wall_ms")),
                Num(quiet, "wall_ms"), "ms");
  Baseline(w, Ms(Num(Step(ep, "quiet"), "wall_ms")) + " without models", Num(Step(ep, "quiet"), "wall_ms"));
}

// Times of the log lines whose msg starts with `prefix` and contains `marker`,
// by the text between them.
std::map<std::string, std::vector<double>> LogTimes(const std::string& log, const std::string& prefix,
                                                    const std::string& marker) {
  std::map<std::string, std::vector<double>> out;
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find(marker) == std::string::npos) continue;
    try {
      Json j = Json::parse(line);
      const std::string msg = j.value("msg", "");
      if (!msg.starts_with(prefix)) continue;
      auto at = ParseLogTime(j.value("ts", ""));
      auto end = msg.find(marker);
      if (end == std::string::npos || !at) continue;
      out[msg.substr(prefix.size(), end - prefix.size())].push_back(*at);
    } catch (const Json::exception&) {
    }
  }
  return out;
}

void Scenario13() {
  auto landings = ReadText("s13_landings.tsv");
  auto log = ReadText("m_daemon.log");
  if (!landings || !log) return;
  const auto runs = LogTimes(*log, "model ", ": run");
  const auto appends = LogTimes(*log, "table ", ": append ");
  std::vector<double> model_ms, staged_ms;
  int landed = 0;
  auto first_after = [](const std::vector<double>& times, double since) {
    for (double t : times) {
      if (t >= since - 0.001) return std::max(0.0, t - since) * 1000;  // log times: ms resolution
    }
    return std::nan("");
  };
  std::istringstream in(*landings);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string table, model;
    double renamed = 0;
    if (!(fields >> table >> model >> renamed)) continue;
    ++landed;
    auto r = runs.find(model);
    auto a = appends.find(table);
    if (r != runs.end()) model_ms.push_back(first_after(r->second, renamed));
    if (a != appends.end()) staged_ms.push_back(first_after(a->second, renamed));
  }
  std::erase_if(model_ms, [](double x) { return std::isnan(x); });
  std::erase_if(staged_ms, [](double x) { return std::isnan(x); });
  const std::string scenario = "13 landing → model visible";
  auto& seen = Add(scenario, "files landed one by one / their model ran", Fmt(landed, "", 0) + " / " +
                                                                               Fmt(model_ms.size(), "", 0),
                   static_cast<double>(model_ms.size()), "files");
  seen.note = "`landfall serve`; visible when the daemon logs the model's run (after its commit; ms resolution)";
  for (const auto& [q, name] : std::vector<std::pair<double, std::string>>{{0.5, "p50"}, {0.95, "p95"}}) {
    const double m = Percentile(model_ms, q), s = Percentile(staged_ms, q);
    auto& r = Add(scenario, name + ", rename → model committed (log)", Ms(m), m, "ms");
    r.baseline = Ms(s) + " (rename → staged)";
    r.baseline_value = s;
    if (!std::isnan(m) && !std::isnan(s) && s > 0) r.ratio = m / s;
  }
}

std::string Cell(std::string s) {
  for (size_t i = 0; (i = s.find('|', i)) != std::string::npos; i += 2) s.replace(i, 1, "\\|");
  return s;
}

std::string RatioText(double r) {
  if (std::isnan(r)) return "—";
  char buf[32];
  std::snprintf(buf, sizeof buf, r >= 10 ? "%.0f×" : r >= 0.1 ? "%.2f×" : "%.2g×", r);
  return buf;
}

int Report(const fs::path& out_dir) {
  const auto sizes = Sizes();
  int debounce = 200;
  if (auto it = sizes.find("BENCH_DEBOUNCE_MS"); it != sizes.end())
    debounce = std::stoi(it->second);
  // BENCH_SCENARIOS=models leaves the staging scenarios' files out.
  if (ReadText("s1_landfall.json")) {
    Scenario1();
    Scenario2();
    Scenarios345();
    Scenario6(debounce);
    Scenario7();
    Scenario8();
    Scenario9();
  }
  std::string model_sizes;
  for (const auto& [k, v] : sizes) {
    if (k.starts_with("BENCH_MODEL")) model_sizes += (model_sizes.empty() ? "" : ", ") + k + "=" + v;
  }
  ScenarioModelsInitial(model_sizes);
  Scenario10();
  Scenario11();
  Scenario12();
  Scenario13();

  Json machine = LoadJson("machine.json");
  Json phases = Json::object();
  if (auto text = ReadText("phases.tsv")) {
    std::istringstream in(*text);
    std::string line;
    while (std::getline(in, line)) {
      auto tab = line.find('\t');
      if (tab != std::string::npos) phases[line.substr(0, tab)] = std::stod(line.substr(tab + 1));
    }
  }
  Json jrows = Json::array();
  for (const auto& r : rows) {
    auto num = [](double v) { return std::isnan(v) ? Json(nullptr) : Json(v); };
    jrows.push_back({{"scenario", r.scenario},
                     {"measure", r.measure},
                     {"landfall", r.landfall},
                     {"landfall_value", num(r.landfall_value)},
                     {"baseline", r.baseline},
                     {"baseline_value", num(r.baseline_value)},
                     {"unit", r.unit},
                     {"ratio", num(r.ratio)},
                     {"goal", r.goal},
                     {"verdict", r.verdict},
                     {"note", r.note}});
  }
  Json sizes_json = Json::object();
  for (const auto& [k, v] : sizes) sizes_json[k] = v;
  std::ofstream(out_dir / "report.json")
      << Json{{"machine", machine}, {"sizes", sizes_json}, {"phases_s", phases}, {"rows", jrows}}
             .dump(2)
      << "\n";

  std::ostringstream md;
  md << "| scenario | measure | landfall | raw DuckDB | ratio | goal | verdict |\n"
     << "|---|---|---|---|---|---|---|\n";
  int met = 0, missed = 0;
  for (const auto& r : rows) {
    std::string measure = r.measure;
    if (!r.note.empty()) measure += " <br><sub>" + r.note + "</sub>";
    std::string verdict = r.verdict == "met"      ? "**met**"
                          : r.verdict == "missed" ? "**missed**"
                                                  : "—";
    met += r.verdict == "met";
    missed += r.verdict == "missed";
    md << "| " << Cell(r.scenario) << " | " << Cell(measure) << " | " << Cell(r.landfall) << " | "
       << Cell(r.baseline) << " | " << RatioText(r.ratio) << " | " << Cell(r.goal) << " | "
       << verdict << " |\n";
  }
  md << "\nRatios are landfall's time over raw DuckDB's, measured in the same run (below 1: "
        "landfall is faster). Goals met: "
     << met << ", missed: " << missed << ".\n";
  if (machine.is_object()) {
    md << "\nMachine: " << machine.value("cpu", "?") << ", " << machine.value("nproc", 0)
       << " CPUs, " << machine.value("mem_total", "?") << " RAM, Linux "
       << machine.value("kernel", "?") << "; " << machine.value("date", "?")
       << "; load average before the run " << machine.value("load_before", "?") << "; commit "
       << machine.value("git", "?") << ".\n";
  }
  if (!sizes.empty()) {
    md << "\nSizes:";
    for (const auto& [k, v] : sizes) md << " " << k << "=" << v;
    md << ".\n";
  }
  if (!phases.empty()) {
    md << "\nPhases (s):";
    for (const auto& [k, v] : phases.items()) md << " " << k << " " << v.get<double>() << ";";
    md << "\n";
  }
  std::ofstream(out_dir / "report.md") << md.str();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "time") return TimeCommand(argc, argv);
  fs::path out;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--raw")
      raw_dir = argv[i + 1];
    else if (a == "--out")
      out = argv[i + 1];
  }
  if (raw_dir.empty() || out.empty()) {
    std::cerr << "usage: landfall-bench-report --raw DIR --out DIR | time FILE -- CMD...\n";
    return 2;
  }
  return Report(out);
}
