"""``python3 -m ragperf.bench``: the guide's full-query rows, measured from Python through this
package, with the C++ figures of ``ragperf bench batch --store pg`` from the same run beside them.

Rows (a full query = embed the query + top-4 search of one table; semantic cache off but in the cache rows):

- ``queries_10_single``: 10 queries one after another (``ParallelRetriever.retrieve_parallel``);
- ``queries_10_batched``: the same 10 through a ``BatchProcessor`` (``add_query`` x 10,
  ``process_batch``, gather);
- ``full_query_miss`` / ``full_query_hit``: one query through a ``BatchProcessor`` with an exact-only
  ``SemanticCache`` (the guide's "full RAG query, no cache vs cache hit" without the LLM), p50;
- ``concurrency_unbatched`` / ``concurrency_batched``: 10 asyncio clients on one event loop, each
  sending its next query when the previous one is answered (closed loop) for ``--duration``
  seconds, unbatched (the retriever) and batched (a ``BatchProcessor`` with continuous batching,
  as the C++ bench runs it); queries/s and latency percentiles.

The workload is the C++ bench's (bench/batch_bench.cpp): a PostgreSQL table of ``--rows`` random
unit vectors (default 20,000) with 24-word passages, queries of 8 words of the model's vocabulary
from the same four templates, medians over ``--reps`` repetitions (9; 3 with ``--quick``), the
model given by ``--model`` (both sides load the same folder). The C++ bench fills and drops a
table of its own (ragperf_bench_batch) with the same shape; this one keeps ``--table``
(ragperf_pybench) for the next run unless ``--drop``.

    DATABASE_URL=postgresql://... python3 -m ragperf.bench --model ~/.ragperf/models/all-MiniLM-L6-v2 \\
        --quick --out bench.json
"""

import argparse
import asyncio
import json
import os
import pathlib
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

_TEMPLATES = ["what is the {} {} of {} {}", "how do i {} the {} {} {}", "why does {} {} cause {} {}",
              "which {} {} works with {} {}"]


class _Texts:
    """Queries and passages from the model's vocabulary, as the C++ bench's TextMaker makes them."""

    def __init__(self, model_dir, seed):
        self._rng = random.Random(seed)
        words = []
        vocab = pathlib.Path(model_dir) / "vocab.txt"
        if vocab.is_file():
            for w in vocab.read_text(encoding="utf-8").splitlines():
                if 3 <= len(w) <= 10 and all("a" <= c <= "z" for c in w):
                    words.append(w)
        if len(words) < 100:
            words = [f"word{i}" for i in range(1000)]
        self._words = words

    def _word(self):
        return self._words[self._rng.randrange(len(self._words))]

    def query(self):
        t = _TEMPLATES[self._rng.randrange(4)]
        return t.format(self._word(), self._word(), self._word(), self._word())

    def passage(self, n_words=24):
        return " ".join(self._word() for _ in range(n_words))


def _percentile(values, p):
    if not values:
        return 0.0
    return float(np.percentile(np.asarray(values, dtype=np.float64), p))


def _default_model():
    env = os.environ.get("EMBED_MODEL")
    if env:
        return env
    demo = pathlib.Path(os.environ.get("RAGPERF_HOME", "~/.ragperf")).expanduser() / "models" / "all-MiniLM-L6-v2"
    if (demo / "config.json").is_file():
        return str(demo)
    return None


async def _fill(store, table, rows, embed, texts):
    """``rows`` random unit vectors (seeded) with 24-word passages, unless the table holds them."""
    for c in store.collections():
        if c["name"] == table:
            if c["count"] == rows and c["dim"] == embed.dim and c["model_id"] == embed.model_id:
                return False
            store.drop(table)
    rng = np.random.default_rng(7)
    for start in range(0, rows, 2000):
        n = min(rows, start + 2000) - start
        m = rng.standard_normal((n, embed.dim)).astype(np.float32)
        m /= np.linalg.norm(m, axis=1, keepdims=True)
        await asyncio.to_thread(store.add, table, [texts.passage() for _ in range(n)], m,
                                model_id=embed.model_id, ids=[f"row{start + i}" for i in range(n)],
                                sources=["bench"] * n)
    return True


