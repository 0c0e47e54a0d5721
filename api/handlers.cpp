#include "api/handlers.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>

#include "api/assets.h"
#include "api/metrics.h"
#include "api/router.h"
#include "lib/state/state_store.h"

namespace landfall::api {

using json = nlohmann::json;

int StatusForError(const Error& error) {
  const std::string& c = error.code;
  auto ends_with = [&](std::string_view suffix) {
    return c == suffix.substr(1) || c.ends_with(suffix);
  };
  if (ends_with("_not_found")) return 404;
  if (ends_with("_conflict")) return 409;
  if (c == "invalid_request" || c == "invalid_path" || c == "model_selection_invalid" ||
      c == "partition_invalid") {
    return 400;
  }
  if (c == "query_refused" || c == "query_failed") return 400;
  if (c == "query_timeout") return 504;
  if (c == "query_unsupported") return 501;  // the warehouse answers no queries (postgres)
  if (c == "query_too_large") return 413;
  if (c == "query_busy") return 429;
  if (c.starts_with("model_")) return 422;  // the daemon's model files are invalid
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
  kCluster,
  kBatches,
  kBatchRetry,
  kDeleteTableState,
  kModels,
  kModel,
  kModelChecks,
  kDag,
  kPartitions,
  kLineage,
  kModelLineage,
  kDeleteModelState,
  kWebhookFileArrived,
  kQuery,
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
    {"GET", "/v1/cluster", RouteId::kCluster, Access::kToken},
    {"GET", "/v1/batches", RouteId::kBatches, Access::kToken},
    {"POST", "/v1/batches/{id}/retry", RouteId::kBatchRetry, Access::kToken},
    {"DELETE", "/v1/state/tables/{name}", RouteId::kDeleteTableState, Access::kToken, Lane::kSlow},
    // Model reads parse the model files (and count target rows): the slow lane.
    {"GET", "/v1/models", RouteId::kModels, Access::kToken, Lane::kSlow},
    {"GET", "/v1/models/{name}", RouteId::kModel, Access::kToken, Lane::kSlow},
    // Partitions are state store reads only.
    {"GET", "/v1/models/{name}/partitions", RouteId::kPartitions, Access::kToken},
    {"GET", "/v1/models/{name}/checks", RouteId::kModelChecks, Access::kToken, Lane::kSlow},
    {"GET", "/v1/dag", RouteId::kDag, Access::kToken, Lane::kSlow},
    {"GET", "/v1/lineage", RouteId::kLineage, Access::kToken, Lane::kSlow},
    {"GET", "/v1/models/{name}/lineage", RouteId::kModelLineage, Access::kToken, Lane::kSlow},
    {"DELETE", "/v1/state/models/{name}", RouteId::kDeleteModelState, Access::kToken, Lane::kSlow},
    // A query may run up to api.query_timeout_ms: the slow lane.
    {"POST", "/v1/query", RouteId::kQuery, Access::kToken, Lane::kSlow},
    {"POST", "/v1/webhooks/file-arrived", RouteId::kWebhookFileArrived, Access::kSignature,
     Lane::kSlow},
};

const Router& TheRouter() {
  static const Router router = [] {
    Router r;
    for (size_t i = 0; i < std::size(kRoutes); ++i) {
      r.Add(kRoutes[i].method, kRoutes[i].pattern, static_cast<int>(i));
    }
    return r;
  }();
  return router;
}

std::string ErrorJson(std::string_view code, std::string_view message) {
  return json{{"error", {{"code", code}, {"message", message}}}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

ApiResponse JsonResponse(int status, std::string body) {
  return ApiResponse{status, "application/json", std::move(body), {{"Cache-Control", "no-store"}}};
}

ApiResponse InvalidRequest(std::string_view message) {
  return ErrorResponse(400, "invalid_request", message);
}

ApiResponse ErrorFrom(const Error& error) {
  return JsonResponse(StatusForError(error), ErrorJson(error.code, error.message));
}

ApiResponse FromResult(Result<std::string> r) {
  return r ? JsonResponse(200, std::move(*r)) : ErrorFrom(r.error());
}

ApiResponse FromReply(Result<Reply> r) {
  return r ? JsonResponse(r->status, std::move(r->json)) : ErrorFrom(r.error());
}

ApiResponse SignatureError(std::string_view code, std::string_view message) {
  auto res = ErrorResponse(401, code, message);
  res.headers.emplace_back("WWW-Authenticate", R"(X-Landfall-Signature realm="landfall-webhook")");
  return res;
}

std::string ContentTypeFor(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  if (name.ends_with(".svg")) return "image/svg+xml";
  if (name.ends_with(".json")) return "application/json";
  return "application/octet-stream";
}

ApiResponse AssetResponse(const std::string& name) {
  const auto& assets = EmbeddedAssets();
  auto it = std::find_if(assets.begin(), assets.end(),
                         [&](const auto& asset) { return asset.name == name; });
  if (it == assets.end()) return ErrorResponse(404, "not_found", "no such file: " + name);
  ApiResponse res{
      200, ContentTypeFor(name), std::string(it->content), {{"Cache-Control", "no-cache"}}};
  if (name.ends_with(".html")) {
    // Only our own scripts and styles; API calls go to the same origin.
    res.headers.emplace_back(
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    res.headers.emplace_back("Referrer-Policy", "no-referrer");
  }
  return res;
}

std::string_view PathOf(std::string_view target) { return target.substr(0, target.find('?')); }

std::string_view QueryOf(std::string_view target) {
  const auto qmark = target.find('?');
  return qmark == std::string_view::npos ? std::string_view() : target.substr(qmark + 1);
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

// table=T (repeatable), full_refresh=true|false, format=json|text; returns
// an error message or "".
std::string ParsePlanQuery(std::string_view query, PlanQuery& out) {
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
    } else if (key == "models") {
      out.models = value;
    } else if (key == "partition") {
      out.partitions.partition = value;
    } else if (key == "from") {
      out.partitions.from = value;
    } else if (key == "to") {
      out.partitions.to = value;
    } else if (key == "latest" || key == "missing") {
      if (value != "true" && value != "false") return key + " must be true or false";
      (key == "latest" ? out.partitions.latest : out.partitions.missing) = value == "true";
    } else if (key == "lookback") {
      int n = -1;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || end != value.data() + value.size() || n < 0) {
        return "lookback must be a whole number >= 0";
      }
      out.partitions.lookback = n;
    } else {
      return "unknown parameter '" + key +
             "' (expected table, models, full_refresh, format, partition, from, to, latest, "
             "missing, lookback)";
    }
  }
  return "";
}

// "models": a --models spec ("a,b+"), or its terms as an array (["a", "b+"],
// joined with commas); returns an error message or "".
std::string ParseModelsField(const json& value, std::string& out) {
  constexpr const char* kMessage =
      R"(models must be a --models spec ("a,b+") or an array of its terms (["a", "b+"]))";
  if (value.is_string()) {
    out = value.get<std::string>();
    return "";
  }
  if (!value.is_array()) return kMessage;
  out.clear();
  for (const auto& term : value) {
    if (!term.is_string() || term.get<std::string>().empty() ||
        term.get<std::string>().find(',') != std::string::npos) {
      return kMessage;
    }
    out += (out.empty() ? "" : ",") + term.get<std::string>();
  }
  return "";
}

// {"partition", "from", "to", "latest", "missing", "lookback"}, each optional;
// returns an error message or "".
std::string ParsePartitionFlags(const json& value, PartitionFlags& out) {
  if (!value.is_object()) return "partitions must be an object";
  for (const auto& [key, v] : value.items()) {
    if (key == "partition" || key == "from" || key == "to") {
      if (!v.is_string()) return "partitions." + key + " must be a partition key";
      (key == "partition" ? out.partition
       : key == "from"    ? out.from
                          : out.to) = v.get<std::string>();
    } else if (key == "latest" || key == "missing") {
      if (!v.is_boolean()) return "partitions." + key + " must be true or false";
      (key == "latest" ? out.latest : out.missing) = v.get<bool>();
    } else if (key == "lookback") {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 100000) {
        return "partitions.lookback must be a whole number >= 0";
      }
      out.lookback = v.get<int>();
    } else {
      return "unknown field 'partitions." + key +
             "' (expected partition, from, to, latest, missing, lookback)";
    }
  }
  return "";
}

// {"tables": [...], "models": ..., "full_refresh": false, "partitions": {...}};
// returns an error message or "".
std::string ParseRunTrigger(const std::string& body, RunTrigger& out) {
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
    } else if (key == "models") {
      if (auto error = ParseModelsField(value, out.models); !error.empty()) return error;
    } else if (key == "partitions") {
      if (auto error = ParsePartitionFlags(value, out.partitions); !error.empty()) return error;
    } else {
      return "unknown field '" + key + "' (expected tables, models, full_refresh, partitions)";
    }
  }
  return "";
}

