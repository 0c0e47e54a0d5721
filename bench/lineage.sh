#!/usr/bin/env bash
# Scenario 15 (issue 15): column lineage. BENCH_LIN_MODELS models in two
# layers over BENCH_LIN_TABLES staging tables, through the landfall binary,
# against a throwaway PostgreSQL, with baselines measured in the same script:
#
#   layer 1: BENCH_LIN_L1 models, each the union of its share of the staging
#            tables, with the columns id, customer, c_amount, c_flag, c_hot,
#            c_day; the first is m_hot
#   layer 2: the other models, each an aggregate of a few columns of one
#            layer-1 model: BENCH_LIN_HOT_READERS of them read m_hot's c_hot,
#            as many read m_hot without c_hot (c_amount, c_flag), the rest read
#            the other layer-1 models
#
#   a. the first run: stage every table, build every model
#   b. the lineage analysis of every model: `landfall lineage` alone (it binds
#      every model to answer for one) and GET /v1/lineage of `landfall serve`,
#      per model, against `landfall check-config` (start-up, parse) and the
#      models' own run times in (a)
#   c. m_hot's SQL edited so that only c_hot's expression changes; `landfall
#      plan` and `landfall run`: models counted by action and by first reason,
#      expected (lineage: m_hot and its c_hot readers recompute, the rest
#      skip) against observed
#   d. the column-hash pass: what the run's JSON reports, and the same pass by
#      hand (count(*) and sum(hash(col)) of every column in one statement) on
#      a copy of the warehouse, against the model's own run time in (c)
#   e. what a tool without column lineage does: a full refresh of m_hot and
#      everything downstream of it, against (c)
#
#   bash bench/lineage.sh
#   BENCH_LIN_TABLES=200 BENCH_LIN_L1=20 BENCH_LIN_MODELS=80 bash bench/lineage.sh
#   BENCH_BUILD_DIR=build BENCH_SKIP_INSTALL=1 bash bench/lineage.sh   # an existing build
#
# Prints a table of figures and ratios (raw JSON stays in BENCH_OUT, default
# bench/out/lineage).
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_LIN_TABLES=${BENCH_LIN_TABLES:-1000}
BENCH_LIN_MODELS=${BENCH_LIN_MODELS:-200}
BENCH_LIN_L1=${BENCH_LIN_L1:-40}
BENCH_LIN_HOT_READERS=${BENCH_LIN_HOT_READERS:-10}
BENCH_LIN_ROWS=${BENCH_LIN_ROWS:-1000}
BENCH_LIN_REPEAT=${BENCH_LIN_REPEAT:-3}
BENCH_BUILD_DIR=${BENCH_BUILD_DIR:-build-bench}
BENCH_OUT=${BENCH_OUT:-bench/out/lineage}
export BENCH_LIN_TABLES BENCH_LIN_MODELS BENCH_LIN_L1 BENCH_LIN_HOT_READERS BENCH_LIN_ROWS \
  BENCH_LIN_REPEAT BENCH_BUILD_DIR BENCH_OUT

# shellcheck source=bench/outer.sh
source bench/outer.sh
bench_outer "$0" landfall landfall-gen landfall-baseline

PG_URL=${LANDFALL_BENCH_PG_URL:-${LANDFALL_TEST_PG_URL:?no PostgreSQL (run bench/lineage.sh itself)}}
LANDFALL=$PWD/$BENCH_BUILD_DIR/daemon/landfall
GEN=$PWD/$BENCH_BUILD_DIR/bench/landfall-gen
BASELINE=$PWD/$BENCH_BUILD_DIR/bench/landfall-baseline
L1=$BENCH_LIN_L1
L2=$((BENCH_LIN_MODELS - L1))
HOT=$BENCH_LIN_HOT_READERS
PER=$((BENCH_LIN_TABLES / L1))
if ((L1 < 2 || PER < 1 || L2 < 2 * HOT + 1)); then
  say "need at least 2 layer-1 models, a staging table each, and more than $((2 * HOT)) layer-2 models"
  exit 2
