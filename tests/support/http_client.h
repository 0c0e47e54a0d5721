// A tiny blocking HTTP/1.1 client for tests, over plain POSIX sockets, so
// tests can also send what no well-behaved client would (half a header, an
// oversized body, nothing at all). Loopback only; every call has a timeout.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace landfall::testing {

struct HttpResult {
  int status = 0;  // 0: no response (connection failed, closed or timed out)
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
  std::string error;  // why status is 0
  std::string Header(const std::string& name) const;
};

// Sends one request on a fresh connection ("Connection: close") and reads the
// whole response. `headers` are "Name: value" lines.
HttpResult HttpRequest(int port, const std::string& method, const std::string& target,
                       const std::vector<std::string>& headers = {}, const std::string& body = "",
                       std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Shorthands with an optional bearer token.
HttpResult HttpGet(int port, const std::string& target, const std::string& token = "");
HttpResult HttpPost(int port, const std::string& target, const std::string& body,
                    const std::string& token = "", const std::vector<std::string>& headers = {});
HttpResult HttpDelete(int port, const std::string& target, const std::string& token = "");

// Percent-encodes everything but unreserved characters (for path segments).
std::string UrlEncode(const std::string& text);

// A raw connection for misbehaving-client tests.
class RawConnection {
 public:
  explicit RawConnection(int port);  // connects to 127.0.0.1:port; ok() says whether it did
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  bool ok() const { return fd_ >= 0; }
  // Writes all of `bytes`; false when the peer has closed or reset.
  bool Send(const std::string& bytes);
  // Reads one response (headers and Content-Length body), waiting up to `timeout`.
  HttpResult ReadResponse(std::chrono::milliseconds timeout);
  // True when the server closes the connection (EOF or reset) within `timeout`;
  // bytes that arrive first are appended to *received.
  bool WaitClosed(std::chrono::milliseconds timeout, std::string* received = nullptr);

 private:
  int fd_ = -1;
  std::string pending_;  // read but not yet consumed
};

}  // namespace landfall::testing
