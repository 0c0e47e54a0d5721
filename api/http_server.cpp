#include "api/http_server.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "api/assets.h"
#include "api/metrics.h"
#include "api/router.h"
#include "api/security.h"

namespace landfall::api {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using json = nlohmann::json;

using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;
using SteadyClock = std::chrono::steady_clock;

int StatusForError(const Error& error) {
  const std::string& c = error.code;
  auto ends_with = [&](std::string_view suffix) {
    return c == suffix.substr(1) || c.ends_with(suffix);
  };
  if (ends_with("_not_found")) return 404;
  if (ends_with("_conflict")) return 409;
  if (c == "invalid_request" || c == "invalid_path") return 400;
  if (error.transient) return 503;
  return 500;
}

namespace {

// Who may call a route.
enum class Access {
  kOpen,       // anyone
  kHealth,     // anyone, unless protect_health
  kMetrics,    // anyone, unless protect_metrics
  kToken,      // a bearer token, when tokens are configured
  kSignature,  // a valid webhook signature (checked by the handler, on the raw body)
};

enum class RouteId {
  kPage,
  kStatic,
  kHealthz,
  kReadyz,
  kMetrics,
  kOpenApi,
  kTables,
  kTable,
  kPlan,
  kRunsCreate,
  kRunsList,
  kRun,
  kRunOutcome,
  kInfo,
  kBatches,
  kBatchRetry,
  kDeleteTableState,
  kWebhookFileArrived,
};

struct RouteSpec {
  const char* method;
  const char* pattern;
  RouteId id;
  Access access;
  Lane lane = Lane::kRead;  // where its backend call runs, if it makes one
};

// The webhook's body is one small JSON object ({"path": ...}).
constexpr size_t kWebhookBodyLimit = 16 * 1024;

constexpr RouteSpec kRoutes[] = {
    {"GET", "/", RouteId::kPage, Access::kOpen},
    {"GET", "/static/{file}", RouteId::kStatic, Access::kOpen},
    {"GET", "/healthz", RouteId::kHealthz, Access::kHealth},
    {"GET", "/readyz", RouteId::kReadyz, Access::kHealth, Lane::kHealth},
    {"GET", "/metrics", RouteId::kMetrics, Access::kMetrics},
    {"GET", "/v1/openapi.json", RouteId::kOpenApi, Access::kToken},
    {"GET", "/v1/tables", RouteId::kTables, Access::kToken},
    {"GET", "/v1/tables/{name}", RouteId::kTable, Access::kToken},
    {"GET", "/v1/plan", RouteId::kPlan, Access::kToken, Lane::kSlow},
    {"POST", "/v1/runs", RouteId::kRunsCreate, Access::kToken, Lane::kSlow},
    {"GET", "/v1/runs", RouteId::kRunsList, Access::kToken},
    {"GET", "/v1/runs/{id}", RouteId::kRun, Access::kToken},
    {"GET", "/v1/runs/{id}/outcome", RouteId::kRunOutcome, Access::kToken},
    {"GET", "/v1/info", RouteId::kInfo, Access::kToken},
    {"GET", "/v1/batches", RouteId::kBatches, Access::kToken},
    {"POST", "/v1/batches/{id}/retry", RouteId::kBatchRetry, Access::kToken},
    {"DELETE", "/v1/state/tables/{name}", RouteId::kDeleteTableState, Access::kToken,
     Lane::kSlow},
    {"POST", "/v1/webhooks/file-arrived", RouteId::kWebhookFileArrived, Access::kSignature,
     Lane::kSlow},
};

const RouteSpec& SpecOf(int index) { return kRoutes[index]; }

std::string ErrorJson(std::string_view code, std::string_view message) {
  return json{{"error", {{"code", code}, {"message", message}}}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

std::optional<std::string_view> FindAsset(std::string_view name) {
  for (const auto& asset : EmbeddedAssets()) {
    if (asset.name == name) return asset.content;
  }
  return std::nullopt;
}

std::string ContentTypeFor(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  if (name.ends_with(".svg")) return "image/svg+xml";
  if (name.ends_with(".json")) return "application/json";
  return "application/octet-stream";
}

// Parses an integer query parameter within [min, max]; `fallback` when absent.
std::optional<int64_t> IntParam(const std::map<std::string, std::string>& query,
                                const std::string& key, int64_t fallback, int64_t min,
                                int64_t max) {
  auto it = query.find(key);
  if (it == query.end() || it->second.empty()) return fallback;
  int64_t value = 0;
  const auto& s = it->second;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || value < min || value > max)
    return std::nullopt;
  return value;
}

std::string Param(const std::map<std::string, std::string>& query, const std::string& key) {
  auto it = query.find(key);
  return it == query.end() ? "" : it->second;
}

}  // namespace

class Session;

// What the listener and every session share; kept alive by them.
struct ServerState : std::enable_shared_from_this<ServerState> {
  ServerState(net::io_context& io_context, ServerOptions opts, ApiBackend& backend_ref,
              Metrics* metrics_ptr, Executor exec, const Clock& clock_ref)
      : io(io_context),
        options(std::move(opts)),
        backend(backend_ref),
        metrics(metrics_ptr),
        executor(std::move(exec)),
        clock(clock_ref),
        replay(options.webhook_tolerance.count()),
        strand(net::make_strand(io_context)),
        acceptor(strand) {
    for (size_t i = 0; i < std::size(kRoutes); ++i) {
      router.Add(kRoutes[i].method, kRoutes[i].pattern, static_cast<int>(i));
    }
  }

