# Scenarios 10-13 of bench/run.sh (issue 13): the model layer. Sourced by
# run.sh, which defines LANDFALL, GEN, BASELINE, ENGINE, RAW, WORK, say, phase,
# timed, land, write_config and start_daemon. Everything here has its own landing
# directory and warehouse, so these scenarios run alone too
# (BENCH_SCENARIOS=models).
#
#   BENCH_MODEL_TABLES=1000      staging tables (one batch of BENCH_MODEL_ROWS each)
#   BENCH_MODELS=200             models: 1 in 20 a full-refresh aggregate of a staging
#                                table, 1 in 40 a full-refresh aggregate of an
#                                incremental model, the rest incremental by batch over
#                                one staging table each
#   BENCH_MODEL_ROWS=1000        rows per staging table, and per new batch (scenario 11)
#   BENCH_MODEL_MID_ROWS=1000000 rows of the first large staging table (scenario 12)
#   BENCH_MODEL_BIG_ROWS=3000000 rows of the second (the issue's 10 M: 10000000)
#   BENCH_MODEL_NEW_ROWS=10000   rows of the new batch of each large table
#   BENCH_MODEL_LATENCY_FILES=20 files landed one by one under the daemon (scenario 13)
#   BENCH_MODEL_LATENCY_INTERVAL_MS=500  pause between two of them

BENCH_MODEL_TABLES=${BENCH_MODEL_TABLES:-1000}
BENCH_MODELS=${BENCH_MODELS:-200}
BENCH_MODEL_ROWS=${BENCH_MODEL_ROWS:-1000}
BENCH_MODEL_MID_ROWS=${BENCH_MODEL_MID_ROWS:-1000000}
BENCH_MODEL_BIG_ROWS=${BENCH_MODEL_BIG_ROWS:-3000000}
BENCH_MODEL_NEW_ROWS=${BENCH_MODEL_NEW_ROWS:-10000}
BENCH_MODEL_LATENCY_FILES=${BENCH_MODEL_LATENCY_FILES:-20}
BENCH_MODEL_LATENCY_INTERVAL_MS=${BENCH_MODEL_LATENCY_INTERVAL_MS:-500}
export BENCH_MODEL_TABLES BENCH_MODELS BENCH_MODEL_ROWS BENCH_MODEL_MID_ROWS BENCH_MODEL_BIG_ROWS \
  BENCH_MODEL_NEW_ROWS BENCH_MODEL_LATENCY_FILES BENCH_MODEL_LATENCY_INTERVAL_MS

# The incremental models' SQL; {source} is the staging table (the baseline
# restricts it to the new batch by hand).
MODEL_SELECT='SELECT id, customer, amount * 2 AS amount_x2, created_at FROM {source} WHERE amount >= 0'

