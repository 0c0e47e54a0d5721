#!/usr/bin/env bash
# Issue 18: what `warehouse.hold_open: false` costs a new batch. `landfall
# serve` twice on the same files, first with the DuckDB file held open (the
# default, the baseline), then opened per run; in each, BENCH_OPEN_FILES
# batches are landed one at a time, BENCH_OPEN_GAP_MS apart (longer than the
# half second after which the daemon closes an idle file, so with hold_open:
# false every batch's run opens the file again), and each one's latency is
# taken from its rename to its table's append in the daemon's log:
#
#   a. hold_open: true   (baseline)
#   b. hold_open: false  (ratio b / a; b - a is the open cost per run)
#
#   bash bench/hold_open.sh                     # 20 batches, 1 table of 100,000 rows
#   BENCH_OPEN_FILES=10 BENCH_OPEN_TABLES=50 bash bench/hold_open.sh
#
# BENCH_OPEN_TABLES staging tables are loaded first (a larger warehouse file
# to open). Prints a table of figures and ratios; bench/RESULTS.md keeps runs'.
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_OPEN_FILES=${BENCH_OPEN_FILES:-20}
BENCH_OPEN_TABLES=${BENCH_OPEN_TABLES:-1}
BENCH_OPEN_ROWS=${BENCH_OPEN_ROWS:-100000}
BENCH_OPEN_GAP_MS=${BENCH_OPEN_GAP_MS:-1500}
BENCH_BUILD_DIR=${BENCH_BUILD_DIR:-build-bench}
export BENCH_OPEN_FILES BENCH_OPEN_TABLES BENCH_OPEN_ROWS BENCH_OPEN_GAP_MS BENCH_BUILD_DIR

# shellcheck source=bench/outer.sh
source bench/outer.sh
bench_outer "$0" landfall landfall-gen

PG_URL=${LANDFALL_BENCH_PG_URL:-${LANDFALL_TEST_PG_URL:?no PostgreSQL (run bench/hold_open.sh itself)}}
LANDFALL=$PWD/$BENCH_BUILD_DIR/daemon/landfall
GEN=$PWD/$BENCH_BUILD_DIR/bench/landfall-gen
WORK=$(mktemp -d /tmp/landfall-hold-open.XXXXXX)
daemon=""
cleanup() {
  if [[ -n $daemon ]]; then kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

say "writing $BENCH_OPEN_TABLES table(s) x $BENCH_OPEN_ROWS rows and $BENCH_OPEN_FILES new batches"
"$GEN" --dir "$WORK/initial" --tables "$BENCH_OPEN_TABLES" --batches 1 --rows "$BENCH_OPEN_ROWS" >/dev/null
"$GEN" --dir "$WORK/new" --table t --batches "$BENCH_OPEN_FILES" --start 1000 --rows 1000 >/dev/null
first_table=$(find "$WORK/initial" -mindepth 1 -maxdepth 1 -printf "%f\n" | sort | head -1)

# Epoch seconds of a log line's "ts" (2026-12-02T10:00:00.123+0000).
epoch() { date -d "$1" +%s.%N; }

# mode (true|false) -> one latency in ms per line, into $WORK/<mode>.ms
measure() {
  local mode=$1 dir=$WORK/$1
  mkdir -p "$dir"
  cp -r "$WORK/initial" "$dir/landing"
  cat >"$dir/landfall.yaml" <<EOF
environment: bench_hold_open_${mode}_$$
landing: {dir: $dir/landing, debounce_ms: 50, scan_interval_s: 0}
state: {postgres_url: $PG_URL}
warehouse: {type: duckdb, path: $dir/landfall.duckdb, hold_open: $mode}
api: {enabled: false}
log: {level: info, format: json}
EOF
  "$LANDFALL" serve --config "$dir/landfall.yaml" >"$dir/daemon.log" 2>&1 &
  daemon=$!
  for _ in $(seq 1 1200); do
    grep -q '"msg":"ready: watching' "$dir/daemon.log" && break
    kill -0 "$daemon" 2>/dev/null || { cat "$dir/daemon.log" >&2; exit 1; }
    sleep 0.1
  done
  say "hold_open: $mode: landing $BENCH_OPEN_FILES batches into $first_table"
  : >"$WORK/$mode.ms"
  local i file seen renamed ts
  for ((i = 0; i < BENCH_OPEN_FILES; i++)); do
    sleep "$(awk -v ms="$BENCH_OPEN_GAP_MS" 'BEGIN { printf "%.3f", ms / 1000 }')"
    file=$(ls "$WORK/new/t" | sed -n "$((i + 1))p")
    seen=$(grep -c "\"msg\":\"table $first_table: append" "$dir/daemon.log" || true)
    cp "$WORK/new/t/$file" "$dir/landing/$first_table/.$file.tmp"
    renamed=$EPOCHREALTIME
    mv "$dir/landing/$first_table/.$file.tmp" "$dir/landing/$first_table/$file"
    for _ in $(seq 1 3000); do
      (($(grep -c "\"msg\":\"table $first_table: append" "$dir/daemon.log" || true) > seen)) && break
      sleep 0.01
    done
    ts=$(grep "\"msg\":\"table $first_table: append" "$dir/daemon.log" | sed -n "$((seen + 1))p" |
      sed 's/.*"ts":"\([^"]*\)".*/\1/')
    [[ -n $ts ]] || { echo "bench: batch $file was not staged" >&2; cat "$dir/daemon.log" >&2; exit 1; }
    awk -v a="$renamed" -v b="$(epoch "$ts")" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }' >>"$WORK/$mode.ms"
  done
  kill "$daemon"
  wait "$daemon" || true
  daemon=""
}

measure true
measure false

# median, min and max of a file of numbers
stats() { sort -n "$1" | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
  printf "%.1f %.1f %.1f", m, v[1], v[NR] }'; }
read -r a_med a_min a_max <<<"$(stats "$WORK/true.ms")"
read -r b_med b_min b_max <<<"$(stats "$WORK/false.ms")"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
cat <<EOF

scenario 18: one new batch, rename -> staged ($BENCH_OPEN_FILES batches, ${BENCH_OPEN_GAP_MS} ms apart; $BENCH_OPEN_TABLES table(s) of $BENCH_OPEN_ROWS rows; warehouse $(du -h "$WORK/false/landfall.duckdb" | cut -f1); $(nproc) cores)
| warehouse.hold_open | median ms | min ms | max ms | ratio of medians |
|---|---|---|---|---|
| a. true (baseline) | $a_med | $a_min | $a_max | |
| b. false (opened per run) | $b_med | $b_min | $b_max | $(ratio "$b_med" "$a_med") of (a); open cost $(awk -v a="$a_med" -v b="$b_med" 'BEGIN { printf "%.1f", b - a }') ms |
EOF
