#!/usr/bin/env bash
# The demo: installs what is needed, builds landfall, starts a local
# PostgreSQL under ./var/pg (unless LANDFALL_STATE_URL is set), generates demo
# tables of Parquet batches into ./var/landing, and runs `landfall serve` in
# the foreground. Ctrl-C stops landfall, then PostgreSQL.
#
#   ./deploy/demo.sh
#
# Everything it writes lives under ./var (git-ignored) and is reused by the
# next run: the PostgreSQL cluster, the landing directory, the warehouse.
# Start over with `rm -rf var`.
#
# Environment:
#   LANDFALL_STATE_URL     use this PostgreSQL instead of starting one
#   LANDFALL_DEMO_PG_PORT  port of the local PostgreSQL (default 55432, 127.0.0.1 only)
#   LANDFALL_BUILD_DIR     build folder (default build)
#   PG_BIN                 PostgreSQL binaries (default /usr/lib/postgresql/15/bin)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
say() { echo "demo: $*" >&2; }

build=${LANDFALL_BUILD_DIR:-build}
var=$root/var
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
pg_port=${LANDFALL_DEMO_PG_PORT:-55432}

# --- dependencies and build ------------------------------------------------
bash deploy/install-deps.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target landfall landfall-gen
landfall=$root/$build/daemon/landfall
gen=$root/$build/bench/landfall-gen

mkdir -p "$var/landing" "$var/quarantine"

# --- PostgreSQL ------------------------------------------------------------
pg_started=0
pgdata=$var/pg/data
if [[ $(id -u) -eq 0 ]]; then
  # initdb refuses to run as root.
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi
stop_pg() {
  if [[ $pg_started -eq 1 ]]; then
    say "stopping PostgreSQL"
    as_pg "$PG_BIN/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null || true
    pg_started=0
  fi
}
trap stop_pg EXIT

if [[ -z ${LANDFALL_STATE_URL:-} ]]; then
  for tool in initdb pg_ctl createdb psql; do
    [[ -x $PG_BIN/$tool ]] || { say "$PG_BIN/$tool not found (install postgresql-15, or set PG_BIN)"; exit 1; }
  done
  mkdir -p "$var/pg"
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres: "$var/pg"
    if ! as_pg test -x "$var/pg"; then
      say "the postgres user cannot reach $var/pg (a parent folder is private);"
      say "move the checkout, or set LANDFALL_STATE_URL to a PostgreSQL of yours"
      exit 1
    fi
  fi
  if [[ ! -f $pgdata/PG_VERSION ]]; then
    say "creating a PostgreSQL cluster in $pgdata"
    as_pg "$PG_BIN/initdb" -D "$pgdata" -U postgres -A trust -E UTF8 --locale=C >"$var/pg/initdb.log"
    # TCP on 127.0.0.1 only, no Unix socket (its path could be too long here).
    cat >>"$pgdata/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = ''
EOF
  fi
  if as_pg "$PG_BIN/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
    say "PostgreSQL already running in $pgdata (left by an earlier demo); using it"
  else
    say "starting PostgreSQL on 127.0.0.1:$pg_port (log: var/pg/server.log)"
    # setsid: its own session, so Ctrl-C reaches landfall only; PostgreSQL
    # must outlive landfall's graceful stop, which still records state.
    if ! as_pg setsid -w "$PG_BIN/pg_ctl" -D "$pgdata" -l "$var/pg/server.log" -w -t 60 \
        -o "-p $pg_port" start >/dev/null; then
      say "PostgreSQL did not start; last lines of var/pg/server.log:"
      tail -n 20 "$var/pg/server.log" >&2 || true
      exit 1
    fi
  fi
  pg_started=1
  exists=$(as_pg "$PG_BIN/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'landfall'")
  if [[ $exists != 1 ]]; then
    as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres landfall
  fi
  export LANDFALL_STATE_URL="postgresql://postgres@127.0.0.1:$pg_port/landfall"
fi

# --- demo data and config ----------------------------------------------------
if [[ -z $(ls -A "$var/landing") ]]; then
  say "generating demo tables into var/landing"
  "$gen" --dir "$var/landing" --table orders --table customers --table events \
    --batches 3 --rows 10000 >/dev/null
fi

# Three models over the demo's orders (README: "Models"): one incremental by
# batch, one aggregate rebuilt in full, one merge keeping each customer's
# latest order.
mkdir -p "$var/models"
cat >"$var/models/orders_enriched.sql" <<'EOF'
SELECT o.id, o.customer, o.amount, o.created_at, CAST(o.created_at AS DATE) AS order_day
FROM staging.orders AS o
EOF
echo "strategy: incremental" >"$var/models/orders_enriched.yaml"
cat >"$var/models/revenue_by_customer.sql" <<'EOF'
SELECT customer, count(*) AS orders, sum(amount) AS revenue
FROM staging.orders
GROUP BY customer
EOF
cat >"$var/models/customer_latest.sql" <<'EOF'
SELECT customer, id AS last_order_id, amount AS last_amount, created_at AS last_order_at
FROM staging.orders
EOF
cat >"$var/models/customer_latest.yaml" <<'EOF'
strategy: merge
merge:
  unique_key: [customer]
  dedupe: latest
  order_by: last_order_id
EOF

config=$var/demo.yaml
cat >"$config" <<'EOF'
# Written by deploy/demo.sh; relative paths are resolved against this folder.
environment: demo
landing:
  dir: landing
  quarantine_dir: quarantine
  debounce_ms: 200
  scan_interval_s: 0
state:
  postgres_url: ${LANDFALL_STATE_URL}
warehouse:
  path: warehouse.duckdb
models:
  dir: models
  schema: analytics
workers: 2
shutdown_timeout_s: 30
log: {level: info, format: text}
EOF

cat >&2 <<EOF

demo: landfall is about to serve var/landing into var/warehouse.duckdb.
demo: in another terminal, land a batch and watch the log here:

    $build/bench/landfall-gen --dir var/landing --table orders --batches 1 --start 100

demo: each batch of orders also updates the models in var/models (analytics.orders_enriched,
demo: analytics.revenue_by_customer, analytics.customer_latest); the log says which ran and why.
demo: or copy any Parquet file into var/landing/<table>/ (a new folder is a new table).
demo: send SIGHUP (kill -HUP <pid>) after editing var/demo.yaml to reload it.
demo: Ctrl-C stops landfall cleanly, then PostgreSQL. Start over with: rm -rf var

EOF

# Not exec: PostgreSQL is stopped after landfall exits (the EXIT trap).
status=0
"$landfall" serve --config "$config" || status=$?
stop_pg
exit "$status"
