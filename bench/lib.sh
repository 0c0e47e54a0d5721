# Sourced by the standalone scenario scripts (bench/partitions.sh,
# bench/hold_open.sh), from the repository's root.

say() { echo "bench: $(date +%T) $*" >&2; }

# bench_bootstrap TARGET...: on the first pass, installs what is missing
# (unless BENCH_SKIP_INSTALL=1), builds TARGET... in BENCH_BUILD_DIR (a
# Release build when it has none yet), then runs the calling script again with
# BENCH_INNER=1 next to a throwaway PostgreSQL (or LANDFALL_BENCH_PG_URL).
# On that second pass it returns at once.
bench_bootstrap() {
  [[ -z ${BENCH_INNER:-} ]] || return 0
  if [[ ${BENCH_SKIP_INSTALL:-0} != 1 ]]; then
    LANDFALL_EXTRAS=1 bash deploy/install-deps.sh
  fi
  if [[ ! -f $BENCH_BUILD_DIR/build.ninja ]]; then
    cmake -S . -B "$BENCH_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  say "building in $BENCH_BUILD_DIR"
  cmake --build "$BENCH_BUILD_DIR" -j2 --target "$@"
  export BENCH_INNER=1
  if [[ -n ${LANDFALL_BENCH_PG_URL:-} ]]; then exec bash "$0"; fi
  exec bash tests/with-postgres.sh bash "$0"
}