// POST /v1/query's body, {"sql": "...", "limit": N, "format": "json|csv|parquet"},
// with the format also from ?format= or the Accept header (text/csv,
// application/vnd.apache.parquet); the body's "format" wins, then ?format=.
// Returns an error message or "".
std::string ParseQueryAsk(const std::string& body, const std::string& format_param,
                          const std::string& accept, QueryAsk& out) {
  using warehouse::QueryFormat;
  const auto format_named = [&](const std::string& name) -> std::optional<QueryFormat> {
    if (name == "json") return QueryFormat::kJson;
    if (name == "csv") return QueryFormat::kCsv;
    if (name == "parquet") return QueryFormat::kParquet;
    return std::nullopt;
  };
  if (accept.find("text/csv") != std::string::npos) out.format = QueryFormat::kCsv;
  if (accept.find("application/vnd.apache.parquet") != std::string::npos) {
    out.format = QueryFormat::kParquet;
  }
  if (!format_param.empty()) {
    auto format = format_named(format_param);
    if (!format) return "format must be json, csv or parquet";
    out.format = *format;
  }
  json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return R"(body must be a JSON object {"sql": "..."})";
  bool has_sql = false;
  for (const auto& [key, value] : doc.items()) {
    if (key == "sql") {
      if (!value.is_string() || value.get<std::string>().empty()) return "sql must be a statement";
      out.sql = value.get<std::string>();
      has_sql = true;
    } else if (key == "limit") {
      if (!value.is_number_integer() || value.get<int64_t>() < 0) {
        return "limit must be an integer >= 0";
      }
      out.limit = value.get<int64_t>();
    } else if (key == "format") {
      auto format = value.is_string() ? format_named(value.get<std::string>()) : std::nullopt;
      if (!format) return "format must be json, csv or parquet";
      out.format = *format;
    } else {
      return "unknown field '" + key + "' (expected sql, limit, format)";
    }
  }
  if (!has_sql) return R"(body must name the statement: {"sql": "..."})";
  if (!out.limit && out.format == warehouse::QueryFormat::kJson) {
    out.limit = warehouse::kDefaultJsonRowLimit;
  }
  return "";
}

