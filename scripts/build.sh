#!/usr/bin/env bash
# Configures and builds ragperf with Ninja + ccache.
#
#   scripts/build.sh [release|asan|fuzz] [--target NAME]... [cmake -D options...]
#
# release -> build/release (warnings are errors), asan -> build/asan (ASan + UBSan, -O1),
# fuzz -> build/fuzz (clang-14, libFuzzer + ASan + UBSan, -O1: only the harnesses of fuzz/ and
# the component libraries they link; scripts/fuzz.sh runs them).
# The build folder is configured on first use and again whenever -D options are given (CMake
# keeps them in its cache, so later builds without options keep them). --target builds only the
# named targets (scripts/demo.sh builds `ragperf` alone); without it everything is built.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-release}
shift || true
case $kind in
  release) dir=build/release; opts=(-DCMAKE_BUILD_TYPE=Release -DRAGPERF_WERROR=ON) ;;
  asan) dir=build/asan; opts=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DRAGPERF_WERROR=ON -DRAGPERF_SANITIZE=ON
                              "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g") ;;
  fuzz) dir=build/fuzz; opts=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DRAGPERF_WERROR=ON -DRAGPERF_FUZZ=ON
                              -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14
                              "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g") ;;
  *) echo "build.sh: unknown build kind '$kind' (use release, asan or fuzz)" >&2; exit 2 ;;
esac
targets=()
user_opts=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --target) [[ $# -ge 2 ]] || { echo "build.sh: --target needs a name" >&2; exit 2; }
              targets+=(--target "$2"); shift 2 ;;
    -D*) user_opts+=("$1"); shift ;;
    *) echo "build.sh: unexpected argument '$1' (use --target NAME or -DVAR=VALUE)" >&2; exit 2 ;;
  esac
done
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
# Relative paths in the cache key, so clones in other folders (CI) reuse the cache.
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=true
# The compiler by content, not by its file time: a fresh root (CI) installs the same compiler anew.
export CCACHE_COMPILERCHECK=content
# Debian's cmake, not one a Python environment put first on PATH (the build is tested with it).
cmake=cmake
[[ -x /usr/bin/cmake ]] && cmake=/usr/bin/cmake
if [[ ! -f $dir/build.ninja || ${#user_opts[@]} -gt 0 ]]; then
  $cmake -S . -B "$dir" -G Ninja "${opts[@]}" "${user_opts[@]}" >/dev/null
fi
$cmake --build "$dir" -j "$(nproc)" "${targets[@]}"
