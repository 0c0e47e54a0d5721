#!/usr/bin/env bash
# Builds the test suite with sanitizers and runs it against a throwaway
# PostgreSQL (tests/with-postgres.sh), as .ci/run does:
#   asan  build-asan, AddressSanitizer + UndefinedBehaviorSanitizer: every test;
#   tsan  build-tsan, ThreadSanitizer: the scheduler, engine, watcher and HTTP
#         server tests (exec_tests, WatcherTest, ServerTest, WebhookTest), and
#         the daemon API tests, which run all of them in one landfall serve.
#
#   deploy/sanitize.sh [asan] [tsan]        (no argument: both)
#
# Every target we compile is instrumented, the landfall binary the CLI and
# daemon tests spawn included (CMake option LANDFALL_SANITIZE); the prebuilt
# libduckdb.so and the Debian libraries are not. The first report stops the
# process (halt_on_error, -fno-sanitize-recover=all). Reports go to
# <build>/sanitizer-logs/ rather than stderr, so that a report from a spawned
# landfall is never lost in a test's captured output; any file there fails the
# run and is printed. Environment: JOBS (default 2), LANDFALL_CMAKE_ARGS (extra
# configure arguments, e.g. a ccache launcher).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=${JOBS:-2}
modes=("$@")
if ((${#modes[@]} == 0)); then modes=(asan tsan); fi

LANDFALL_EXTRAS=1 bash deploy/install-deps.sh

# What ThreadSanitizer runs: the tests whose code has threads of its own.
tsan_tests='^(EngineTest|SchedulerTest|SchedulerStartNowTest|BackoffDelayTest|WatcherTest|ServerTest|WebhookTest|DaemonTest|DaemonWebhookTest)\.'

# Left out of the ASan pass (see below): the kill -9 loops.
asan_skipped='ClusterModelsTest\.KillDashNine|ServeTest\.KillDashNineLoop|ModelsRunTest\.KillNine|TimeIntervalTest\.KillNine|WarehouseSafetyTest\.FirstRunKilled'

# gcc 12's sanitizer runtimes cannot map their shadow memory when the kernel
# randomises mmap with more than 28 bits; run without ASLR there.
run=()
if [[ $(sysctl -n vm.mmap_rnd_bits 2>/dev/null || echo 28) -gt 28 ]]; then
  run=(setarch "$(uname -m)" -R)
fi

say() { echo "sanitize: $*"; }
status=0

# check_logs DIR: prints every sanitizer report in DIR; fails if there is one.
check_logs() {
  local logs=$1 found=0
  for f in "$logs"/*; do
    [[ -e $f ]] || continue
    found=1
    say "report in $f:"
    cat "$f"
  done
  return $found
}

# suite NAME SANITIZERS BUILD_TARGETS... -- CTEST_ARGS...
suite() {
  local name=$1 sanitizers=$2 dir=build-$1
  shift 2
  local targets=() ctest_args=()
  while (($#)) && [[ $1 != -- ]]; do targets+=("$1"); shift; done
  shift
  ctest_args=("$@")

  local start=$SECONDS
  # shellcheck disable=SC2086  # LANDFALL_CMAKE_ARGS is a list of arguments
  # -O1 -g1: about half the compile time of -O2 -g, fast enough to run, and
  # the stack traces sanitizers print still name files and lines.
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DLANDFALL_SANITIZE="$sanitizers" -DLANDFALL_BUILD_BENCH=OFF ${LANDFALL_CMAKE_ARGS:-} >/dev/null
  local build_args=()
  for t in "${targets[@]}"; do build_args+=(--target "$t"); done
  cmake --build "$dir" -j"$jobs" "${build_args[@]}"
  local built=$SECONDS

  local logs=$root/$dir/sanitizer-logs
  rm -rf "$logs"
  mkdir -p "$logs"
  local suite_status=0
  ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:log_path=$logs/asan" \
  LSAN_OPTIONS="suppressions=$root/deploy/sanitizers/lsan.supp:print_suppressions=0" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan" \
  TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$root/deploy/sanitizers/tsan.supp:log_path=$logs/tsan" \
  CI=true "${run[@]}" bash tests/with-postgres.sh \
    ctest --test-dir "$dir" --output-on-failure -j"$jobs" --timeout 900 "${ctest_args[@]}" ||
    suite_status=1
  check_logs "$logs" || suite_status=1
  say "$name: build $((built - start)) s, tests $((SECONDS - built)) s, $([[ $suite_status == 0 ]] && echo clean || echo FAILED)"
  if ((suite_status)); then status=1; fi
}

for mode in "${modes[@]}"; do
  case $mode in
    # The staging suites' second pass against the PostgreSQL warehouse
    # (postgres_warehouse.*) is left to the plain build: its code runs under
    # ASan in PgWarehouseTest and PgWarehouseCliTest, and the pass would add
    # minutes to CI for the same engine paths. So are the kill -9 loops (the
    # cluster's, the daemon's, the models' and the partitions', and the first
    # run killed while it creates the warehouse): 2-3 minutes under ASan,
    # most of it waiting for processes to start and die. What they recover
    # from runs under ASan in single kills: ClusterTest.ThreeMembers*,
    # ClusterModelsTest.OneMember*, CliTest.RunKilledWithSigkill*,
    # WriterTest.RunKilledMidRun*, PgWarehouseCliTest.KilledAtRandomPoints*.
    asan) suite asan address,undefined all -- -E "^(postgres_warehouse\\.|$asan_skipped)" ;;
    tsan) suite tsan thread exec_tests landing_tests api_tests -- -R "$tsan_tests" ;;
    *) say "unknown mode '$mode' (asan, tsan)"; exit 2 ;;
  esac
done
exit $status
