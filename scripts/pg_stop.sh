#!/usr/bin/env bash
# Stops a cluster started by scripts/pg_start.sh DIR and removes DIR.
set -euo pipefail
dir=${1:?usage: pg_stop.sh DIR}
[[ -d $dir ]] || exit 0
bin=/usr/lib/postgresql/15/bin
as_user=()
[[ $(id -u) -eq 0 ]] && as_user=(runuser -u postgres --)
if [[ -f $dir/data/postmaster.pid ]]; then
  "${as_user[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
fi
rm -rf "$dir"