// The Content-Type of a query's answer.
std::string QueryContentType(warehouse::QueryFormat format) {
  switch (format) {
    case warehouse::QueryFormat::kCsv:
      return "text/csv; charset=utf-8";
    case warehouse::QueryFormat::kParquet:
      return "application/vnd.apache.parquet";
    case warehouse::QueryFormat::kJson:
      break;
  }
  return "application/json";
}

// The metrics' name for how a query ended.
std::string QueryOutcome(const Result<warehouse::QueryAnswer>& answer) {
  if (answer) return "ok";
  const std::string& code = answer.error().code;
  if (code == warehouse::kQueryRefused) return "refused";
  if (code == warehouse::kQueryTimeout) return "timeout";
  if (code == warehouse::kQueryTooLarge) return "too_large";
  return "failed";
}

bool Authorized(Access access, const ApiRequest& head, const ServerOptions& options) {
  if (options.tokens.empty()) return true;
  bool needs_token = false;
  switch (access) {
    case Access::kOpen:
    case Access::kSignature:
      break;
    case Access::kHealth:
      needs_token = options.protect_health;
      break;
    case Access::kMetrics:
      needs_token = options.protect_metrics;
      break;
    case Access::kToken:
      needs_token = true;
      break;
  }
  if (!needs_token) return true;
  return head.authorization && BearerTokenMatches(*head.authorization, options.tokens);
}

ApiResponse Unauthorized(bool presented) {
  auto res = ErrorResponse(401, "unauthorized",
                           presented ? "invalid bearer token" : "a bearer token is required");
  res.headers.emplace_back("WWW-Authenticate",
                           presented ? R"(Bearer realm="landfall", error="invalid_token")"
                                     : R"(Bearer realm="landfall")");
  return res;
}

