#!/usr/bin/env bash
# Runs a command next to a throwaway PostgreSQL server.
#
#   tests/with-postgres.sh CMD [ARGS...]
#
# Starts PostgreSQL (15 by default; PG_BIN overrides the binaries' folder) in
# a fresh temporary folder, listening on 127.0.0.1 only on a free port, with
# trust authentication and durability off for speed; creates the database
# landfall_test; runs CMD with
#   LANDFALL_TEST_PG_URL=postgresql://postgres@127.0.0.1:PORT/landfall_test
# and always stops the server and removes the folder afterwards. Exits with
# CMD's exit code. As root, the server runs as the `postgres` OS user (initdb
# refuses root); otherwise as the current user. The database role is always
# `postgres`.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
say() { echo "with-postgres: $*" >&2; }

if [[ $# -lt 1 ]]; then
  say "usage: $0 CMD [ARGS...]"
  exit 2
fi
for tool in initdb pg_ctl createdb; do
  if [[ ! -x $PG_BIN/$tool ]]; then
    say "$PG_BIN/$tool not found (install postgresql-15, or set PG_BIN)"
    exit 2
  fi
done

if [[ $(id -u) -eq 0 ]]; then
  if ! id postgres >/dev/null 2>&1; then
    say "running as root but there is no 'postgres' user to run the server as"
    exit 2
  fi
  as_server_user() { runuser -u postgres -- "$@"; }
else
  as_server_user() { "$@"; }
fi

tmp=""
server_started=0
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ $server_started -eq 1 ]]; then
    as_server_user "$PG_BIN/pg_ctl" -D "$tmp/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [[ -n $tmp ]]; then rm -rf "$tmp"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# /tmp rather than $TMPDIR when root: the server user must be able to reach
# the folder, and a root-only $TMPDIR (e.g. under /root) would not let it.
if [[ $(id -u) -eq 0 ]]; then
  tmp=$(mktemp -d /tmp/landfall-pg.XXXXXX)
  chown postgres: "$tmp"
else
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/landfall-pg.XXXXXX")
fi
mkdir_server() { as_server_user mkdir -p "$@"; }
mkdir_server "$tmp/socket"

if ! as_server_user "$PG_BIN/initdb" -D "$tmp/data" -U postgres -A trust -E UTF8 --locale=C \
    >"$tmp/initdb.log" 2>&1; then
  say "initdb failed:"
  cat "$tmp/initdb.log" >&2
  exit 1
fi
# initdb -A trust already trusts local sockets and 127.0.0.1; only the
# listening address and speed settings are ours.
cat >>"$tmp/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$tmp/socket'
fsync = off
full_page_writes = off
synchronous_commit = off
max_connections = 200
EOF

# A port is free when nothing answers on it; the server binding it is the
# real test, so a port taken in between just means trying another.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=""
for _ in $(seq 1 30); do
  candidate=$((20000 + RANDOM % 40000))
  if port_in_use "$candidate"; then continue; fi
  if as_server_user "$PG_BIN/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 60 \
      -o "-p $candidate" start >/dev/null 2>&1; then
    server_started=1
    port=$candidate
    break
  fi
  # A failed start may still have left a postmaster behind (e.g. timeout).
  as_server_user "$PG_BIN/pg_ctl" -D "$tmp/data" -m immediate -w stop >/dev/null 2>&1 || true
done
if [[ -z $port ]]; then
  say "could not start PostgreSQL; server log:"
  tail -n 30 "$tmp/server.log" >&2 || true
  exit 1
fi

if ! as_server_user "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres landfall_test; then
  say "createdb landfall_test failed"
  exit 1
fi

export LANDFALL_TEST_PG_URL="postgresql://postgres@127.0.0.1:$port/landfall_test"
say "PostgreSQL running on 127.0.0.1:$port (data in $tmp), LANDFALL_TEST_PG_URL=$LANDFALL_TEST_PG_URL"

# In the background so that INT/TERM reach this script at once (bash defers
# traps while a foreground child runs); the signal is passed on to the command.
set +e
"$@" <&0 &
child=$!
trap 'kill -TERM "$child" 2>/dev/null' INT TERM
while :; do
  wait "$child"
  status=$?
  # wait returns early when a trapped signal arrives; keep waiting for the child.
  kill -0 "$child" 2>/dev/null || break
done
exit "$status"
