#!/usr/bin/env bash
# The benchmark command (issues 6 and 13): landfall against raw DuckDB doing
# the same work, at 1,000 tables. Installs what is missing, builds, starts a
# throwaway PostgreSQL (tests/with-postgres.sh), runs scenarios 1-9 (staging)
# and 10-13 (models, bench/models.sh) and writes
#
#   bench/out/report.json   every figure, its baseline, ratio, goal and verdict
#   bench/out/report.md     the same as a markdown table (bench/RESULTS.md quotes it)
#   bench/out/raw/          what each tool printed, for a second look
#
#   bash bench/run.sh
#
# Everything listens on and talks to 127.0.0.1 only and stops by itself. Sizes
# come from the environment (defaults: the issue's, sized to finish in a few
# minutes on 2 cores):
#
#   BENCH_TABLES=1000          tables
#   BENCH_BATCHES=10           batches per table in the initial load (scenario 1)
#   BENCH_ROWS=1000            rows per batch in the initial load
#   BENCH_BIG_ROWS=3000000     rows of the one large table (0: none)
#   BENCH_BIG_BATCHES=10       batches of the large table
#   BENCH_KNOWN_BATCHES=100    batches per table once grown (scenarios 2, 6, 7, 8)
#   BENCH_KNOWN_ROWS=100       rows per batch of the batches added by growing
#   BENCH_QUIET_RUNS=5         quiet cycles measured (the median is reported)
#   BENCH_REPEAT=5             tables changed per kind of change in scenarios 3-4 (median)
#   BENCH_LATENCY_FILES=200    files landed one by one under the daemon (scenario 6)
#   BENCH_LATENCY_INTERVAL_MS=100  pause between two landings
#   BENCH_DEBOUNCE_MS=200      landing.debounce_ms of the daemon
#   BENCH_WRK_SECONDS=5        duration of each wrk run (scenario 7)
#   BENCH_WRK_CONNECTIONS=16   wrk connections (2 threads)
#   BENCH_WORKERS=$(nproc)     landfall's worker threads
#   BENCH_MEMORY_LIMIT=512MB   warehouse.memory_limit of landfall's configs
#   BENCH_BUILD_DIR=build-bench  BENCH_OUT=bench/out
#   BENCH_SCENARIOS=all        all | tables (1-9) | models (10-13; sizes at the top of bench/models.sh)
#   BENCH_SKIP_INSTALL=1       do not run deploy/install-deps.sh
#   LANDFALL_BENCH_PG_URL      use this PostgreSQL instead of a throwaway one
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

BENCH_TABLES=${BENCH_TABLES:-1000}
BENCH_BATCHES=${BENCH_BATCHES:-10}
BENCH_ROWS=${BENCH_ROWS:-1000}
BENCH_BIG_ROWS=${BENCH_BIG_ROWS:-3000000}
BENCH_BIG_BATCHES=${BENCH_BIG_BATCHES:-10}
BENCH_KNOWN_BATCHES=${BENCH_KNOWN_BATCHES:-100}
BENCH_KNOWN_ROWS=${BENCH_KNOWN_ROWS:-100}
BENCH_QUIET_RUNS=${BENCH_QUIET_RUNS:-5}
BENCH_REPEAT=${BENCH_REPEAT:-5}
BENCH_LATENCY_FILES=${BENCH_LATENCY_FILES:-200}
BENCH_LATENCY_INTERVAL_MS=${BENCH_LATENCY_INTERVAL_MS:-100}
BENCH_DEBOUNCE_MS=${BENCH_DEBOUNCE_MS:-200}
BENCH_WRK_SECONDS=${BENCH_WRK_SECONDS:-5}
BENCH_WRK_CONNECTIONS=${BENCH_WRK_CONNECTIONS:-16}
BENCH_WORKERS=${BENCH_WORKERS:-$(nproc)}
BENCH_MEMORY_LIMIT=${BENCH_MEMORY_LIMIT:-512MB}
BENCH_BUILD_DIR=${BENCH_BUILD_DIR:-build-bench}
BENCH_OUT=${BENCH_OUT:-bench/out}
BENCH_SCENARIOS=${BENCH_SCENARIOS:-all}
export BENCH_SCENARIOS BENCH_REPEAT BENCH_TABLES BENCH_BATCHES BENCH_ROWS BENCH_BIG_ROWS BENCH_BIG_BATCHES BENCH_KNOWN_BATCHES \
  BENCH_KNOWN_ROWS BENCH_QUIET_RUNS BENCH_LATENCY_FILES BENCH_LATENCY_INTERVAL_MS BENCH_DEBOUNCE_MS \
  BENCH_WRK_SECONDS BENCH_WRK_CONNECTIONS BENCH_WORKERS BENCH_MEMORY_LIMIT BENCH_BUILD_DIR BENCH_OUT