ApiResponse MethodNotAllowed(const ApiRequest& head, const std::string& path,
                             const std::vector<std::string>& allowed) {
  std::string allow;
  for (const auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
  auto res =
      ErrorResponse(405, "method_not_allowed",
                    head.method + " is not allowed on " + path + " (allowed: " + allow + ")");
  res.headers.emplace_back("Allow", allow);
  return res;
}

// The webhook is answered before its body is read when it is disabled or its
// signature header cannot pass, and its body is small: strangers cannot make
// us buffer one (the HMAC itself needs the body).
void AdmitWebhook(const ApiRequest& head, const ServerOptions& options, int64_t now_unix,
                  Admission& out) {
  if (options.webhook_secret.empty()) {
    out.refusal = ErrorResponse(404, "webhook_disabled", "api.webhook_secret is not set");
    return;
  }
  auto parsed = ParseSignatureHeader(head.signature, now_unix, options.webhook_tolerance.count());
  if (!parsed) {
    out.refusal = SignatureError(parsed.error().code, parsed.error().message);
    return;
  }
  out.body_limit = std::min(out.body_limit, kWebhookBodyLimit);
  if (head.content_length.value_or(0) > out.body_limit) {
    out.refusal = BodyTooLarge(out.body_limit);
    out.close = true;
  }
}

}  // namespace

std::string ApiResponse::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (std::ranges::equal(key, name, [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return value;
    }
  }
  return "";
}

ApiResponse ErrorResponse(int status, std::string_view code, std::string_view message) {
  return JsonResponse(status, ErrorJson(code, message));
}

ApiResponse BodyTooLarge(size_t limit) {
  return ErrorResponse(413, "body_too_large",
                       "request body exceeds " + std::to_string(limit) + " bytes");
}

Admission Admit(const ApiRequest& head, const ServerOptions& options, int64_t now_unix) {
  Admission out;
  out.body_limit = options.body_limit;
  const std::string_view target = head.target;
  if (target.empty() || target.front() != '/') {
    out.refusal = ErrorResponse(400, "bad_request", "request target must be a path");
    out.close = true;
    return out;
  }
  out.path = std::string(PathOf(target));
  if (!ParseQuery(QueryOf(target))) {
    out.refusal = ErrorResponse(400, "bad_request", "malformed query string");
    return out;
  }
  auto lookup = TheRouter().Find(head.method, out.path);
  if (lookup.bad_encoding) {
    out.refusal = ErrorResponse(400, "bad_request", "malformed %-escape in the path");
    return out;
  }
  if (!lookup.route) {
    out.refusal = lookup.allowed.empty()
                      ? ErrorResponse(404, "not_found", "no route for " + out.path)
                      : MethodNotAllowed(head, out.path, lookup.allowed);
    return out;
  }
  const RouteSpec& spec = kRoutes[lookup.route->id];
  out.route_label = spec.pattern;
  // Authenticate before reading a body: strangers cannot make us buffer one.
  if (!Authorized(spec.access, head, options)) {
    out.refusal = Unauthorized(head.authorization.has_value());
    return out;
  }
  if (spec.access == Access::kSignature) {
    AdmitWebhook(head, options, now_unix, out);
    if (out.refusal) return out;
  }
  out.route = lookup.route->id;
  out.params = std::move(lookup.params);
  return out;
}

