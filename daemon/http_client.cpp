#include "daemon/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

namespace landfall::daemon {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

}  // namespace

Result<HttpReply> Call(const HttpCall& call) {
  // Async operations on a private io_context: beast::tcp_stream's timeouts
  // apply to async operations only.
  asio::io_context io;
  std::string host = call.host;
  if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
  if (host == "::") host = "::1";
  const std::string where = host + ":" + std::to_string(call.port);

  beast::error_code ec;
  tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(host, std::to_string(call.port), ec);
  if (ec) return Fail("http_unreachable", "cannot resolve " + where + ": " + ec.message());

  beast::tcp_stream stream(io);
  stream.expires_after(call.timeout);
  std::optional<beast::error_code> connected;
  stream.async_connect(endpoints,
                       [&](beast::error_code e, const tcp::endpoint&) { connected = e; });
  io.run();
  if (!connected || *connected) {
    return Fail("http_unreachable",
                "nothing answers at " + where + ": " +
                    (connected ? connected->message() : std::string("no answer")));
  }

  http::request<http::string_body> req{http::string_to_verb(call.method), call.target, 11};
  req.set(http::field::host, where);
  req.set(http::field::user_agent, "landfall-cli");
  req.set(http::field::connection, "close");
  if (!call.bearer_token.empty()) {
    req.set(http::field::authorization, "Bearer " + call.bearer_token);
  }
  for (const auto& [name, value] : call.headers) req.set(name, value);
  if (!call.body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = call.body;
  }
  req.prepare_payload();

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(256ull << 20);  // a plan of many thousand tables is large
  std::optional<beast::error_code> done;
  http::async_write(stream, req, [&](beast::error_code e, size_t) {
    if (e) {
      done = e;
      return;
    }
    http::async_read(stream, buffer, parser, [&](beast::error_code r, size_t) { done = r; });
  });
  io.restart();
  io.run();
  if (!done || *done) {
    return Fail("http_failed", "HTTP " + call.method + " " + call.target + " at " + where + ": " +
                                   (done ? done->message() : std::string("no reply")));
  }
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  return HttpReply{static_cast<int>(parser.get().result_int()), parser.get().body()};
}

}  // namespace landfall::daemon
