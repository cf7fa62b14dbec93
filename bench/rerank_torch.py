"""bench/rerank_torch.py: the PyTorch timing beside ``ragperf bench rerank``: one query's
candidates reranked by a cross-encoder folder with Hugging Face transformers on the CPU.

What it measures: the folder is loaded with ``AutoTokenizer`` and
``AutoModelForSequenceClassification`` (float32, eval mode, transformers' default attention).
The inputs are ragperf's own (bench/rerank_bench.cpp, bench/word_texts.cpp, reproduced here
draw for draw: std::mt19937 with the same seeds over the same vocabulary words): one query of
10-12 tokens and ``--candidates`` passages of about ``--tokens`` tokens (``--tokens`` +- 1/16,
[CLS]/[SEP] counted), random whole words of the folder's vocab.txt, so that each word is one
WordPiece token and a pair is about ``--tokens`` + 12 tokens. One timed run is what ragperf's
batched path times (CrossEncoder::score): tokenize the 50 (query, passage) pairs
(``padding=True, truncation="longest_first"``, so the batch is padded to its longest pair) and
run one batched forward pass under ``torch.inference_mode()``. Two warm-up runs come first; the
p50 / p95 of ``--runs`` timed runs are printed (linear interpolation, numpy's default, as
bench/stats.h). The forward pass alone (tokenization excluded) is reported too. Threads:
``torch.set_num_threads(--threads)``, default one per core (ragperf's RAGPERF_THREADS default).

``--create`` first writes MODEL_DIR as a random-weight cross-encoder of
cross-encoder/ms-marco-MiniLM-L-6-v2's shape, the shape ``ragperf bench rerank`` times without
--model (6 layers, hidden 384, 12 heads, FFN 1536, 512 positions, one-label
BertForSequenceClassification head, identity activation; transformers' random init, seed 42,
F32 safetensors) with the real uncased vocabulary that bench/random_bert.cpp copies
($RAGPERF_SHARED_DIR, else ../shared beside the checkout, models/all-MiniLM-L6-v2-tokenizer-only). The cost of a pass
depends on the shape, not on the values. ``ragperf bench rerank`` removes its own folder, so time
both engines on this one:

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch==2.13.0 transformers numpy   # the CPU wheel
    /tmp/torchvenv/bin/python bench/rerank_torch.py /tmp/ce-minilm-l6 --create --runs 10 \\
        --threads 2 --json rerank_torch.json
    RAGPERF_THREADS=2 build/release/src/cli/ragperf bench rerank --model /tmp/ce-minilm-l6 --runs 10

Any other cross-encoder folder (e.g. a downloaded cross-encoder/ms-marco-MiniLM-L-6-v2) works
without --create. ``--json OUT`` writes the figures, the torch and transformers versions, the
thread count and the CPU model (/proc/cpuinfo).
"""

import argparse
import json
import os
import pathlib
import platform
import shutil
import sys
import time

import numpy as np
import torch
import transformers
from transformers import AutoModelForSequenceClassification, AutoTokenizer


class MT19937:
    """std::mt19937 (the 32-bit Mersenne Twister seeded by init_genrand): the same numbers as
    the C++ benchmark's generator for the same seed."""

    def __init__(self, seed):
        self.mt = [0] * 624
        self.mt[0] = seed & 0xFFFFFFFF
        for i in range(1, 624):
            prev = self.mt[i - 1]
            self.mt[i] = (1812433253 * (prev ^ (prev >> 30)) + i) & 0xFFFFFFFF
        self.index = 624

    def _twist(self):
        mt = self.mt
        for i in range(624):
            y = (mt[i] & 0x80000000) | (mt[(i + 1) % 624] & 0x7FFFFFFF)
            v = mt[(i + 397) % 624] ^ (y >> 1)
            if y & 1:
                v ^= 0x9908B0DF
            mt[i] = v
        self.index = 0

    def __call__(self):
        if self.index >= 624:
            self._twist()
        y = self.mt[self.index]
        self.index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C5680
        y ^= (y << 15) & 0xEFC60000
        y ^= y >> 18
        return y & 0xFFFFFFFF


def word_texts(vocab_file, count, lo, hi, seed):
    """bench/word_texts.cpp: `count` texts of lo..hi tokens ([CLS]/[SEP] included), whole words of
    3+ letters a-z from vocab_file."""
    try:
        lines = pathlib.Path(vocab_file).read_text(encoding="utf-8").split("\n")
    except OSError:
        lines = []
    words = [w for w in lines if len(w) >= 3 and all("a" <= c <= "z" for c in w)]
    if not words:
        words = ["alpha", "beta", "gamma"]
    rng = MT19937(seed)
    texts = []
    for _ in range(count):
        n = lo + rng() % (hi - lo + 1)
        texts.append(" ".join(words[rng() % len(words)] for _ in range(max(n - 2, 0))))
    return texts


def default_tokenizer_folder():
    shared = os.environ.get("RAGPERF_SHARED_DIR") or str(pathlib.Path(__file__).resolve().parents[2] / "shared")
    return pathlib.Path(shared) / "models" / "all-MiniLM-L6-v2-tokenizer-only"


