// The API's routes without a socket: what Admit() refuses when a header
// arrives, and what Handlers::Handle() answers, with which backend call in
// which lane, against the fake backend. Transport (timeouts, slow clients,
// body limits as bytes arrive, keep-alive) is in http_server_test.cpp.
#include "api/handlers.h"

#include <gmock/gmock.h>

#include <nlohmann/json.hpp>

#include "tests/api/server_fixture.h"
#include "tests/support/testing.h"

namespace landfall::api {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using json = nlohmann::json;

constexpr const char* kToken = kTestToken;
constexpr const char* kSecret = kTestSecret;

ApiRequest Request(std::string method, std::string target, std::string body = "") {
  ApiRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.body = std::move(body);
  if (!r.body.empty()) r.content_length = r.body.size();
  r.body_pending = !r.body.empty();
  return r;
}

ApiRequest Get(std::string target) { return Request("GET", std::move(target)); }

ApiRequest WithToken(ApiRequest r, const std::string& token = kToken) {
  r.authorization = "Bearer " + token;
  return r;
}

json Json(const ApiResponse& r) {
  json j = json::parse(r.body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.body;
  return j;
}

// The error code of a JSON error body; checks it has a message too.
std::string ErrorCode(const ApiResponse& r) {
  EXPECT_EQ(r.content_type, "application/json");
  auto j = Json(r);
  EXPECT_TRUE(j.contains("error") && j["error"].contains("message")) << r.body;
  return j.value("/error/code"_json_pointer, std::string());
}

class HandlersTest : public ::testing::Test {
 protected:
  static ServerOptions Options() {
    ServerOptions o;
    o.version = "9.9.9";
    o.body_limit = 4096;
    return o;
  }

  void Make(ServerOptions options) {
    handlers_ = std::make_unique<Handlers>(std::move(options), backend_, &metrics_, clock_);
  }

  // Admits and handles `request` as the session would, running its backend
  // call (if any) here; the lane it would have run in is left in lane_.
  ApiResponse Answer(const ApiRequest& request) {
    if (!handlers_) Make(Options());
    Admission admission = handlers_->Admit(request);
    if (admission.refusal) return *admission.refusal;
    Handled handled = handlers_->Handle(request, admission);
    lane_ = handled.call ? std::optional<Lane>(handled.lane) : std::nullopt;
    return handled.call ? handled.call() : handled.response;
  }
  int Status(const ApiRequest& request) { return Answer(request).status; }

  int Calls(std::string_view prefix) {
    auto calls = backend_.Calls();
    return static_cast<int>(std::count_if(calls.begin(), calls.end(),
                                          [&](const auto& c) { return c.starts_with(prefix); }));
  }

  FakeBackend backend_;
  FakeClock clock_;
  Metrics metrics_{{"9.9.9", false}};
  std::unique_ptr<Handlers> handlers_;
  std::optional<Lane> lane_;  // the last answer's backend call's, if it made one
};

// ---- routing, refused when the header arrives ----

TEST_F(HandlersTest, UnknownPathIs404WithAJsonError) {
  auto r = Answer(Get("/v1/nothing-here"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(ErrorCode(r), "not_found");
  EXPECT_EQ(r.Header("Cache-Control"), "no-store");
}

TEST_F(HandlersTest, WrongMethodIs405WithAllow) {
  auto r = Answer(Request("DELETE", "/v1/runs"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(ErrorCode(r), "method_not_allowed");
  EXPECT_EQ(r.Header("Allow"), "POST, GET");
  EXPECT_EQ(Answer(Request("PUT", "/v1/tables/orders")).Header("allow"), "GET");
}

TEST_F(HandlersTest, MalformedTargetsAre400BeforeTheBody) {
  Make(Options());
  for (const char* target : {"/v1/tables/%zz", "/v1/runs?limit=%", "*", "http://x/v1/tables"}) {
    auto admission = handlers_->Admit(Get(target));
    ASSERT_TRUE(admission.refusal) << target;
    EXPECT_EQ(admission.refusal->status, 400) << target;
    EXPECT_EQ(ErrorCode(*admission.refusal), "bad_request") << target;
  }
  EXPECT_TRUE(handlers_->Admit(Get("*")).close)
      << "a target that is no path cannot be answered twice";
  EXPECT_FALSE(handlers_->Admit(Get("/v1/tables/%zz")).close);
}

TEST_F(HandlersTest, AdmittedRequestsCarryTheirRoutePatternDecodedParamsAndBodyLimit) {
  Make(Options());
  auto admission = handlers_->Admit(Get("/v1/tables/a%20b?x=1"));
  EXPECT_FALSE(admission.refusal);
  EXPECT_EQ(admission.route_label, "/v1/tables/{name}");
  EXPECT_EQ(admission.path, "/v1/tables/a%20b");
  EXPECT_EQ(admission.params.at("name"), "a b");
  EXPECT_EQ(admission.body_limit, 4096u);
  EXPECT_EQ(handlers_->Admit(Get("/nowhere")).route_label, "unmatched");
}

TEST_F(HandlersTest, BatchIdIsThePercentEncodedPath) {
  auto r = Answer(Request(
      "POST", "/v1/batches/" + testing::UrlEncode("orders/2026/part-0.parquet") + "/retry"));
  EXPECT_EQ(r.status, 202);
  EXPECT_THAT(backend_.Calls(), Contains("RetryBatch orders/2026/part-0.parquet"));
}

// ---- bearer tokens ----

TEST_F(HandlersTest, WithoutTokensEverythingIsOpen) {
  EXPECT_EQ(Status(Get("/v1/tables")), 200);
  EXPECT_EQ(Status(Get("/v1/openapi.json")), 200);
}

TEST_F(HandlersTest, WithTokensV1NeedsABearerToken) {
  auto o = Options();
  o.tokens = {kToken, "other-token-0123456789"};
  Make(o);
  auto missing = Answer(Get("/v1/tables"));
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(ErrorCode(missing), "unauthorized");
  EXPECT_EQ(missing.Header("WWW-Authenticate"), R"(Bearer realm="landfall")");
  auto wrong = Answer(WithToken(Get("/v1/tables"), "not-the-token-0123456789"));
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.Header("WWW-Authenticate"), R"(Bearer realm="landfall", error="invalid_token")");
  auto basic = Get("/v1/tables");
  basic.authorization = "Basic dXNlcjpwYXNz";
  EXPECT_EQ(Status(basic), 401);
  EXPECT_EQ(Status(WithToken(Get("/v1/tables"))), 200);
  EXPECT_EQ(Status(WithToken(Get("/v1/tables"), "other-token-0123456789")), 200);
  EXPECT_EQ(Status(Request("POST", "/v1/runs", "{}")), 401);
  EXPECT_EQ(Status(Request("DELETE", "/v1/state/tables/orders")), 401);
  EXPECT_THAT(backend_.Calls(), ElementsAre("ListTables", "ListTables"))
      << "refused requests never reach the backend";
  // Probes and the page stay open.
  for (const char* open : {"/healthz", "/readyz", "/metrics", "/"}) {
    EXPECT_EQ(Status(Get(open)), 200) << open;
  }
}

TEST_F(HandlersTest, ProtectedProbesNeedATokenToo) {
  auto o = Options();
  o.tokens = {kToken};
  o.protect_metrics = true;
  o.protect_health = true;
  Make(o);
  for (const char* probe : {"/metrics", "/healthz", "/readyz"}) {
    EXPECT_EQ(Status(Get(probe)), 401) << probe;
    EXPECT_EQ(Status(WithToken(Get(probe))), 200) << probe;
  }
}

// ---- routes ----

TEST_F(HandlersTest, HealthzAnswersJsonWithTheVersionWithoutTheBackend) {
  auto r = Answer(Get("/healthz"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(Json(r)["status"], "ok");
  EXPECT_EQ(Json(r)["version"], "9.9.9");
  EXPECT_FALSE(lane_) << "answered at once";
}

TEST_F(HandlersTest, MetricsAreTheRegistryInTheTextFormat) {
  auto r = Answer(Get("/metrics"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(r.body, HasSubstr(R"(landfall_build_info{version="9.9.9"} 1)"));
}

TEST_F(HandlersTest, StatusPageAndAssetsAreServed) {
  auto page = Answer(Get("/"));
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_THAT(page.Header("Content-Security-Policy"), HasSubstr("default-src 'none'"));
  EXPECT_EQ(page.Header("Referrer-Policy"), "no-referrer");
  EXPECT_THAT(page.body, HasSubstr("<title>landfall</title>"));
  auto js = Answer(Get("/static/app.js"));
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(js.Header("Cache-Control"), "no-cache");
  EXPECT_EQ(Status(Get("/static/style.css")), 200);
  EXPECT_EQ(ErrorCode(Answer(Get("/static/nope.js"))), "not_found");
  EXPECT_EQ(Status(Get("/static/..%2Fopenapi.json")), 404);
  EXPECT_EQ(Answer(Get("/v1/openapi.json")).content_type, "application/json");
}

TEST_F(HandlersTest, ReadyzIs503WithReasonsWhenNotReady) {
  backend_.ready =
      Readiness{false, {"state store unreachable: connection refused", "first scan not done"}};
  auto r = Answer(Get("/readyz"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Json(r)["ready"], false);
  EXPECT_EQ(Json(r)["reasons"].size(), 2u);
  EXPECT_EQ(ErrorCode(r), "not_ready");
  EXPECT_THAT(Json(r)["error"]["message"].get<std::string>(),
              HasSubstr("connection refused; first scan not done"));
}

TEST_F(HandlersTest, BackendCallsRunInTheirRoutesLane) {
  const std::pair<ApiRequest, Lane> cases[] = {
      {Get("/readyz"), Lane::kHealth},
      {Get("/v1/tables"), Lane::kRead},
      {Get("/v1/tables/orders"), Lane::kRead},
      {Get("/v1/runs"), Lane::kRead},
      {Get("/v1/runs/7"), Lane::kRead},
      {Get("/v1/batches"), Lane::kRead},
      {Get("/v1/info"), Lane::kRead},
      {Get("/v1/plan"), Lane::kSlow},
      {Request("POST", "/v1/runs"), Lane::kSlow},
      {Request("DELETE", "/v1/state/tables/orders"), Lane::kSlow},
      {Get("/v1/models"), Lane::kSlow},
      {Get("/v1/models/daily"), Lane::kSlow},
      {Get("/v1/models/daily/checks"), Lane::kSlow},
      {Get("/v1/dag"), Lane::kSlow},
      {Get("/v1/lineage"), Lane::kSlow},
      {Get("/v1/models/daily/lineage"), Lane::kSlow},
      {Request("DELETE", "/v1/state/models/daily"), Lane::kSlow},
  };
  for (const auto& [request, lane] : cases) {
    Answer(request);
    ASSERT_TRUE(lane_) << request.target;
    EXPECT_EQ(*lane_, lane) << request.method << " " << request.target;
  }
}

TEST_F(HandlersTest, BackendErrorsMapToStatuses) {
  EXPECT_EQ(Status(Get("/v1/tables/orders")), 200);
  auto missing = Answer(Get("/v1/tables/nope"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(ErrorCode(missing), "table_not_found");
  backend_.run_conflict = true;
  auto conflict = Answer(Request("POST", "/v1/runs", R"({"tables":["orders"]})"));
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(ErrorCode(conflict), "run_conflict");
  backend_.state_down = true;
  auto down = Answer(Request("DELETE", "/v1/state/tables/orders"));
  EXPECT_EQ(down.status, 503);
  EXPECT_EQ(ErrorCode(down), "state_unavailable");
}

TEST_F(HandlersTest, ABackendThatThrowsIsA500NotACrash) {
  backend_.list_tables_throws = true;
  auto r = Answer(Get("/v1/tables"));
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(ErrorCode(r), "internal");
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("a bug in the backend"))) << "no internals shown";
}

TEST_F(HandlersTest, RunTriggerBodyIsValidated) {
  auto ok = Answer(
      Request("POST", "/v1/runs", R"({"tables":["orders","customers"],"full_refresh":true})"));
  EXPECT_EQ(ok.status, 202);
  EXPECT_EQ(Json(ok)["run_id"], 7);
  EXPECT_EQ(Status(Request("POST", "/v1/runs")), 202) << "no body: every table";
  for (const char* bad :
       {"{", "[]", R"({"tables":"orders"})", R"({"tables":[1]})", R"({"tables":[""]})",
        R"({"full_refresh":"yes"})", R"({"tabels":["orders"]})"}) {
    auto r = Answer(Request("POST", "/v1/runs", bad));
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(ErrorCode(r), "invalid_request") << bad;
  }
  EXPECT_THAT(backend_.Calls(), Contains("TriggerRun orders,customers full"));
  EXPECT_THAT(backend_.Calls(), Contains("TriggerRun "));
  EXPECT_EQ(Calls("TriggerRun"), 2) << "a bad body never reaches the backend";
}

TEST_F(HandlersTest, RunListParametersAreValidated) {
  EXPECT_EQ(Status(Get("/v1/runs?limit=5&status=failed")), 200);
  EXPECT_EQ(Status(Get("/v1/runs?status=interrupted")), 200);
  for (const char* bad : {"/v1/runs?limit=0", "/v1/runs?limit=1001", "/v1/runs?limit=abc",
                          "/v1/runs?limit=5x", "/v1/runs?status=exploded"}) {
    auto r = Answer(Get(bad));
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(ErrorCode(r), "invalid_request") << bad;
  }
  EXPECT_THAT(backend_.Calls(), ElementsAre("ListRuns 5 failed", "ListRuns 20 interrupted"));
}

TEST_F(HandlersTest, BatchListParametersAreValidated) {
  EXPECT_EQ(Status(Get("/v1/batches?table=a%20b&status=quarantined")), 200);
  EXPECT_EQ(Status(Get("/v1/batches?limit=10000")), 200);
  for (const char* bad :
       {"/v1/batches?status=lost", "/v1/batches?limit=10001", "/v1/batches?limit=-1"}) {
    auto r = Answer(Get(bad));
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(ErrorCode(r), "invalid_request") << bad;
  }
  EXPECT_THAT(backend_.Calls(),
              ElementsAre("ListBatches a b quarantined 100", "ListBatches   10000"));
}

TEST_F(HandlersTest, RunIdsArePositiveIntegers) {
  for (const char* bad : {"/v1/runs/abc", "/v1/runs/0", "/v1/runs/-3", "/v1/runs/0/outcome",
                          "/v1/runs/99999999999999999999"}) {
    auto r = Answer(Get(bad));
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(ErrorCode(r), "invalid_request") << bad;
  }
  EXPECT_EQ(Status(Get("/v1/runs/7")), 200);
  EXPECT_EQ(ErrorCode(Answer(Get("/v1/runs/8"))), "run_not_found");
  EXPECT_EQ(Status(Get("/v1/runs/8")), 404);
  EXPECT_EQ(Json(Answer(Get("/v1/runs/7/outcome")))["run_id"], 7);
  EXPECT_EQ(Status(Get("/v1/runs/8/outcome")), 404);
  EXPECT_EQ(Json(Answer(Get("/v1/info")))["environment"], "test");
  EXPECT_THAT(backend_.Calls(), Contains("RunOutcome 7"));
}

TEST_F(HandlersTest, PlanTakesTheCliScopeAndFormat) {
  EXPECT_EQ(Status(Get("/v1/plan")), 200);
  EXPECT_EQ(Status(Get("/v1/plan?table=orders&table=a%20b&full_refresh=true&format=text")), 200);
  EXPECT_EQ(Status(Get("/v1/plan?format=json&full_refresh=false")), 200);
  for (const char* bad : {"/v1/plan?format=xml", "/v1/plan?full_refresh=yes",
                          "/v1/plan?table=", "/v1/plan?tabel=orders"}) {
    auto r = Answer(Get(bad));
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(ErrorCode(r), "invalid_request") << bad;
  }
  EXPECT_THAT(backend_.Calls(), ElementsAre("Plan", "Plan orders a b full text", "Plan"))
      << "a bad query never reaches the backend";
}

// ---- models ----

TEST_F(HandlersTest, ModelRoutesPassTheDecodedNameToTheBackend) {
  EXPECT_EQ(Json(Answer(Get("/v1/models")))["models"][0]["name"], "daily");
  EXPECT_EQ(Status(Get("/v1/models/daily")), 200);
  EXPECT_EQ(Status(Get("/v1/dag")), 200);
  EXPECT_EQ(Status(Request("DELETE", "/v1/state/models/daily")), 200);
  EXPECT_EQ(Status(Get("/v1/models/a%20b")), 404);
  EXPECT_EQ(Json(Answer(Get("/v1/models/daily/checks")))["model"], "daily");
  EXPECT_EQ(Status(Get("/v1/models/a%20b/checks")), 404);
  EXPECT_THAT(backend_.Calls(), ElementsAre("ListModels", "GetModel daily", "Dag", "DeleteModelState daily",
                                            "GetModel a b", "ModelChecks daily", "ModelChecks a b"));
}

TEST_F(HandlersTest, LineageRoutesPassTheDecodedNameToTheBackend) {
  EXPECT_EQ(Status(Get("/v1/lineage")), 200);
  EXPECT_EQ(Json(Answer(Get("/v1/models/daily/lineage")))["model"], "daily");
  auto missing = Answer(Get("/v1/models/a%20b/lineage"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(ErrorCode(missing), "model_not_found");
  EXPECT_THAT(backend_.Calls(), ElementsAre("Lineage", "ModelLineage daily", "ModelLineage a b"));
}

TEST_F(HandlersTest, ModelErrorsMapToStatuses) {
  auto missing = Answer(Get("/v1/models/nope"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(ErrorCode(missing), "model_not_found");
  auto no_state = Answer(Request("DELETE", "/v1/state/models/nope"));
  EXPECT_EQ(no_state.status, 404);
  EXPECT_EQ(ErrorCode(no_state), "model_not_found")
      << "what the CLI's state delete --model expects";
  backend_.run_conflict = true;
  auto running = Answer(Request("DELETE", "/v1/state/models/daily"));
  EXPECT_EQ(running.status, 409);
  EXPECT_EQ(ErrorCode(running), "model_conflict");
  backend_.models_invalid = true;
  auto invalid = Answer(Get("/v1/dag"));
  EXPECT_EQ(invalid.status, 422) << "the daemon's model files, not the request";
  EXPECT_EQ(ErrorCode(invalid), "model_cycle");
  EXPECT_EQ(StatusForError({"model_selection_invalid", "no model 'x'"}), 400);
  EXPECT_EQ(StatusForError({"model_unknown_table", "models/a.sql: staging.x"}), 422);
  EXPECT_EQ(StatusForError({"query_too_large", "the answer passed 4096 bytes"}), 413);
}

TEST_F(HandlersTest, PartitionListParametersAreValidated) {
  EXPECT_EQ(Json(Answer(Get("/v1/models/daily/partitions")))["model"], "daily");
  EXPECT_EQ(Status(Get("/v1/models/daily/partitions?status=in_progress&from=2026-04-01"
                       "&to=2026-04-30&limit=100000")),
            200);
  EXPECT_EQ(Status(Get("/v1/models/daily/partitions?from=2026&to=2026-04-07T13")), 200);
  for (const char* bad :
       {"/v1/models/daily/partitions?status=missing", "/v1/models/daily/partitions?limit=0",
        "/v1/models/daily/partitions?limit=100001", "/v1/models/daily/partitions?from=2026-4-7",
        "/v1/models/daily/partitions?to=2026-04-07%2013", "/v1/models/daily/partitions?from=x"}) {
    auto r = Answer(Get(bad));
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(ErrorCode(r), "invalid_request") << bad;
  }
  auto missing = Answer(Get("/v1/models/nope/partitions"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(ErrorCode(missing), "model_not_found");
  EXPECT_THAT(backend_.Calls(),
              ElementsAre("ListPartitions daily    1000",
                          "ListPartitions daily in_progress 2026-04-01 2026-04-30 100000",
                          "ListPartitions daily  2026 2026-04-07T13 1000",
                          "ListPartitions nope    1000"))
      << "a bad query never reaches the backend";
}

TEST_F(HandlersTest, RunTriggerTakesModelsAsASpecOrAnArrayOfTerms) {
  EXPECT_EQ(Status(Request("POST", "/v1/runs", R"({"models":"a,b+","full_refresh":true})")), 202);
  EXPECT_EQ(Status(Request("POST", "/v1/runs", R"({"models":["+a","b"]})")), 202);
  EXPECT_EQ(Status(Request("POST", "/v1/runs", R"({"models":""})")), 202) << "every model";
  for (const char* bad : {R"({"models":5})", R"({"models":[1]})", R"({"models":[""]})",
                          R"({"models":["a,b"]})", R"({"models":{"a":1}})"}) {
    auto r = Answer(Request("POST", "/v1/runs", bad));
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(ErrorCode(r), "invalid_request") << bad;
  }
  EXPECT_THAT(backend_.Calls(), ElementsAre("TriggerRun  full models=a,b+",
                                            "TriggerRun  models=+a,b", "TriggerRun "));
}

TEST_F(HandlersTest, PlanTakesAModelsSelection) {
  EXPECT_EQ(Status(Get("/v1/plan?models=a%2Cb%2B&full_refresh=true")), 200);
  EXPECT_THAT(backend_.Calls(), ElementsAre("Plan full models=a,b+"));
}

// ---- the file-arrived webhook ----

class WebhookHandlerTest : public HandlersTest {
 protected:
  void SetUp() override { Make(WithWebhookLanding(Options(), dir_.path())); }

  static ApiRequest Post(const std::string& body, const std::string& signature) {
    auto r = Request("POST", "/v1/webhooks/file-arrived", body);
    r.signature = signature;
    return r;
  }
  ApiRequest Signed(const std::string& body) {
    return Post(body, SignWebhook(kSecret, clock_.Unix(), body));
  }

  testing::TempDir dir_;
};

TEST_F(WebhookHandlerTest, ValidSignatureSchedulesTheTableInTheSlowLane) {
  EXPECT_EQ(Status(Signed(R"({"path":"orders/2026/part-9.parquet"})")), 202);
  EXPECT_EQ(lane_, Lane::kSlow);
  EXPECT_THAT(backend_.Calls(), Contains("FileArrived orders orders/2026/part-9.parquet"));
  EXPECT_EQ(Status(Signed(R"({"table":"orders"})")), 202);
  EXPECT_THAT(backend_.Calls(), Contains("FileArrived orders "));
}

TEST_F(WebhookHandlerTest, AHeaderThatCannotPassIsRefusedBeforeTheBody) {
  for (const char* header : {"", "nonsense", "t=1,v1=00"}) {
    auto head = Post("", header);
    head.content_length = 4000;
    head.body_pending = true;
    auto admission = handlers_->Admit(head);
    ASSERT_TRUE(admission.refusal) << header;
    EXPECT_EQ(admission.refusal->status, 401) << header;
    EXPECT_FALSE(admission.refusal->Header("WWW-Authenticate").empty()) << header;
  }
}

TEST_F(WebhookHandlerTest, ABodyOverItsOwnLimitIs413BeforeItIsRead) {
  auto o = Options();
  o.body_limit = 1 << 20;
  o.webhook_secret = kSecret;
  Make(o);
  auto head = Post("", SignWebhook(kSecret, clock_.Unix(), ""));
  head.content_length = 20'000;
  head.body_pending = true;
  auto admission = handlers_->Admit(head);
  ASSERT_TRUE(admission.refusal);
  EXPECT_EQ(admission.refusal->status, 413);
  EXPECT_EQ(ErrorCode(*admission.refusal), "body_too_large");
  EXPECT_TRUE(admission.close) << "the body is not read past";
  head.content_length = std::nullopt;  // chunked: the limit applies as it arrives
  EXPECT_EQ(handlers_->Admit(head).body_limit, 16u * 1024);
}

TEST_F(WebhookHandlerTest, BadSignaturesAre401AndNothingHappens) {
  const std::string body = R"({"table":"orders"})";
  auto missing = Answer(Post(body, ""));
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(ErrorCode(missing), "signature_missing");
  EXPECT_EQ(missing.Header("WWW-Authenticate"), R"(X-Landfall-Signature realm="landfall-webhook")");
  EXPECT_EQ(ErrorCode(Answer(Post(body, "t=1,v1=zz"))), "signature_expired");
  EXPECT_EQ(ErrorCode(Answer(Post(body, "nonsense"))), "signature_malformed");
  EXPECT_EQ(
      ErrorCode(Answer(Post(body, SignWebhook("wrong-secret-0123456789", clock_.Unix(), body)))),
      "signature_invalid");
  EXPECT_EQ(
      ErrorCode(Answer(Post(R"({"table":"other"})", SignWebhook(kSecret, clock_.Unix(), body)))),
      "signature_invalid");
  auto expired = Answer(Post(body, SignWebhook(kSecret, clock_.Unix() - 301, body)));
  EXPECT_EQ(expired.status, 401);
  EXPECT_EQ(ErrorCode(expired), "signature_expired");
  EXPECT_EQ(ErrorCode(Answer(Post(body, SignWebhook(kSecret, clock_.Unix() + 301, body)))),
            "signature_expired");
  EXPECT_EQ(Calls("FileArrived"), 0);
}

TEST_F(WebhookHandlerTest, AReplayedSignatureIs401) {
  const std::string body = R"({"table":"orders"})";
  const std::string signature = SignWebhook(kSecret, clock_.Unix(), body);
  EXPECT_EQ(Status(Post(body, signature)), 202);
  auto replay = Answer(Post(body, signature));
  EXPECT_EQ(replay.status, 401);
  EXPECT_EQ(ErrorCode(replay), "signature_replayed");
  EXPECT_EQ(Calls("FileArrived"), 1);
}

TEST_F(WebhookHandlerTest, PathsEscapingTheLandingDirAre400) {
  std::filesystem::create_symlink(dir_ / "outside" / "secret.parquet",
                                  dir_ / "landing" / "orders" / "link.parquet");
  const std::vector<std::string> paths = {
      "../outside/secret.parquet", "orders/../../outside/secret.parquet",
      (dir_ / "outside" / "secret.parquet").string(), "orders/link.parquet"};
  for (const auto& path : paths) {
    auto r = Answer(Signed(json{{"path", path}}.dump()));
    EXPECT_EQ(r.status, 400) << path << ": " << r.body;
    EXPECT_EQ(ErrorCode(r), "invalid_request") << path;
  }
  EXPECT_EQ(Status(Signed(R"({"table":".."})")), 400);
  EXPECT_EQ(Status(Signed(R"({"path":"orders/2026/missing.parquet"})")), 404);
  EXPECT_EQ(Calls("FileArrived"), 0);
}

TEST_F(WebhookHandlerTest, BodiesOtherThanOnePathOrTableAre400) {
  for (const char* bad : {R"({"path":"orders/x","table":"orders"})", R"({"file":"orders/x"})",
                          R"({"table":1})", "[]", "not json"}) {
    auto r = Answer(Signed(bad));
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(ErrorCode(r), "invalid_request") << bad;
  }
  EXPECT_EQ(Calls("FileArrived"), 0);
}

TEST_F(HandlersTest, WebhookWithoutASecretIsDisabledBeforeTheBody) {
  Make(Options());
  auto head = Request("POST", "/v1/webhooks/file-arrived");
  head.signature = "t=1,v1=00";
  head.content_length = 4000;
  head.body_pending = true;
  auto admission = handlers_->Admit(head);
  ASSERT_TRUE(admission.refusal);
  EXPECT_EQ(admission.refusal->status, 404);
  EXPECT_EQ(ErrorCode(*admission.refusal), "webhook_disabled");
}

// ---- POST /v1/query ----

TEST_F(HandlersTest, QueryTakesItsFormatFromTheBodyTheQueryStringOrAccept) {
  EXPECT_EQ(Status(Request("POST", "/v1/query", R"({"sql": "SELECT 1"})")), 200);
  EXPECT_EQ(lane_, Lane::kSlow);
  auto csv = Request("POST", "/v1/query", R"({"sql": "SELECT 2"})");
  csv.accept = "text/csv";
  auto answer = Answer(csv);
  EXPECT_EQ(answer.content_type, "text/csv; charset=utf-8");
  EXPECT_EQ(Status(Request("POST", "/v1/query?format=parquet", R"({"sql": "SELECT 3"})")), 200);
  EXPECT_EQ(Status(Request("POST", "/v1/query?format=csv", R"({"sql": "SELECT 4", "format": "json", "limit": 7})")), 200);
  // JSON answers stop at 10,000 rows unless the caller says otherwise.
  EXPECT_THAT(backend_.Calls(), ElementsAre("Query json 10000 SELECT 1", "Query csv all SELECT 2",
                                            "Query parquet all SELECT 3", "Query json 7 SELECT 4"));
}

TEST_F(HandlersTest, QueryRefusalsAndBadBodiesAre400WithAJsonError) {
  auto refused = Answer(Request("POST", "/v1/query", R"({"sql": "DROP TABLE staging.orders"})"));
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(ErrorCode(refused), "query_refused");
  for (const char* body : {"", "[]", R"({"sql": ""})", R"({"sql": 1})", R"({"limit": 5})",
                           R"({"sql": "SELECT 1", "limit": -1})",
                           R"({"sql": "SELECT 1", "format": "xml"})",
                           R"({"sql": "SELECT 1", "extra": true})"}) {
    auto r = Answer(Request("POST", "/v1/query", body));
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(ErrorCode(r), "invalid_request") << body;
  }
  EXPECT_EQ(Calls("Query"), 1);
  EXPECT_THAT(metrics_.Serialize(), HasSubstr(R"(landfall_queries_total{outcome="refused"} 1)"));
}

TEST_F(HandlersTest, QueryNeedsTheBearerToken) {
  auto options = Options();
  options.tokens = {kToken};
  Make(options);
  EXPECT_EQ(Status(Request("POST", "/v1/query", R"({"sql": "SELECT 1"})")), 401);
  EXPECT_EQ(Status(WithToken(Request("POST", "/v1/query", R"({"sql": "SELECT 1"})"))), 200);
}

TEST_F(HandlersTest, QueriesBeyondMaxQueriesAre429UntilOneEnds) {
  auto options = Options();
  options.max_queries = 1;
  Make(options);
  auto request = Request("POST", "/v1/query", R"({"sql": "SELECT 1"})");
  Admission admission = handlers_->Admit(request);
  Handled first = handlers_->Handle(request, admission);
  ASSERT_TRUE(first.call);
  auto busy = Answer(request);
  EXPECT_EQ(busy.status, 429);
  EXPECT_EQ(ErrorCode(busy), "query_busy");
  EXPECT_EQ(first.call().status, 200);
  first = Handled{};  // the call is done and gone: its slot is free
  EXPECT_EQ(Status(request), 200);
}

}  // namespace
}  // namespace landfall::api
