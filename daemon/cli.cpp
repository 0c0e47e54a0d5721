#include "daemon/cli.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemon/runtime.h"
#include "daemon/serve.h"
#include "lib/common/logging.h"
#include "lib/config/config.h"
#include "lib/exec/engine.h"
#include "lib/state/state_store.h"

#ifndef LANDFALL_VERSION
#define LANDFALL_VERSION "dev"
#endif

namespace landfall::cli {

namespace {

constexpr const char* kHelp = R"(landfall - stages Parquet files from a landing directory into a warehouse

Usage:
  landfall serve --config F
  landfall plan  --config F [--table T]... [--full-refresh] [--format text|json]
  landfall run   --config F [--table T]... [--full-refresh] [--format text|json]
  landfall state delete --config F --table T
  landfall migrate --config F
  landfall check-config --config F
  landfall --version | --help

Commands:
  serve         the daemon: watch the landing directory and stage batches as they
                land, until SIGTERM/SIGINT (SIGHUP re-reads the config)
  plan          show what a run would do now (a dry run; the warehouse is not changed)
  run           plan and execute: stage new batches, rebuild what must be rebuilt
  state delete  forget a table's state so its next run rebuilds it
  migrate       apply the state store's migrations and exit
  check-config  validate the config file and exit

Options:
  --config F       the YAML config (default: $LANDFALL_CONFIG)
  --table T        limit plan/run to table T (repeatable)
  --full-refresh   rebuild the selected tables from all their batches
  --format         text (default) or json

Exit codes:
  0  success
  1  the run finished, but at least one table failed
  2  bad arguments or invalid config
  3  state store, warehouse or landing directory unavailable
  4  serve: runs were still in flight when shutdown_timeout_s ran out
  130, 143  serve: a second SIGINT (130) or SIGTERM (143) cut the shutdown short
)";

struct Args {
  std::vector<std::string> command;  // e.g. {"state", "delete"}
  std::string config;
  std::vector<std::string> tables;
  bool full_refresh = false;
  std::string format = "text";
};

int Usage(const std::string& message) {
  std::cerr << "landfall: " << message << "\nRun 'landfall --help' for usage.\n";
  return kExitUsage;
}

std::optional<Args> Parse(int argc, char** argv, int* exit_code) {
  Args args;
  if (const char* env = std::getenv("LANDFALL_CONFIG")) args.config = env;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const std::string& name) -> std::optional<std::string> {
      auto eq = a.find('=');
      if (eq != std::string::npos) return a.substr(eq + 1);
      if (i + 1 >= argc) {
        *exit_code = Usage(name + " needs a value");
        return std::nullopt;
      }
      return std::string(argv[++i]);
    };
    auto is = [&](const char* name) { return a == name || a.starts_with(std::string(name) + "="); };
    if (a == "--help" || a == "-h") {
      std::cout << kHelp;
      *exit_code = kExitOk;
      return std::nullopt;
    } else if (a == "--version") {
      std::cout << "landfall " << LANDFALL_VERSION << "\n";
      *exit_code = kExitOk;
      return std::nullopt;
    } else if (is("--config")) {
      auto v = value("--config");
      if (!v) return std::nullopt;
      args.config = *v;
    } else if (is("--table")) {
      auto v = value("--table");
      if (!v) return std::nullopt;
      args.tables.push_back(*v);
    } else if (is("--format")) {
      auto v = value("--format");
      if (!v) return std::nullopt;
      if (*v != "text" && *v != "json") {
        *exit_code = Usage("--format must be text or json");
        return std::nullopt;
      }
      args.format = *v;
    } else if (a == "--full-refresh") {
      args.full_refresh = true;
    } else if (a.starts_with("-")) {
      *exit_code = Usage("unknown option " + a);
      return std::nullopt;
    } else {
      args.command.push_back(a);
    }
  }
  if (args.command.empty()) {
    *exit_code = Usage("no command given");
    return std::nullopt;
  }
  if (args.config.empty()) {
    *exit_code = Usage("--config is required (or set LANDFALL_CONFIG)");
    return std::nullopt;
  }
  return args;
}

int OpenRuntime(const std::string& config_path, Runtime& rt, bool start_engine) {
  auto config = config::LoadConfig(config_path);
  if (!config) {
    std::cerr << "landfall: " << config.error().message << "\n";
    return kExitUsage;
  }
  rt.config = std::move(*config);
  if (auto s = SetupLogging(rt.config.log.level, rt.config.log.format); !s) {
    std::cerr << "landfall: " << s.error().message << "\n";
    return kExitUsage;
  }
  auto state =
      OpenStateWithRetry(rt.config, std::chrono::steady_clock::now() + std::chrono::seconds(20));
  if (!state) {
    spdlog::error("{}", state.error().ToString());
    return kExitUnavailable;
  }
  rt.state = std::move(*state);
  if (!start_engine) return kExitOk;

  if (auto s = OpenEngine(rt); !s) {
    spdlog::error("{}", s.error().ToString());
    return kExitUnavailable;
  }
  if (auto s = rt.engine->Start(); !s) {
    spdlog::error("start: {}", s.error().ToString());
    return kExitUnavailable;
  }
  return kExitOk;
}