  void DoAccept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  void StopOnStrand();

  net::io_context& io;
  const ServerOptions options;
  ApiBackend& backend;
  Metrics* const metrics;
  const Executor executor;
  const Clock& clock;
  Router router;
  ReplayGuard replay;                                  // thread-safe
  net::strand<net::io_context::executor_type> strand;  // the acceptor's and sessions_'
  tcp::acceptor acceptor;
  int port = 0;
  std::atomic<int> connections{0};
  std::atomic<bool> stopping{false};
  std::vector<std::weak_ptr<Session>> sessions;  // on `strand` only
};

// One connection: reads a request, answers it, and again while keep-alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, std::shared_ptr<ServerState> server, bool over_capacity)
      : stream_(std::move(socket)), server_(std::move(server)), over_capacity_(over_capacity) {
    ++server_->connections;
  }
  ~Session() { --server_->connections; }

  void Run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::Start, shared_from_this()));
  }

  // Closes the connection from any thread.
  void Close() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      self->stream_.close();
    });
  }

 private:
  const ServerOptions& options() const { return server_->options; }

  void Start() {
    if (over_capacity_) {
      // Above the cap: say so and close, rather than leave the client hanging.
      route_label_ = "unmatched";
      started_ = SteadyClock::now();
      SendError(http::status::service_unavailable, "too_many_connections",
                "the server is at its connection limit; retry shortly", true);
      return;
    }
    DoReadHeader();
  }

  void DoReadHeader() {
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    body_limit_ = options().body_limit;
    parser_->body_limit(body_limit_);
    // The first request gets the read timeout; later ones the keep-alive idle timeout.
    stream_.expires_after(first_ ? options().read_timeout : options().idle_timeout);
    first_ = false;
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  void OnHeader(beast::error_code ec, size_t /*bytes*/) {
    started_ = SteadyClock::now();
    route_label_ = "unmatched";
    if (ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset) {
      return DoClose();
    }
    // tcp_stream has closed the socket on a timeout: nothing can be said any more.
    if (ec == beast::error::timeout) return DoClose();
    if (ec == http::error::body_limit) return SendBodyTooLarge();
    if (ec == http::error::header_limit) {
      return SendError(http::status::request_header_fields_too_large, "header_too_large",
                       "request headers exceed 16 KiB", true);
    }
    if (ec) {
      return SendError(http::status::bad_request, "bad_request",
                       "malformed HTTP request: " + ec.message(), true);
    }

    const auto& req = parser_->get();
    const std::string_view target(req.target().data(), req.target().size());
    if (target.empty() || target.front() != '/') {
      return SendError(http::status::bad_request, "bad_request", "request target must be a path",
                       true);
    }
    const auto qmark = target.find('?');
    path_ = std::string(target.substr(0, qmark));
    auto query =
        ParseQuery(qmark == std::string_view::npos ? std::string_view() : target.substr(qmark + 1));
    const bool body_pending = !parser_->is_done();
    if (!query) {
      return SendError(http::status::bad_request, "bad_request", "malformed query string",
                       body_pending);
    }
    query_ = std::move(*query);
    raw_query_ = qmark == std::string_view::npos ? "" : std::string(target.substr(qmark + 1));

    lookup_ = server_->router.Find(
        std::string_view(req.method_string().data(), req.method_string().size()), path_);
    if (lookup_.bad_encoding) {
      return SendError(http::status::bad_request, "bad_request", "malformed %-escape in the path",
                       body_pending);
    }
    if (!lookup_.route) {
      if (lookup_.allowed.empty()) {
        return SendError(http::status::not_found, "not_found", "no route for " + path_,
                         body_pending);
      }
      std::string allow;
      for (const auto& m : lookup_.allowed) allow += (allow.empty() ? "" : ", ") + m;
      auto res = ErrorResponse(http::status::method_not_allowed, "method_not_allowed",
                               std::string(req.method_string()) + " is not allowed on " + path_ +
                                   " (allowed: " + allow + ")");
      res.set(http::field::allow, allow);
      return Send(std::move(res), body_pending);
    }
    const RouteSpec& spec = SpecOf(lookup_.route->id);
    route_label_ = spec.pattern;

    // Authenticate before reading a body: strangers cannot make us buffer one.
    if (!Authorized(spec.access, req)) {
      const bool presented = req.find(http::field::authorization) != req.end();
      auto res = ErrorResponse(http::status::unauthorized, "unauthorized",
                               presented ? "invalid bearer token" : "a bearer token is required");
      res.set(http::field::www_authenticate,
              presented ? R"(Bearer realm="landfall", error="invalid_token")"
                        : R"(Bearer realm="landfall")");
      return Send(std::move(res), body_pending);
    }

    // The webhook is answered before its body is read when it is disabled or
    // its signature header cannot pass, and its body is small: strangers
    // cannot make us buffer one (the HMAC itself needs the body).
    if (spec.access == Access::kSignature) {
      if (options().webhook_secret.empty()) {
        return SendError(http::status::not_found, "webhook_disabled",
                         "api.webhook_secret is not set", body_pending);
      }
      auto header = req.find("X-Landfall-Signature");
      auto parsed = ParseSignatureHeader(
          header == req.end() ? std::string_view()
                              : std::string_view(header->value().data(), header->value().size()),
          NowUnix(), options().webhook_tolerance.count());
      if (!parsed) {
        return SendSignatureError(parsed.error().code, parsed.error().message, body_pending);
      }
      body_limit_ = std::min(body_limit_, kWebhookBodyLimit);
      if (parser_->content_length().value_or(0) > body_limit_) return SendBodyTooLarge();
      parser_->body_limit(body_limit_);  // for a chunked body
    }

    if (!body_pending) return Handle();
    auto expect = req.find(http::field::expect);
    if (expect != req.end() && beast::iequals(expect->value(), "100-continue")) {
      // Clients such as curl wait for this before sending a larger body.
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                     req.version());
      stream_.expires_after(options().read_timeout);
      http::async_write(stream_, *cont,
                        [self = shared_from_this(), cont](beast::error_code wec, size_t) {
                          if (wec) return self->DoClose();
                          self->DoReadBody();
                        });
      return;
    }
    DoReadBody();
  }

  void DoReadBody() {
    stream_.expires_after(options().read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnBody, shared_from_this()));
  }

  void OnBody(beast::error_code ec, size_t /*bytes*/) {
    if (ec == http::error::body_limit) return SendBodyTooLarge();
    if (ec == beast::error::timeout) return DoClose();
    if (ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == net::error::operation_aborted) {
      return DoClose();
    }
    if (ec)
      return SendError(http::status::bad_request, "bad_request",
                       "malformed request body: " + ec.message(), true);
    Handle();
  }

  bool Authorized(Access access, const HttpRequest& req) const {
    const auto& tokens = options().tokens;
    if (tokens.empty()) return true;
    bool needs_token = false;
    switch (access) {
      case Access::kOpen:
      case Access::kSignature:
        break;
      case Access::kHealth:
        needs_token = options().protect_health;
        break;
      case Access::kMetrics:
        needs_token = options().protect_metrics;
        break;
      case Access::kToken:
        needs_token = true;
        break;
    }
    if (!needs_token) return true;
    auto it = req.find(http::field::authorization);
    if (it == req.end()) return false;
    return BearerTokenMatches(std::string_view(it->value().data(), it->value().size()), tokens);
  }

  // Answers the routed, authenticated request whose body has been read.
  void Handle() {
    const auto& req = parser_->get();
    auto& backend = server_->backend;
    const auto& params = lookup_.params;
    switch (SpecOf(lookup_.route->id).id) {
      case RouteId::kPage:
        return SendAsset("static/index.html");
      case RouteId::kStatic:
        return SendAsset("static/" + params.at("file"));
      case RouteId::kHealthz:
        return SendJson(http::status::ok,
                        json{{"status", "ok"}, {"version", options().version}}.dump());
      case RouteId::kReadyz:
        return Async([&backend]() -> std::pair<int, std::string> {
          auto r = backend.Ready();
          json body = {{"ready", r.ready}, {"reasons", r.reasons}};
          if (!r.ready) {
            std::string why;
            for (const auto& reason : r.reasons) why += (why.empty() ? "" : "; ") + reason;
            body["error"] = {{"code", "not_ready"}, {"message", why}};
          }
          return {r.ready ? 200 : 503, body.dump(-1, ' ', false, json::error_handler_t::replace)};
        });
      case RouteId::kMetrics: {
        HttpResponse res{http::status::ok, req.version()};
        res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        res.body() = server_->metrics ? server_->metrics->Serialize() : "";
        return Send(std::move(res));
      }
      case RouteId::kOpenApi:
        return SendAsset("openapi.json");
      case RouteId::kTables:
        return AsyncResult([&backend] { return backend.ListTables(); });
      case RouteId::kTable:
        return AsyncResult([&backend, name = params.at("name")] { return backend.GetTable(name); });
      case RouteId::kPlan: {
        PlanQuery query;
        if (auto error = ParsePlanQuery(raw_query_, query); !error.empty()) {
          return SendError(http::status::bad_request, "invalid_request", error);
        }
        return AsyncResult([&backend, query] { return backend.Plan(query); });
      }
      case RouteId::kInfo:
        return AsyncResult([&backend] { return backend.Info(); });
      case RouteId::kRunsCreate: {
        RunTrigger trigger;
        if (auto error = ParseRunTrigger(req.body(), trigger); !error.empty()) {
          return SendError(http::status::bad_request, "invalid_request", error);
        }
        return AsyncReply([&backend, trigger] { return backend.TriggerRun(trigger); });
      }
      case RouteId::kRunsList: {
        auto limit = IntParam(query_, "limit", 20, 1, 1000);
        if (!limit)
          return SendError(http::status::bad_request, "invalid_request", "limit must be 1 to 1000");
        const std::string status = Param(query_, "status");
        if (!status.empty() && status != "running" && status != "succeeded" &&
            status != "failed" && status != "interrupted") {
          return SendError(http::status::bad_request, "invalid_request",
                           "status must be running, succeeded, failed or interrupted");
        }
        return AsyncResult([&backend, limit = static_cast<int>(*limit), status] {
          return backend.ListRuns(limit, status);
        });
      }
      case RouteId::kRun: {
        auto id = IntParam(params, "id", 0, 1, INT64_MAX);
        if (!id || *id == 0) {
          return SendError(http::status::bad_request, "invalid_request",
                           "run id must be a positive integer");
        }
        return AsyncResult([&backend, id = *id] { return backend.GetRun(id); });
      }
      case RouteId::kRunOutcome: {
        auto id = IntParam(params, "id", 0, 1, INT64_MAX);
        if (!id || *id == 0) {
          return SendError(http::status::bad_request, "invalid_request",
                           "run id must be a positive integer");
        }
        return AsyncReply([&backend, id = *id] { return backend.RunOutcome(id); });
      }
      case RouteId::kBatches: {
        auto limit = IntParam(query_, "limit", 100, 1, 10'000);
        if (!limit)
          return SendError(http::status::bad_request, "invalid_request",
                           "limit must be 1 to 10000");
        const std::string status = Param(query_, "status");
        static const std::set<std::string> kStatuses = {"", "pending", "staged", "quarantined",
                                                        "duplicate"};
        if (!kStatuses.contains(status)) {
          return SendError(http::status::bad_request, "invalid_request",
                           "status must be pending, staged, quarantined or duplicate");
        }
        return AsyncResult(
            [&backend, table = Param(query_, "table"), status, limit = static_cast<int>(*limit)] {
              return backend.ListBatches(table, status, limit);
            });
      }
      case RouteId::kBatchRetry:
        return AsyncReply([&backend, id = params.at("id")] { return backend.RetryBatch(id); });
      case RouteId::kDeleteTableState:
        return AsyncResult(
            [&backend, name = params.at("name")] { return backend.DeleteTableState(name); });
      case RouteId::kWebhookFileArrived:
        return HandleWebhook(req);
    }
    SendError(http::status::internal_server_error, "internal", "unhandled route");
  }

  // table=T (repeatable), full_refresh=true|false, format=json|text; returns
  // an error message or "".
  static std::string ParsePlanQuery(std::string_view query, PlanQuery& out) {
    auto items = ParseQueryItems(query);
    if (!items) return "malformed query string";
    for (const auto& [key, value] : *items) {
      if (key == "table") {
        if (value.empty()) return "table must name a table";
        out.tables.push_back(value);
      } else if (key == "full_refresh") {
        if (value != "true" && value != "false") return "full_refresh must be true or false";
        out.full_refresh = value == "true";
      } else if (key == "format") {
        if (value != "json" && value != "text") return "format must be json or text";
        out.text = value == "text";
      } else {
        return "unknown parameter '" + key + "' (expected table, full_refresh, format)";
      }
    }
    return "";
  }

  // {"tables": [...], "full_refresh": false}; returns an error message or "".
  static std::string ParseRunTrigger(const std::string& body, RunTrigger& out) {
    if (body.empty()) return "";
    json doc = json::parse(body, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) return "body must be a JSON object";
    for (const auto& [key, value] : doc.items()) {
      if (key == "tables") {
        if (!value.is_array()) return "tables must be an array of table names";
        for (const auto& t : value) {
          if (!t.is_string() || t.get<std::string>().empty())
            return "tables must be an array of table names";
          out.tables.push_back(t.get<std::string>());
        }
      } else if (key == "full_refresh") {
        if (!value.is_boolean()) return "full_refresh must be true or false";
        out.full_refresh = value.get<bool>();
      } else {
        return "unknown field '" + key + "' (expected tables, full_refresh)";
      }
    }
    return "";
  }

  void HandleWebhook(const HttpRequest& req) {
    const auto& opts = options();
    if (opts.webhook_secret.empty()) {
      return SendError(http::status::not_found, "webhook_disabled",
                       "api.webhook_secret is not set");
    }
    auto header = req.find("X-Landfall-Signature");
    const std::string_view value =
        header == req.end() ? std::string_view()
                            : std::string_view(header->value().data(), header->value().size());
    const int64_t now = NowUnix();
    auto verified = VerifyWebhookSignature(value, req.body(), opts.webhook_secret, now,
                                           opts.webhook_tolerance.count());
    if (!verified) return SendSignatureError(verified.error().code, verified.error().message);
    if (!server_->replay.FirstUse(verified->signature, verified->timestamp, now)) {
      return SendSignatureError("signature_replayed", "this signature was already used");
    }
    json doc = json::parse(req.body(), nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      return SendError(http::status::bad_request, "invalid_request", "body must be a JSON object");
    }
    const bool has_path = doc.contains("path");
    const bool has_table = doc.contains("table");
    if (has_path == has_table || doc.size() != 1 || !doc.begin()->is_string()) {
      return SendError(http::status::bad_request, "invalid_request",
                       R"(body must be {"path": "<table>/<file>"} or {"table": "<table>"})");
    }
    const std::string name = doc.begin()->get<std::string>();
    // Path checks stat the file system (which may be slow): off the I/O thread too.
    Async([&backend = server_->backend, landing = opts.landing_dir, name,
           has_path]() -> std::pair<int, std::string> {
      auto target =
          has_path ? ResolveLandingPath(landing, name) : ResolveLandingTable(landing, name);
      if (!target)
        return {StatusForError(target.error()),
                ErrorJson(target.error().code, target.error().message)};
      auto reply = backend.FileArrived(target->table, target->rel_path);
      if (!reply)
        return {StatusForError(reply.error()),
                ErrorJson(reply.error().code, reply.error().message)};
      return {reply->status, reply->json};
    });
  }

  void SendSignatureError(const std::string& code, const std::string& message,
                          bool close = false) {
    auto res = ErrorResponse(http::status::unauthorized, code, message);
    res.set(http::field::www_authenticate, R"(X-Landfall-Signature realm="landfall-webhook")");
    Send(std::move(res), close);
  }

  int64_t NowUnix() const {
    return std::chrono::duration_cast<std::chrono::seconds>(server_->clock.Now().time_since_epoch())
        .count();
  }

  // Runs `work` on the executor, in the lane of the route being answered, and
  // sends what it returns: (status, JSON body).
  template <typename Work>
  void Async(Work work) {
    const Lane lane = SpecOf(lookup_.route->id).lane;
    server_->executor(lane, [self = shared_from_this(), work = std::move(work)]() mutable {
      std::pair<int, std::string> out;
      try {
        out = work();
      } catch (const std::exception& e) {
        // The backend reports errors as values; this is a bug, not a client's fault.
        spdlog::error("api: {} {}: {}", self->route_label_, self->path_, e.what());
        out = {500, ErrorJson("internal", "internal error")};
      }
      net::post(self->stream_.get_executor(), [self, out = std::move(out)]() mutable {
        self->SendJson(static_cast<http::status>(out.first), std::move(out.second));
      });
    });
  }

  template <typename Work>
  void AsyncResult(Work work) {
    Async([work = std::move(work)]() mutable -> std::pair<int, std::string> {
      Result<std::string> r = work();
      if (!r) return {StatusForError(r.error()), ErrorJson(r.error().code, r.error().message)};
      return {200, std::move(*r)};
    });
  }

  template <typename Work>
  void AsyncReply(Work work) {
    Async([work = std::move(work)]() mutable -> std::pair<int, std::string> {
      Result<Reply> r = work();
      if (!r) return {StatusForError(r.error()), ErrorJson(r.error().code, r.error().message)};
      return {r->status, std::move(r->json)};
    });
  }

  void SendAsset(const std::string& name) {
    auto content = FindAsset(name);
    if (!content) return SendError(http::status::not_found, "not_found", "no such file: " + name);
    HttpResponse res{http::status::ok, 11};
    res.set(http::field::content_type, ContentTypeFor(name));
    res.set(http::field::cache_control, "no-cache");
    if (name.ends_with(".html")) {
      // Only our own scripts and styles; API calls go to the same origin.
      res.set("Content-Security-Policy",
              "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
              "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
      res.set("Referrer-Policy", "no-referrer");
    }
    res.body() = std::string(*content);
    Send(std::move(res));
  }

  void SendJson(http::status status, std::string body) {
    HttpResponse res{status, 11};
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "no-store");
    res.body() = std::move(body);
    Send(std::move(res));
  }

  HttpResponse ErrorResponse(http::status status, std::string_view code, std::string_view message) {
    HttpResponse res{status, 11};
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "no-store");
    res.body() = ErrorJson(code, message);
    return res;
  }

  void SendError(http::status status, std::string_view code, std::string_view message,
                 bool close = false) {
    Send(ErrorResponse(status, code, message), close);
  }

  void SendBodyTooLarge() {
    SendError(http::status::payload_too_large, "body_too_large",
              "request body exceeds " + std::to_string(body_limit_) + " bytes", true);
  }

  // Writes `res`; keeps the connection for another request unless `close`,
  // the client asked to close, or the server is stopping.
  void Send(HttpResponse res, bool close = false) {
    const bool have_request = parser_ && parser_->is_header_done();
    const bool keep_alive =
        !close && have_request && parser_->get().keep_alive() && !server_->stopping;
    res.version(have_request ? parser_->get().version() : 11);
    res.set(http::field::server, "landfall/" + options().version);
    res.set("X-Content-Type-Options", "nosniff");
    res.keep_alive(keep_alive);
    res.prepare_payload();
    status_ = res.result_int();
    res_ = std::make_shared<HttpResponse>(std::move(res));
    stream_.expires_after(options().read_timeout);
    http::async_write(
        stream_, *res_,
        beast::bind_front_handler(&Session::OnWrite, shared_from_this(), !keep_alive));
  }

  void OnWrite(bool close, beast::error_code ec, size_t /*bytes*/) {
    const double seconds = std::chrono::duration<double>(SteadyClock::now() - started_).count();
    if (server_->metrics) server_->metrics->OnHttpRequest(route_label_, status_, seconds);
    spdlog::debug("http {} {} {} {:.1f} ms",
                  parser_ ? std::string(parser_->get().method_string()) : "-", path_, status_,
                  seconds * 1000);
    res_.reset();
    if (ec) return DoClose();
    if (close) return DoLingeringClose();
    DoReadHeader();
  }

  void DoClose() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  // Closing a socket with unread input resets the connection, and the client
  // may lose our answer (a 413, say) before reading it. So: stop sending, then
  // read and discard what the client still sends, for a bounded time and size.
  void DoLingeringClose() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return DoClose();
    stream_.expires_after(std::chrono::seconds(2));
    DoDrain();
  }

  void DoDrain() {
    drain_buffer_.resize(64 * 1024);
    stream_.async_read_some(net::buffer(drain_buffer_),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > 64u * 1024 * 1024) return self->DoClose();
                              self->DoDrain();
                            });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::shared_ptr<ServerState> server_;
  const bool over_capacity_;
  bool first_ = true;
  std::optional<http::request_parser<http::string_body>> parser_;
  size_t body_limit_ = 0;  // the current request's
  // The request being answered.
  SteadyClock::time_point started_;
  std::string route_label_ = "unmatched";
  std::string path_;
  std::map<std::string, std::string> query_;
  std::string raw_query_;  // for parameters that may repeat (query_ keeps the last)
  RouteLookup lookup_;
  int status_ = 0;
  std::shared_ptr<HttpResponse> res_;  // alive until written
  std::vector<char> drain_buffer_;     // DoLingeringClose
  size_t drained_ = 0;
};

