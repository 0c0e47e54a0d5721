// The CLI beside a running daemon. `landfall serve` holds the warehouse (DuckDB
// lets one process write a file) and the environment's writer lock, so while
// it runs, `landfall plan`, `run`, `state delete` and `status` ask it over its
// HTTP API instead of opening the warehouse themselves.
#pragma once

#include <optional>
#include <string>

#include "api/backend.h"
#include "daemon/http_client.h"
#include "lib/common/result.h"
#include "lib/config/config.h"

namespace landfall::daemon {

// This config's running daemon.
struct Daemon {
  HttpCall endpoint;  // host, port and bearer token; method and target unset
  std::string where;  // "127.0.0.1:8600", for messages
  long long pid = 0;
};

struct DaemonSearch {
  std::optional<Daemon> daemon;
  // When none was found: why, for the message shown if working alone fails
  // too ("nothing answers at 127.0.0.1:8600: Connection refused").
  std::string why_not;
};

// Looks for this config's daemon at api.listen (unless the API is disabled):
// one GET /v1/info, a couple of seconds at most. What answers is this
// config's daemon when it reports the same environment and warehouse file.
// The bearer token is $LANDFALL_API_TOKEN when api.tokens is set.
DaemonSearch FindDaemon(const config::Config& config);

// One call to the daemon. A daemon that is still starting (503) is asked again
// every few hundred milliseconds, and so is a conflict (409) when
// `retry_conflicts` (a run or delete of a table that is running: it waits for
// that run), for up to `patience`. A non-2xx reply becomes an Error with the
// daemon's code and message; "daemon_unreachable" (transient) when the daemon
// went away.
Result<HttpReply> Ask(const Daemon& daemon, const std::string& method, const std::string& target,
                      const std::string& body = "", bool retry_conflicts = false,
                      std::chrono::seconds patience = std::chrono::seconds(600));

// The body of POST /v1/runs asking for `trigger`: "models" when given,
// "partitions" with only the flags set.
std::string RunRequestBody(const api::RunTrigger& trigger);

// "a%2Fb": a path segment or query value, percent-encoded.
std::string UrlEncode(const std::string& text);

// When `error` is DuckDB refusing the warehouse because another process holds
// it ("Conflicting lock is held in /usr/bin/landfall (PID 123)"): a message
// naming that process and what to do (`why_not`: why its API was not used).
std::optional<std::string> WarehouseLockedMessage(const Error& error,
                                                  const config::Config& config,
                                                  const std::string& why_not);

}  // namespace landfall::daemon
