// The HTTP server against a fake backend, over a socket: what the session
// does with bytes (limits, timeouts, keep-alive, 100-continue, the connection
// cap, refusing before a body is read), that answers reach the client with
// their headers, metrics per route and where backend calls run. What each
// route answers is in handlers_test.cpp; the endpoints against the real
// daemon in daemon_api_test.cpp.
#include <gmock/gmock.h>

#include <nlohmann/json.hpp>

#include "api/security.h"
#include "tests/api/server_fixture.h"
#include "tests/support/testing.h"

namespace landfall::api {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using testing::HttpDelete;
using testing::HttpGet;
using testing::HttpPost;
using testing::HttpRequest;
using testing::RawConnection;
using json = nlohmann::json;

json Json(const testing::HttpResult& r) {
  json j = json::parse(r.body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.body;
  return j;
}

std::string ErrorCode(const testing::HttpResult& r) {
  auto j = Json(r);
  EXPECT_TRUE(j.contains("error") && j["error"].contains("message")) << r.body;
  return j.value("/error/code"_json_pointer, std::string());
}

TEST_F(ServerTest, HealthzAnswersJsonWithTheVersion) {
  Start(Options());
  auto r = HttpGet(port_, "/healthz");
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.Header("Content-Type"), "application/json");
  EXPECT_EQ(Json(r)["status"], "ok");
  EXPECT_EQ(Json(r)["version"], "9.9.9");
  EXPECT_EQ(r.Header("Server"), "landfall/9.9.9");
}

TEST_F(ServerTest, WrongMethodIs405WithAllow) {
  Start(Options());
  auto r = HttpDelete(port_, "/v1/runs");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(ErrorCode(r), "method_not_allowed");
  EXPECT_EQ(r.Header("Allow"), "POST, GET");
  EXPECT_EQ(HttpRequest(port_, "PUT", "/v1/tables/orders").Header("Allow"), "GET");
}

TEST_F(ServerTest, BackendCallsNeverRunOnTheIoThread) {
  Start(Options());
  for (const char* path : {"/v1/tables", "/v1/plan", "/readyz", "/v1/runs"}) {
    EXPECT_EQ(HttpGet(port_, path).status, 200) << path;
  }
  const auto threads = backend_.Threads();
  ASSERT_EQ(threads.size(), 4u);
  for (const auto& id : threads) EXPECT_NE(id, io_thread_.load());
}

TEST_F(ServerTest, HealthAndReadsAnswerWhileSlowCallsHoldTheirThreads) {
  Start(Options());
  backend_.HoldPlans();
  // More slow calls than the slow lane has threads, each held in the backend.
  std::vector<std::thread> slow;
  std::vector<int> slow_status(4, 0);
  for (size_t i = 0; i < slow_status.size(); ++i) {
    slow.emplace_back([&, i] { slow_status[i] = HttpGet(port_, "/v1/plan").status; });
  }
  ASSERT_TRUE(backend_.WaitForPlansInFlight(2));
  EXPECT_EQ(HttpGet(port_, "/readyz").status, 200);
  EXPECT_EQ(HttpGet(port_, "/healthz").status, 200);
  EXPECT_EQ(HttpGet(port_, "/metrics").status, 200);
  EXPECT_EQ(HttpGet(port_, "/v1/tables").status, 200);
  EXPECT_EQ(HttpGet(port_, "/v1/runs").status, 200);
  backend_.ReleasePlans();
  for (auto& t : slow) t.join();
  for (int status : slow_status) EXPECT_EQ(status, 200);
}

// The refusal is decided by Admit() (handlers_test.cpp); here: its headers
// reach the client and a refused request never reaches the backend.
TEST_F(ServerTest, WithTokensV1NeedsABearerToken) {
  auto o = Options();
  o.tokens = {kToken};
  Start(o);
  auto missing = HttpGet(port_, "/v1/tables");
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(ErrorCode(missing), "unauthorized");
  EXPECT_EQ(missing.Header("WWW-Authenticate"), R"(Bearer realm="landfall")");
  EXPECT_EQ(HttpPost(port_, "/v1/runs", "{}").status, 401);
  EXPECT_EQ(HttpGet(port_, "/v1/tables", kToken).status, 200);
  EXPECT_THAT(backend_.Calls(), ::testing::ElementsAre("ListTables"))
      << "refused requests never reach the backend";
}

TEST_F(ServerTest, UnauthenticatedBodiesAreNotRead) {
  auto o = Options();
  o.tokens = {kToken};
  Start(o);
  RawConnection conn(port_);
  ASSERT_TRUE(conn.ok());
  // Announces a body it never sends: the 401 comes at once, not after a timeout.
  conn.Send("POST /v1/runs HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n");
  const auto start = std::chrono::steady_clock::now();
  auto r = conn.ReadResponse(std::chrono::seconds(5));
  EXPECT_EQ(r.status, 401);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
  EXPECT_EQ(r.Header("Connection"), "close");
}

TEST_F(ServerTest, OversizedBodyIs413) {
  Start(Options());  // body_limit 4096
  auto declared = HttpPost(port_, "/v1/runs", std::string(5000, ' '));
  EXPECT_EQ(declared.status, 413) << declared.error;
  EXPECT_EQ(ErrorCode(declared), "body_too_large");
  // Chunked: the limit applies as the body arrives.
  RawConnection conn(port_);
  std::string chunk(3000, ' ');
  conn.Send("POST /v1/runs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  conn.Send("bb8\r\n" + chunk + "\r\nbb8\r\n" + chunk + "\r\n0\r\n\r\n");
  auto chunked = conn.ReadResponse(std::chrono::seconds(5));
  EXPECT_EQ(chunked.status, 413) << chunked.error;
  EXPECT_TRUE(conn.WaitClosed(std::chrono::seconds(5)));
  EXPECT_EQ(HttpPost(port_, "/v1/runs", std::string(4000, ' ')).status, 400)
      << "under the limit: parsed";
}

TEST_F(ServerTest, SlowHeaderIsCutOffAfterTheReadTimeout) {
  Start(Options());  // read_timeout 1 s
  RawConnection conn(port_);
  conn.Send("GET /v1/tables HTTP/1.1\r\nHost: x\r\n");  // never finishes the header
  std::string received;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(conn.WaitClosed(std::chrono::seconds(5), &received));
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, std::chrono::milliseconds(900));
  EXPECT_LT(waited, std::chrono::milliseconds(3000));
  EXPECT_EQ(received, "") << "the connection is closed";
}

TEST_F(ServerTest, SlowBodyIsCutOffAfterTheReadTimeout) {
  Start(Options());
  RawConnection conn(port_);
  conn.Send("POST /v1/runs HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{\"tables\":");
  std::string received;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(conn.WaitClosed(std::chrono::seconds(5), &received));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(3000));
  EXPECT_EQ(received, "");
  EXPECT_TRUE(backend_.Calls().empty());
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsThenIdleConnectionsClose) {
  Start(Options());  // idle_timeout 1 s
  RawConnection conn(port_);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(conn.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto r = conn.ReadResponse(std::chrono::seconds(5));
    EXPECT_EQ(r.status, 200) << r.error;
  }
  const auto start = std::chrono::steady_clock::now();
  std::string received;
  EXPECT_TRUE(conn.WaitClosed(std::chrono::seconds(5), &received));
  EXPECT_EQ(received, "") << "an idle connection is closed without a word";
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900));
}

