#!/usr/bin/env bash
# Configures (once) and builds ragperf with Ninja + ccache.
#
#   scripts/build.sh [release|asan] [cmake -D options...]
#
# release -> build/release (warnings are errors), asan -> build/asan (ASan + UBSan, -O1).
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-release}
shift || true
case $kind in
  release) dir=build/release; opts=(-DCMAKE_BUILD_TYPE=Release -DRAGPERF_WERROR=ON) ;;
  asan) dir=build/asan; opts=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DRAGPERF_WERROR=ON -DRAGPERF_SANITIZE=ON
                              "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g") ;;
  *) echo "build.sh: unknown build kind '$kind' (use release or asan)" >&2; exit 2 ;;
esac
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
# Relative paths in the cache key, so clones in other folders (CI) reuse the cache.
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=true
if [[ ! -f $dir/build.ninja ]]; then
  cmake -S . -B "$dir" -G Ninja "${opts[@]}" "$@" >/dev/null
fi
cmake --build "$dir" -j "$(nproc)"