# shellcheck source=bench/outer.sh
source bench/outer.sh
bench_outer "$0" landfall landfall-gen landfall-baseline landfall-engine-bench \
  landfall-planner-bench landfall-bench-report

PG_URL=${LANDFALL_BENCH_PG_URL:-${LANDFALL_TEST_PG_URL:?no PostgreSQL (run bench/run.sh itself)}}
BIN=$ROOT/$BENCH_BUILD_DIR
LANDFALL=$BIN/daemon/landfall
GEN=$BIN/bench/landfall-gen
BASELINE=$BIN/bench/landfall-baseline
ENGINE=$BIN/bench/landfall-engine-bench
PLANNER=$BIN/bench/landfall-planner-bench
REPORT=$BIN/bench/landfall-bench-report

OUT=$(mkdir -p "$BENCH_OUT" && cd "$BENCH_OUT" && pwd)
RAW=$OUT/raw
WORK=$OUT/work
rm -rf "$RAW" "$WORK"
mkdir -p "$RAW" "$WORK"
LANDING=$WORK/landing
mkdir -p "$LANDING"
: >"$RAW/phases.tsv"

daemon_pid=""
wrk_pid=""
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n $wrk_pid ]]; then kill "$wrk_pid" 2>/dev/null || true; fi
  if [[ -n $daemon_pid ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$daemon_pid" 2>/dev/null || true
  fi
  # The landing dir and the warehouses are large; the raw results stay.
  if [[ ${BENCH_KEEP_WORK:-0} != 1 ]]; then rm -rf "$WORK"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

phase_started=0
phase_name=""
phase() {
  local now
  now=$(date +%s.%N)
  if [[ -n $phase_name ]]; then
    printf '%s\t%s\n' "$phase_name" "$(minus "$now" "$phase_started")" >>"$RAW/phases.tsv"
  fi
  phase_name=$1
  phase_started=$now
  if [[ -n $1 ]]; then say "${2:-$1}"; fi
}

# One command's wall s, user s, sys s and max RSS KB, into a file.
timed() {
  local into=$1
  shift
  "$REPORT" time "$into" -- "$@"
}
# A - B for decimal numbers.
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a - b }'; }

table_name() { printf 'table_%04d' "$1"; }
# Lands FILE as TABLE/NAME (in DIR, default the landing dir) the way a careful
# producer does: write under an ignored name, then rename into place.
land() {
  local file=$1 table=$2 name=$3 dir=${4:-$LANDING}
  mkdir -p "$dir/$table"
  cp "$file" "$dir/$table/.$name.tmp"
  mv "$dir/$table/.$name.tmp" "$dir/$table/$name"
}

# ---- the machine -------------------------------------------------------------
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//; s/["\\]//g')
mem=$(free -h | awk '/^Mem:/ {print $2}')
printf '{"nproc": %d, "cpu": "%s", "mem_total": "%s", "kernel": "%s", "date": "%s", "load_before": "%s", "git": "%s"}\n' \
  "$(nproc)" "$cpu" "$mem" "$(uname -r)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  "$(cut -d' ' -f1-3 /proc/loadavg)" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  >"$RAW/machine.json"
# The model scenarios' sizes and functions (run after the others, or alone).
# shellcheck source=bench/models.sh
source "$ROOT/bench/models.sh"
env | grep '^BENCH_' | sort >"$RAW/sizes.env"

# CONFIG LOG: starts `landfall serve` (daemon_pid) and waits until it logs
# ready; 1 (with the log's tail) if it does not.
start_daemon() {
  "$LANDFALL" serve --config "$1" 2>"$2" &
  daemon_pid=$!
  for _ in $(seq 1 1200); do
    if grep -q '"msg":"ready: ' "$2"; then return 0; fi
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.25
  done
  say "the daemon did not become ready; log:"
  tail -n 20 "$2" >&2
  return 1
}

# ---- configs -----------------------------------------------------------------
env_name="bench_$(date +%s)_$$"
# FILE API(0|1) LOGLEVEL [DIR EXTRA]: DIR (default $WORK) holds landing/ and
# the warehouse, and names the environment; EXTRA is more YAML (e.g. models:).
write_config() {
  local dir=${4:-$WORK} api_block=""
  if [[ $2 == 1 ]]; then api_block=$'api:\n  enabled: true\n  listen: 127.0.0.1:0'; fi
  cat >"$1" <<EOF
environment: $env_name${4:+_$(basename "$dir")}
landing:
  dir: $dir/landing
  debounce_ms: $BENCH_DEBOUNCE_MS
  scan_interval_s: 0
state:
  postgres_url: $PG_URL
warehouse:
  type: duckdb
  path: $dir/landfall.duckdb
  staging_schema: staging
  memory_limit: $BENCH_MEMORY_LIMIT
workers: $BENCH_WORKERS
shutdown_timeout_s: 20
log: {level: $3, format: json}
$api_block
${5:-}
EOF
}
CONFIG=$WORK/landfall.yaml
write_config "$CONFIG" 0 warn
"$LANDFALL" check-config --config "$CONFIG" >/dev/null
BASE_DB=$WORK/baseline.duckdb
baseline() { "$BASELINE" --db "$BASE_DB" --landing "$LANDING" "$@"; }

finish() {
  phase ""
  printf 'total\t%d\n' $(($(date +%s) - ${BENCH_STARTED:-$(date +%s)})) >>"$RAW/phases.tsv"
  "$REPORT" --raw "$RAW" --out "$OUT"
  say "report: $OUT/report.md"
  cat "$OUT/report.md"
}

if [[ $BENCH_SCENARIOS == models ]]; then
  model_scenarios
  finish
  exit 0
fi

# ---- data --------------------------------------------------------------------
phase generate "generating ${BENCH_TABLES} tables x ${BENCH_BATCHES} batches x ${BENCH_ROWS} rows (+ ${BENCH_BIG_ROWS} rows in one table)"
TPL=$WORK/templates
# One table's batches are written with DuckDB and copied to every table: the
# files are what matters to both sides, and writing 10,000 Parquet files one
# by one would take longer than the benchmark.
"$GEN" --dir "$TPL/initial" --table t --batches "$BENCH_BATCHES" --rows "$BENCH_ROWS" >/dev/null
for ((t = 0; t < BENCH_TABLES; t++)); do
  cp -r "$TPL/initial/t" "$LANDING/$(table_name $t)"
done
if ((BENCH_BIG_ROWS > 0)); then
  "$GEN" --dir "$LANDING" --table big_table --batches "$BENCH_BIG_BATCHES" \
    --rows $((BENCH_BIG_ROWS / BENCH_BIG_BATCHES)) >/dev/null
fi
# Single files for the change scenarios, each a new batch of one table.
"$GEN" --dir "$TPL/new" --table t --batches 2 --start 900 --rows "$BENCH_ROWS" >/dev/null
"$GEN" --dir "$TPL/added" --table t --batches 2 --start 910 --rows "$BENCH_ROWS" \
  --variant added_column >/dev/null
"$GEN" --dir "$TPL/incompatible" --table t --batches 2 --start 920 --rows "$BENCH_ROWS" \
  --variant string_amount >/dev/null

# ---- scenario 1: initial load --------------------------------------------------
phase s1_landfall "scenario 1: initial load, landfall run"
timed "$RAW/s1_landfall.time" "$LANDFALL" run --config "$CONFIG" --format json >"$RAW/s1_landfall.json"
phase s1_baseline "scenario 1: initial load, raw DuckDB baseline"
timed "$RAW/s1_baseline.time" "$BASELINE" --db "$BASE_DB" --landing "$LANDING" load >"$RAW/s1_baseline.json"

# ---- scenarios 3, 4, 5: one change in one of 1,000 tables, then a full rebuild --
# Each kind of change is measured BENCH_REPEAT times, in as many tables, as the
# daemon runs it (a run of that table; the report takes the median), and once
# by a run of all tables (which also proves that exactly one table is touched).
pick() { table_name $(($1 % BENCH_TABLES)); }
land_cmd() { echo "sh:cp $1 $LANDING/$2/.$3.tmp && mv $LANDING/$2/.$3.tmp $LANDING/$2/$3"; }
steps=() mixed=()
for kind in new:500:900:s3 added:600:910:s4_added incompatible:700:920:s4_incompatible; do
  IFS=: read -r tpl first file label <<<"$kind"
  for ((k = 0; k < BENCH_REPEAT; k++)); do
    t=$(pick $((first + k)))
    steps+=("$(land_cmd "$TPL/$tpl/t/part-$file.parquet" "$t" "part-$file.parquet")" "${label}_table_$((k + 1))=run:$t")
    [[ $tpl == new ]] || mixed+=("$t")
  done
  t=$(pick $((first + 50)))
  steps+=("$(land_cmd "$TPL/$tpl/t/part-$((file + 1)).parquet" "$t" "part-$((file + 1)).parquet")" "${label}_cycle=run")
  [[ $tpl == new ]] || mixed+=("$t")
done
phase s345_landfall "scenarios 3-5: landfall (one process: start-up once, then each change)"
"$ENGINE" --config "$CONFIG" "${steps[@]}" "s5_full=full" >"$RAW/s345_engine.json"
phase s345_baseline "scenarios 3-5: raw DuckDB baseline"
for kind in new:500:900:s3 added:600:910:s4_added incompatible:700:920:s4_incompatible; do
  IFS=: read -r tpl first file label <<<"$kind"
  for ((k = 0; k <= BENCH_REPEAT; k++)); do
    if ((k < BENCH_REPEAT)); then t=$(pick $((first + k))) f=$file out=${label}_baseline_table_$((k + 1))
    else t=$(pick $((first + 50))) f=$((file + 1)) out=${label}_baseline_cycle; fi
    if [[ $tpl == new ]]; then
      baseline insert --table "$t" --file "$LANDING/$t/part-$f.parquet" >"$RAW/$out.json"
    else
      baseline rebuild --table "$t" >"$RAW/$out.json"
    fi
  done
done
timed "$RAW/s5_baseline.time" "$BASELINE" --db "$BASE_DB" --landing "$LANDING" rebuild-all \
  --mixed "$(IFS=,; echo "${mixed[*]}")" >"$RAW/s5_baseline.json"

# ---- scenario 2: grow to 100 batches per table, then quiet cycles ---------------
extra=$((BENCH_KNOWN_BATCHES - BENCH_BATCHES))
if ((extra > 0)); then
  phase s2_grow_files "scenario 2: growing to ${BENCH_KNOWN_BATCHES} batches per table (+${extra} each, hard links)"
  "$GEN" --dir "$TPL/grow" --table t --batches "$extra" --start 1000 --rows "$BENCH_KNOWN_ROWS" >/dev/null
  for ((t = 0; t < BENCH_TABLES; t++)); do
    cp -l "$TPL/grow/t/"*.parquet "$LANDING/$(table_name $t)/"
  done
  phase s2_grow_landfall "scenario 2: landfall stages the new batches (bulk append)"
  "$ENGINE" --config "$CONFIG" "grow=run" >"$RAW/s2_grow_engine.json"
  phase s2_grow_baseline "scenario 2: raw DuckDB bulk append"
  baseline append-new >"$RAW/s2_grow_baseline.json"
fi
phase s2_quiet "scenario 2: quiet cycles (in process)"
"$ENGINE" --config "$CONFIG" scan "quiet=quiet:$BENCH_QUIET_RUNS" plan >"$RAW/s2_engine.json"
phase s2_cli "scenario 2: quiet landfall run and plan (CLI)"
timed "$RAW/s2_cli_run.time" "$LANDFALL" run --config "$CONFIG" --format json >"$RAW/s2_cli_run.json"
timed "$RAW/s2_cli_plan.time" "$LANDFALL" plan --config "$CONFIG" --format json >/dev/null
baseline quiet >"$RAW/s2_baseline_quiet.json"

# ---- scenario 8 (in process): memory without DuckDB's share ---------------------
phase s8_engine "scenario 8: landfall's own heap, idle and during a run of every table (in process)"
"$GEN" --dir "$TPL/wide" --table t --batches 2 --start 2000 --rows "$BENCH_KNOWN_ROWS" >/dev/null
# FILE NAME: one new batch in every table, renamed into place (a script, so
# that the engine bench's sh: step can run it too).
cat >"$WORK/land_everywhere.sh" <<EOF
for ((t = 0; t < $BENCH_TABLES; t++)); do
  d=$LANDING/\$(printf 'table_%04d' \$t)
  cp -l "\$1" "\$d/.\$2.tmp" && mv "\$d/.\$2.tmp" "\$d/\$2"
done
EOF
land_everywhere() { bash "$WORK/land_everywhere.sh" "$@"; }
"$ENGINE" --config "$CONFIG" --sample-memory "idle=quiet:1" \
  "sh:bash $WORK/land_everywhere.sh $TPL/wide/t/part-2000.parquet part-2000.parquet" \
  "all_tables=run" >"$RAW/s8_engine.json"

# ---- scenarios 6, 7, 8: the daemon ---------------------------------------------
phase daemon_start "scenarios 6-8: landfall serve"
DAEMON_CONFIG=$WORK/serve.yaml
write_config "$DAEMON_CONFIG" 1 info
api=1
if ! "$LANDFALL" check-config --config "$DAEMON_CONFIG" >/dev/null 2>&1; then
  write_config "$DAEMON_CONFIG" 0 info
  api=0
fi
LOG=$RAW/daemon.log
start_daemon "$DAEMON_CONFIG" "$LOG" || exit 1
port=$(grep -o '"msg":"api: listening on http://127.0.0.1:[0-9]*' "$LOG" | head -1 | grep -o '[0-9]*$' || true)
if [[ -z $port ]]; then api=0; fi
status_kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$daemon_pid/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$daemon_pid/stat"; }
metrics() { if ((api)); then curl -s "http://127.0.0.1:$port/metrics" >"$1" || true; fi; }

# Scenario 8: after start-up, then idle (the peak is reset first).
startup_hwm=$(status_kb VmHWM)
echo 5 >"/proc/$daemon_pid/clear_refs" 2>/dev/null || true
metrics "$RAW/s8_metrics_idle_before.txt"
ticks_before=$(cpu_ticks)
sleep 5
ticks_after=$(cpu_ticks)
metrics "$RAW/s8_metrics_idle_after.txt"
idle_rss=$(status_kb VmRSS)
idle_hwm=$(status_kb VmHWM)

# Scenario 7: the API under wrk.
if ((api)); then
  phase s7 "scenario 7: wrk against /v1/tables and /healthz"
  for route in v1/tables healthz readyz metrics; do
    timeout $((BENCH_WRK_SECONDS + 30)) wrk -t2 -c"$BENCH_WRK_CONNECTIONS" -d"${BENCH_WRK_SECONDS}s" \
      --timeout 10s --latency "http://127.0.0.1:$port/$route" >"$RAW/s7_${route//\//_}.wrk" 2>&1 || true
  done
  # The same probes while slow calls hold the API's slow lane: dry runs of
  # every table and a full refresh of every table, started over and over.
  phase s7_slow "scenario 7: probes while slow calls run"
  slow_pids=()
  for _ in 1 2; do
    (while :; do curl -s -o /dev/null --max-time 120 "http://127.0.0.1:$port/v1/plan?full_refresh=true"; done) &
    slow_pids+=($!)
  done
  (while :; do
    curl -s -o /dev/null --max-time 120 -X POST -H 'Content-Type: application/json' \
      -d '{"full_refresh": true}' "http://127.0.0.1:$port/v1/runs"
    sleep 0.2
  done) &
  slow_pids+=($!)
  sleep 1
  for route in healthz readyz metrics; do
    timeout $((BENCH_WRK_SECONDS + 30)) wrk -t2 -c"$BENCH_WRK_CONNECTIONS" -d"${BENCH_WRK_SECONDS}s" \
      --timeout 10s --latency "http://127.0.0.1:$port/$route" >"$RAW/s7_slow_$route.wrk" 2>&1 || true
  done
  kill "${slow_pids[@]}" 2>/dev/null || true
  wait "${slow_pids[@]}" 2>/dev/null || true
  # Let the last full refresh finish before scenario 6 measures landings.
  for _ in $(seq 1 1200); do
    running=$(curl -s "http://127.0.0.1:$port/v1/runs?status=running" | grep -c '"id"' || true)
    ((running == 0)) && break
    sleep 0.25
  done
else
  echo "skipped: API not available" >"$RAW/s7_skipped.txt"
fi

# Scenario 6: files landed one by one; latency from rename to committed.
phase s6 "scenario 6: ${BENCH_LATENCY_FILES} files landed one by one"
"$GEN" --dir "$TPL/latency" --table t --batches "$BENCH_LATENCY_FILES" --start 3000 \
  --rows "$BENCH_KNOWN_ROWS" >/dev/null
metrics "$RAW/s6_metrics_before.txt"
: >"$RAW/s6_landings.tsv"
stride=5
for ((i = 0; i < BENCH_LATENCY_FILES; i++)); do
  table=$(table_name $(((i * stride) % BENCH_TABLES)))
  file=$TPL/latency/t/part-$((3000 + i)).parquet
  cp "$file" "$LANDING/$table/.lat-$i.parquet.tmp"
  renamed=$EPOCHREALTIME
  mv "$LANDING/$table/.lat-$i.parquet.tmp" "$LANDING/$table/lat-$i.parquet"
  printf '%s\t%s\n' "$table" "$renamed" >>"$RAW/s6_landings.tsv"
  sleep "$(printf '0.%03d' "$BENCH_LATENCY_INTERVAL_MS")"
done
# Wait until every landed file's table logged its append (at most 60 s).
for _ in $(seq 1 600); do
  staged=$(grep -c '"msg":"table [^ ]*: append' "$LOG" || true)
  ((staged >= BENCH_LATENCY_FILES)) && break
  sleep 0.1
done
metrics "$RAW/s6_metrics_after.txt"

# Scenario 8: a run of every table under the daemon.
phase s8_daemon "scenario 8: a new batch in every table under the daemon"
before=$(grep -c '"msg":"table [^ ]*: append' "$LOG" || true)
echo 5 >"/proc/$daemon_pid/clear_refs" 2>/dev/null || true
run_started=$(date +%s.%N)
land_everywhere "$TPL/wide/t/part-2001.parquet" part-2001.parquet
rss_max=0
for _ in $(seq 1 3000); do
  rss=$(status_kb VmRSS)
  ((rss > rss_max)) && rss_max=$rss
  now=$(grep -c '"msg":"table [^ ]*: append' "$LOG" || true)
  ((now - before >= BENCH_TABLES)) && break
  sleep 0.1
done
run_seconds=$(minus "$(date +%s.%N)" "$run_started")
run_hwm=$(status_kb VmHWM)
printf '{"startup_hwm_kb": %d, "idle_rss_kb": %d, "idle_hwm_kb": %d, "idle_seconds": 5, "idle_cpu_ticks": %d, "clk_tck": %d, "run_hwm_kb": %d, "run_rss_max_kb": %d, "run_seconds": %s, "run_tables": %d}\n' \
  "$startup_hwm" "$idle_rss" "$idle_hwm" $((ticks_after - ticks_before)) "$(getconf CLK_TCK)" \
  "$run_hwm" "$rss_max" "$run_seconds" $((now - before)) >"$RAW/s8_daemon.json"

phase daemon_stop "stopping the daemon"
kill -TERM "$daemon_pid"
wait "$daemon_pid" || true
daemon_pid=""

# ---- scenario 9: micro-benchmarks ------------------------------------------------
phase s9 "scenario 9: planner and schema micro-benchmarks"
"$PLANNER" --benchmark_format=json --benchmark_min_time=0.5 >"$RAW/s9_planner.json" 2>"$RAW/s9_planner.err"

if [[ $BENCH_SCENARIOS == all ]]; then model_scenarios; fi
finish
