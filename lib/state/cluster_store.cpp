#include "lib/state/cluster_store.h"

#include <unistd.h>

#include <chrono>
#include <mutex>

#include "lib/common/pg.h"

namespace landfall::state {

using libpq::PgConn;
using libpq::PgResult;

std::string ClusterNodeId() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown");
  const auto start = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  return std::string(host) + "/" + std::to_string(getpid()) + "/" + std::to_string(start);
}

struct ClusterStore::Impl {
  std::mutex mu;
  PgConn conn;
  libpq::ConnTarget target;
  std::string url;

  Status Connect() {
    if (conn && PQstatus(conn.get()) == CONNECTION_OK) return Ok();
    const char* keywords[] = {"application_name", "connect_timeout", "client_encoding", "dbname",
                              nullptr};
    const char* values[] = {"landfall cluster", "5", "UTF8", url.c_str(), nullptr};
    conn.reset(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
    if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
      std::string message = conn ? libpq::TrimMessage(PQerrorMessage(conn.get())) : "out of memory";
      conn.reset();
      return Fail("state_unavailable",
                  libpq::Redact("cluster: cannot connect to PostgreSQL (" + target.description +
                                    "): " + message,
                                target.secrets),
                  /*transient=*/true);
    }
    return Ok();
  }

  // One statement (several joined by CTEs are one), with text parameters.
  Result<PgResult> Exec(std::string_view what, const char* sql,
                        const std::vector<std::string>& params) {
    if (auto s = Connect(); !s) return Fail(s.error());
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p.c_str());
    PgResult r(PQexecParams(conn.get(), sql, static_cast<int>(values.size()), nullptr,
                            values.data(), nullptr, nullptr, 0));
    const auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return r;
    const char* state = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
    const std::string sqlstate = state ? state : "";
    const bool lost =
        PQstatus(conn.get()) != CONNECTION_OK || libpq::IsConnectionSqlState(sqlstate);
    std::string message =
        libpq::TrimMessage(r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn.get()));
    if (lost) conn.reset();
    return Fail(lost ? "state_unavailable" : "state_query_failed",
                libpq::Redact("cluster: " + std::string(what) + ": " + message, target.secrets),
                lost || libpq::IsTransientSqlState(sqlstate));
  }
};

