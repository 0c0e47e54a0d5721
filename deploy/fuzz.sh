#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang-16, AddressSanitizer and
# UndefinedBehaviorSanitizer in build-fuzz, and runs each: first its past
# findings (fuzz/regressions/<target>/, each must pass), then fuzzing for a
# while from its seeds (fuzz/seeds/<target>/; Parquet files written by DuckDB
# for fuzz_footer) and the corpus it grew before (build-fuzz/corpus/<target>/).
#
#   deploy/fuzz.sh [--ci] [--time SECONDS] [TARGET...]
#
# Default: 600 s per target; --ci: 45 s. A finding stops its target and lands
# in build-fuzz/findings/<target>/ (crash-*, leak-*, timeout-*, oom-*): fix it,
# then copy the input into fuzz/regressions/<target>/ so it is replayed from
# then on. Targets run JOBS at a time, one core each. Environment: JOBS
# (default 2), LANDFALL_CMAKE_ARGS (extra configure arguments, e.g. a ccache
# launcher).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=600
targets=()
while (($#)); do
  case $1 in
    --ci) seconds=45 ;;
    --time) seconds=$2; shift ;;
    -*) echo "usage: $0 [--ci] [--time SECONDS] [TARGET...]" >&2; exit 2 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
if ((${#targets[@]} == 0)); then targets=(fuzz_config fuzz_http fuzz_schema_json fuzz_footer); fi
say() { echo "fuzz: $*"; }

LANDFALL_FUZZ=1 bash deploy/install-deps.sh

start=$SECONDS
dir=build-fuzz
# shellcheck disable=SC2086  # LANDFALL_CMAKE_ARGS is a list of arguments
cmake -S . -B $dir -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-16 \
  -DLANDFALL_FUZZ=ON -DLANDFALL_SANITIZE=address,undefined \
  -DLANDFALL_BUILD_TESTS=OFF -DLANDFALL_BUILD_BENCH=OFF ${LANDFALL_CMAKE_ARGS:-} >/dev/null
cmake --build $dir -j"${JOBS:-2}" --target landfall_fuzzers
say "build $((SECONDS - start)) s"

mkdir -p $dir/seeds/footer
$dir/fuzz/fuzz_footer_seeds $dir/seeds/footer

export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1"
export LSAN_OPTIONS="suppressions=$root/deploy/sanitizers/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
# Symbolized stacks in reports (clang-16 does not bring a symbolizer of its own).
symbolizer=$(command -v llvm-symbolizer-16 || command -v llvm-symbolizer || true)
if [[ -n $symbolizer ]]; then export ASAN_SYMBOLIZER_PATH=$symbolizer; fi

# One target: its past findings, then fuzzing. Prints its summary line to
# $dir/<target>.summary; exits non-zero on a finding.
fuzz_one() {
  local target=$1
  local name=${target#fuzz_}
  local bin=$dir/fuzz/$target
  local regressions=fuzz/regressions/$name
  local summary_file=$dir/$target.summary
  if compgen -G "$regressions/*" >/dev/null; then
    if "$bin" -runs=1 "$regressions"/* >"$dir/$target.regressions.log" 2>&1; then
      say "$target: $(find "$regressions" -type f | wc -l) regression inputs pass"
    else
      tail -n 60 "$dir/$target.regressions.log"
      echo "$target: a regression input fails (log: $dir/$target.regressions.log)" >"$summary_file"
      say "$(cat "$summary_file")"
      return 1
    fi
  fi
  local corpus=$dir/corpus/$name findings=$dir/findings/$name
  mkdir -p "$corpus" "$findings"
  local seeds=() s
  for s in fuzz/seeds/$name $dir/seeds/$name; do [[ -d $s ]] && seeds+=("$s"); done
  local log=$dir/$target.log t0=$SECONDS verdict result=0
  if "$bin" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 \
      -artifact_prefix="$findings/" "$corpus" "${seeds[@]}" >"$log" 2>&1; then
    verdict="no findings"
  else
    tail -n 80 "$log"
    verdict="FINDING in $findings/ (log: $log)"
    result=1
  fi
  local execs
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  echo "$target: ${execs:-?} executions in $((SECONDS - t0)) s, corpus $(find "$corpus" -type f | wc -l) inputs, $verdict" \
    >"$summary_file"
  say "$(cat "$summary_file")"
  return $result
}

# JOBS targets at a time, each fuzzing on one core.
status=0
running=0
for target in "${targets[@]}"; do
  if ((running >= ${JOBS:-2})); then
    wait -n || status=1
    running=$((running - 1))
  fi
  fuzz_one "$target" &
  running=$((running + 1))
done
while ((running > 0)); do
  wait -n || status=1
  running=$((running - 1))
done
say "summary (total $((SECONDS - start)) s):"
for target in "${targets[@]}"; do sed 's/^/  /' "$dir/$target.summary"; done
exit $status