model_scenarios() {
  local mwork=$WORK/models_bench mlanding mdir tpl n_agg n_mom n_inc t m k
  mlanding=$mwork/landing
  mdir=$mwork/models
  tpl=$mwork/templates
  mkdir -p "$mlanding" "$mdir" "$tpl"
  n_agg=$((BENCH_MODELS / 20))
  n_mom=$((BENCH_MODELS / 40))
  n_inc=$((BENCH_MODELS - n_agg - n_mom))
  if ((n_inc + n_agg > BENCH_MODEL_TABLES || n_inc <= n_mom + BENCH_REPEAT)); then
    say "models: need more tables than models and more incremental models than BENCH_REPEAT"
    return 1
  fi
  local model_sql=${MODEL_SELECT//\{source\}/staging.%s}

  phase m_generate "models: ${BENCH_MODEL_TABLES} tables, ${BENCH_MODELS} models (${n_inc} incremental, ${n_agg} + ${n_mom} aggregates), ${BENCH_MODEL_MID_ROWS} + ${BENCH_MODEL_BIG_ROWS} rows in two tables"
  "$GEN" --dir "$tpl/initial" --table t --batches 1 --rows "$BENCH_MODEL_ROWS" >/dev/null
  "$GEN" --dir "$tpl/new" --table t --batches "$((BENCH_REPEAT + BENCH_MODEL_LATENCY_FILES))" \
    --start 900 --rows "$BENCH_MODEL_ROWS" >/dev/null
  for ((t = 0; t < BENCH_MODEL_TABLES; t++)); do
    cp -r "$tpl/initial/t" "$mlanding/$(table_name $t)"
  done
  for big in mid:$BENCH_MODEL_MID_ROWS big:$BENCH_MODEL_BIG_ROWS; do
    IFS=: read -r label big_rows <<<"$big"
    "$GEN" --dir "$mlanding" --table "${label}_table" --batches 10 --rows $((big_rows / 10)) >/dev/null
    "$GEN" --dir "$tpl/$label" --table t --batches 1 --start 900 --rows "$BENCH_MODEL_NEW_ROWS" >/dev/null
  done
  # Incremental models m_inc_K over table K; aggregates over the tables after
  # them; model-on-model aggregates over the first incremental models.
  local inc_yaml=$'strategy: incremental\nincremental: {by: batch}\n'
  for ((k = 0; k < n_inc; k++)); do
    m=$(printf 'm_inc_%04d' $k)
    printf "$model_sql\n" "$(table_name $k)" >"$mdir/$m.sql"
    printf '%s' "$inc_yaml" >"$mdir/$m.yaml"
  done
  for ((k = 0; k < n_agg; k++)); do
    printf 'SELECT customer, count(*) AS orders, sum(amount) AS amount FROM staging.%s GROUP BY customer\n' \
      "$(table_name $((n_inc + k)))" >"$mdir/$(printf 'm_agg_%04d' $k).sql"
  done
  for ((k = 0; k < n_mom; k++)); do
    printf 'SELECT customer, count(*) AS orders FROM analytics.m_inc_%04d GROUP BY customer\n' $k \
      >"$mdir/$(printf 'm_mom_%04d' $k).sql"
  done
  for label in mid big; do
    printf "$model_sql\n" "${label}_table" >"$mdir/m_${label}.sql"
    printf '%s' "$inc_yaml" >"$mdir/m_${label}.yaml"
  done

  # The same warehouse with and without models (scenario 10 compares them).
  local mconfig=$mwork/models.yaml plain=$mwork/plain.yaml serve_config=$mwork/serve.yaml
  local models_block=$'models:\n  dir: models\n  schema: analytics'
  write_config "$mconfig" 0 warn "$mwork" "$models_block"
  write_config "$plain" 0 warn "$mwork"
  write_config "$serve_config" 1 info "$mwork" "$models_block"
  "$LANDFALL" check-config --config "$mconfig" >/dev/null

  phase m_initial "models: the first run (stage every table, build every model)"
  timed "$RAW/m_initial.time" "$LANDFALL" run --config "$mconfig" --format json >"$RAW/m_initial.json"

  # ---- scenario 11: one new batch of one table -> its model vs by hand ------
  # Tables past the model-on-model ones: the one incremental model runs alone.
  phase m_s11 "scenario 11: one new batch of one of ${BENCH_MODEL_TABLES} tables, ${BENCH_REPEAT} times"
  local base_db=$mwork/baseline.duckdb table file
  for ((k = 1; k <= BENCH_REPEAT; k++)); do
    t=$((n_mom + k))
    table=$(table_name $t)
    file=part-$((900 + k - 1)).parquet
    land "$tpl/new/t/$file" "$table" "$file" "$mlanding"
    timed "$RAW/s11_run_$k.time" "$LANDFALL" run --config "$mconfig" --format json >"$RAW/s11_run_$k.json"
    model_baseline "$base_db" "$table" "$mlanding/$table/$file" "$(printf 'analytics.m_inc_%04d' $t)" \
      >"$RAW/s11_baseline_$k.json"
  done

  # ---- scenario 12: a 10k-row batch of a 1 M- and a large table --------------
  phase m_s12 "scenario 12: a ${BENCH_MODEL_NEW_ROWS}-row batch of ${BENCH_MODEL_MID_ROWS}- and ${BENCH_MODEL_BIG_ROWS}-row tables"
  for label in mid big; do
    land "$tpl/$label/t/part-900.parquet" "${label}_table" part-new.parquet "$mlanding"
    timed "$RAW/s12_run_$label.time" "$LANDFALL" run --config "$mconfig" --format json \
      >"$RAW/s12_run_$label.json"
    model_baseline "$base_db" "${label}_table" "$mlanding/${label}_table/part-new.parquet" \
      "analytics.m_$label" >"$RAW/s12_baseline_$label.json"
  done

  # ---- scenario 10: quiet cycles, with and without models --------------------
  phase m_s10 "scenario 10: quiet cycles with ${BENCH_MODELS} models and without"
  "$LANDFALL" run --config "$mconfig" --format json >"$RAW/s10_cli_models.json"
  "$LANDFALL" run --config "$plain" --format json >"$RAW/s10_cli_plain.json"
  "$ENGINE" --config "$mconfig" "first=quiet:1" "quiet=quiet:$BENCH_QUIET_RUNS" >"$RAW/s10_engine_models.json"
  "$ENGINE" --config "$plain" "first=quiet:1" "quiet=quiet:$BENCH_QUIET_RUNS" >"$RAW/s10_engine_plain.json"

  # ---- scenario 13: landing -> model visible under the daemon ------------------
  phase m_s13 "scenario 13: ${BENCH_MODEL_LATENCY_FILES} files landed one by one under landfall serve (models)"
  local log=$RAW/m_daemon.log
  start_daemon "$serve_config" "$log" || return 1
  : >"$RAW/s13_landings.tsv"
  local i renamed
  for ((i = 0; i < BENCH_MODEL_LATENCY_FILES; i++)); do
    t=$((n_mom + BENCH_REPEAT + 1 + i % (n_inc - n_mom - BENCH_REPEAT - 1)))
    table=$(table_name $t)
    file=part-$((900 + BENCH_REPEAT + i)).parquet
    cp "$tpl/new/t/$file" "$mlanding/$table/.lat-$i.parquet.tmp"
    renamed=$EPOCHREALTIME
    mv "$mlanding/$table/.lat-$i.parquet.tmp" "$mlanding/$table/lat-$i.parquet"
    printf '%s\t%s\t%s\n' "$table" "$(printf 'm_inc_%04d' $t)" "$renamed" >>"$RAW/s13_landings.tsv"
    sleep "$(awk -v ms="$BENCH_MODEL_LATENCY_INTERVAL_MS" 'BEGIN { printf "%.3f", ms / 1000 }')"
  done
  for _ in $(seq 1 600); do
    (($(grep -c '"msg":"model m_inc_[0-9]*: run' "$log" || true) >= BENCH_MODEL_LATENCY_FILES)) && break
    sleep 0.1
  done
  kill -TERM "$daemon_pid"
  wait "$daemon_pid" || true
  daemon_pid=""
  if [[ ${BENCH_KEEP_WORK:-0} != 1 ]]; then rm -rf "$mwork"; fi
}

# DB TABLE FILE TARGET: the model's incremental SQL by hand on a copy of
# landfall's warehouse (DuckDB lets one process open a database file).
model_baseline() {
  rm -f "$1" "$1.wal"
  cp "$(dirname "$1")/landfall.duckdb" "$1"
  if [[ -f $(dirname "$1")/landfall.duckdb.wal ]]; then cp "$(dirname "$1")/landfall.duckdb.wal" "$1.wal"; fi
  "$BASELINE" --db "$1" --landing "$(dirname "$1")/landing" model-batch --table "$2" --file "$3" \
    --target "$4" --select "$MODEL_SELECT"
}
