#!/usr/bin/env bash
# Installs everything ragperf needs on a fresh Debian 12 machine. Idempotent: a second run only
# checks. Run as root or with sudo available.
#
#   scripts/setup.sh                   # every step below, in order
#   scripts/setup.sh packages model    # only the named steps
#
# Steps:
#   packages  Debian packages: every package a build step, a test or the demo uses, nothing else.
#   pgvector  pgvector built from Debian's trixie source package against PostgreSQL 15 (bookworm
#             has no pgvector package). The source line is made from the mirror this machine's
#             apt already uses, in a private apt state folder: the machine's sources stay as
#             they are.
#   python    a virtual environment at $RAGPERF_VENV (default: .venv in the checkout), made with
#             Debian's python3; Debian's python3 refuses system-wide pip installs.
#   pypackage the Python package `ragperf` (pyproject.toml, python/) built and installed into that
#             venv, with its build and test tools (scikit-build-core, pybind11, numpy, pytest,
#             pytest-asyncio, and the official openai SDK pinned at 3.51.0, the real client
#             python/tests/test_openai_compat.py drives `ragperf serve` with) from the Python
#             package index. Its build folder (build/python) is
#             kept, so a repeat run rebuilds only what changed.
#   model     the demo's model, sentence-transformers/all-MiniLM-L6-v2, into
#             $RAGPERF_HOME/models/all-MiniLM-L6-v2 (scripts/prepare_model.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
APT_OPTS=(-q -o Acquire::Retries=5)

PACKAGES=(
  # compilers and build tools
  build-essential cmake ninja-build ccache pkg-config
  # libraries the build finds (cmake/RagperfDependencies.cmake)
  libboost1.81-dev libpq-dev libopenblas-dev libutf8proc-dev nlohmann-json3-dev libcli11-dev
  libfmt-dev libsqlite3-dev libhnswlib-dev libcurl4-openssl-dev libxml2-dev libssl-dev
  libdnnl-dev
  # libdnnl-dev's CMake config (dnnl-config.cmake) calls find_package(OpenCL REQUIRED): it needs
  # the OpenCL headers and the ICD loader's libOpenCL.so even though ragperf uses only the CPU.
  ocl-icd-opencl-dev opencl-c-headers
  # PostgreSQL 15 (server for the tests, headers to build pgvector) and its manual (the demo's corpus)
  postgresql-15 postgresql-server-dev-15 postgresql-doc-15
  # pgvector's source package: apt-get source needs dpkg-dev
  dpkg-dev
  # tests and formatting
  libgtest-dev clang-format-14
  # the fuzz harnesses (scripts/fuzz.sh): clang with libFuzzer and the sanitizer runtimes
  clang-14 libclang-rt-14-dev
  # Python: the set-up's venv (model files come from the Python package index), pg_start.sh
  python3 python3-venv ca-certificates
  # the Python package's native module (pybind11) needs Python's headers
  python3-dev
)

step_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
    $SUDO apt-get "${APT_OPTS[@]}" update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${APT_OPTS[@]}" install -y --no-install-recommends \
      "${missing[@]}"
  else
    echo "setup: Debian packages are installed"
  fi
}

# The Debian archive this machine's apt already uses for bookworm's main component (not the
# security archive; files apt ignores, such as *.disabled, are not read).
debian_mirror() {
  apt-cache policy 2>/dev/null | awk '$3 == "bookworm/main" {print $2; exit}'
}

