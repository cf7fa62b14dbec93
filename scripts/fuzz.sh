#!/usr/bin/env bash
# Builds the libFuzzer harnesses of fuzz/ (scripts/build.sh fuzz: clang-14, ASan + UBSan,
# build/fuzz) and runs each for a bounded time on a copy of its seed corpus (fuzz/corpus/<target>/;
# the repository's corpus never grows from a run). Prints per target the executions and the
# coverage reached (libFuzzer's cov: edges and ft: features), and fails on any crash, leak,
# UBSan finding, out-of-memory or input slower than RAGPERF_FUZZ_TIMEOUT, keeping the input
# and printing its path.
#
#   scripts/fuzz.sh                 # every target, 60 s each
#   scripts/fuzz.sh 30              # every target, 30 s each (scripts/test.sh, CI)
#   scripts/fuzz.sh 600 filter      # one target for ten minutes
#
# Environment: RAGPERF_FUZZ_TIMEOUT (default 10): seconds one input may take before it counts as
# a hang; RAGPERF_FUZZ_RSS_MB (default 2048): memory a harness may use. A failing input replays
# with: build/fuzz/fuzz/fuzz_<target> <input>.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: SECONDS must be a positive integer, got '$seconds'" >&2; exit 2; }
timeout_s=${RAGPERF_FUZZ_TIMEOUT:-10}
rss_mb=${RAGPERF_FUZZ_RSS_MB:-2048}

all=()
for f in fuzz/*.cpp; do all+=("$(basename "$f" .cpp)"); done
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${all[@]}")
build_targets=()
for t in "${targets[@]}"; do
  [[ -f fuzz/$t.cpp ]] || { echo "fuzz.sh: no target '$t' (the targets: ${all[*]})" >&2; exit 2; }
  build_targets+=(--target "fuzz_$t")
done

scripts/build.sh fuzz "${build_targets[@]}"

runs=build/fuzz/runs/$(date +%Y%m%d-%H%M%S)
mkdir -p "$runs"
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export OPENBLAS_NUM_THREADS=1
failed=()
summary=()
for t in "${targets[@]}"; do
  dir=$runs/$t
  mkdir -p "$dir/corpus"
  [[ -d fuzz/corpus/$t ]] && cp -r "fuzz/corpus/$t/." "$dir/corpus/"
  echo "== fuzz $t: ${seconds} s"
  rc=0
  "build/fuzz/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout="$timeout_s" \
    -rss_limit_mb="$rss_mb" -detect_leaks=1 -print_final_stats=1 \
    -artifact_prefix="$dir/" "$dir/corpus" >"$dir/log" 2>&1 || rc=$?
  execs=$(awk '/^stat::number_of_executed_units:/ {print $2}' "$dir/log")
  last=$(grep -E '^#[0-9]+' "$dir/log" | grep -o 'cov: [0-9]* ft: [0-9]*' | tail -1 || true)
  line=$(printf '%-14s %10s execs  %s' "$t" "${execs:-?}" "${last:-cov: ? ft: ?}")
  if [[ $rc -ne 0 ]]; then
    input=$(grep -o "Test unit written to .*" "$dir/log" | sed 's/Test unit written to //' | tail -1 || true)
    line+="  FAILED (exit $rc): ${input:-no input saved}, log $dir/log"
    failed+=("$t")
    tail -40 "$dir/log" >&2
  fi
  echo "$line"
  summary+=("$line")
done
echo "== fuzz summary (${seconds} s each; runs in $runs)"
printf '%s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz.sh: ${#failed[@]} target(s) failed: ${failed[*]}; replay with build/fuzz/fuzz/fuzz_<target> <input>" >&2
  exit 1
fi
echo "fuzz.sh: no crash, leak or hang"
