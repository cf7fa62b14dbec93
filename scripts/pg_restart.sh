#!/usr/bin/env bash
# Restarts (fast shutdown, then start) a cluster started by scripts/pg_start.sh DIR: every open
# connection is dropped, the URL stays the same. Used by the pool's failure tests.
#
#   scripts/pg_restart.sh DIR [stop-mode]     # stop-mode: fast (default), immediate, smart
set -euo pipefail
dir=${1:?usage: pg_restart.sh DIR [fast|immediate|smart]}
mode=${2:-fast}
bin=/usr/lib/postgresql/15/bin
[[ -f $dir/data/postgresql.conf ]] || { echo "pg_restart: $dir is not a pg_start.sh cluster" >&2; exit 1; }
as_user=()
[[ $(id -u) -eq 0 ]] && as_user=(runuser -u postgres --)
"${as_user[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -m "$mode" -w -t 60 restart >/dev/null ||
  { tail -20 "$dir/log" >&2; exit 1; }
