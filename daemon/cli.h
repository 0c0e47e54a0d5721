// The landfall command line: parses arguments and hands over to the engine.
#pragma once

namespace landfall::daemon {

// Exit codes (also listed by --help).
inline constexpr int kExitOk = 0;
inline constexpr int kExitTableFailed = 1;   // the run finished, but at least one table failed
inline constexpr int kExitUsage = 2;         // bad arguments or invalid config
inline constexpr int kExitUnavailable = 3;   // state store, warehouse or landing dir unusable
inline constexpr int kExitStopTimeout = 4;   // serve: runs still in flight at the shutdown deadline

int Main(int argc, char** argv);

}  // namespace landfall::daemon
