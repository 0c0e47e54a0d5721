#!/usr/bin/env bash
# Scenario 19 (issue 16): the PostgreSQL warehouse. The same landing directory
# (BENCH_PGW_TABLES tables x BENCH_PGW_BATCHES batches x BENCH_PGW_ROWS rows)
# staged three ways, each into a fresh database or file:
#
#   a. raw COPY by hand (the baseline): per table, CREATE TABLE and psql's
#      \copy of the table's rows from CSV files written beforehand (not
#      timed), all in one psql session
#   b. `landfall run` with warehouse.type postgres (one process: start-up,
#      footers, fingerprints, COPY streamed from DuckDB, ledger, state)
#   c. `landfall run` with the DuckDB warehouse, for comparison
#   d. a cluster of 1, 2 and 3 `landfall serve` daemons (cluster.enabled,
#      BENCH_PGW_DAEMONS) started together on the landing directory, timed
#      from their start until the warehouse ledger holds every batch
#
#   bash bench/pg_warehouse.sh
#   BENCH_PGW_TABLES=20 BENCH_PGW_ROWS=1000 bash bench/pg_warehouse.sh
#   BENCH_BUILD_DIR=build BENCH_SKIP_INSTALL=1 bash bench/pg_warehouse.sh   # an existing build
#
# Prints a table of figures and ratios (goal for b / a: <= 1.3).
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_PGW_TABLES=${BENCH_PGW_TABLES:-100}
BENCH_PGW_BATCHES=${BENCH_PGW_BATCHES:-10}
BENCH_PGW_ROWS=${BENCH_PGW_ROWS:-5000}
BENCH_MEMORY_LIMIT=${BENCH_MEMORY_LIMIT:-512MB}
BENCH_BUILD_DIR=${BENCH_BUILD_DIR:-build-bench}
BENCH_PGW_DAEMONS=${BENCH_PGW_DAEMONS:-1 2 3}
export BENCH_PGW_DAEMONS BENCH_PGW_TABLES BENCH_PGW_BATCHES BENCH_PGW_ROWS BENCH_MEMORY_LIMIT BENCH_BUILD_DIR

# shellcheck source=bench/outer.sh
source bench/outer.sh
bench_outer "$0" landfall landfall-gen