TEST_F(ServerTest, Expect100ContinueIsAnswered) {
  Start(Options());
  RawConnection conn(port_);
  const std::string body = R"({"tables":["orders"]})";
  conn.Send("POST /v1/runs HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\n\r\n");
  auto cont = conn.ReadResponse(std::chrono::seconds(2));
  EXPECT_EQ(cont.status, 100);
  conn.Send(body);
  EXPECT_EQ(conn.ReadResponse(std::chrono::seconds(5)).status, 202);
}

TEST_F(ServerTest, ConnectionsAboveTheCapGet503) {
  auto o = Options();
  o.max_connections = 3;
  o.idle_timeout = std::chrono::seconds(10);
  o.read_timeout = std::chrono::seconds(10);
  Start(o);
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<RawConnection>(port_));
    held.back()->Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_EQ(held.back()->ReadResponse(std::chrono::seconds(5)).status, 200);
  }
  auto refused = HttpGet(port_, "/healthz");
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(ErrorCode(refused), "too_many_connections");
  held.clear();
  // Slots free up as connections close.
  bool served = false;
  for (int i = 0; i < 50 && !served; ++i) {
    served = HttpGet(port_, "/healthz").status == 200;
    if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(served);
}

TEST_F(ServerTest, MalformedHttpIs400AndCloses) {
  Start(Options());
  RawConnection conn(port_);
  conn.Send("THIS IS NOT HTTP\r\n\r\n");
  auto r = conn.ReadResponse(std::chrono::seconds(5));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrorCode(r), "bad_request");
  EXPECT_TRUE(conn.WaitClosed(std::chrono::seconds(5)));
}

