// landfall-engine-bench: drives landfall's Engine in one process, the way
// `landfall serve` does, and times each step with wall clock and CPU time
// (getrusage: every thread, DuckDB's included). It separates what the CLI
// mixes together: the one-off start-up (migrations, state load, ledger
// reconciliation) from the cycles that follow.
//
//   landfall-engine-bench --config F [--sample-memory] STEP...
//
// Steps, in order, after Engine::Start():
//   run              Engine::Run of every table (what `landfall run` does after start-up)
//   run:T1,T2        Engine::Run of those tables only (what the daemon does for a
//                    watcher event in table T1)
//   full             Engine::Run with full_refresh: rebuild every table
//   plan             Engine::Plan of every table (dry run)
//   quiet:N          N runs of every table; reports each and the median
//   scan             landing::Scan of the landing directory alone (readdir + stat),
//                    the part of a cycle that is the file system's
//   sh:CMD           runs CMD with /bin/sh, untimed (e.g. to land a file)
//   LABEL=STEP       any of the above, reported with "label": LABEL
//
// Prints one JSON object: {"start": {...}, "steps": [{...}, ...]}. Exits 1 when a
// step fails (a table failing is reported, not fatal).
//
// Memory at the end of each step, and with --sample-memory its peak during the
// step (sampled every 20 ms; mallinfo2 walks the heap, so this costs CPU time
// and is off for timing runs): rss_kb (the process's resident set) and
// heap_kb, glibc malloc's memory in use (mallinfo2). DuckDB allocates through
// its own jemalloc, so the heap figure is everything but DuckDB: landfall,
// libpq, the JSON and YAML libraries.
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "lib/common/clock.h"
#include "lib/common/logging.h"
#include "lib/common/thread_pool.h"
#include "lib/config/config.h"
#include "lib/exec/engine.h"
#include "lib/landing/catalog.h"
#include "lib/state/state_store.h"
#include "lib/warehouse/duckdb_warehouse.h"

namespace {

using namespace landfall;
using Json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

double CpuMs() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto ms = [](const timeval& tv) { return tv.tv_sec * 1000.0 + tv.tv_usec / 1000.0; };
  return ms(usage.ru_utime) + ms(usage.ru_stime);
}

// Wall and CPU time of one step.
class Timer {
 public:
  Timer() : wall_(SteadyClock::now()), cpu_(CpuMs()) {}
  void Into(Json& out) const {
    out["wall_ms"] = std::chrono::duration<double, std::milli>(SteadyClock::now() - wall_).count();
    out["cpu_ms"] = CpuMs() - cpu_;
  }

 private:
  SteadyClock::time_point wall_;
  double cpu_;
};

int64_t RssKb() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

int64_t HeapKb() {
  const struct mallinfo2 info = mallinfo2();
  return static_cast<int64_t>((info.uordblks + info.hblkhd) / 1024);
}

// Samples RSS and the malloc heap in the background; Reset() starts a new peak.
class MemorySampler {
 public:
  explicit MemorySampler(bool background) {
    if (background) thread_ = std::thread([this] { Loop(); });
  }
  ~MemorySampler() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  void Reset() {
    rss_peak_ = RssKb();
    heap_peak_ = HeapKb();
  }
  void Into(Json& out) {
    Sample();
    out["rss_peak_kb"] = rss_peak_.load();
    out["heap_peak_kb"] = heap_peak_.load();
    out["rss_end_kb"] = RssKb();
    out["heap_end_kb"] = HeapKb();
  }

