// Routes an HTTP method and path to a route, with {param} path segments.
// Internal to the api library; no Beast here, so it is unit-testable.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace landfall::api {

struct Route {
  std::string method;   // "GET", "POST", "DELETE"
  std::string pattern;  // "/v1/tables/{name}"
  int id = 0;           // the caller's handler number
};

struct RouteLookup {
  const Route* route = nullptr;               // null: no route for this method and path
  std::map<std::string, std::string> params;  // percent-decoded
  // When `route` is null: the methods the path does allow (empty: unknown path, 404).
  std::vector<std::string> allowed;
  bool bad_encoding = false;  // a path segment had an invalid %-escape
};

class Router {
 public:
  void Add(std::string method, std::string pattern, int id);
  // Matches the path (no query string). Literal segments win over {params}.
  RouteLookup Find(std::string_view method, std::string_view path) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

// Decodes %XX escapes (and '+' as a space when `plus_is_space`, for query
// strings); nullopt for a malformed escape.
std::optional<std::string> PercentDecode(std::string_view in, bool plus_is_space);

// Splits "a=1&b=x%20y" into decoded pairs, in order, repeated keys included;
// nullopt for a malformed escape.
std::optional<std::vector<std::pair<std::string, std::string>>> ParseQueryItems(
    std::string_view query);

// ParseQueryItems as a map: a repeated key keeps its last value.
std::optional<std::map<std::string, std::string>> ParseQuery(std::string_view query);

}  // namespace landfall::api
