#!/usr/bin/env bash
# Scenario 14 (issue 14): a day-partitioned time_interval model over
# BENCH_PART_DAYS days of BENCH_PART_ROWS rows each, through the landfall
# binary, against a throwaway PostgreSQL, with baselines measured in the same
# script on the same files:
#
#   a. the first run: stage every day, compute every partition
#   b. --full-refresh of the model: every partition again (the "recompute all"
#      a tool without per-partition tracking pays for any change)
#   c. one late batch of BENCH_PART_LATE_ROWS rows for one old day: the run
#      computes exactly that day; its model phase is compared with (b) and with
#      DuckDB doing that one partition by hand on a copy of the warehouse
#      (BEGIN; DELETE the day; INSERT the SQL's rows for it; COMMIT)
#   d. `landfall state delete --table events` (staging rebuilt from the same
#      files, the values unchanged): the checksums find no changed partition
#
#   bash bench/partitions.sh                  # 365 days x 100,000 rows
#   BENCH_PART_DAYS=30 BENCH_PART_ROWS=10000 bash bench/partitions.sh
#
# Prints a table of figures and ratios; bench/RESULTS.md keeps a run's.
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_PART_DAYS=${BENCH_PART_DAYS:-365}
BENCH_PART_ROWS=${BENCH_PART_ROWS:-100000}
BENCH_PART_LATE_ROWS=${BENCH_PART_LATE_ROWS:-1000}
BENCH_BUILD_DIR=${BENCH_BUILD_DIR:-build-bench}
export BENCH_PART_DAYS BENCH_PART_ROWS BENCH_PART_LATE_ROWS BENCH_BUILD_DIR

# shellcheck source=bench/lib.sh
source bench/lib.sh
bench_bootstrap landfall landfall-baseline