TEST_F(ServerTest, HttpRequestsAreCountedByRoutePattern) {
  Start(Options());
  HttpGet(port_, "/v1/tables/orders");
  HttpGet(port_, "/v1/tables/nope");
  HttpGet(port_, "/nowhere");
  auto text = HttpGet(port_, "/metrics").body;
  EXPECT_THAT(
      text, HasSubstr(R"(landfall_http_requests_total{route="/v1/tables/{name}",status="200"} 1)"));
  EXPECT_THAT(
      text, HasSubstr(R"(landfall_http_requests_total{route="/v1/tables/{name}",status="404"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(landfall_http_requests_total{route="unmatched",status="404"} 1)"));
  EXPECT_THAT(
      text,
      HasSubstr(R"(landfall_http_request_duration_seconds_count{route="/v1/tables/{name}"} 2)"));
  EXPECT_THAT(text, HasSubstr(R"(landfall_build_info{version="9.9.9"} 1)"));
}

// ---- webhooks ----

class WebhookTest : public ServerTest {
 protected:
  void SetUp() override { Start(WithWebhookLanding(Options(), dir_.path())); }

  testing::HttpResult Post(const std::string& body, const std::string& signature) {
    std::vector<std::string> headers;
    if (!signature.empty()) headers.push_back("X-Landfall-Signature: " + signature);
    return HttpPost(port_, "/v1/webhooks/file-arrived", body, "", headers);
  }
  testing::HttpResult Signed(const std::string& body) {
    return Post(body, SignWebhook(kSecret, clock_.Unix(), body));
  }
  int FileArrivedCalls() {
    auto calls = backend_.Calls();
    return static_cast<int>(std::count_if(
        calls.begin(), calls.end(), [](const auto& c) { return c.starts_with("FileArrived"); }));
  }

  testing::TempDir dir_;
};

TEST_F(WebhookTest, ValidSignatureSchedulesTheTable) {
  auto r = Signed(R"({"path":"orders/2026/part-9.parquet"})");
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_THAT(backend_.Calls(), Contains("FileArrived orders orders/2026/part-9.parquet"));
  EXPECT_EQ(Signed(R"({"table":"orders"})").status, 202);
  EXPECT_THAT(backend_.Calls(), Contains("FileArrived orders "));
}

TEST_F(ServerTest, DisabledWebhookAnswersBeforeReadingTheBody) {
  Start(Options());
  RawConnection conn(port_);
  ASSERT_TRUE(conn.ok());
  // Announces a body it never sends: the answer must not wait for it.
  conn.Send("POST /v1/webhooks/file-arrived HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n"
            "X-Landfall-Signature: t=1,v1=00\r\n\r\n");
  auto r = conn.ReadResponse(std::chrono::seconds(5));
  EXPECT_EQ(r.status, 404) << r.error;
  EXPECT_EQ(ErrorCode(r), "webhook_disabled");
  EXPECT_EQ(r.Header("Connection"), "close");
}

TEST_F(WebhookTest, WebhookWithoutAPassableSignatureIsRefusedBeforeItsBody) {
  for (const std::string header :
       {"", "X-Landfall-Signature: nonsense\r\n", "X-Landfall-Signature: t=1,v1=00\r\n"}) {
    RawConnection conn(port_);
    ASSERT_TRUE(conn.ok());
    conn.Send("POST /v1/webhooks/file-arrived HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n" +
              header + "\r\n");
    auto r = conn.ReadResponse(std::chrono::seconds(5));
    EXPECT_EQ(r.status, 401) << header << r.error;
    EXPECT_EQ(r.Header("Connection"), "close") << header;
  }
  EXPECT_EQ(FileArrivedCalls(), 0);
}

TEST_F(ServerTest, WebhookBodyHasALimitOfItsOwn) {
  auto o = Options();
  o.body_limit = 1 << 20;
  o.webhook_secret = kSecret;
  Start(o);
  // Well under the server's body limit, over the webhook's 16 KiB.
  const std::string body = R"({"path":")" + std::string(20'000, 'a') + R"("})";
  auto r = HttpPost(port_, "/v1/webhooks/file-arrived", body, "",
                    {"X-Landfall-Signature: " + SignWebhook(kSecret, clock_.Unix(), body)});
  EXPECT_EQ(r.status, 413) << r.error;
  EXPECT_EQ(ErrorCode(r), "body_too_large");
}

}  // namespace
}  // namespace landfall::api
