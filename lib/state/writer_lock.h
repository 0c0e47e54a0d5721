// One writer per environment. Two processes writing one environment (two
// daemons, or a daemon and `landfall run`), even into different warehouse
// files, would keep rebuilding each other's tables from state the other one
// wrote. So every writer first takes the environment's writer lock: a
// PostgreSQL session-level advisory lock held on a connection of its own for
// as long as the WriterLock lives. Readers (plans, the API's GETs, status)
// need none.
//
// A session lock goes with its session: on a clean exit, on kill -9 (the
// kernel closes the socket and the server ends the session at once) and on a
// crash alike. A power cut of the holder's host frees it only once the server
// notices the dead connection (its TCP keepalive settings).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "lib/common/result.h"
#include "lib/state/state_store.h"

namespace landfall::state {

class WriterLock {
 public:
  // Takes the writer lock of `options.environment` without waiting, on a new
  // connection to `options.url` whose application_name identifies this
  // process ("landfall pid=123 since=2026-12-01T20:00:00Z host=h"), so a
  // refused writer can name the holder. Errors: "writer_conflict" when
  // another session holds the lock, naming the holder's PID, host and start
  // as it identified itself; transient only when the holder is a landfall
  // process of this host that no longer exists (killed a moment ago: its
  // session is about to end) or has just let go; "state_unavailable" (transient)
  // when PostgreSQL cannot be reached; "state_url_invalid" for a malformed URL;
  // "state_query_failed" when the lock query fails.
  static Result<std::unique_ptr<WriterLock>> Acquire(const PgOptions& options);

  // Releases the lock (before returning) and closes the connection.
  ~WriterLock();
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

  // Whether the lock is still ours: its session may have ended under us
  // (PostgreSQL restarted, the session was terminated), and with it the lock.
  // "writer_lock_lost" when it has; a writer must then stop writing. One
  // round trip; not thread-safe (call it from one thread at a time).
  Status StillHeld();

  // How this process identifies itself to PostgreSQL (its application_name).
  const std::string& identity() const { return identity_; }

 private:
  struct Connection;
  WriterLock(std::unique_ptr<Connection> conn, std::string identity);

  std::unique_ptr<Connection> conn_;
  std::string identity_;
};

// The advisory lock key of `environment`'s writer lock: a 64-bit FNV-1a hash
// of "landfall writer:" and the name, the same in every version and process.
int64_t WriterLockKey(const std::string& environment);

}  // namespace landfall::state
