// Small helpers over libpq shared by the PostgreSQL state store and the
// PostgreSQL warehouse: owning handles, what SQLSTATEs mean for a retry, and
// messages that name the server without its password.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace landfall::libpq {

struct PgResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

struct PgConnDeleter {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using PgConn = std::unique_ptr<PGconn, PgConnDeleter>;

// SQLSTATEs after which the session is gone or about to be: connection
// exceptions (class 08) and the server shutting down or starting up.
bool IsConnectionSqlState(std::string_view state);

// SQLSTATEs worth retrying later on a healthy connection.
bool IsTransientSqlState(std::string_view state);

// What a connection string says about the connection: where it points (for
// messages) and the secrets that must never appear in them.
struct ConnTarget {
  std::string description;           // "host=... port=... dbname=... user=..."
  std::vector<std::string> secrets;  // password, raw and decoded
  std::string parse_error;           // non-empty when the string is malformed
};
ConnTarget DescribeTarget(const std::string& url);

// `text` with every secret replaced by ***.
std::string Redact(std::string text, const std::vector<std::string>& secrets);

// A libpq message on one line: its line breaks (and the indentation after
// them) become single spaces, trailing ones go.
std::string TrimMessage(const char* message);

}  // namespace landfall::libpq