async def _closed_loop(clients, duration, query, texts):
    """``clients`` tasks each send their next query when the previous one is answered, for
    ``duration`` seconds; queries/s and latency percentiles (seconds)."""
    latencies = [[] for _ in range(clients)]
    errors = [0] * clients
    loop = asyncio.get_running_loop()
    t0 = loop.time() + 0.02
    stop_at = t0 + duration

    async def client(c):
        await asyncio.sleep(max(0.0, t0 - loop.time()))
        end = t0
        while True:
            start = loop.time()
            if start >= stop_at:
                return end
            try:
                await query(texts[c].query())
            except Exception:  # counted, reported; the run goes on
                errors[c] += 1
            end = loop.time()
            latencies[c].append(end - start)

    ends = await asyncio.gather(*(client(c) for c in range(clients)))
    lat = [x for per in latencies for x in per]
    span = max(ends) - t0
    return {"qps": len(lat) / span if span > 0 else 0.0, "p50_s": _percentile(lat, 50),
            "p95_s": _percentile(lat, 95), "p99_s": _percentile(lat, 99), "queries": len(lat),
            "errors": sum(errors)}


async def run_python(args, model):
    from . import (AsyncEmbedding, BatchProcessor, DatabaseConnectionPool, ParallelRetriever, SemanticCache,
                   VectorStore)

    out = {}
    t = time.perf_counter()
    embed = AsyncEmbedding(model)
    out["model_load_s"] = time.perf_counter() - t
    texts = _Texts(model, 11)
    pool = DatabaseConnectionPool()
    await pool.initialize()
    try:
        store = VectorStore.postgres(pool)
        t = time.perf_counter()
        filled = await _fill(store, args.table, args.rows, embed, texts)
        out["fill_s"] = time.perf_counter() - t if filled else 0.0
        retriever = ParallelRetriever(pool=pool, embed_model=embed, tables=[args.table], embed_dim=embed.dim)

        async def full_query(q):
            hits = await retriever.retrieve_parallel(q, top_k=4)
            if len(hits) != min(4, args.rows):
                raise RuntimeError(f"bench: a query returned {len(hits)} hits, not 4")
            return hits

        for _ in range(5):  # warm: connections, threads, the index
            await full_query(texts.query())

        single, batched = [], []
        processor = BatchProcessor(embed_model=embed, pool=pool, table=args.table, timeout=60.0)
        try:
            for _ in range(args.reps):
                qs = [texts.query() for _ in range(10)]
                t = time.perf_counter()
                for q in qs:
                    await full_query(q)
                single.append(time.perf_counter() - t)
                t = time.perf_counter()
                futures = [await processor.add_query(q) for q in qs]
                await processor.process_batch()
                answers = await asyncio.gather(*futures)
                batched.append(time.perf_counter() - t)
                if any(len(a) != min(4, args.rows) for a in answers):
                    raise RuntimeError("bench: a batched query did not return 4 hits")
        finally:
            await processor.close()
        # One full query through a BatchProcessor with an exact-only SemanticCache: a miss (embed +
        # search + store) vs a repeat answered by the cache inside add_query (as the C++ bench).
        cache = SemanticCache(exact_only=True)
        processor = BatchProcessor(embed_model=embed, pool=pool, table=args.table, timeout=60.0, cache=cache)
        miss, hit, asked = [], [], [texts.query() for _ in range(args.cache_misses)]
        try:
            for q in asked:
                t = time.perf_counter()
                fut = await processor.add_query(q)
                await processor.process_batch()
                await fut
                miss.append(time.perf_counter() - t)
            for i in range(args.cache_hits):
                t = time.perf_counter()
                await (await processor.add_query(asked[i % len(asked)]))
                hit.append(time.perf_counter() - t)
            if processor.get_stats()["cache_exact_hits"] != args.cache_hits:
                raise RuntimeError("bench: repeated queries were not all answered by the cache")
        finally:
            await processor.close()
        out["full_query_miss_p50_s"] = statistics.median(miss)
        out["full_query_hit_p50_s"] = statistics.median(hit)
        out["full_query_hit_p99_s"] = _percentile(hit, 99)

        out["queries_10_single_s"] = statistics.median(single)
        out["queries_10_batched_s"] = statistics.median(batched)
        out["batch_size"] = processor.batch_size

        client_texts = [_Texts(model, 100 + c) for c in range(args.clients)]
        out["concurrency_unbatched"] = await _closed_loop(args.clients, args.duration, full_query, client_texts)
        processor = BatchProcessor(embed_model=embed, pool=pool, table=args.table, flush_when_idle=True)
        try:
            out["concurrency_batched"] = await _closed_loop(args.clients, args.duration, processor.query,
                                                            client_texts)
            out["concurrency_batched"]["mean_batch_size"] = processor.get_stats()["mean_batch_size"]
        finally:
            await processor.close()
        out["pool"] = {k: v for k, v in pool.get_stats().items() if k in ("pool_size", "max_size", "min_size")}
        if args.drop:
            store.drop(args.table)
    finally:
        await pool.close()
    return out