def create_model(model_dir, tokenizer_folder):
    """A random-weight ms-marco-MiniLM-L-6-v2-shaped cross-encoder (BertShape::
    ms_marco_minilm_l6_v2 in bench/random_bert.cpp), saved by transformers."""
    vocab = pathlib.Path(tokenizer_folder) / "vocab.txt"
    if not vocab.exists():
        sys.exit(f"rerank_torch.py: {vocab} not found; give --tokenizer-folder (a BERT uncased "
                 "vocab.txt with tokenizer_config.json)")
    model_dir.mkdir(parents=True, exist_ok=True)
    for name in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        if (pathlib.Path(tokenizer_folder) / name).exists():
            shutil.copyfile(pathlib.Path(tokenizer_folder) / name, model_dir / name)
    vocab_size = len(vocab.read_text(encoding="utf-8").splitlines())
    config = transformers.BertConfig(
        vocab_size=vocab_size, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
        intermediate_size=1536, hidden_act="gelu", layer_norm_eps=1e-12,
        max_position_embeddings=512, type_vocab_size=2, pad_token_id=0, num_labels=1,
        sbert_ce_default_activation_function="torch.nn.modules.linear.Identity")
    torch.manual_seed(42)
    model = transformers.BertForSequenceClassification(config).eval()
    model.save_pretrained(model_dir, safe_serialization=True)
    print(f"wrote a random-weight ms-marco-MiniLM-L-6-v2-shaped cross-encoder in {model_dir}",
          file=sys.stderr)


def cpu_model():
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def percentile(xs, q):
    return float(np.percentile(np.asarray(xs, dtype=np.float64), q))


def main():
    ap = argparse.ArgumentParser(
        description="PyTorch (transformers) timing of one query's cross-encoder reranking, "
                    "the workload of `ragperf bench rerank`")
    ap.add_argument("model_dir", metavar="MODEL_DIR", help="cross-encoder folder")
    ap.add_argument("--candidates", type=int, default=50, help="passages per query (default 50)")
    ap.add_argument("--tokens", type=int, default=128,
                    help="tokens per passage, about (default 128)")
    ap.add_argument("--runs", type=int, default=10, help="timed runs (default 10)")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch.set_num_threads (default: one per core)")
    ap.add_argument("--json", metavar="OUT", help="also write the figures as JSON to OUT")
    ap.add_argument("--create", action="store_true",
                    help="first write MODEL_DIR as a random-weight ms-marco-MiniLM-L-6-v2-shaped "
                         "cross-encoder (files there are overwritten)")
    ap.add_argument("--tokenizer-folder", default=str(default_tokenizer_folder()),
                    help="vocabulary --create copies (default: %(default)s)")
    a = ap.parse_args()
    if a.candidates < 1 or a.tokens < 16 or a.runs < 3:
        ap.error("need --candidates >= 1, --tokens >= 16 and --runs >= 3 (as ragperf bench rerank)")

    transformers.utils.logging.disable_progress_bar()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = a.threads or cores
    torch.set_num_threads(threads)

    model_dir = pathlib.Path(a.model_dir)
    if a.create:
        create_model(model_dir, a.tokenizer_folder)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, dtype=torch.float32)
    model.eval()

    # ragperf: len = min(--tokens, max_length / 2), passages of len -+ len/16 tokens (seed 11),
    # a query of 10-12 tokens (seed 12), both from the folder's vocab.txt.
    max_length = model.config.max_position_embeddings
    if 1 <= tokenizer.model_max_length < 1e9:
        max_length = min(max_length, tokenizer.model_max_length)
    length = min(a.tokens, max_length // 2)
    vocab = model_dir / "vocab.txt"
    passages = word_texts(vocab, a.candidates, length - length // 16, length + length // 16, 11)
    query = word_texts(vocab, 1, 10, 12, 12)[0]
    queries = [query] * len(passages)

    def encode():
        return tokenizer(queries, passages, padding=True, truncation="longest_first",
                         max_length=max_length, return_tensors="pt")

    def forward(batch):
        with torch.inference_mode():
            return model(**batch).logits

    batch = encode()
    mask = batch["attention_mask"]
    pair_tokens = mask.sum(dim=1)
    for _ in range(2):  # warm up: page in the weights, start the thread pool, pick the kernels
        forward(encode())

    total, fwd = [], []
    for _ in range(a.runs):
        t0 = time.perf_counter()
        batch = encode()
        t1 = time.perf_counter()
        forward(batch)
        t2 = time.perf_counter()
        total.append(t2 - t0)
        fwd.append(t2 - t1)

    result = {
        "rerank_p50_s": percentile(total, 50),
        "rerank_p95_s": percentile(total, 95),
        "forward_only_p50_s": percentile(fwd, 50),
        "forward_only_p95_s": percentile(fwd, 95),
        "pairs_per_s": len(passages) / percentile(total, 50),
        "candidates": len(passages),
        "passage_tokens": length,
        "pair_tokens_mean": float(pair_tokens.float().mean()),
        "pair_tokens_max": int(pair_tokens.max()),
        "padded_batch_shape": list(mask.shape),
        "runs": a.runs,
        "runs_s": total,
        "model": str(model_dir),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "attn_implementation": getattr(model.config, "_attn_implementation", None),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_model": cpu_model(),
        "cores": cores,
        "python": platform.python_version(),
    }
    print(f"rerank {len(passages)} candidates of ~{length} tokens "
          f"(pairs {result['pair_tokens_mean']:.0f} tokens mean, padded to "
          f"{result['pair_tokens_max']}), torch {torch.__version__}, "
          f"{result['threads']} threads, {result['cpu_model']}")
    print(f"  tokenize + forward: p50 {result['rerank_p50_s']:.4f} s  "
          f"p95 {result['rerank_p95_s']:.4f} s  ({result['pairs_per_s']:.1f} pairs/s)")
    print(f"  forward only:       p50 {result['forward_only_p50_s']:.4f} s  "
          f"p95 {result['forward_only_p95_s']:.4f} s  over {a.runs} runs after 2 warm-ups")
    if a.json:
        pathlib.Path(a.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
