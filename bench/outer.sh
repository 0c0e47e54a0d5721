# shellcheck shell=bash
# Sourced at the top of each benchmark script (bench/run.sh, partitions.sh,
# lineage.sh, hold_open.sh), after its sizes: defines `say`, and `bench_outer SCRIPT
# TARGET...`, which, the first time through, installs what is missing
# (deploy/install-deps.sh with the extras; not with BENCH_SKIP_INSTALL=1),
# builds TARGETs in $BENCH_BUILD_DIR (Release unless configured already) and
# starts SCRIPT again with BENCH_INNER=1 (and BENCH_STARTED) beside a
# throwaway PostgreSQL (tests/with-postgres.sh), or LANDFALL_BENCH_PG_URL's.
# The second time through (BENCH_INNER set) it returns at once.

say() { echo "bench: $(date +%T) $*" >&2; }

bench_outer() {
  [[ -z ${BENCH_INNER:-} ]] || return 0
  local script=$1
  shift
  if [[ ${BENCH_SKIP_INSTALL:-0} != 1 ]]; then
    LANDFALL_EXTRAS=1 bash deploy/install-deps.sh
  fi
  if [[ ! -f $BENCH_BUILD_DIR/build.ninja ]]; then
    cmake -S . -B "$BENCH_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  say "building in $BENCH_BUILD_DIR"
  cmake --build "$BENCH_BUILD_DIR" -j2 --target "$@" >&2
  BENCH_STARTED=$(date +%s)
  export BENCH_INNER=1 BENCH_STARTED
  if [[ -n ${LANDFALL_BENCH_PG_URL:-} ]]; then exec bash "$script"; fi
  exec bash tests/with-postgres.sh bash "$script"
}