def find_cpp(spec):
    """The ``ragperf`` binary: ``spec`` when a path, else RAGPERF_BIN, ``ragperf`` on PATH, or
    build/release/src/cli/ragperf under the working folder or the checkout this file lies in."""
    if spec not in ("auto", None):
        return spec if os.access(spec, os.X_OK) else None
    candidates = [os.environ.get("RAGPERF_BIN"), shutil.which("ragperf")]
    for root in (pathlib.Path.cwd(), *pathlib.Path(__file__).resolve().parents):
        candidates.append(str(root / "build" / "release" / "src" / "cli" / "ragperf"))
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


def run_cpp(binary, args, model):
    """``ragperf bench batch --store pg`` on the same model, rows, clients and duration; its JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        out_file = os.path.join(tmp, "batch.json")
        cmd = [binary, "bench", "batch", "--store", "pg", "--model", model, "--rows", str(args.rows),
               "--clients", str(args.clients), "--duration", str(args.duration), "--out", out_file]
        if args.quick:
            cmd.append("--quick")
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.cpp_timeout)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()[-2000:]}")
        with open(out_file) as f:
            report = json.load(f)
    conc = report.get("concurrency", {})
    return {"command": " ".join(cmd), "queries_10_single_s": report.get("queries_10_single_s"),
            "queries_10_batched_s": report.get("queries_10_batched_s"),
            "full_query_miss_p50_s": report.get("full_query_miss_p50_s"),
            "full_query_hit_p50_s": report.get("full_query_hit_p50_s"),
            "concurrency_unbatched": conc.get("unbatched", {}).get("closed_loop"),
            "concurrency_batched": conc.get("batched", {}).get("closed_loop"),
            "report": report}


def _rows(py, cpp):
    """(label, unit, python value, C++ value or None, lower_is_better)."""
    def conc(side, key, field):
        return side[key][field] if side and side.get(key) else None

    return [
        ("10 single full queries", "ms", py["queries_10_single_s"] * 1e3,
         cpp["queries_10_single_s"] * 1e3 if cpp and cpp.get("queries_10_single_s") else None, True),
        ("10 queries batched", "ms", py["queries_10_batched_s"] * 1e3,
         cpp["queries_10_batched_s"] * 1e3 if cpp and cpp.get("queries_10_batched_s") else None, True),
        ("full query, cache miss p50", "ms", py["full_query_miss_p50_s"] * 1e3,
         cpp["full_query_miss_p50_s"] * 1e3 if cpp and cpp.get("full_query_miss_p50_s") else None, True),
        ("full query, cache hit p50", "us", py["full_query_hit_p50_s"] * 1e6,
         cpp["full_query_hit_p50_s"] * 1e6 if cpp and cpp.get("full_query_hit_p50_s") else None, True),
        ("10 clients unbatched", "q/s", conc(py, "concurrency_unbatched", "qps"),
         conc(cpp, "concurrency_unbatched", "qps"), False),
        ("10 clients unbatched p50", "ms", conc(py, "concurrency_unbatched", "p50_s") * 1e3,
         (conc(cpp, "concurrency_unbatched", "p50_s") or 0) * 1e3 if cpp else None, True),
        ("10 clients batched", "q/s", conc(py, "concurrency_batched", "qps"),
         conc(cpp, "concurrency_batched", "qps"), False),
        ("10 clients batched p50", "ms", conc(py, "concurrency_batched", "p50_s") * 1e3,
         (conc(cpp, "concurrency_batched", "p50_s") or 0) * 1e3 if cpp else None, True),
    ]


def format_table(py, cpp, clients):
    lines = [f"{'row':<28} {'Python':>12} {'C++':>12} {'Python vs C++':>14}"]
    for label, unit, pv, cv, lower in _rows(py, cpp):
        label = label.replace("10 clients", f"{clients} clients")
        c = f"{cv:.1f} {unit}" if cv else "-"
        if cv:
            worse = (pv / cv - 1) if lower else (cv / pv - 1 if pv else float("inf"))
            ratio = f"{worse * 100:+.0f} %"
        else:
            ratio = "-"
        lines.append(f"{label:<28} {pv:>9.1f} {unit:<3}{c:>12} {ratio:>14}")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m ragperf.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="model folder (default: EMBED_MODEL, else RAGPERF_HOME/models/all-MiniLM-L6-v2)")
    ap.add_argument("--rows", type=int, default=20000, help="rows in the table (default 20000)")
    ap.add_argument("--reps", type=int, help="repetitions of the 10-query rows (default 9; 3 with --quick)")
    ap.add_argument("--clients", type=int, default=10, help="concurrent asyncio clients (default 10)")
    ap.add_argument("--duration", type=float, help="seconds per concurrency run (default 3; 1 with --quick)")
    ap.add_argument("--quick", action="store_true", help="3 repetitions and 1 s concurrency runs")
    ap.add_argument("--cache-misses", type=int, help="cache-miss queries (default 30; 10 with --quick)")
    ap.add_argument("--cache-hits", type=int, help="cache-hit queries (default 10000; 2000 with --quick)")
    ap.add_argument("--table", default="ragperf_pybench", help="the Python side's table (default ragperf_pybench)")
    ap.add_argument("--drop", action="store_true", help="drop the table at the end")
    ap.add_argument("--cpp", default="auto",
                    help="the ragperf binary to run `bench batch --store pg` with, 'auto' (RAGPERF_BIN, PATH, "
                         "build/release/src/cli/ragperf) or 'none'")
    ap.add_argument("--cpp-timeout", type=float, default=900, help="seconds the C++ bench may take (default 900)")
    ap.add_argument("--out", help="write the figures as JSON to this file")
    ap.add_argument("--json", action="store_true", help="print the JSON on stdout (the table on stderr)")
    args = ap.parse_args(argv)
    if args.rows < 10:
        ap.error(f"--rows {args.rows}: use 10 or more")
    if args.clients < 1:
        ap.error(f"--clients {args.clients}: use at least one client")
    args.reps = args.reps if args.reps is not None else (3 if args.quick else 9)
    if args.reps < 1:
        ap.error(f"--reps {args.reps}: use at least 1")
    args.cache_misses = args.cache_misses if args.cache_misses is not None else (10 if args.quick else 30)
    args.cache_hits = args.cache_hits if args.cache_hits is not None else (2000 if args.quick else 10000)
    if args.cache_misses < 1 or args.cache_hits < 1:
        ap.error(f"--cache-misses {args.cache_misses} / --cache-hits {args.cache_hits}: use at least 1")
    args.duration = args.duration if args.duration is not None else (1.0 if args.quick else 3.0)
    if not args.duration > 0:
        ap.error(f"--duration {args.duration}: use a positive number of seconds")
    model = args.model or _default_model()
    if not model:
        ap.error("no model: give --model FOLDER (or set EMBED_MODEL), e.g. ~/.ragperf/models/all-MiniLM-L6-v2")
    model = str(pathlib.Path(model).expanduser())
    if not os.environ.get("DATABASE_URL"):
        ap.error("DATABASE_URL is not set: the bench needs PostgreSQL + pgvector (scripts/pg_start.sh)")

    cpp, cpp_error = None, None
    binary = None if args.cpp == "none" else find_cpp(args.cpp)
    if args.cpp != "none" and binary is None:
        cpp_error = f"no ragperf binary found ({args.cpp}); build it (scripts/build.sh) or pass --cpp PATH"
    started = time.perf_counter()
    py = asyncio.run(run_python(args, model))
    if binary:
        try:
            cpp = run_cpp(binary, args, model)
        except (RuntimeError, OSError, subprocess.TimeoutExpired, ValueError) as e:
            cpp_error = str(e)
    result = {"model": model, "rows": args.rows, "clients": args.clients, "reps": args.reps,
              "duration_s": args.duration, "python": py, "cpp": cpp, "cpp_error": cpp_error,
              "run_s": time.perf_counter() - started}
    if cpp:
        result["python_vs_cpp"] = {label: (pv / cv if lower else cv / pv) if cv and pv else None
                                   for label, _, pv, cv, lower in _rows(py, cpp)}
    table = format_table(py, cpp, args.clients)
    notes = [f"model {model}; {args.rows} rows; medians of {args.reps}; {args.duration:g} s per concurrency run; "
             "semantic cache off except in the cache rows (exact-only, BatchProcessor); batched clients use "
             "continuous batching (flush_when_idle)",
             "'Python vs C++': how much slower the Python figure is (negative: faster)"]
    if cpp_error:
        notes.append(f"C++ figures missing: {cpp_error}")
    text = table + "\n" + "\n".join(notes)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    if args.json:
        print(text, file=sys.stderr)
        print(json.dumps(result, indent=2))
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
