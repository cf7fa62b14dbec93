#!/usr/bin/env bash
# Installs everything ragperf needs on a fresh Debian 12 machine. Idempotent: a second run only
# checks. Run as root or with sudo available.
#
#   scripts/setup.sh            # Debian packages, pgvector (built from Debian's source package)
#
# pgvector has no bookworm package, so it is built from the trixie source package against
# postgresql-server-dev-15 (see DEVELOPERS.md in the shared folder).
set -euo pipefail

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config clang-format-14 dpkg-dev
  libboost1.81-dev libpq-dev postgresql-15 postgresql-server-dev-15 postgresql-doc-15
  libopenblas-dev libdnnl-dev libutf8proc-dev nlohmann-json3-dev libcli11-dev libfmt-dev
  libspdlog-dev libsqlite3-dev libhnswlib-dev libcurl4-openssl-dev libxml2-dev
  libssl-dev libgtest-dev libgmock-dev libbenchmark-dev python3 curl ca-certificates
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# pgvector from Debian's own source package (trixie), built against PostgreSQL 15.
PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
if [[ ! -f "$($PG_CONFIG --sharedir)/extension/vector.control" ]]; then
  echo "setup: building pgvector from Debian's trixie source package"
  src_list=/etc/apt/sources.list.d/ragperf-trixie-src.list
  if [[ ! -f $src_list ]]; then
    echo "deb-src http://deb.debian.org/debian trixie main" | $SUDO tee $src_list >/dev/null
  fi
  $SUDO apt-get update -q
  work=$(mktemp -d) && chmod 755 "$work"
  (cd "$work" && apt-get source -q pgvector >/dev/null)
  dir=$(find "$work" -maxdepth 1 -type d -name 'pgvector-*' | head -1)
  make -C "$dir" -s PG_CONFIG=$PG_CONFIG OPTFLAGS="" >/dev/null
  $SUDO make -C "$dir" -s PG_CONFIG=$PG_CONFIG OPTFLAGS="" install >/dev/null
  rm -rf "$work"
fi

echo "setup: ok"
