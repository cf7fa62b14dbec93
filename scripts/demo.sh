#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine, builds ragperf and runs its main job:
# `ragperf demo` (see README). Extra arguments go to `ragperf demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release
exec build/release/src/cli/ragperf demo "$@"
