// `landfall serve`: the long-running daemon. Watches the landing directory and
// stages batches as they land, until SIGTERM or SIGINT.
#pragma once

#include <string>

namespace landfall::daemon {

// Runs the daemon with the config at `config_path`; returns the exit code:
// kExitOk after a clean stop, kExitUsage for an invalid config, kExitUnavailable
// when start-up fails for good (warehouse, landing directory), kExitStopTimeout
// when runs were still in flight at the shutdown deadline, and 128 + the
// signal number when a second SIGTERM/SIGINT cut the shutdown short.
int Serve(const std::string& config_path);

}  // namespace landfall::daemon