 private:
  void Sample() {
    const int64_t rss = RssKb(), heap = HeapKb();
    if (rss > rss_peak_) rss_peak_ = rss;
    if (heap > heap_peak_) heap_peak_ = heap;
  }
  void Loop() {
    while (!stop_) {
      Sample();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> rss_peak_{0}, heap_peak_{0};
  std::thread thread_;
};

// The CLI's JSON of a run, without the plan, with the counts the report reads.
Json Describe(const exec::RunOutcome& outcome) {
  Json out = Json::parse(exec::ToJson(outcome));
  out.erase("plan");
  out["tables_planned"] = outcome.plan.tables.size();
  out["tables_touched"] = outcome.tables.size();
  return out;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      if (i > start) out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

int Usage() {
  std::cerr << "usage: landfall-engine-bench --config F [--sample-memory] "
               "(run|run:T[,T]|full|plan|quiet:N|scan|sh:CMD)...\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  std::vector<std::string> steps;
  bool sample_memory = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a == "--sample-memory") {
      sample_memory = true;
    } else if (a.starts_with("--")) {
      return Usage();
    } else {
      steps.push_back(a);
    }
  }
  if (config_path.empty()) return Usage();

  auto config = config::LoadConfig(config_path);
  if (!config) {
    std::cerr << "landfall-engine-bench: " << config.error().message << "\n";
    return 2;
  }
  if (auto s = SetupLogging(config->log.level, config->log.format); !s) {
    std::cerr << "landfall-engine-bench: " << s.error().message << "\n";
    return 2;
  }

  // The same pieces, in the same order, as daemon/runtime.cpp's OpenEngine.
  MemorySampler memory(sample_memory);
  memory.Reset();
  Json start;
  Timer start_timer;
  auto state = state::OpenPostgres({config->state.postgres_url, config->environment});
  if (!state) {
    std::cerr << "landfall-engine-bench: " << state.error().ToString() << "\n";
    return 3;
  }
  auto state_read = exec::ReadStateAhead(**state);
  auto warehouse = warehouse::OpenDuckDb({.path = config->warehouse.path,
                                          .staging_schema = config->warehouse.staging_schema,
                                          .threads = landfall::config::WarehouseThreads(*config),
                                          .memory_limit = config->warehouse.memory_limit});
  if (!warehouse) {
    std::cerr << "landfall-engine-bench: " << warehouse.error().ToString() << "\n";
    return 3;
  }
  auto footers = warehouse::NewDuckDbFooterReader();
  if (!footers) {
    std::cerr << "landfall-engine-bench: " << footers.error().ToString() << "\n";
    return 3;
  }
  ThreadPool pool(config->workers);
  exec::Engine engine(*config, **state, **warehouse, **footers, pool, SystemClock::Instance());
  if (auto s = engine.Start(std::move(state_read)); !s) {
    std::cerr << "landfall-engine-bench: start: " << s.error().ToString() << "\n";
    return 3;
  }
  start_timer.Into(start);
  memory.Into(start);

  Json results = Json::array();
  int rc = 0;
  for (std::string step : steps) {
    Json out;
    // "label=step", where the label is [a-z0-9_]+ (a sh: command may hold '=' too).
    if (auto eq = step.find('=');
        eq != std::string::npos && eq > 0 &&
        step.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == eq) {
      out["label"] = step.substr(0, eq);
      step = step.substr(eq + 1);
    }
    out["step"] = step;
    memory.Reset();
    if (step.starts_with("sh:")) {
      const int status = std::system(step.substr(3).c_str());
      out["exit"] = status;
      if (status != 0) rc = 1;
    } else if (step == "scan") {
      Timer timer;
      auto scan = landing::Scan(config->landing.dir, config->landing.ignore);
      timer.Into(out);
      if (!scan) {
        out["error"] = scan.error().ToString();
        rc = 1;
      } else {
        out["files"] = scan->files.size();
        out["tables"] = scan->tables.size();
      }
    } else if (step == "plan") {
      Timer timer;
      auto planned = engine.Plan({});
      timer.Into(out);
      if (!planned) {
        out["error"] = planned.error().ToString();
        rc = 1;
      } else {
        out["tables_planned"] = planned->tables.size();
        out["actionable"] = planned->ActionableCount();
      }
    } else if (step.starts_with("quiet:")) {
      const int n = std::max(1, std::atoi(step.c_str() + 6));
      std::vector<double> wall, cpu, plan;
      int64_t statements = 0, touched = 0, replanned = 0;
      for (int i = 0; i < n; ++i) {
        Json one;
        Timer timer;
        auto outcome = engine.Run({});
        timer.Into(one);
        if (!outcome) {
          out["error"] = outcome.error().ToString();
          rc = 1;
          break;
        }
        wall.push_back(one["wall_ms"]);
        cpu.push_back(one["cpu_ms"]);
        statements += outcome->warehouse_statements;
        plan.push_back(outcome->plan_us / 1000.0);
        replanned += outcome->tables_replanned;
        touched += static_cast<int64_t>(outcome->tables.size());
        out["tables_planned"] = outcome->plan.tables.size();
      }
      out["runs"] = wall.size();
      out["wall_ms"] = Median(wall);
      out["cpu_ms"] = Median(cpu);
      out["wall_ms_min"] = wall.empty() ? 0 : *std::min_element(wall.begin(), wall.end());
      out["wall_ms_all"] = wall;
      out["cpu_ms_all"] = cpu;
      out["warehouse_statements"] = statements;
      out["tables_touched"] = touched;
      out["plan_ms"] = Median(plan);
      out["plan_ms_all"] = plan;
      out["tables_replanned"] = replanned;
    } else if (step == "run" || step == "full" || step.starts_with("run:")) {
      exec::RunRequest request;
      request.trigger = "bench";
      request.full_refresh = step == "full";
      if (step.starts_with("run:")) request.tables = Split(step.substr(4), ',');
      Timer timer;
      auto outcome = engine.Run(request);
      timer.Into(out);
      if (!outcome) {
        out["error"] = outcome.error().ToString();
        rc = 1;
      } else {
        out.update(Describe(*outcome));
      }
    } else {
      return Usage();
    }
    memory.Into(out);
    results.push_back(std::move(out));
  }
  std::cout << Json{{"start", start}, {"steps", results}}.dump(-1, ' ', false,
                                                               Json::error_handler_t::replace)
            << "\n";
  return rc;
}
