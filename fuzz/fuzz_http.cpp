// Fuzzes the HTTP request path end to end: each input is sent, as raw bytes, to
// a real HttpServer on a loopback port (Beast's parser, the router and its
// %-decoding, query parsing, bearer tokens, webhook signatures and bodies, run
// trigger bodies, landing path checks) with a canned backend, then the write
// side is shut down and the answer read until the server closes.
//
// Secrets cannot be guessed through a hash, so two placeholders are replaced
// before sending: "@TOKEN@" by a valid bearer token, "@SIG@" by a valid
// X-Landfall-Signature for the body (what follows the first blank line).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "api/backend.h"
#include "api/http_server.h"
#include "api/metrics.h"
#include "api/security.h"

namespace {

namespace fs = std::filesystem;
using namespace landfall;
using namespace landfall::api;

constexpr const char* kToken = "fuzz-token-0123456789";
constexpr const char* kSecret = "fuzz-webhook-secret-0123456789";
constexpr int64_t kNow = 1'700'000'000;

class FixedClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(kNow));
  }
};

// Canned answers; errors for names other than "orders" and run ids other than 7.
class CannedBackend final : public ApiBackend {
 public:
  Result<std::string> ListTables() override { return std::string(R"({"tables":[]})"); }
  Result<std::string> GetTable(const std::string& name) override {
    if (name != "orders") return Fail("table_not_found", "no table '" + name + "'");
    return std::string(R"({"name":"orders"})");
  }
  Result<std::string> Plan(const PlanQuery&) override { return std::string(R"({"tables":[]})"); }
  Result<std::string> Info() override { return std::string(R"({"environment":"fuzz"})"); }
  Result<std::string> Cluster() override {
    return std::string(R"({"enabled":false,"members":[]})");
  }
  Result<Reply> RunOutcome(int64_t id) override {
    if (id != 7) return Fail("run_not_found", "no run");
    return Reply{200, R"({"run_id":7,"ok":true})"};
  }
  Result<Reply> TriggerRun(const RunTrigger& trigger) override {
    if (!trigger.tables.empty() && trigger.tables.front() == "busy")
      return Fail("run_conflict", "busy is already running");
    return Reply{202, R"({"run_id":7,"status":"running"})"};
  }
  Result<std::string> ListRuns(int, const std::string&) override {
    return std::string(R"({"runs":[]})");
  }
  Result<std::string> GetRun(int64_t id) override {
    if (id != 7) return Fail("run_not_found", "no run");
    return std::string(R"({"id":7})");
  }
  Result<std::string> ListBatches(const std::string&, const std::string&, int) override {
    return std::string(R"({"batches":[]})");
  }
  Result<Reply> RetryBatch(const std::string& path) override {
    if (path.empty()) return Fail("batch_not_found", "no batch");
    return Reply{202, R"({"scheduled":true})"};
  }
  Result<Reply> DeleteTableState(const std::string& table) override {
    if (table == "down") return Fail("state_unavailable", "PostgreSQL is unreachable", true);
    return Reply{200, R"({"deleted":true})"};
  }
  Result<Reply> FileArrived(const std::string&, const std::string&) override {
    return Reply{202, R"({"scheduled":true})"};
  }
  Result<std::string> ListModels() override { return std::string(R"({"models":[]})"); }
  Result<std::string> GetModel(const std::string& name) override {
    if (name != "daily") return Fail("model_not_found", "no model '" + name + "'");
    return std::string(R"({"name":"daily"})");
  }
  Result<std::string> ModelChecks(const std::string& name) override {
    if (name != "daily") return Fail("model_not_found", "no model '" + name + "'");
    return std::string(R"({"model":"daily","checks":[]})");
  }
  Result<std::string> Dag() override { return std::string(R"({"nodes":[],"edges":[]})"); }
  Result<std::string> ListPartitions(const std::string& model, const std::string&,
                                     const std::string&, const std::string&, int) override {
    if (model != "daily") return Fail("model_not_found", "no state for model '" + model + "'");
    return std::string(R"({"model":"daily","partitions":[]})");
  }
  Result<std::string> Lineage() override { return std::string(R"({"models":[]})"); }
  Result<std::string> ModelLineage(const std::string& name) override {
    if (name != "daily") return Fail("model_not_found", "no model '" + name + "'");
    return std::string(R"({"model":"daily","known":true})");
  }
  Result<Reply> DeleteModelState(const std::string& model) override {
    if (model != "daily") return Fail("model_not_found", "no state for model '" + model + "'");
    return Reply{200, R"({"deleted":true})"};
  }
  Result<warehouse::QueryAnswer> Query(const QueryAsk& ask) override {
    if (ask.sql.find("DROP") != std::string::npos) return Fail("query_refused", "not a SELECT");
    return warehouse::QueryAnswer{R"({"columns":[],"rows":[],"row_count":0,"truncated":false})", 0,
                                  false};
  }
  Readiness Ready() override { return {true, {}}; }
};

