#include "lib/common/pg.h"

namespace landfall::libpq {

bool IsConnectionSqlState(std::string_view state) {
  return state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03";
}

bool IsTransientSqlState(std::string_view state) {
  return state == "40001" || state == "40P01" || state == "55P03" || state == "57014" ||
         state.starts_with("53");
}

namespace {

void ReplaceAll(std::string& text, std::string_view needle, std::string_view replacement) {
  if (needle.empty()) return;
  for (size_t pos = text.find(needle); pos != std::string::npos;
       pos = text.find(needle, pos + replacement.size())) {
    text.replace(pos, needle.size(), replacement);
  }
}

// The password as written in a postgres:// URI (possibly percent-encoded), or "".
std::string RawUriPassword(std::string_view url) {
  for (std::string_view scheme : {"postgresql://", "postgres://"}) {
    if (!url.starts_with(scheme)) continue;
    std::string_view rest = url.substr(scheme.size());
    std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
    size_t at = authority.rfind('@');
    if (at == std::string_view::npos) return "";
    std::string_view userinfo = authority.substr(0, at);
    size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) return "";
    return std::string(userinfo.substr(colon + 1));
  }
  return "";
}

}  // namespace

ConnTarget DescribeTarget(const std::string& url) {
  ConnTarget target;
  if (std::string raw = RawUriPassword(url); !raw.empty()) target.secrets.push_back(raw);
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (options == nullptr) {
    target.parse_error = error != nullptr ? error : "cannot parse connection string";
    PQfreemem(error);
    while (!target.parse_error.empty() && target.parse_error.back() == '\n') {
      target.parse_error.pop_back();
    }
    return target;
  }
  std::string host, port, dbname, user;
  for (PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
    if (option->val == nullptr) continue;
    std::string_view keyword = option->keyword;
    if (keyword == "host" || (keyword == "hostaddr" && host.empty())) host = option->val;
    if (keyword == "port") port = option->val;
    if (keyword == "dbname") dbname = option->val;
    if (keyword == "user") user = option->val;
    if (keyword == "password" && option->val[0] != '\0') target.secrets.emplace_back(option->val);
  }
  PQconninfoFree(options);
  // libpq falls back to its own defaults (and PG* variables) for what is unset.
  target.description = "host=" + (host.empty() ? std::string("(default)") : host) +
                       " port=" + (port.empty() ? std::string("(default)") : port);
  if (!dbname.empty()) target.description += " dbname=" + dbname;
  if (!user.empty()) target.description += " user=" + user;
  return target;
}

std::string Redact(std::string text, const std::vector<std::string>& secrets) {
  for (const auto& secret : secrets) ReplaceAll(text, secret, "***");
  return text;
}

std::string TrimMessage(const char* message) {
  std::string text;
  bool pending_space = false;
  for (const char* c = message != nullptr ? message : ""; *c != '\0'; ++c) {
    if (*c == '\n' || (pending_space && (*c == ' ' || *c == '\t'))) {
      pending_space = true;
      continue;
    }
    if (pending_space && !text.empty()) text += ' ';
    pending_space = false;
    text += *c;
  }
  return text;
}

}  // namespace landfall::libpq
