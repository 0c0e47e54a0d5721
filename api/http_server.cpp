#include "api/http_server.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

#include "api/handlers.h"
#include "api/metrics.h"

namespace landfall::api {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;
using SteadyClock = std::chrono::steady_clock;

namespace {

// What the handlers look at of a request whose header has been read.
ApiRequest HeadOf(const http::request_parser<http::string_body>& parser) {
  const HttpRequest& req = parser.get();
  ApiRequest head;
  head.method = std::string(req.method_string());
  head.target = std::string(req.target());
  if (auto it = req.find(http::field::authorization); it != req.end()) {
    head.authorization = std::string(it->value());
  }
  if (auto it = req.find(http::field::accept); it != req.end()) {
    head.accept = std::string(it->value());
  }
  if (auto it = req.find("X-Landfall-Signature"); it != req.end()) {
    head.signature = std::string(it->value());
  }
  if (auto length = parser.content_length()) head.content_length = *length;
  head.body_pending = !parser.is_done();
  return head;
}

HttpResponse ToHttp(ApiResponse in) {
  HttpResponse res{static_cast<http::status>(in.status), 11};
  res.set(http::field::content_type, in.content_type);
  for (const auto& [name, value] : in.headers) res.set(name, value);
  res.body() = std::move(in.body);
  return res;
}

}  // namespace

class Session;

// What the listener and every session share; kept alive by them.
struct ServerState : std::enable_shared_from_this<ServerState> {
  ServerState(net::io_context& io_context, ServerOptions opts, ApiBackend& backend,
              Metrics* metrics_ptr, Executor exec, const Clock& clock)
      : io(io_context),
        options(std::move(opts)),
        metrics(metrics_ptr),
        executor(std::move(exec)),
        handlers(options, backend, metrics_ptr, clock),
        strand(net::make_strand(io_context)),
        acceptor(strand) {}

  void DoAccept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  void StopOnStrand();

  net::io_context& io;
  const ServerOptions options;
  Metrics* const metrics;
  const Executor executor;
  Handlers handlers;                                   // thread-safe
  net::strand<net::io_context::executor_type> strand;  // the acceptor's and sessions_'
  tcp::acceptor acceptor;
  int port = 0;
  std::atomic<int> connections{0};
  std::atomic<bool> stopping{false};
  std::vector<std::weak_ptr<Session>> sessions;  // on `strand` only
};

// One connection: reads a request, answers it, and again while keep-alive.
// What to answer is the handlers' business (api/handlers.h); the session
// reads, writes, times out and closes.
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
      SendError(503, "too_many_connections", "the server is at its connection limit; retry shortly",
                true);
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
      return SendError(431, "header_too_large", "request headers exceed 16 KiB", true);
    }
    if (ec) return SendError(400, "bad_request", "malformed HTTP request: " + ec.message(), true);

    // Refusals come before the body is read: strangers cannot make us buffer one.
    request_ = HeadOf(*parser_);
    admission_ = server_->handlers.Admit(request_);
    path_ = admission_.path;
    route_label_ = admission_.route_label;
    if (admission_.refusal) {
      return Send(ToHttp(std::move(*admission_.refusal)),
                  admission_.close || request_.body_pending);
    }
    body_limit_ = admission_.body_limit;
    parser_->body_limit(body_limit_);  // for a chunked body

    if (!request_.body_pending) return Handle();
    const auto& req = parser_->get();
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
    if (ec) return SendError(400, "bad_request", "malformed request body: " + ec.message(), true);
    Handle();
  }

  // Answers the admitted request whose body has been read: at once, or after
  // its backend call has run on the executor, in the route's lane.
  void Handle() {
    request_.body = std::move(parser_->get().body());
    Handled handled = server_->handlers.Handle(request_, admission_);
    if (!handled.call) return Send(ToHttp(std::move(handled.response)));
    server_->executor(handled.lane, [self = shared_from_this(), call = std::move(handled.call)] {
      ApiResponse res = call();
      net::post(self->stream_.get_executor(),
                [self, res = std::move(res)]() mutable { self->Send(ToHttp(std::move(res))); });
    });
  }

  void SendError(int status, std::string_view code, std::string_view message, bool close) {
    Send(ToHttp(ErrorResponse(status, code, message)), close);
  }

  void SendBodyTooLarge() { Send(ToHttp(BodyTooLarge(body_limit_)), true); }

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
  ApiRequest request_;
  Admission admission_;
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

std::vector<std::pair<std::string, std::string>> HttpServer::Routes() { return RoutePatterns(); }

}  // namespace landfall::api