struct Harness {
  fs::path landing;
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work =
      boost::asio::make_work_guard(io);
  CannedBackend backend;
  FixedClock clock;
  Metrics metrics{{"fuzz", true}};
  std::unique_ptr<HttpServer> server;
  std::thread thread;
  int port = 0;
};

// A landing dir with a table, a nested batch and symlinks that lead out of it.
fs::path MakeLanding() {
  char pattern[] = "/tmp/landfall-fuzz-http.XXXXXX";
  const char* dir = mkdtemp(pattern);
  if (dir == nullptr) std::abort();
  const fs::path root(dir);
  fs::create_directories(root / "orders" / "date=2026-01-01");
  std::ofstream(root / "orders" / "a.parquet") << "PAR1";
  std::ofstream(root / "orders" / "date=2026-01-01" / "b.parquet") << "PAR1";
  std::ofstream(root / "loose.parquet") << "PAR1";
  fs::create_directory_symlink("/etc", root / "escape");
  fs::create_symlink("/etc/hostname", root / "orders" / "out.parquet");
  fs::create_symlink(root / "orders" / "missing", root / "orders" / "dangling.parquet");
  return root;
}

Harness& Get() {
  static Harness* harness = [] {
    signal(SIGPIPE, SIG_IGN);
    auto* h = new Harness;  // lives for the process: the server thread runs until exit
    h->landing = MakeLanding();
    ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.tokens = {kToken, "second-token-0123456789"};
    options.protect_metrics = true;
    options.webhook_secret = kSecret;
    options.landing_dir = h->landing;
    options.body_limit = 4096;
    options.read_timeout = std::chrono::milliseconds(2000);
    options.idle_timeout = std::chrono::milliseconds(2000);
    options.version = "fuzz";
    // Backend calls run inline on the I/O thread: the answers are canned.
    auto server = HttpServer::Start(
        h->io, options, h->backend, &h->metrics, [](Lane, std::function<void()> task) { task(); },
        h->clock);
    if (!server) {
      std::fprintf(stderr, "fuzz_http: %s\n", server.error().ToString().c_str());
      std::abort();
    }
    h->server = std::move(*server);
    h->port = h->server->port();
    h->thread = std::thread([h] { h->io.run(); });
    h->thread.detach();
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(Get().landing, ec);
    });
    return h;
  }();
  return *harness;
}

void ReplaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Harness& h = Get();
  std::string request(reinterpret_cast<const char*>(data), size);
  ReplaceAll(request, "@TOKEN@", std::string("Bearer ") + kToken);
  if (request.find("@SIG@") != std::string::npos) {
    const auto blank = request.find("\r\n\r\n");
    const std::string body = blank == std::string::npos ? "" : request.substr(blank + 4);
    ReplaceAll(request, "@SIG@", SignWebhook(kSecret, kNow, body));
  }

  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(h.port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return 0;
  }
  // The server may answer (413, 431, 401) and close before reading it all.
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  shutdown(fd, SHUT_WR);
  std::string response;
  char buffer[4096];
  for (;;) {
    const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    response.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  // Whatever came back is HTTP: the server never answers with anything else.
  if (!response.empty() && !response.starts_with("HTTP/")) __builtin_trap();
  return 0;
}