namespace {

// Wraps a blocking backend call for Handled::call: an exception, which the
// backend does not use for errors, is a bug: logged, and a 500.
Handled Deferred(const Admission& admission, std::function<ApiResponse()> work) {
  Handled out;
  out.lane = kRoutes[admission.route].lane;
  out.call = [work = std::move(work), label = admission.route_label,
              path = admission.path]() -> ApiResponse {
    try {
      return work();
    } catch (const std::exception& e) {
      spdlog::error("api: {} {}: {}", label, path, e.what());
      return JsonResponse(500, ErrorJson("internal", "internal error"));
    }
  };
  return out;
}

Handled Now(ApiResponse response) { return Handled{std::move(response), {}, Lane::kRead}; }

ApiResponse ReadyResponse(ApiBackend& backend) {
  auto r = backend.Ready();
  json body = {{"ready", r.ready}, {"reasons", r.reasons}};
  if (!r.ready) {
    std::string why;
    for (const auto& reason : r.reasons) why += (why.empty() ? "" : "; ") + reason;
    body["error"] = {{"code", "not_ready"}, {"message", why}};
  }
  return JsonResponse(r.ready ? 200 : 503,
                      body.dump(-1, ' ', false, json::error_handler_t::replace));
}

Handled ListRuns(ApiBackend& backend, const Admission& admission,
                 const std::map<std::string, std::string>& query) {
  auto limit = IntParam(query, "limit", 20, 1, 1000);
  if (!limit) return Now(InvalidRequest("limit must be 1 to 1000"));
  const std::string status = Param(query, "status");
  if (!status.empty() && status != "running" && status != "succeeded" && status != "failed" &&
      status != "interrupted") {
    return Now(InvalidRequest("status must be running, succeeded, failed or interrupted"));
  }
  return Deferred(admission, [&backend, limit = static_cast<int>(*limit), status] {
    return FromResult(backend.ListRuns(limit, status));
  });
}

Handled ListBatches(ApiBackend& backend, const Admission& admission,
                    const std::map<std::string, std::string>& query) {
  auto limit = IntParam(query, "limit", 100, 1, 10'000);
  if (!limit) return Now(InvalidRequest("limit must be 1 to 10000"));
  const std::string status = Param(query, "status");
  if (!status.empty() && !state::BatchStatusFromString(status)) {
    return Now(InvalidRequest("status must be pending, staged, quarantined or duplicate"));
  }
  return Deferred(admission, [&backend, table = Param(query, "table"), status,
                              limit = static_cast<int>(*limit)] {
    return FromResult(backend.ListBatches(table, status, limit));
  });
}

// Whether `text` is spelled as a partition key of some granularity: "2026",
// "2026-04", "2026-04-07" or "2026-04-07T13" (digits where the digits go).
bool LooksLikePartitionKey(std::string_view text) {
  static constexpr std::string_view kShape = "dddd-dd-ddTdd";
  if (text.size() != 4 && text.size() != 7 && text.size() != 10 && text.size() != 13) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (kShape[i] == 'd' ? !std::isdigit(static_cast<unsigned char>(text[i]))
                         : text[i] != kShape[i])
      return false;
  }
  return true;
}

Handled ListPartitions(ApiBackend& backend, const Admission& admission,
                       const std::map<std::string, std::string>& query) {
  auto limit = IntParam(query, "limit", 1000, 1, 100'000);
  if (!limit) return Now(InvalidRequest("limit must be 1 to 100000"));
  const std::string status = Param(query, "status");
  if (!status.empty() && !state::PartitionStatusFromString(status)) {
    return Now(InvalidRequest("status must be computed, failed, in_progress or interrupted"));
  }
  const std::string from = Param(query, "from");
  const std::string to = Param(query, "to");
  for (const auto& [name, key] : {std::pair{"from", &from}, std::pair{"to", &to}}) {
    if (!key->empty() && !LooksLikePartitionKey(*key)) {
      return Now(InvalidRequest(std::string(name) +
                                " must be a partition key: 2026, 2026-04, 2026-04-07 or "
                                "2026-04-07T13"));
    }
  }
  return Deferred(admission, [&backend, name = admission.params.at("name"), status, from, to,
                              limit = static_cast<int>(*limit)] {
    return FromResult(backend.ListPartitions(name, status, from, to, limit));
  });
}

// GET /v1/runs/{id} and /v1/runs/{id}/outcome.
Handled RunById(ApiBackend& backend, const Admission& admission, bool outcome) {
  auto id = IntParam(admission.params, "id", 0, 1, INT64_MAX);
  if (!id || *id == 0) return Now(InvalidRequest("run id must be a positive integer"));
  if (outcome) {
    return Deferred(admission, [&backend, id = *id] { return FromReply(backend.RunOutcome(id)); });
  }
  return Deferred(admission, [&backend, id = *id] { return FromResult(backend.GetRun(id)); });
}

}  // namespace

Handlers::Handlers(ServerOptions options, ApiBackend& backend, Metrics* metrics, const Clock& clock)
    : options_(std::move(options)),
      backend_(backend),
      metrics_(metrics),
      clock_(clock),
      replay_(options_.webhook_tolerance.count()) {}

int64_t Handlers::NowUnix() const {
  return std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count();
}

Admission Handlers::Admit(const ApiRequest& head) const {
  return api::Admit(head, options_, NowUnix());
}

Handled Handlers::Handle(const ApiRequest& request, const Admission& admission) {
  if (admission.refusal || admission.route < 0) {
    return Now(admission.refusal ? *admission.refusal
                                 : ErrorResponse(500, "internal", "request was not admitted"));
  }
  // Admit() has parsed the query once: it cannot fail here.
  auto query = ParseQuery(QueryOf(request.target));
  if (!query) return Now(ErrorResponse(400, "bad_request", "malformed query string"));
  return HandleRoute(request, admission, *query);
}

Handled Handlers::HandleRoute(const ApiRequest& request, const Admission& admission,
                              const std::map<std::string, std::string>& query) {
  auto& backend = backend_;
  const auto& params = admission.params;
  switch (kRoutes[admission.route].id) {
    case RouteId::kPage:
      return Now(AssetResponse("static/index.html"));
    case RouteId::kStatic:
      return Now(AssetResponse("static/" + params.at("file")));
    case RouteId::kHealthz:
      return Now(JsonResponse(200, json{{"status", "ok"}, {"version", options_.version}}.dump()));
    case RouteId::kReadyz:
      return Deferred(admission, [&backend] { return ReadyResponse(backend); });
    case RouteId::kMetrics:
      return Now(ApiResponse{200,
                             "text/plain; version=0.0.4; charset=utf-8",
                             metrics_ ? metrics_->Serialize() : "",
                             {}});
    case RouteId::kOpenApi:
      return Now(AssetResponse("openapi.json"));
    case RouteId::kTables:
      return Deferred(admission, [&backend] { return FromResult(backend.ListTables()); });
    case RouteId::kTable:
      return Deferred(admission, [&backend, name = params.at("name")] {
        return FromResult(backend.GetTable(name));
      });
    case RouteId::kPlan: {
      PlanQuery plan;
      if (auto error = ParsePlanQuery(QueryOf(request.target), plan); !error.empty()) {
        return Now(InvalidRequest(error));
      }
      return Deferred(admission, [&backend, plan] { return FromResult(backend.Plan(plan)); });
    }
    case RouteId::kInfo:
      return Deferred(admission, [&backend] { return FromResult(backend.Info()); });
    case RouteId::kCluster:
      return Deferred(admission, [&backend] { return FromResult(backend.Cluster()); });
    case RouteId::kRunsCreate: {
      RunTrigger trigger;
      if (auto error = ParseRunTrigger(request.body, trigger); !error.empty()) {
        return Now(InvalidRequest(error));
      }
      return Deferred(admission,
                      [&backend, trigger] { return FromReply(backend.TriggerRun(trigger)); });
    }
    case RouteId::kRunsList:
      return ListRuns(backend, admission, query);
    case RouteId::kRun:
      return RunById(backend, admission, false);
    case RouteId::kRunOutcome:
      return RunById(backend, admission, true);
    case RouteId::kBatches:
      return ListBatches(backend, admission, query);
    case RouteId::kBatchRetry:
      return Deferred(admission, [&backend, id = params.at("id")] {
        return FromReply(backend.RetryBatch(id));
      });
    case RouteId::kDeleteTableState:
      return Deferred(admission, [&backend, name = params.at("name")] {
        return FromReply(backend.DeleteTableState(name));
      });
    case RouteId::kModels:
      return Deferred(admission, [&backend] { return FromResult(backend.ListModels()); });
    case RouteId::kModel:
      return Deferred(admission, [&backend, name = params.at("name")] {
        return FromResult(backend.GetModel(name));
      });
    case RouteId::kPartitions:
      return ListPartitions(backend, admission, query);
    case RouteId::kModelChecks:
      return Deferred(admission, [&backend, name = params.at("name")] {
        return FromResult(backend.ModelChecks(name));
      });
    case RouteId::kDag:
      return Deferred(admission, [&backend] { return FromResult(backend.Dag()); });
    case RouteId::kLineage:
      return Deferred(admission, [&backend] { return FromResult(backend.Lineage()); });
    case RouteId::kModelLineage:
      return Deferred(admission, [&backend, name = params.at("name")] {
        return FromResult(backend.ModelLineage(name));
      });
    case RouteId::kDeleteModelState:
      return Deferred(admission, [&backend, name = params.at("name")] {
        return FromReply(backend.DeleteModelState(name));
      });
    case RouteId::kWebhookFileArrived:
      return Webhook(request, admission);
    case RouteId::kQuery:
      return Query(request, admission, Param(query, "format"));
  }
  return Now(ErrorResponse(500, "internal", "unhandled route"));
}

Handled Handlers::Webhook(const ApiRequest& request, const Admission& admission) {
  if (options_.webhook_secret.empty()) {
    return Now(ErrorResponse(404, "webhook_disabled", "api.webhook_secret is not set"));
  }
  const int64_t now = NowUnix();
  auto verified = VerifyWebhookSignature(request.signature, request.body, options_.webhook_secret,
                                         now, options_.webhook_tolerance.count());
  if (!verified) return Now(SignatureError(verified.error().code, verified.error().message));
  if (!replay_.FirstUse(verified->signature, verified->timestamp, now)) {
    return Now(SignatureError("signature_replayed", "this signature was already used"));
  }
  json doc = json::parse(request.body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Now(InvalidRequest("body must be a JSON object"));
  }
  const bool has_path = doc.contains("path");
  const bool has_table = doc.contains("table");
  if (has_path == has_table || doc.size() != 1 || !doc.begin()->is_string()) {
    return Now(
        InvalidRequest(R"(body must be {"path": "<table>/<file>"} or {"table": "<table>"})"));
  }
  // Path checks stat the file system (which may be slow): off the I/O thread too.
  return Deferred(admission, [&backend = backend_, landing = options_.landing_dir,
                              name = doc.begin()->get<std::string>(), has_path] {
    auto target = has_path ? ResolveLandingPath(landing, name) : ResolveLandingTable(landing, name);
    if (!target) return ErrorFrom(target.error());
    return FromReply(backend.FileArrived(target->table, target->rel_path));
  });
}

Handled Handlers::Query(const ApiRequest& request, const Admission& admission,
                        const std::string& format_param) {
  QueryAsk ask;
  if (auto error = ParseQueryAsk(request.body, format_param, request.accept, ask); !error.empty()) {
    return Now(InvalidRequest(error));
  }
  // Counted from here, not when the call starts: queries waiting for the
  // slow lane count too, so a burst cannot queue more than max_queries.
  if (queries_.fetch_add(1) >= options_.max_queries) {
    queries_.fetch_sub(1);
    if (metrics_) metrics_->OnQuery("busy", 0);
    return Now(ErrorResponse(429, "query_busy",
                             std::to_string(options_.max_queries) +
                                 " queries are running (api.max_queries); try again later"));
  }
  // Released as soon as the query has run (the answer reaches the client
  // before the executor drops the call), or when the call is destroyed
  // without running.
  struct Slot {
    std::atomic<int>& count;
    std::atomic<bool> released{false};
    explicit Slot(std::atomic<int>& c) : count(c) {}
    ~Slot() { Release(); }
    void Release() {
      if (!released.exchange(true)) count.fetch_sub(1);
    }
  };
  auto slot = std::make_shared<Slot>(queries_);
  return Deferred(admission, [&backend = backend_, metrics = metrics_, ask, slot] {
    const auto start = std::chrono::steady_clock::now();
    auto answer = backend.Query(ask);
    slot->Release();
    if (metrics) {
      metrics->OnQuery(
          QueryOutcome(answer),
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    if (!answer) return ErrorFrom(answer.error());
    ApiResponse res{200,
                    QueryContentType(ask.format),
                    std::move(answer->body),
                    {{"Cache-Control", "no-store"},
                     {"X-Landfall-Rows", std::to_string(answer->rows)},
                     {"X-Landfall-Truncated", answer->truncated ? "true" : "false"}}};
    return res;
  });
}

std::vector<std::pair<std::string, std::string>> RoutePatterns() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : kRoutes) out.emplace_back(r.method, r.pattern);
  return out;
}

}  // namespace landfall::api