PG_URL=${LANDFALL_BENCH_PG_URL:-${LANDFALL_TEST_PG_URL:?no PostgreSQL (run bench/partitions.sh itself)}}
LANDFALL=$PWD/$BENCH_BUILD_DIR/daemon/landfall
BASELINE=$PWD/$BENCH_BUILD_DIR/bench/landfall-baseline
WORK=$(mktemp -d /tmp/landfall-partitions.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/landing/events" "$WORK/models"

# Days 1..DAYS before today (UTC): every window is closed.
first=$(date -u -d "-$BENCH_PART_DAYS days" +%F)
late_day=$(date -u -d "-$((BENCH_PART_DAYS / 2)) days" +%F)

cat >"$WORK/landfall.yaml" <<EOF
environment: bench_partitions_$$
landing: {dir: $WORK/landing, scan_interval_s: 0}
state: {postgres_url: $PG_URL}
warehouse: {type: duckdb, path: $WORK/landfall.duckdb, staging_schema: staging}
models: {dir: $WORK/models, schema: analytics}
api: {enabled: false}
log: {level: warn, format: text}
EOF
SQL="SELECT CAST(ts AS DATE) AS day, count(*) AS events, sum(amount) AS amount, count(DISTINCT customer) AS customers
FROM staging.events WHERE ts >= @start_date AND ts < @end_date GROUP BY ALL"
printf '%s\n' "$SQL" >"$WORK/models/daily_events.sql"
cat >"$WORK/models/daily_events.yaml" <<EOF
strategy: time_interval
time_interval:
  time_column: day
  granularity: day
  first_partition: "$first"
  source_columns: {staging.events: ts}
EOF

gen() { "$BASELINE" --db "$WORK/gen.duckdb" --landing "$WORK/landing" sql --select "$1" >/dev/null; }
say "writing $BENCH_PART_DAYS days x $BENCH_PART_ROWS rows"
# One file per 30 days, so that staging reads several batches.
for ((d = 0; d < BENCH_PART_DAYS; d += 30)); do
  n=$((BENCH_PART_DAYS - d < 30 ? BENCH_PART_DAYS - d : 30))
  gen "COPY (SELECT (($d * $BENCH_PART_ROWS) + i)::BIGINT AS id, (i % 5000)::INTEGER AS customer,
         (i % 1000) * 0.25 AS amount,
         TIMESTAMP '$first' + INTERVAL ($d + i // $BENCH_PART_ROWS) DAY
           + INTERVAL ((i % $BENCH_PART_ROWS) * 86399 // $BENCH_PART_ROWS) SECOND AS ts
       FROM range($((n * BENCH_PART_ROWS))) t(i))
       TO '$WORK/landing/events/days-$d.parquet' (FORMAT parquet)"
done

# FIELD of a run's JSON: the model phase (ms), and the partitions the model computed.
model_ms() { jq -r '.models_duration_ms' "$1"; }
partitions() { jq -r '[.models[] | select(.model == "daily_events") | .partitions[]] | length' "$1"; }
run() { "$LANDFALL" run --config "$WORK/landfall.yaml" --format json "$@"; }

say "a. the first run"
t0=$(date +%s.%N)
run >"$WORK/a.json"
a_wall=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

say "b. --full-refresh of the model"
run --full-refresh --models daily_events >"$WORK/b.json"

say "c. one late batch for $late_day"
gen "COPY (SELECT (10000000000 + i)::BIGINT AS id, (i % 5000)::INTEGER AS customer, 1.0 AS amount,
       TIMESTAMP '$late_day 12:00:00' + INTERVAL (i) SECOND AS ts FROM range($BENCH_PART_LATE_ROWS) t(i))
     TO '$WORK/late.parquet' (FORMAT parquet)"
cp "$WORK/late.parquet" "$WORK/landing/events/.late.parquet.tmp"
mv "$WORK/landing/events/.late.parquet.tmp" "$WORK/landing/events/late.parquet"
# The baseline works on a copy of the warehouse taken after landfall's run
# (the late rows staged) and does that partition's work again: the same
# DELETE and INSERT, in one transaction, nothing else.
run >"$WORK/c.json"
cp "$WORK/landfall.duckdb" "$WORK/copy.duckdb"
[[ -f $WORK/landfall.duckdb.wal ]] && cp "$WORK/landfall.duckdb.wal" "$WORK/copy.duckdb.wal"
next_day=$(date -u -d "$late_day + 1 day" +%F)
window_sql=${SQL//@start_date/\'$late_day 00:00:00\'}
window_sql=${window_sql//@end_date/\'$next_day 00:00:00\'}
"$BASELINE" --db "$WORK/copy.duckdb" --landing "$WORK/landing" sql --select \
  "BEGIN; DELETE FROM analytics.daily_events WHERE CAST(day AS TIMESTAMP) >= TIMESTAMP '$late_day 00:00:00'
     AND CAST(day AS TIMESTAMP) < TIMESTAMP '$next_day 00:00:00';
   INSERT INTO analytics.daily_events BY NAME SELECT * FROM ($window_sql); COMMIT" >"$WORK/c_baseline.json"

say "d. the staging table rebuilt from the same files"
"$LANDFALL" state delete --config "$WORK/landfall.yaml" --table events >/dev/null
run >"$WORK/d.json"

b_ms=$(model_ms "$WORK/b.json")
c_ms=$(model_ms "$WORK/c.json")
c_base=$(jq -r '.work_ms' "$WORK/c_baseline.json")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
cat <<EOF

scenario 14: a day-partitioned model, $BENCH_PART_DAYS days x $BENCH_PART_ROWS rows ($(nproc) cores)
| step | partitions computed | model phase ms | ratio |
|---|---|---|---|
| a. first run (stage + every partition), ${a_wall} s wall | $(partitions "$WORK/a.json") | $(model_ms "$WORK/a.json") | |
| b. --full-refresh: every partition again | $(partitions "$WORK/b.json") | $b_ms | |
| c. one late batch ($BENCH_PART_LATE_ROWS rows, $late_day) | $(partitions "$WORK/c.json") | $c_ms | $(ratio "$c_ms" "$b_ms") of (b) |
| c'. DuckDB by hand: that one partition, one transaction | 1 | $c_base | landfall / by hand = $(ratio "$c_ms" "$c_base") (goal <= 1.2) |
| d. staging rebuilt, same values | $(partitions "$WORK/d.json") | $(model_ms "$WORK/d.json") | |
EOF