step_pgvector() {
  local pg_config=/usr/lib/postgresql/15/bin/pg_config
  [[ -x $pg_config ]] || { echo "setup: PostgreSQL 15 is missing; run scripts/setup.sh packages" >&2; exit 1; }
  if [[ -f "$($pg_config --sharedir)/extension/vector.control" ]]; then
    echo "setup: pgvector is installed"
    return
  fi
  local mirror
  mirror=$(debian_mirror)
  [[ -n $mirror ]] || { echo "setup: apt knows no mirror for bookworm/main; add one to /etc/apt/sources.list.d" >&2; exit 1; }
  echo "setup: building pgvector from Debian's trixie source package ($mirror)"
  local work
  work=$(mktemp -d) && chmod 755 "$work"
  mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/apt/parts" "$work/src"
  echo "deb-src $mirror trixie main" >"$work/apt/sources.list"
  # A private apt state: the trixie source line never reaches the machine's own apt configuration.
  local apt=(apt-get "${APT_OPTS[@]}" -o "Dir::Etc::SourceList=$work/apt/sources.list"
             -o "Dir::Etc::SourceParts=$work/apt/parts" -o "Dir::State::Lists=$work/apt/lists"
             -o "Dir::Cache=$work/apt/cache" -o "APT::Sandbox::User=root")
  "${apt[@]}" update >/dev/null
  (cd "$work/src" && "${apt[@]}" source pgvector >/dev/null 2>&1) ||
    { echo "setup: apt-get source pgvector failed" >&2; exit 1; }
  local dir
  dir=$(find "$work/src" -maxdepth 1 -type d -name 'pgvector-*' | head -1)
  # with_llvm=no: PGXS would also compile LLVM bitcode of pgvector for the JIT's inlining, which
  # ragperf's queries never use; skipping it saves build time.
  make -C "$dir" -s -j "$(nproc)" PG_CONFIG=$pg_config OPTFLAGS="" with_llvm=no >/dev/null
  $SUDO make -C "$dir" -s PG_CONFIG=$pg_config OPTFLAGS="" with_llvm=no install >/dev/null
  echo "setup: pgvector $(basename "$dir" | sed 's/^pgvector-//') installed"
  rm -rf "$work"
}

step_python() {
  local venv=${RAGPERF_VENV:-$PWD/.venv}
  if [[ -x $venv/bin/python && -x $venv/bin/pip ]]; then
    echo "setup: Python venv $venv is ready"
    return
  fi
  echo "setup: making the Python venv $venv"
  /usr/bin/python3 -m venv "$venv"
}

step_pypackage() {
  local venv=${RAGPERF_VENV:-$PWD/.venv}
  [[ -x $venv/bin/pip ]] || step_python
  # A constraints file named in the machine's pip configuration may not exist here (a fresh root
  # that shares the host's pip configuration but not that file): then pip runs without it. The
  # index settings stay as configured.
  local pip_env=()
  local constraint
  constraint=$("$venv/bin/pip" config list 2>/dev/null |
    sed -n "s/^global\.constraint='\(.*\)'\$/\1/p" | head -n 1 || true)
  if [[ -n $constraint && ! -e $constraint ]]; then
    echo "setup: pip's configured constraints file $constraint does not exist; installing without it"
    pip_env=(PIP_CONSTRAINT=/dev/null)
  fi
  # openai: pinned, so the compatibility test always meets the same client.
  env "${pip_env[@]}" "$venv/bin/pip" install -q --disable-pip-version-check \
    scikit-build-core pybind11 numpy pytest pytest-asyncio openai==3.51.0
  # ccache as scripts/build.sh sets it up; no build isolation, so that build/python's CMake cache
  # keeps pointing at this venv's pybind11 and repeat installs stay incremental.
  env "${pip_env[@]}" CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}" CCACHE_BASEDIR="$PWD" \
    CCACHE_NOHASHDIR=true CCACHE_COMPILERCHECK=content \
    "$venv/bin/pip" install -q --disable-pip-version-check --no-build-isolation .
  (cd / && "$venv/bin/python" -c "import ragperf") ||
    { echo "setup: the Python package ragperf does not import" >&2; exit 1; }
  echo "setup: Python package ragperf installed into $venv"
}

step_model() {
  RAGPERF_VENV=${RAGPERF_VENV:-$PWD/.venv} scripts/prepare_model.sh >/dev/null
}

steps=("$@")
[[ ${#steps[@]} -gt 0 ]] || steps=(packages pgvector python pypackage model)
for s in "${steps[@]}"; do
  case $s in
    packages | pgvector | python | pypackage | model) "step_$s" ;;
    *) echo "setup: unknown step '$s' (use packages, pgvector, python, pypackage, model)" >&2; exit 2 ;;
  esac
done
echo "setup: ok (${steps[*]})"