void ServerState::DoAccept() {
  // Each connection gets its own strand.
  acceptor.async_accept(net::make_strand(io),
                        beast::bind_front_handler(&ServerState::OnAccept, shared_from_this()));
}

void ServerState::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (stopping || !acceptor.is_open()) return;
  if (ec) {
    // Out of file descriptors and the like: keep serving the connections we have.
    spdlog::warn("api: accept: {}", ec.message());
  } else {
    const bool over = connections.load() >= options.max_connections;
    auto session = std::make_shared<Session>(std::move(socket), shared_from_this(), over);
    std::erase_if(sessions, [](const std::weak_ptr<Session>& s) { return s.expired(); });
    sessions.push_back(session);
    session->Run();
  }
  DoAccept();
}

void ServerState::StopOnStrand() {
  beast::error_code ec;
  acceptor.close(ec);
  for (auto& weak : sessions) {
    if (auto session = weak.lock()) session->Close();
  }
  sessions.clear();
}

struct HttpServer::Impl {
  std::shared_ptr<ServerState> state;
};

HttpServer::HttpServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(net::io_context& io, ServerOptions options,
                                                      ApiBackend& backend, Metrics* metrics,
                                                      Executor executor, const Clock& clock) {
  const std::string where = options.host + ":" + std::to_string(options.port);
  beast::error_code ec;
  tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(options.host, std::to_string(options.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty()) {
    return Fail("listen_failed", "api.listen " + where + ": cannot resolve: " + ec.message());
  }
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  auto impl = std::make_shared<ServerState>(io, std::move(options), backend, metrics,
                                            std::move(executor), clock);
  auto& acceptor = impl->acceptor;
  if (acceptor.open(endpoint.protocol(), ec); ec) {
    return Fail("listen_failed", "api.listen " + where + ": " + ec.message());
  }
  acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (acceptor.bind(endpoint, ec); ec)
    return Fail("listen_failed", "api.listen " + where + ": " + ec.message());
  if (acceptor.listen(net::socket_base::max_listen_connections, ec); ec) {
    return Fail("listen_failed", "api.listen " + where + ": " + ec.message());
  }
  impl->port = acceptor.local_endpoint().port();
  net::dispatch(impl->strand, [impl] { impl->DoAccept(); });
  return std::unique_ptr<HttpServer>(new HttpServer(std::make_shared<Impl>(Impl{std::move(impl)})));
}

int HttpServer::port() const { return impl_->state->port; }

void HttpServer::Stop() {
  auto& state = impl_->state;
  if (state->stopping.exchange(true)) return;
  net::post(state->strand, [state] { state->StopOnStrand(); });
}

std::vector<std::pair<std::string, std::string>> HttpServer::Routes() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : kRoutes) out.emplace_back(r.method, r.pattern);
  return out;
}

}  // namespace landfall::api