exec::RunRequest Request(const Args& args) {
  exec::RunRequest request;
  request.tables = args.tables;
  request.full_refresh = args.full_refresh;
  request.trigger = "cli";
  return request;
}

int CmdPlan(const Args& args) {
  Runtime rt;
  if (int rc = OpenRuntime(args.config, rt, true); rc != kExitOk) return rc;
  auto plan = rt.engine->Plan(Request(args));
  if (!plan) {
    spdlog::error("plan: {}", plan.error().ToString());
    return kExitUnavailable;
  }
  std::cout << (args.format == "json" ? plan::ToJson(*plan) + "\n" : plan::ToText(*plan));
  return kExitOk;
}

int CmdRun(const Args& args) {
  Runtime rt;
  if (int rc = OpenRuntime(args.config, rt, true); rc != kExitOk) return rc;
  auto outcome = rt.engine->Run(Request(args));
  if (!outcome) {
    spdlog::error("run: {}", outcome.error().ToString());
    return kExitUnavailable;
  }
  PruneHistory(*rt.state, rt.config);
  int failed = 0;
  for (const auto& t : outcome->tables) failed += t.status == "failed";
  if (args.format == "json") {
    std::cout << exec::ToJson(*outcome) << "\n";
  } else {
    for (const auto& t : outcome->tables) {
      std::printf("%-24s %-8s %-9s %5d batches %10lld rows %8.1f ms%s%s\n", t.table.c_str(),
                  plan::ToString(t.action), t.status.c_str(), t.batches,
                  static_cast<long long>(t.rows), t.duration_us / 1000.0,
                  t.error.empty() ? "" : "  ", t.error.c_str());
    }
    const int unchanged = static_cast<int>(outcome->plan.tables.size() - outcome->tables.size());
    if (outcome->run_id == 0) {
      std::printf("nothing to do: %d tables unchanged; warehouse statements: %lld\n", unchanged,
                  static_cast<long long>(outcome->warehouse_statements));
    } else {
      std::printf("run %lld: %zu tables changed, %d failed, %d unchanged; warehouse statements: %lld\n",
                  static_cast<long long>(outcome->run_id), outcome->tables.size(), failed, unchanged,
                  static_cast<long long>(outcome->warehouse_statements));
    }
  }
  return failed ? kExitTableFailed : kExitOk;
}

int CmdStateDelete(const Args& args) {
  if (args.tables.size() != 1) return Usage("state delete needs exactly one --table");
  Runtime rt;
  if (int rc = OpenRuntime(args.config, rt, false); rc != kExitOk) return rc;
  if (auto s = rt.state->Migrate(); !s) {
    spdlog::error("{}", s.error().ToString());
    return kExitUnavailable;
  }
  // Deleting state needs neither the warehouse nor a scan.
  auto deleted = exec::ResetTableState(*rt.state, args.tables[0], SystemClock::Instance());
  if (!deleted) {
    spdlog::error("{}", deleted.error().ToString());
    return kExitUnavailable;
  }
  if (!*deleted) {
    std::cerr << "landfall: no state for table '" << args.tables[0] << "'\n";
    return kExitUsage;
  }
  std::cout << "state of table '" << args.tables[0] << "' deleted; its next run rebuilds it\n";
  return kExitOk;
}

int CmdMigrate(const Args& args) {
  Runtime rt;
  if (int rc = OpenRuntime(args.config, rt, false); rc != kExitOk) return rc;
  if (auto s = rt.state->Migrate(); !s) {
    spdlog::error("{}", s.error().ToString());
    return kExitUnavailable;
  }
  std::cout << "state store migrated to version " << state::EmbeddedMigrations().back().version
            << "\n";
  return kExitOk;
}

int CmdCheckConfig(const Args& args) {
  auto config = config::LoadConfig(args.config);
  if (!config) {
    std::cerr << "landfall: " << config.error().message << "\n";
    return kExitUsage;
  }
  std::cout << args.config << ": ok (environment " << config->environment << ", landing "
            << config->landing.dir.string() << ", warehouse " << config->warehouse.path.string()
            << ")\n";
  return kExitOk;
}

}  // namespace

int Main(int argc, char** argv) {
  int exit_code = kExitOk;
  auto args = Parse(argc, argv, &exit_code);
  if (!args) return exit_code;
  const auto& cmd = args->command;
  if (cmd == std::vector<std::string>{"serve"}) return Serve(args->config);
  if (cmd == std::vector<std::string>{"plan"}) return CmdPlan(*args);
  if (cmd == std::vector<std::string>{"run"}) return CmdRun(*args);
  if (cmd == std::vector<std::string>{"state", "delete"}) return CmdStateDelete(*args);
  if (cmd == std::vector<std::string>{"migrate"}) return CmdMigrate(*args);
  if (cmd == std::vector<std::string>{"check-config"}) return CmdCheckConfig(*args);
  std::string joined;
  for (const auto& c : cmd) joined += (joined.empty() ? "" : " ") + c;
  return Usage("unknown command '" + joined + "'");
}

}  // namespace landfall::cli
