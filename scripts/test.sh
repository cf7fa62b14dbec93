#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs the whole test suite:
# formatting, a Release build with warnings as errors, every test (unit, model, db against a
# throwaway PostgreSQL + pgvector) and the Python package's tests (python/tests, pytest), then the
# same C++ suite under AddressSanitizer + UBSan, then every fuzz harness for 30 s (scripts/fuzz.sh:
# any crash, leak or hang fails).
#
#   scripts/test.sh           # everything (CI runs this through .ci/run)
#   RAGPERF_SKIP_ASAN=1 scripts/test.sh   # the Release pass only, for a quick local check
#   RAGPERF_FUZZ_SECONDS=0 scripts/test.sh   # without the fuzzing (default 30 s per target)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/check_format.sh

pgdir=$(mktemp -d)
trap 'scripts/pg_stop.sh "$pgdir"' EXIT
DATABASE_URL=$(scripts/pg_start.sh "$pgdir")
export DATABASE_URL RAGPERF_PG_DIR=$pgdir
jobs=$(nproc)
ctest=ctest
[[ -x /usr/bin/ctest ]] && ctest=/usr/bin/ctest  # Debian's, as scripts/build.sh uses Debian's cmake

run_suite() {
  local kind=$1
  echo "== $kind build"
  scripts/build.sh "$kind"
  echo "== $kind tests"
  "$ctest" --test-dir "build/$kind" -j "$jobs" --output-on-failure --timeout 600
}

run_suite release
echo "== Python package tests"
"${RAGPERF_VENV:-$PWD/.venv}/bin/python" -m pytest python/tests -q
if [[ -z ${RAGPERF_SKIP_ASAN:-} ]]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  export OPENBLAS_NUM_THREADS=1
  run_suite asan
fi
fuzz_seconds=${RAGPERF_FUZZ_SECONDS:-30}
if [[ -z ${RAGPERF_SKIP_ASAN:-} && $fuzz_seconds != 0 ]]; then
  echo "== fuzzing, $fuzz_seconds s per target"
  scripts/fuzz.sh "$fuzz_seconds"
fi
echo "test.sh: all tests passed"