PG_URL=${LANDFALL_BENCH_PG_URL:-${LANDFALL_TEST_PG_URL:?no PostgreSQL (run bench/pg_warehouse.sh itself)}}
LANDFALL=$PWD/$BENCH_BUILD_DIR/daemon/landfall
GEN=$PWD/$BENCH_BUILD_DIR/bench/landfall-gen
WORK=$(mktemp -d /tmp/landfall-pg-warehouse.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# A database of its own for each of a and b, on the bench's server.
base_url=${PG_URL%/*}
db_url() { echo "$base_url/$1"; }
for db in bench_pgw_raw bench_pgw_landfall; do
  psql -q -v ON_ERROR_STOP=1 "$PG_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
done

rows_total=$((BENCH_PGW_TABLES * BENCH_PGW_BATCHES * BENCH_PGW_ROWS))
files_total=$((BENCH_PGW_TABLES * BENCH_PGW_BATCHES))
say "writing $BENCH_PGW_TABLES tables x $BENCH_PGW_BATCHES batches x $BENCH_PGW_ROWS rows ($rows_total rows)"
"$GEN" --dir "$WORK/landing" --tables "$BENCH_PGW_TABLES" --batches "$BENCH_PGW_BATCHES" \
  --rows "$BENCH_PGW_ROWS" >/dev/null

config() { # name warehouse-yaml [more yaml]
  cat >"$WORK/$1.yaml" <<EOF
environment: bench_pgw_$1_$$
landing: {dir: $WORK/landing, scan_interval_s: 0}
state: {postgres_url: $PG_URL}
warehouse: $2
api: {enabled: false}
log: {level: warn, format: text}
${3:-}
EOF
}
config duckdb "{type: duckdb, path: $WORK/warehouse.duckdb, memory_limit: $BENCH_MEMORY_LIMIT}"
config postgres "{type: postgres, url: $(db_url bench_pgw_landfall), memory_limit: $BENCH_MEMORY_LIMIT}"

seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

say "c. landfall run, DuckDB warehouse"
t0=$EPOCHREALTIME
"$LANDFALL" run --config "$WORK/duckdb.yaml" >/dev/null
c=$(seconds "$t0" "$EPOCHREALTIME")

say "a. writing each table's rows to CSV (not timed)"
mkdir -p "$WORK/csv"
tables=$(find "$WORK/landing" -mindepth 1 -maxdepth 1 -printf "%f\n" | sort)
script=$WORK/raw.sql
: >"$script"
for t in $tables; do
  "$LANDFALL" query --config "$WORK/duckdb.yaml" --format csv \
    "SELECT id, customer, amount, created_at FROM staging.\"$t\"" >"$WORK/csv/$t.csv"
  cat >>"$script" <<EOF
CREATE TABLE "$t" (id bigint, customer text, amount double precision, created_at timestamp);
\\copy "$t" FROM '$WORK/csv/$t.csv' WITH (FORMAT csv, HEADER true)
EOF
done

say "a. raw COPY by hand"
t0=$EPOCHREALTIME
psql -q -v ON_ERROR_STOP=1 "$(db_url bench_pgw_raw)" -f "$script" >/dev/null
a=$(seconds "$t0" "$EPOCHREALTIME")

say "b. landfall run, PostgreSQL warehouse"
t0=$EPOCHREALTIME
"$LANDFALL" run --config "$WORK/postgres.yaml" >/dev/null
b=$(seconds "$t0" "$EPOCHREALTIME")

# d. N daemons sharing the environment: started together, timed until the
# ledger holds every batch (polled every 0.1 s), then stopped.
declare -A d
for n in $BENCH_PGW_DAEMONS; do
  db=bench_pgw_cluster$n
  psql -q -v ON_ERROR_STOP=1 "$PG_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
  config "cluster$n" "{type: postgres, url: $(db_url "$db"), memory_limit: $BENCH_MEMORY_LIMIT}" \
    "cluster: {enabled: true, lease_ttl_s: 15}"
  say "d. $n daemons (cluster), PostgreSQL warehouse"
  pids=()
  t0=$EPOCHREALTIME
  for ((i = 0; i < n; i++)); do
    "$LANDFALL" serve --config "$WORK/cluster$n.yaml" >"$WORK/cluster$n-$i.log" 2>&1 &
    pids+=($!)
  done
  # The ledger exists once the first member has set the warehouse up.
  until [[ $(psql -tA "$(db_url "$db")" -c "SELECT count(*) FROM _landfall.ledger" 2>/dev/null) == "$files_total" ]]; do
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null || { cat "$WORK"/cluster"$n"-*.log; say "a member exited"; exit 1; }
    done
    sleep 0.1
  done
  d[$n]=$(seconds "$t0" "$EPOCHREALTIME")
  kill -TERM "${pids[@]}"
  wait "${pids[@]}" || true
  psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
done

raw_rows=$(psql -tA "$(db_url bench_pgw_raw)" -c "SELECT sum(n_live_tup) FROM pg_stat_user_tables")
staged=$(psql -tA "$(db_url bench_pgw_landfall)" -c \
  "SELECT sum(rows) || ' rows, ' || count(*) || ' batches' FROM _landfall.ledger")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }
cat <<EOF

scenario 19: $BENCH_PGW_TABLES tables x $BENCH_PGW_BATCHES batches x $BENCH_PGW_ROWS rows = $rows_total rows in $files_total files; $(nproc) cores
(raw tables: ~$raw_rows rows by pg_stat; landfall's ledger: $staged)
| way | seconds | files/s | rows/s | ratio |
|---|---|---|---|---|
| a. raw COPY by hand (baseline) | $a | $(rate "$files_total" "$a") | $(rate "$rows_total" "$a") | |
| b. landfall run, postgres warehouse | $b | $(rate "$files_total" "$b") | $(rate "$rows_total" "$b") | $(ratio "$b" "$a") of (a), goal <= 1.3 |
| c. landfall run, duckdb warehouse | $c | $(rate "$files_total" "$c") | $(rate "$rows_total" "$c") | b / c = $(ratio "$b" "$c") |
EOF
for n in $BENCH_PGW_DAEMONS; do
  echo "| d. $n daemons (cluster), postgres warehouse | ${d[$n]} | $(rate "$files_total" "${d[$n]}") | $(rate "$rows_total" "${d[$n]}") | $(ratio "${d[$n]}" "$a") of (a) |"
done
for db in bench_pgw_raw bench_pgw_landfall; do
  psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
done