fi

OUT=$(mkdir -p "$BENCH_OUT" && cd "$BENCH_OUT" && pwd)
rm -f "$OUT"/*.json "$OUT"/*.log
WORK=$(mktemp -d /tmp/landfall-lineage.XXXXXX)
daemon_pid=""
cleanup() {
  if [[ -n $daemon_pid ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/landing" "$WORK/models"

# ---- data and models ------------------------------------------------------------
say "writing $BENCH_LIN_TABLES tables x $BENCH_LIN_ROWS rows, $L1 + $L2 models"
# One batch written once and linked into every table's folder: the files are
# what matters, not that each is written by hand.
"$GEN" --dir "$WORK/template" --table t --batches 1 --rows "$BENCH_LIN_ROWS" >/dev/null
for ((t = 0; t < BENCH_LIN_TABLES; t++)); do
  d=$WORK/landing/$(printf 'table_%04d' $t)
  mkdir -p "$d"
  cp -l "$WORK/template/t/"*.parquet "$d/"
done

l1_name() { if (($1 == 0)); then echo m_hot; else printf 'm1_%02d' "$1"; fi; }
# Layer 1: model k is the union of tables k*PER .. k*PER+PER-1. C_HOT is c_hot's
# expression (step c changes m_hot's, nothing else).
l1_sql() {
  local k=$1 c_hot=$2 t from=""
  for ((t = k * PER; t < (k + 1) * PER; t++)); do
    from+="${from:+ UNION ALL }SELECT * FROM staging.$(printf 'table_%04d' $t)"
  done
  printf 'SELECT id, customer, amount AS c_amount, amount > 500 AS c_flag, %s AS c_hot,\n' "$c_hot"
  printf '       CAST(created_at AS DATE) AS c_day\nFROM (%s)\n' "$from"
}
for ((k = 0; k < L1; k++)); do l1_sql $k 'amount * 3' >"$WORK/models/$(l1_name $k).sql"; done
# Layer 2: m2_000.. read m_hot's c_hot; the next HOT read m_hot's c_amount and
# c_flag only; the rest read another layer-1 model (every third its c_hot).
for ((j = 0; j < L2; j++)); do
  m=$(printf 'm2_%03d' $j)
  if ((j < HOT)); then
    echo "SELECT customer, sum(c_hot) + $j AS hot, count(*) AS n FROM analytics.m_hot GROUP BY customer"
  elif ((j < 2 * HOT)); then
    echo "SELECT customer, sum(c_amount) + $j AS total FROM analytics.m_hot WHERE c_flag GROUP BY customer"
  else
    up=$(l1_name $((1 + j % (L1 - 1))))
    if ((j % 3 == 0)); then
      echo "SELECT customer, sum(c_hot) AS hot, max(c_day) AS last_day FROM analytics.$up GROUP BY customer"
    else
      echo "SELECT customer, sum(c_amount) + $j AS total, max(c_day) AS last_day FROM analytics.$up WHERE c_flag GROUP BY customer"
    fi
  fi >"$WORK/models/$m.sql"
done

config() {
  cat <<EOF
environment: bench_lineage_$$
landing: {dir: $WORK/landing, scan_interval_s: 0}
state: {postgres_url: $PG_URL}
warehouse: {type: duckdb, path: $WORK/landfall.duckdb, staging_schema: staging}
models: {dir: $WORK/models, schema: analytics}
log: {level: $1, format: json}
api: {enabled: $2, listen: "127.0.0.1:0"}
EOF
}
config warn false >"$WORK/landfall.yaml"
config info true >"$WORK/serve.yaml"
CONFIG=$WORK/landfall.yaml
"$LANDFALL" check-config --config "$CONFIG" >/dev/null

now() { date +%s.%N; }
ms_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3g", a / b; else print "n/a" }'; }
per_model() { awk -v a="$1" -v n="$BENCH_LIN_MODELS" 'BEGIN { printf "%.2f", a / n }'; }
run() { "$LANDFALL" run --config "$CONFIG" --format json "$@"; }

# ---- a. the first run ------------------------------------------------------------
say "a. the first run (stage $BENCH_LIN_TABLES tables, build $BENCH_LIN_MODELS models)"
t0=$(now)
run >"$OUT/a_run.json"
a_wall=$(ms_since "$t0")
built=$(jq '[.models[] | select(.action != "skip" and .error == "")] | length' "$OUT/a_run.json")
if ((built != BENCH_LIN_MODELS)); then
  say "the first run built $built of $BENCH_LIN_MODELS models:"
  jq -c '.models[] | select(.error != "") | {model, error}' "$OUT/a_run.json" | head -5 >&2
  exit 1
fi
# A model's own run time: the mean over the models, and m_hot's.
a_model_ms=$(jq '[.models[].duration_ms] | add / length | . * 10 | round / 10' "$OUT/a_run.json")
a_hot_ms=$(jq '.models[] | select(.model == "m_hot") | .duration_ms' "$OUT/a_run.json")

# ---- b. the lineage analysis -----------------------------------------------------
say "b. the lineage analysis of $BENCH_LIN_MODELS models, $BENCH_LIN_REPEAT times each way"
cli_ms=() check_ms=() api_ms=()
for ((i = 0; i < BENCH_LIN_REPEAT; i++)); do
  t0=$(now)
  "$LANDFALL" lineage m_hot --config "$CONFIG" --format json >"$OUT/b_lineage_m_hot.json"
  cli_ms+=("$(ms_since "$t0")")
  t0=$(now)
  "$LANDFALL" check-config --config "$CONFIG" >/dev/null
  check_ms+=("$(ms_since "$t0")")
done
"$LANDFALL" serve --config "$WORK/serve.yaml" 2>"$OUT/b_daemon.log" &
daemon_pid=$!
port=""
for _ in $(seq 1 600); do
  if grep -q '"msg":"ready: ' "$OUT/b_daemon.log"; then
    port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$OUT/b_daemon.log" | head -1 | grep -o '[0-9]*$')
    break
  fi
  kill -0 "$daemon_pid" 2>/dev/null || break
  sleep 0.2
done
if [[ -z $port ]]; then
  say "the daemon did not become ready; log:"
  tail -n 20 "$OUT/b_daemon.log" >&2
  exit 1
fi
for ((i = 0; i < BENCH_LIN_REPEAT; i++)); do
  s=$(curl -sf -o "$OUT/b_lineage_all.json" -w '%{time_total}' "http://127.0.0.1:$port/v1/lineage")
  api_ms+=("$(awk -v s="$s" 'BEGIN { printf "%.1f", s * 1000 }')")
done
kill -TERM "$daemon_pid"
wait "$daemon_pid" || true
daemon_pid=""
lineage_models=$(jq '.models | length' "$OUT/b_lineage_all.json")
lineage_known=$(jq '[.models[] | select(.known)] | length' "$OUT/b_lineage_all.json")
hot_readers=$(jq -r '.columns[] | select(.name == "c_hot") | .read_by | length' "$OUT/b_lineage_m_hot.json")
cli_med=$(printf '%s\n' "${cli_ms[@]}" | median)
check_med=$(printf '%s\n' "${check_ms[@]}" | median)
api_med=$(printf '%s\n' "${api_ms[@]}" | median)
cli_net=$(awk -v a="$cli_med" -v b="$check_med" 'BEGIN { printf "%.1f", a - b }')

# ---- c. one column's expression changes ------------------------------------------
say "c. m_hot's c_hot expression edited; plan and run"
l1_sql 0 'amount * 5' >"$WORK/models/m_hot.sql"
"$LANDFALL" plan --config "$CONFIG" --format json >"$OUT/c_plan.json"
t0=$(now)
run >"$OUT/c_run.json"
c_wall=$(ms_since "$t0")
c_models_ms=$(jq '.models_duration_ms' "$OUT/c_run.json")
c_hot_ms=$(jq '[.models[] | select(.model == "m_hot") | .duration_ms] | add // 0' "$OUT/c_run.json")

# GROUP of a model: m_hot, hot_reader (reads m_hot.c_hot), other_reader (reads
# m_hot, not c_hot), rest. Expected: the first two recompute, the rest skip.
group_jq='def group: if .model == "m_hot" then "m_hot"
  elif (.model | test("^m2_[0-9]+$")) and ((.model[3:] | tonumber) < '"$HOT"') then "hot_reader"
  elif (.model | test("^m2_[0-9]+$")) and ((.model[3:] | tonumber) < '"$((2 * HOT))"') then "other_reader"
  else "rest" end;'
# FILE: "group action first-reason decision count" lines of its models.
tally() {
  jq -r "$group_jq"' [.models[] | {g: group, a: .action, r: (.reasons[0].code // "-"),
      d: ((.lineage // {}).decision // "-")}] | group_by([.g, .a, .r, .d])[]
    | "\(.[0].g)\t\(.[0].a)\t\(.[0].r)\t\(.[0].d)\t\(length)"' "$1"
}
# FILE GROUP: that group's models by action ("1 rebuild", "10 run, 10 skip").
observed() {
  jq -r "$group_jq"' [.models[] | select(group == "'"$2"'")] | group_by(.action)
    | map("\(length) \(.[0].action)") | if length == 0 then "none listed" else join(", ") end' "$1"
}

# ---- d. the column-hash pass -----------------------------------------------------
say "d. the column-hash pass: the run's own report, and by hand on a copy"
# The run's own fingerprint pass of m_hot (kept for its readers' decisions),
# in its write's transaction: "hash_ms" of its model in the run's JSON.
reported_hash=$(jq '[.models[] | select(.model == "m_hot") | .hash_ms] | add // 0' "$OUT/c_run.json")
cp "$WORK/landfall.duckdb" "$WORK/copy.duckdb"
[[ -f $WORK/landfall.duckdb.wal ]] && cp "$WORK/landfall.duckdb.wal" "$WORK/copy.duckdb.wal"
hash_by_hand() {
  "$BASELINE" --db "$WORK/copy.duckdb" --landing "$WORK/landing" sql --select \
    "SELECT count(*), sum(hash(COLUMNS(*))) FROM analytics.$1" | jq -r '.work_ms'
}
hash_hot=() hash_reader=()
for ((i = 0; i < BENCH_LIN_REPEAT; i++)); do
  hash_hot+=("$(hash_by_hand m_hot)")
  hash_reader+=("$(hash_by_hand m2_000)")
done
hash_hot_med=$(printf '%s\n' "${hash_hot[@]}" | median)
hash_reader_med=$(printf '%s\n' "${hash_reader[@]}" | median)
reader_ms=$(jq '[.models[] | select(.model == "m2_000") | .duration_ms] | add // 0' "$OUT/c_run.json")

# ---- e. recompute everything downstream -------------------------------------------
say "e. a full refresh of m_hot and everything downstream (no column lineage)"
run --full-refresh --models m_hot+ >"$OUT/e_run.json"
e_models_ms=$(jq '.models_duration_ms' "$OUT/e_run.json")
e_count=$(jq '[.models[] | select(.action == "run" or .action == "rebuild")] | length' "$OUT/e_run.json")
c_count=$(jq '[.models[] | select(.action == "run" or .action == "rebuild")] | length' "$OUT/c_run.json")

cat <<EOF

scenario 15: column lineage, $BENCH_LIN_MODELS models ($L1 + $L2) over $BENCH_LIN_TABLES tables x $BENCH_LIN_ROWS rows ($(nproc) cores, $(git rev-parse --short HEAD 2>/dev/null || echo '?'))

| step | figure | against | ratio |
|---|---|---|---|
| a. first run: stage + build every model | ${a_wall} ms wall, a model ${a_model_ms} ms on average (m_hot ${a_hot_ms} ms) | | |
| b. lineage of every model, \`landfall lineage\` alone (median of $BENCH_LIN_REPEAT) | ${cli_med} ms; less check-config's ${check_med} ms: ${cli_net} ms, $(per_model "$cli_net") ms a model | a model's run in (a), ${a_model_ms} ms | $(ratio "$(per_model "$cli_net")" "$a_model_ms") |
| b'. lineage of every model, GET /v1/lineage of the daemon (median of $BENCH_LIN_REPEAT) | ${api_med} ms, $(per_model "$api_med") ms a model ($lineage_known of $lineage_models known; m_hot.c_hot read by $hot_readers) | a model's run in (a), ${a_model_ms} ms | $(ratio "$(per_model "$api_med")" "$a_model_ms") |
| c. m_hot's c_hot edited: landfall run | ${c_wall} ms wall, model phase ${c_models_ms} ms, $c_count models recomputed | e. full refresh of m_hot+ ($e_count models), model phase ${e_models_ms} ms | $(ratio "$c_models_ms" "$e_models_ms") |
| d. column-hash pass by hand, m_hot | ${hash_hot_med} ms | m_hot's run in (c), ${c_hot_ms} ms | $(ratio "$hash_hot_med" "$c_hot_ms") |
| d. column-hash pass by hand, m2_000 | ${hash_reader_med} ms | m2_000's run in (c), ${reader_ms} ms | $(ratio "$hash_reader_med" "$reader_ms") |
| d. the run's own fingerprint pass of m_hot (hash_ms) | ${reported_hash} ms | m_hot's run in (c), ${c_hot_ms} ms | $(ratio "$reported_hash" "$c_hot_ms") |

c. models by group, expected with column lineage against observed:
| group | models | expected | plan observed | run observed |
|---|---|---|---|---|
| m_hot (its SQL changed) | 1 | 1 rebuild or run | $(observed "$OUT/c_plan.json" m_hot) | $(observed "$OUT/c_run.json" m_hot) |
| readers of m_hot.c_hot | $HOT | $HOT run or rebuild (columns_changed) | $(observed "$OUT/c_plan.json" hot_reader) | $(observed "$OUT/c_run.json" hot_reader) |
| readers of m_hot, not c_hot | $HOT | $HOT skip (columns_unaffected) | $(observed "$OUT/c_plan.json" other_reader) | $(observed "$OUT/c_run.json" other_reader) |
| the rest | $((BENCH_LIN_MODELS - 1 - 2 * HOT)) | $((BENCH_LIN_MODELS - 1 - 2 * HOT)) skip | $(observed "$OUT/c_plan.json" rest) | $(observed "$OUT/c_run.json" rest) |

c. by action and first reason code (group, action, reason, lineage decision, models):
plan ($(jq '.models | length' "$OUT/c_plan.json") models listed):
$(tally "$OUT/c_plan.json" | sed 's/^/  /')
run ($(jq '.models | length' "$OUT/c_run.json") models listed):
$(tally "$OUT/c_run.json" | sed 's/^/  /')

c. the lineage each reports for a reader of m_hot.c_hot (m2_000) and one of m_hot without it (m2_$(printf '%03d' "$HOT")):
$(for f in c_plan c_run; do
  for m in m2_000 "m2_$(printf '%03d' "$HOT")"; do
    printf '  %s %s: %s\n' "${f#c_}" "$m" "$(jq -c --arg m "$m" '[.models[] | select(.model == $m) | (.lineage // "none")][0]' "$OUT/$f.json")"
  done
done)

raw JSON: $OUT ($(($(date +%s) - ${BENCH_STARTED:-$(date +%s)})) s in all)
EOF
