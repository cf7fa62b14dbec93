#!/usr/bin/env bash
# Fails when a C++ source is not formatted as .clang-format says. `--fix` rewrites them.
set -euo pipefail
cd "$(dirname "$0")/.."
fmt=$(command -v clang-format-14 || command -v clang-format)
mapfile -t files < <(git ls-files -co --exclude-standard -- '*.h' '*.cpp')
if [[ ${1:-} == --fix ]]; then
  "$fmt" -i "${files[@]}"
else
  "$fmt" --dry-run --Werror "${files[@]}" || {
    echo "check_format: run scripts/check_format.sh --fix" >&2; exit 1; }
fi
