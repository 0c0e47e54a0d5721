// landfall's HTTP server: the REST API under /v1, /healthz, /readyz, /metrics,
// the signed file-arrived webhook and the status page at /.
//
// Boost.Beast in the style of its advanced server: one session per connection,
// kept alive by its pending handlers, on a strand; a body limit, a read timeout
// on every header and body, an idle timeout between keep-alive requests, and a
// cap on concurrent connections (above it, 503 and close). Backend calls block,
// so they run on `executor`, in the lane of their route, and their responses
// are posted back to the session.
//
// Lifetime: the io_context, the backend, the metrics and whatever runs the
// executor must outlive every task handed to the executor; Stop() closes the
// listener and every connection but does not wait for backend calls in flight.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "api/backend.h"
#include "lib/common/clock.h"
#include "lib/common/result.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace landfall::api {

class Metrics;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8600;  // 0: any free port (see HttpServer::port())
  // When not empty, /v1 routes need "Authorization: Bearer <one of these>".
  std::vector<std::string> tokens;
  bool protect_metrics = false;  // /metrics needs a token too
  bool protect_health = false;   // /healthz and /readyz need a token too
  // HMAC key of the file-arrived webhook; "" answers it with 404.
  std::string webhook_secret;
  std::chrono::seconds webhook_tolerance{300};
  std::filesystem::path landing_dir;  // webhook paths are resolved inside it
  size_t body_limit = 1 << 20;
  int max_connections = 256;
  int max_queries = 4;  // POST /v1/query calls at once; more are answered 429
  std::chrono::milliseconds read_timeout{10'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::string version = "dev";  // Server header and build info
};

// Which kind of backend call a task is. The executor runs each lane on its own
// threads, so that slow calls (a plan hashing new files, a run trigger waiting
// for its run) never delay readiness probes or quick reads.
enum class Lane {
  kHealth,  // /readyz
  kRead,    // quick reads and writes of state (tables, runs, batches, ...)
  kSlow,    // calls that may take seconds to minutes (plan, run trigger, webhook)
};

// Runs a blocking task of `lane` somewhere other than the I/O thread.
using Executor = std::function<void(Lane lane, std::function<void()>)>;

class HttpServer {
 public:
  // Binds and starts accepting on `io` (which the caller runs). Fails with
  // "listen_failed" when the address cannot be bound. `metrics` may be null.
  static Result<std::unique_ptr<HttpServer>> Start(boost::asio::io_context& io,
                                                   ServerOptions options, ApiBackend& backend,
                                                   Metrics* metrics, Executor executor,
                                                   const Clock& clock);
  ~HttpServer();  // Stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port (the chosen one when options.port was 0).
  int port() const;

  // Stops accepting and closes every connection. Thread-safe, idempotent.
  void Stop();

  // Every route the server knows, as (method, path pattern), e.g.
  // ("GET", "/v1/tables/{name}"). The OpenAPI document lists exactly these.
  static std::vector<std::pair<std::string, std::string>> Routes();

 private:
  struct Impl;
  explicit HttpServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace landfall::api