namespace {

// A text[] literal for a parameter: {"a","b"} with quotes and backslashes escaped.
std::string TextArray(const auto& items) {
  std::string out = "{";
  bool first = true;
  for (const std::string& item : items) {
    if (!first) out += ',';
    first = false;
    out += '"';
    for (char c : item) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

int64_t Int(const PGresult* r, int row, int col) {
  return PQgetisnull(r, row, col) ? 0 : std::stoll(PQgetvalue(r, row, col));
}

std::set<std::string> FirstColumn(const PGresult* r) {
  std::set<std::string> out;
  for (int i = 0; i < PQntuples(r); ++i) out.insert(PQgetvalue(r, i, 0));
  return out;
}

// The CTEs that end this member's ($2) live leases (those also matching
// `and`) and log each in lease_history.
std::string ReleasedLeases(const std::string& and_where) {
  return "released AS ("
         "  UPDATE leases SET expires_at = now()"
         "   WHERE environment = $1 AND owner = $2 AND expires_at > now() " +
         and_where +
         "  RETURNING table_name),"
         " history AS ("
         "  INSERT INTO lease_history (environment, table_name, owner, event)"
         "  SELECT $1, table_name, $2, 'released' FROM released)";
}

}  // namespace

ClusterStore::ClusterStore(ClusterOptions options, std::unique_ptr<Impl> impl)
    : options_(std::move(options)), impl_(std::move(impl)) {}
ClusterStore::~ClusterStore() = default;

Result<std::unique_ptr<ClusterStore>> ClusterStore::Open(const ClusterOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->url = options.url;
  impl->target = libpq::DescribeTarget(options.url);
  if (!impl->target.parse_error.empty()) {
    return Fail(
        "state_url_invalid",
        libpq::Redact("cluster: invalid PostgreSQL connection string: " + impl->target.parse_error,
                      impl->target.secrets));
  }
  if (auto s = impl->Connect(); !s) return Fail(s.error());
  return std::unique_ptr<ClusterStore>(new ClusterStore(options, std::move(impl)));
}

Result<std::set<std::string>> ClusterStore::Heartbeat() {
  std::lock_guard lock(impl_->mu);
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  auto r = impl_->Exec(
      "heartbeat",
      "WITH member AS ("
      "  INSERT INTO cluster_members (environment, node, host, pid, api)"
      "  VALUES ($1, $2, $4, $5::int, $6)"
      "  ON CONFLICT (environment, node) DO UPDATE SET heartbeat_at = now(), left_at = NULL)"
      " UPDATE leases SET expires_at = now() + make_interval(secs => $3::int)"
      "  WHERE environment = $1 AND owner = $2 AND expires_at > now()"
      " RETURNING table_name",
      {options_.environment, options_.node, std::to_string(options_.lease_ttl.count()), host,
       std::to_string(getpid()), options_.api});
  if (!r) return Fail(r.error());
  return FirstColumn(r->get());
}

Result<int> ClusterStore::LiveMembers() {
  std::lock_guard lock(impl_->mu);
  auto r =
      impl_->Exec("live members",
                  "SELECT count(*) FROM cluster_members WHERE environment = $1 AND left_at IS NULL"
                  "   AND heartbeat_at > now() - make_interval(secs => $2::int)",
                  {options_.environment, std::to_string(options_.lease_ttl.count())});
  if (!r) return Fail(r.error());
  return static_cast<int>(Int(r->get(), 0, 0));
}

Result<std::vector<Lease>> ClusterStore::Leases() {
  std::lock_guard lock(impl_->mu);
  auto r =
      impl_->Exec("leases",
                  "SELECT table_name, owner, landfall_us(acquired_at), landfall_us(expires_at)"
                  "  FROM leases WHERE environment = $1 AND expires_at > now() ORDER BY table_name",
                  {options_.environment});
  if (!r) return Fail(r.error());
  std::vector<Lease> leases;
  for (int i = 0; i < PQntuples(r->get()); ++i) {
    leases.push_back({PQgetvalue(r->get(), i, 0), PQgetvalue(r->get(), i, 1), Int(r->get(), i, 2),
                      Int(r->get(), i, 3)});
  }
  return leases;
}

Result<std::set<std::string>> ClusterStore::KnownTables() {
  std::lock_guard lock(impl_->mu);
  auto r = impl_->Exec("known tables",
                       "SELECT table_name FROM leases WHERE environment = $1 AND table_name <> $2",
                       {options_.environment, kModelsLease});
  if (!r) return Fail(r.error());
  return FirstColumn(r->get());
}

Result<std::set<std::string>> ClusterStore::Claim(const std::vector<std::string>& tables) {
  if (tables.empty()) return std::set<std::string>{};
  std::lock_guard lock(impl_->mu);
  // The update happens only where the old lease has expired: of two members
  // claiming one table at once, the second waits for the first's row lock and
  // then finds the lease held. Rows are taken in name order, so members
  // claiming overlapping sets at once wait for each other instead of
  // deadlocking. `before` is what the statement's snapshot saw (for the
  // history).
  auto r = impl_->Exec(
      "claim",
      "WITH before AS ("
      "  SELECT table_name, owner, expires_at FROM leases"
      "   WHERE environment = $1 AND table_name = ANY($4::text[])),"
      " claimed AS ("
      "  INSERT INTO leases (environment, table_name, owner, acquired_at, expires_at)"
      "  SELECT $1, t, $2, now(), now() + make_interval(secs => $3::int)"
      "    FROM unnest($4::text[]) t ORDER BY t"
      "  ON CONFLICT (environment, table_name) DO UPDATE"
      "    SET owner = EXCLUDED.owner, acquired_at = EXCLUDED.acquired_at,"
      "        expires_at = EXCLUDED.expires_at"
      "    WHERE leases.expires_at <= now()"
      "  RETURNING table_name),"
      " history AS ("
      "  INSERT INTO lease_history (environment, table_name, owner, event, previous_owner,"
      "                             previous_expiry)"
      "  SELECT $1, c.table_name, $2, 'acquired', b.owner, b.expires_at"
      "    FROM claimed c LEFT JOIN before b USING (table_name))"
      " SELECT table_name FROM claimed",
      {options_.environment, options_.node, std::to_string(options_.lease_ttl.count()),
       TextArray(tables)});
  if (!r) return Fail(r.error());
  return FirstColumn(r->get());
}

Status ClusterStore::Release(const std::vector<std::string>& tables) {
  if (tables.empty()) return Ok();
  std::lock_guard lock(impl_->mu);
  static const std::string sql =
      "WITH " + ReleasedLeases("AND table_name = ANY($3::text[])") + " SELECT 1";
  auto r =
      impl_->Exec("release", sql.c_str(), {options_.environment, options_.node, TextArray(tables)});
  if (!r) return Fail(r.error());
  return Ok();
}

Status ClusterStore::Leave() {
  std::lock_guard lock(impl_->mu);
  static const std::string sql =
      "WITH " + ReleasedLeases("") +
      " UPDATE cluster_members SET left_at = now() WHERE environment = $1 AND node = $2";
  auto r = impl_->Exec("leave", sql.c_str(), {options_.environment, options_.node});
  if (!r) return Fail(r.error());
  return Ok();
}

Result<std::vector<ClusterMember>> ClusterStore::Members() {
  std::lock_guard lock(impl_->mu);
  auto r = impl_->Exec(
      "members",
      "SELECT m.node, m.host, m.pid, m.api, landfall_us(m.started_at), landfall_us(m.heartbeat_at),"
      "       m.left_at IS NULL AND m.heartbeat_at > now() - make_interval(secs => $2::int),"
      "       (SELECT count(*) FROM leases l WHERE l.environment = m.environment"
      "           AND l.owner = m.node AND l.expires_at > now() AND l.table_name <> $3),"
      "       EXISTS (SELECT FROM leases l WHERE l.environment = m.environment"
      "           AND l.owner = m.node AND l.expires_at > now() AND l.table_name = $3)"
      "  FROM cluster_members m"
      " WHERE m.environment = $1 AND m.heartbeat_at > now() - interval '1 hour'"
      " ORDER BY m.started_at, m.node",
      {options_.environment, std::to_string(options_.lease_ttl.count()), kModelsLease});
  if (!r) return Fail(r.error());
  std::vector<ClusterMember> members;
  const PGresult* res = r->get();
  for (int i = 0; i < PQntuples(res); ++i) {
    members.push_back({.node = PQgetvalue(res, i, 0),
                       .host = PQgetvalue(res, i, 1),
                       .pid = static_cast<int>(Int(res, i, 2)),
                       .api = PQgetvalue(res, i, 3),
                       .started_at_us = Int(res, i, 4),
                       .heartbeat_at_us = Int(res, i, 5),
                       .live = std::string_view(PQgetvalue(res, i, 6)) == "t",
                       .tables = static_cast<int>(Int(res, i, 7)),
                       .models = std::string_view(PQgetvalue(res, i, 8)) == "t"});
  }
  return members;
}

}  // namespace landfall::state
