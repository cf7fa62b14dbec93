#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 cluster with pgvector for development and tests, and prints its
# connection URL on stdout.
#
#   dir=$(mktemp -d); url=$(scripts/pg_start.sh "$dir"); ...; scripts/pg_stop.sh "$dir"
#
# The cluster lives in DIR/data, listens on a free loopback port only, runs as a non-root OS user
# (`postgres` when started by root), has a database and role `ragperf` (password `ragperf`,
# SCRAM over TCP) and the `vector` extension created. DIR/url holds the URL, DIR/log the server log.
set -euo pipefail

dir=${1:?usage: pg_start.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
bin=/usr/lib/postgresql/15/bin
[[ -x $bin/initdb ]] || { echo "pg_start: PostgreSQL 15 is not installed; run scripts/setup.sh" >&2; exit 1; }

as_user=()
if [[ $(id -u) -eq 0 ]]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  chown postgres "$dir"
  chmod 755 "$dir"
  as_user=(runuser -u postgres --)
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo ragperf >"$dir/pwfile"
[[ $(id -u) -eq 0 ]] && chown postgres "$dir/pwfile"
"${as_user[@]}" "$bin/initdb" -D "$dir/data" -U ragperf --pwfile="$dir/pwfile" \
  --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
  { cat "$dir/initdb.log" >&2; exit 1; }
cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 300
shared_buffers = 128MB
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
"${as_user[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 start >/dev/null ||
  { cat "$dir/log" >&2; exit 1; }
"${as_user[@]}" "$bin/psql" -h "$dir" -p "$port" -U ragperf -d postgres -qAt \
  -c "CREATE DATABASE ragperf" >/dev/null
"${as_user[@]}" "$bin/psql" -h "$dir" -p "$port" -U ragperf -d ragperf -qAt \
  -c "CREATE EXTENSION IF NOT EXISTS vector" >/dev/null
url="postgresql://ragperf:ragperf@127.0.0.1:$port/ragperf"
echo "$url" >"$dir/url"
echo "$url"
