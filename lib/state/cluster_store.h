// Several daemons on one environment (README "Running a cluster"): members
// with heartbeats and per-table leases, kept in the state store's PostgreSQL
// (migration 0009). A table is worked on only by the member holding its
// lease; a lease not renewed within the TTL expires and any member may claim
// it. Every time is PostgreSQL's clock (now()), so the members' clocks may
// disagree.
//
// Why leases in a table rather than advisory locks on held sessions: a lease
// is visible to every member and to operators (GET /v1/cluster), its expiry is
// exact and on one clock, it survives a connection pooler and a PostgreSQL
// restart, and a claim is one statement (INSERT ... ON CONFLICT DO UPDATE
// WHERE the old lease has expired), so two members claiming one table at once
// cannot both win. Exactly-once does not rest on leases: the warehouse ledger
// commits with the rows, under the table's lock.
//
// The model phase holds one lease of its own, kModelsLease, claimed like a
// table's: the member holding it runs every model, in DAG order as a single
// daemon does (a model's upstream may be any table, staged by any member).
//
// Thread-safe: calls are serialized on one connection, reconnected lazily.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "lib/common/result.h"

namespace landfall::state {

// The lease of the model phase. A landing folder's name cannot hold a '/',
// so no table can take this name.
inline constexpr char kModelsLease[] = "/models";

struct ClusterOptions {
  std::string url;  // the state store's PostgreSQL
  std::string environment;
  std::string node;  // this process: ClusterNodeId()
  std::string api;   // this daemon's API address ("" when none)
  std::chrono::seconds lease_ttl{15};
};

// "<host>/<pid>/<start µs>": unique per process, readable by operators.
std::string ClusterNodeId();

struct ClusterMember {
  std::string node;
  std::string host;
  int pid = 0;
  std::string api;
  int64_t started_at_us = 0;
  int64_t heartbeat_at_us = 0;
  bool live = false;  // its heartbeat is within the TTL and it has not left
  int tables = 0;     // table leases it holds now
  bool models = false;  // it holds kModelsLease: it runs the models
};

struct Lease {
  std::string table;
  std::string owner;
  int64_t acquired_at_us = 0;
  int64_t expires_at_us = 0;
};

class ClusterStore {
 public:
  // Connects; "state_unavailable" (transient) when PostgreSQL cannot be reached.
  static Result<std::unique_ptr<ClusterStore>> Open(const ClusterOptions& options);
  ~ClusterStore();

  // This member's heartbeat, and every lease it still holds renewed for
  // another TTL: returns those tables. A lease it held that has expired is
  // not renewed (and not returned): it may be claimed by another member.
  Result<std::set<std::string>> Heartbeat();
  // Members whose heartbeat is within the TTL and that have not left.
  Result<int> LiveMembers();
  // Leases held now (not expired), by table.
  Result<std::vector<Lease>> Leases();
  // Every table a lease was ever taken for (a folder that is gone still
  // needs its owner to orphan or drop it); not kModelsLease.
  Result<std::set<std::string>> KnownTables();
  // Claims each of `tables` whose lease is free or expired; returns those won.
  Result<std::set<std::string>> Claim(const std::vector<std::string>& tables);
  // Gives up this member's leases of `tables` (they expire now).
  Status Release(const std::vector<std::string>& tables);
  // A clean stop: every lease released and the member marked left.
  Status Leave();
  // Every member seen within the last hour, live or not, oldest first.
  Result<std::vector<ClusterMember>> Members();

  const ClusterOptions& options() const { return options_; }

 private:
  struct Impl;
  explicit ClusterStore(ClusterOptions options, std::unique_ptr<Impl> impl);
  ClusterOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace landfall::state
