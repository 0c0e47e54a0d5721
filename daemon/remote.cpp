#include "daemon/remote.h"

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

namespace landfall::daemon {

namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

// The daemon's {"error": {"code", "message"}} as an Error.
Error ErrorOf(const HttpReply& reply) {
  json j = json::parse(reply.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    return Error{j["error"].value("code", "daemon_error"), j["error"].value("message", reply.body),
                 reply.status == 503};
  }
  return Error{"daemon_error", "HTTP " + std::to_string(reply.status) + ": " + reply.body,
               reply.status == 503};
}

}  // namespace

std::string RunRequestBody(const api::RunTrigger& trigger) {
  json body = {{"tables", trigger.tables}, {"full_refresh", trigger.full_refresh}};
  if (!trigger.models.empty()) body["models"] = trigger.models;
  const api::PartitionFlags& p = trigger.partitions;
  json partitions = json::object();
  if (!p.partition.empty()) partitions["partition"] = p.partition;
  if (!p.from.empty()) partitions["from"] = p.from;
  if (!p.to.empty()) partitions["to"] = p.to;
  if (p.latest) partitions["latest"] = true;
  if (p.missing) partitions["missing"] = true;
  if (p.lookback >= 0) partitions["lookback"] = p.lookback;
  if (!partitions.empty()) body["partitions"] = std::move(partitions);
  return body.dump();
}

std::string UrlEncode(const std::string& text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

DaemonSearch FindDaemon(const config::Config& config) {
  DaemonSearch search;
  const auto& api = config.api;
  if (!api.enabled) {
    search.why_not = "the config disables its API (api.enabled: false)";
    return search;
  }
  if (api.listen_port == 0) {
    search.why_not = "api.listen asks for any free port, so the CLI cannot know the daemon's";
    return search;
  }
  Daemon daemon;
  daemon.endpoint.host = api.listen_host;
  daemon.endpoint.port = api.listen_port;
  daemon.where = api.listen;
  if (!api.tokens.empty()) {
    if (const char* token = std::getenv("LANDFALL_API_TOKEN")) daemon.endpoint.bearer_token = token;
  }
  HttpCall call = daemon.endpoint;
  call.target = "/v1/info";
  call.timeout = milliseconds(3000);
  auto reply = Call(call);
  if (!reply) {
    search.why_not = reply.error().message;
    return search;
  }
  if (reply->status == 401) {
    search.why_not = "the daemon at " + daemon.where + " wants a bearer token: " +
                     (daemon.endpoint.bearer_token.empty()
                          ? "set LANDFALL_API_TOKEN to one of api.tokens"
                          : "LANDFALL_API_TOKEN is not one of its api.tokens");
    return search;
  }
  json info = json::parse(reply->body, nullptr, false);
  if (reply->status != 200 || !info.is_object()) {
    search.why_not = "what answers at " + daemon.where + " is not a landfall daemon (GET /v1/info: " +
                     std::to_string(reply->status) + ")";
    return search;
  }
  const std::string environment = info.value("environment", "");
  const std::string warehouse = info.value("warehouse", "");
  if (environment != config.environment || warehouse != config.warehouse.Describe()) {
    search.why_not = "the daemon at " + daemon.where + " serves environment '" + environment +
                     "' with warehouse " + warehouse + ", not this config's ('" +
                     config.environment + "', " + config.warehouse.Describe() + ")";
    return search;
  }
  daemon.pid = info.value("pid", 0LL);
  search.daemon = std::move(daemon);
  return search;
}

Result<HttpReply> Ask(const Daemon& daemon, const std::string& method, const std::string& target,
                      const std::string& body, bool retry_conflicts,
                      std::chrono::seconds patience) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  milliseconds delay(100);
  for (;;) {
    HttpCall call = daemon.endpoint;
    call.method = method;
    call.target = target;
    call.body = body;
    // A plan of thousands of tables, or a scan, may take a while.
    call.timeout = std::chrono::duration_cast<milliseconds>(patience);
    auto reply = Call(call);
    if (!reply) {
      return Fail("daemon_unreachable",
                  "the daemon at " + daemon.where + " stopped answering: " + reply.error().message,
                  true);
    }
    if (reply->status >= 200 && reply->status < 300) return reply;
    const bool again = reply->status == 503 || (retry_conflicts && reply->status == 409);
    if (!again || std::chrono::steady_clock::now() + delay > deadline) return Fail(ErrorOf(*reply));
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, milliseconds(1000));
  }
}

std::optional<std::string> WarehouseLockedMessage(const Error& error,
                                                  const config::Config& config,
                                                  const std::string& why_not) {
  // DuckDB says: Could not set lock on file "...": Conflicting lock is held in
  // /usr/local/bin/landfall (PID 1234) by user landfall.
  static const std::regex kHolder(R"(Conflicting lock is held in (.*?) \(PID (\d+)\))");
  std::smatch m;
  if (error.message.find("Could not set lock") == std::string::npos &&
      error.message.find("Conflicting lock") == std::string::npos) {
    return std::nullopt;
  }
  std::string holder = "another process";
  if (std::regex_search(error.message, m, kHolder)) {
    holder = std::string(m[1]) + " (PID " + std::string(m[2]) + ")";
  }
  return "the warehouse " + config.warehouse.Describe() + " is in use by " + holder +
         ", probably `landfall serve`, and its API could not be asked instead (" + why_not +
         "). Point api.listen in this config at the running daemon (with LANDFALL_API_TOKEN set "
         "when api.tokens is), or stop that process (e.g. `systemctl stop landfall`), then try "
         "again";
}

}  // namespace landfall::daemon
