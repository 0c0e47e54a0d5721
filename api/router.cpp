#include "api/router.h"

#include <algorithm>

namespace landfall::api {

namespace {

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  for (;;) {
    const auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsParam(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

std::optional<std::string> PercentDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      const int hi = HexValue(in[i + 1]);
      const int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (plus_is_space && in[i] == '+') {
      out += ' ';
    } else {
      out += in[i];
    }
  }
  return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>> ParseQueryItems(
    std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (item.empty()) continue;
    const auto eq = item.find('=');
    auto key = PercentDecode(item.substr(0, eq), true);
    auto value = PercentDecode(
        eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1), true);
    if (!key || !value) return std::nullopt;
    out.emplace_back(std::move(*key), std::move(*value));
  }
  return out;
}

std::optional<std::map<std::string, std::string>> ParseQuery(std::string_view query) {
  auto items = ParseQueryItems(query);
  if (!items) return std::nullopt;
  std::map<std::string, std::string> out;
  for (auto& [key, value] : *items) out[std::move(key)] = std::move(value);
  return out;
}

void Router::Add(std::string method, std::string pattern, int id) {
  routes_.push_back({std::move(method), std::move(pattern), id});
}

RouteLookup Router::Find(std::string_view method, std::string_view path) const {
  RouteLookup out;
  const auto segments = Segments(path);
  // Best match per method: the fewest {params} wins, so /v1/runs/x never hides a literal.
  int best_params = -1;
  for (const auto& route : routes_) {
    const auto pattern = Segments(route.pattern);
    if (pattern.size() != segments.size()) continue;
    std::map<std::string, std::string> params;
    bool match = true;
    for (size_t i = 0; i < pattern.size() && match; ++i) {
      if (IsParam(pattern[i])) {
        if (segments[i].empty()) {
          match = false;
          break;
        }
        auto decoded = PercentDecode(segments[i], false);
        if (!decoded) {
          out.bad_encoding = true;
          return out;
        }
        params[std::string(pattern[i].substr(1, pattern[i].size() - 2))] = std::move(*decoded);
      } else {
        match = pattern[i] == segments[i];
      }
    }
    if (!match) continue;
    if (route.method != method) {
      if (std::find(out.allowed.begin(), out.allowed.end(), route.method) == out.allowed.end()) {
        out.allowed.push_back(route.method);
      }
      continue;
    }
    const int n = static_cast<int>(params.size());
    if (best_params < 0 || n < best_params) {
      best_params = n;
      out.route = &route;
      out.params = std::move(params);
    }
  }
  if (out.route) out.allowed.clear();
  return out;
}

}  // namespace landfall::api
