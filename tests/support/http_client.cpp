#include "tests/support/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace landfall::testing {

namespace {

using SteadyClock = std::chrono::steady_clock;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

int ConnectLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

// Reads what is available within `deadline`: >0 bytes, 0 on EOF, -1 on error or timeout.
ssize_t ReadSome(int fd, char* buf, size_t n, SteadyClock::time_point deadline, bool* timed_out) {
  *timed_out = false;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) {
      *timed_out = true;
      return -1;
    }
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      *timed_out = true;
      return -1;
    }
    ssize_t got = ::recv(fd, buf, n, 0);
    if (got < 0 && errno == EINTR) continue;
    return got;
  }
}

// Parses a complete response at the start of `data`; returns bytes used, 0 if incomplete.
size_t ParseResponse(const std::string& data, bool eof, HttpResult& out) {
  const auto end = data.find("\r\n\r\n");
  if (end == std::string::npos) return 0;
  out.headers.clear();
  size_t line_end = data.find("\r\n");
  const std::string status_line = data.substr(0, line_end);
  // "HTTP/1.1 200 OK"
  const auto sp = status_line.find(' ');
  out.status = sp == std::string::npos ? 0 : std::atoi(status_line.c_str() + sp + 1);
  size_t pos = line_end + 2;
  while (pos < end) {
    size_t e = data.find("\r\n", pos);
    const std::string line = data.substr(pos, e - pos);
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      out.headers[Lower(line.substr(0, colon))] = value;
    }
    pos = e + 2;
  }
  const size_t body_start = end + 4;
  if ((out.status >= 100 && out.status < 200) || out.status == 204 || out.status == 304) {
    out.body.clear();  // never a body
    return body_start;
  }
  auto cl = out.headers.find("content-length");
  if (cl != out.headers.end()) {
    const size_t len = std::stoul(cl->second);
    if (data.size() < body_start + len) return 0;
    out.body = data.substr(body_start, len);
    return body_start + len;
  }
  if (!eof) return 0;  // no length: the body runs to EOF
  out.body = data.substr(body_start);
  return data.size();
}

}  // namespace

std::string HttpResult::Header(const std::string& name) const {
  auto it = headers.find(Lower(name));
  return it == headers.end() ? "" : it->second;
}

RawConnection::RawConnection(int port) : fd_(ConnectLoopback(port)) {}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawConnection::Send(const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

HttpResult RawConnection::ReadResponse(std::chrono::milliseconds timeout) {
  HttpResult out;
  const auto deadline = SteadyClock::now() + timeout;
  char buf[65536];
  bool eof = false;
  for (;;) {
    if (size_t used = ParseResponse(pending_, eof, out); used > 0) {
      pending_.erase(0, used);
      return out;
    }
    if (eof) {
      out = HttpResult{};
      out.error = pending_.empty() ? "connection closed without a response" : "truncated response";
      return out;
    }
    bool timed_out = false;
    ssize_t n = ReadSome(fd_, buf, sizeof(buf), deadline, &timed_out);
    if (timed_out) {
      out = HttpResult{};
      out.error = "timed out waiting for a response";
      return out;
    }
    if (n < 0) {
      // A reset after a complete response still counts as that response.
      eof = true;
      continue;
    }
    if (n == 0) {
      eof = true;
      continue;
    }
    pending_.append(buf, static_cast<size_t>(n));
  }
}

bool RawConnection::WaitClosed(std::chrono::milliseconds timeout, std::string* received) {
  const auto deadline = SteadyClock::now() + timeout;
  char buf[4096];
  for (;;) {
    bool timed_out = false;
    ssize_t n = ReadSome(fd_, buf, sizeof(buf), deadline, &timed_out);
    if (timed_out) return false;
    if (n <= 0) return true;
    if (received) received->append(buf, static_cast<size_t>(n));
  }
}

HttpResult HttpRequest(int port, const std::string& method, const std::string& target,
                       const std::vector<std::string>& headers, const std::string& body,
                       std::chrono::milliseconds timeout) {
  RawConnection conn(port);
  if (!conn.ok()) {
    HttpResult out;
    out.error = "cannot connect to 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno);
    return out;
  }
  std::string request = method + " " + target +
                        " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                        "\r\nConnection: close\r\n";
  for (const auto& h : headers) request += h + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n" + body;
  // A server may answer (413, 401) and close before reading all of a body.
  conn.Send(request);
  return conn.ReadResponse(timeout);
}

HttpResult HttpGet(int port, const std::string& target, const std::string& token) {
  std::vector<std::string> headers;
  if (!token.empty()) headers.push_back("Authorization: Bearer " + token);
  return HttpRequest(port, "GET", target, headers);
}

HttpResult HttpPost(int port, const std::string& target, const std::string& body,
                    const std::string& token, const std::vector<std::string>& headers) {
  std::vector<std::string> all = headers;
  if (!token.empty()) all.push_back("Authorization: Bearer " + token);
  if (!body.empty()) all.push_back("Content-Type: application/json");
  return HttpRequest(port, "POST", target, all, body);
}

HttpResult HttpDelete(int port, const std::string& target, const std::string& token) {
  std::vector<std::string> headers;
  if (!token.empty()) headers.push_back("Authorization: Bearer " + token);
  return HttpRequest(port, "DELETE", target, headers);
}

std::string UrlEncode(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
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

}  // namespace landfall::testing
