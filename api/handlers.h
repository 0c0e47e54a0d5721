// The API's routes as functions from a request to a response, without a
// socket: the HTTP session (http_server.cpp) moves bytes and asks these what
// to answer. Internal to the api library; no Beast or JSON header here, so
// route logic is unit-tested against a fake ApiBackend
// (tests/api/handlers_test.cpp).
//
// A request is decided in two steps, as it arrives:
//   1. Admit(), when its header has been read: the route, the method, the
//      bearer token and, for the webhook, whether it is enabled and its
//      signature header can pass. A refusal is answered before the body is
//      read, so strangers cannot make the server buffer one.
//   2. Handlers::Handle(), once the body has been read: the route's own
//      validation (query parameters, bodies, signatures) and its backend call,
//      which blocks and so is handed back to run in the route's Lane.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/backend.h"
#include "api/http_server.h"
#include "api/security.h"
#include "lib/common/clock.h"

namespace landfall::api {

class Metrics;

// What the session read of a request: only the parts routes look at.
struct ApiRequest {
  std::string method;                        // "GET", ...
  std::string target;                        // the path with its query string, as sent
  std::optional<std::string> authorization;  // the Authorization header, when sent
  std::string signature;                     // X-Landfall-Signature; "" when absent
  std::string accept;                        // the Accept header; "" when absent
  std::optional<uint64_t> content_length;    // none for a chunked body
  bool body_pending = false;                 // at header time: a body follows that is not read yet
  std::string body;                          // once read
};

// An answer: status, content type, body and the headers particular to it
// (Allow, WWW-Authenticate, Cache-Control, ...). The session adds the ones
// every answer has (Server, Content-Length, Connection, ...).
struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // The value of header `name` (case-insensitive); "" when not set.
  std::string Header(std::string_view name) const;
};

// {"error": {"code": ..., "message": ...}} with `status`, not to be cached.
ApiResponse ErrorResponse(int status, std::string_view code, std::string_view message);
// 413 body_too_large, naming `limit`.
ApiResponse BodyTooLarge(size_t limit);

// What Admit() decided when the header arrived.
struct Admission {
  // Set when the request is refused now, before its body is read.
  std::optional<ApiResponse> refusal;
  // With a refusal: close the connection even when no body is pending (the
  // request cannot be framed, or its body is too large to read past).
  bool close = false;
  std::string path;                       // the target without its query string
  std::string route_label = "unmatched";  // the route's pattern, for metrics and logs
  // When admitted:
  int route = -1;                             // internal route number
  std::map<std::string, std::string> params;  // {param} path segments, decoded
  size_t body_limit = 0;                      // the most body bytes to read
};

// Step 1, a pure function of the request's header, the options and the time
// (for the webhook signature's timestamp). Refusals: 400 bad_request (target
// not a path, malformed query or %-escape), 404 not_found, 405
// method_not_allowed (with Allow), 401 unauthorized (with WWW-Authenticate),
// 404 webhook_disabled, 401 signature_* and 413 body_too_large for a webhook
// declaring a body over its own limit (16 KiB).
Admission Admit(const ApiRequest& head, const ServerOptions& options, int64_t now_unix);

// What Handle() decided: an answer now, or a blocking backend call to make
// off the I/O thread, in `lane`, whose result is the answer.
struct Handled {
  ApiResponse response;               // when `call` is empty
  std::function<ApiResponse()> call;  // never throws: an exception becomes a 500
  Lane lane = Lane::kRead;
};

// Step 2, with what the routes need. Thread-safe: Handle() may run for
// several connections at once; calls it returns may run on any thread. The
// backend, the metrics and the clock must outlive every call.
class Handlers {
 public:
  // `metrics` may be null (GET /metrics is then empty).
  Handlers(ServerOptions options, ApiBackend& backend, Metrics* metrics, const Clock& clock);
  Handlers(const Handlers&) = delete;
  Handlers& operator=(const Handlers&) = delete;

  // Admit() at the clock's time.
  Admission Admit(const ApiRequest& head) const;

  // Answers `request`, admitted as `admission`, whose body has been read.
  // 400 invalid_request for a bad query parameter or body, 401 signature_*
  // for a webhook whose signature does not match its body or was used
  // before; 429 query_busy for a query beyond options.max_queries; backend errors by StatusForError, as JSON error bodies.
  Handled Handle(const ApiRequest& request, const Admission& admission);

 private:
  int64_t NowUnix() const;
  Handled HandleRoute(const ApiRequest& request, const Admission& admission,
                      const std::map<std::string, std::string>& query);
  Handled Webhook(const ApiRequest& request, const Admission& admission);
  Handled Query(const ApiRequest& request, const Admission& admission,
                const std::string& format_param);

  const ServerOptions options_;
  ApiBackend& backend_;
  Metrics* const metrics_;
  const Clock& clock_;
  ReplayGuard replay_;  // thread-safe
  std::atomic<int> queries_{0};  // POST /v1/query calls admitted and not yet done
};

// Every route, as (method, path pattern); see HttpServer::Routes().
std::vector<std::pair<std::string, std::string>> RoutePatterns();

}  // namespace landfall::api
