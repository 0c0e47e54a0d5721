// A small synchronous HTTP/1.1 client: how the CLI asks a running daemon.
// Boost.Beast stays in http_client.cpp; this header includes none of it.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "lib/common/result.h"

namespace landfall::daemon {

struct HttpReply {
  int status = 0;
  std::string body;
};

struct HttpCall {
  std::string host;  // an address or a name; "0.0.0.0" and "::" mean this host's loopback
  int port = 0;
  std::string method = "GET";
  std::string target;        // "/v1/plan?table=orders"
  std::string body;          // sent as application/json when not empty
  std::string bearer_token;  // sent as "Authorization: Bearer ..." when not empty
  std::vector<std::pair<std::string, std::string>> headers;  // more, as they are
  // For the whole exchange: connect, send, and read the whole reply.
  std::chrono::milliseconds timeout{30'000};
};

// Sends one request on a fresh connection and reads the whole reply. Errors:
// "http_unreachable" when nothing accepts the connection (refused, no route,
// or the connect timed out): no daemon there; "http_failed" for anything that
// goes wrong after connecting (reset, timeout, a reply that is not HTTP).
// Any HTTP status is a success here: the caller reads it.
Result<HttpReply> Call(const HttpCall& call);

}  // namespace landfall::daemon
