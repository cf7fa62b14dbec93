"""bench/cache_threshold.py: how the semantic cache's similarity threshold trades true hits on
paraphrases against false hits on questions of opposite meaning, measured with a real model.

For every pair (a, b) of bench/data/cache-pairs/ and every threshold t (0.70 to 0.99 by 0.01,
then on to 0.999 by 0.001): a fresh ``ragperf.SemanticCache(similarity_threshold=t)`` stores an
answer under a's text and embedding, then looks up b's text and embedding. A hit on a paraphrase pair is a true hit; a hit on
a negation / antonym / reversal / entity pair is a false hit. The lookups go through the real cache,
so its text normalisation and its negation guard count (both rates are also given with the guard
off). Embeddings come from ``ragperf.AsyncEmbedding`` on the model folder, the encoder the cache
sees in production (equal to the sentence-transformers reference within 3e-7, ``ctest -L model``).

Prints one row per threshold (paraphrase hit rate, negation false-hit rate, the same without the
negation guard, false hits by kind) and the threshold the rule picks: the lowest threshold whose
false-hit rate with the guard (the default) is at most ``--target``. Both rates fall as t rises,
so that threshold keeps the most paraphrase hits within the target. ``--json OUT`` writes the same
rows plus every pair's cosine similarity and the highest threshold at which it still hits.

    .venv/bin/python bench/cache_threshold.py --model ~/.ragperf/models/all-MiniLM-L6-v2 \\
        --json cache_threshold.json
"""

import argparse
import asyncio
import json
import os
import pathlib
import sys

import numpy as np

import ragperf

HERE = pathlib.Path(__file__).resolve().parent
KINDS = ("negation", "antonym", "reversal", "entity")


def default_model():
    home = os.environ.get("RAGPERF_HOME") or os.path.expanduser("~/.ragperf")
    return str(pathlib.Path(home) / "models" / "all-MiniLM-L6-v2")


def load_pairs(path, with_kind):
    """Rows of ``a<TAB>b`` (``a<TAB>b<TAB>kind`` when with_kind); ``#`` lines and blank lines skipped."""
    pairs = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        want = 3 if with_kind else 2
        if len(fields) != want:
            sys.exit(f"{path}:{n}: expected {want} tab-separated fields, got {len(fields)}: {line!r}")
        if with_kind and fields[2] not in KINDS:
            sys.exit(f"{path}:{n}: kind {fields[2]!r} is not one of {', '.join(KINDS)}")
        pairs.append({"a": fields[0], "b": fields[1], "kind": fields[2] if with_kind else "paraphrase"})
    return pairs


def thresholds(start, stop, step, tail_step):
    """start..stop by step, then (tail_step > 0) on from stop to 0.999 by tail_step."""
    n = int(round((stop - start) / step))
    out = [round(start + i * step, 4) for i in range(n + 1)]
    if tail_step > 0:
        m = int(round((0.999 - stop) / tail_step))
        out += [round(stop + i * tail_step, 4) for i in range(1, m + 1)]
    return out


def hits(pairs, emb, t, negation_guard):
    """Per pair: does b hit a fresh cache holding a at threshold t?"""
    out = []
    for i, p in enumerate(pairs):
        cache = ragperf.SemanticCache(similarity_threshold=t, ttl=0, capacity=1, negation_guard=negation_guard)
        cache.store(p["a"], "answer", emb[2 * i])
        out.append(cache.lookup(p["b"], emb[2 * i + 1]) is not None)
    return out


def rate(flags):
    return sum(flags) / len(flags) if flags else 0.0


async def embed_pairs(model, pairs):
    texts = [t for p in pairs for t in (p["a"], p["b"])]
    return await model.embed_batch(texts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=default_model(),
                    help="model folder or hub id (default: $RAGPERF_HOME/models/all-MiniLM-L6-v2)")
    ap.add_argument("--pairs", default=str(HERE / "data" / "cache-pairs"),
                    help="folder holding paraphrase.tsv and negation.tsv")
    ap.add_argument("--json", metavar="OUT", help="write the rows and every pair's similarity as JSON")
    ap.add_argument("--from", dest="start", type=float, default=0.70, help="first threshold (0.70)")
    ap.add_argument("--to", dest="stop", type=float, default=0.99, help="last threshold (0.99)")
    ap.add_argument("--step", type=float, default=0.01, help="threshold step (0.01)")
    ap.add_argument("--tail-step", type=float, default=0.001,
                    help="after --to, go on to 0.999 in these steps (0.001; 0: stop at --to)")
    ap.add_argument("--target", type=float, default=0.02,
                    help="largest negation false-hit rate the chosen threshold may have (0.02)")
    args = ap.parse_args()

    folder = pathlib.Path(args.pairs)
    para = load_pairs(folder / "paraphrase.tsv", with_kind=False)
    neg = load_pairs(folder / "negation.tsv", with_kind=True)
    model = ragperf.AsyncEmbedding(os.path.expanduser(args.model))
    para_emb = asyncio.run(embed_pairs(model, para))
    neg_emb = asyncio.run(embed_pairs(model, neg))

    def cosines(emb):
        a, b = emb[0::2].astype(np.float64), emb[1::2].astype(np.float64)
        return (np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))).tolist()

    para_sim, neg_sim = cosines(para_emb), cosines(neg_emb)
    para_top = [None] * len(para)  # the highest threshold at which each pair still hits
    neg_top = [None] * len(neg)
    rows = []
    for t in thresholds(args.start, args.stop, args.step, args.tail_step):
        row = {"threshold": t}
        for guard in (True, False):
            ph, nh = hits(para, para_emb, t, guard), hits(neg, neg_emb, t, guard)
            r = {"paraphrase_hit_rate": rate(ph), "negation_false_hit_rate": rate(nh),
                 "false_hit_rate_by_kind": {k: rate([h for h, p in zip(nh, neg) if p["kind"] == k]) for k in KINDS},
                 "paraphrase_hits": sum(ph), "false_hits": sum(nh)}
            if guard:
                row.update(r)
                for i, h in enumerate(ph):
                    para_top[i] = t if h else para_top[i]
                for i, h in enumerate(nh):
                    neg_top[i] = t if h else neg_top[i]
            else:
                row["without_guard"] = r
        rows.append(row)

    ok = [r for r in rows if r["negation_false_hit_rate"] <= args.target + 1e-12]
    chosen = ok[0] if ok else None
    by_kind = {k: sum(p["kind"] == k for p in neg) for k in KINDS}

    kinds_text = ", ".join(f"{n} {k}" for k, n in by_kind.items())
    print(f"model {model.model_id} ({args.model}); {len(para)} paraphrase pairs, "
          f"{len(neg)} opposite-meaning pairs ({kinds_text}); a fresh cache per pair")
    for name, sims in (("paraphrase", para_sim), ("opposite", neg_sim)):
        q = np.quantile(sims, [0, 0.1, 0.5, 0.9, 1])
        print(f"  {name:10s} cosine: min {q[0]:.3f}  p10 {q[1]:.3f}  median {q[2]:.3f}  "
              f"p90 {q[3]:.3f}  max {q[4]:.3f}")
    print()
    pct = lambda x: f"{100 * x:5.1f} %"  # noqa: E731
    print("           negation_guard on (default) | guard off           | false hits by kind (guard on)")
    print("threshold  paraphrase   false hits     | paraphrase  false   | "
          + " ".join(f"{k:>8s}" for k in KINDS))
    for r in rows:
        w = r["without_guard"]
        kinds = " ".join(f"{pct(r['false_hit_rate_by_kind'][k]):>8s}" for k in KINDS)
        mark = "  <- chosen" if r is chosen else ""
        t = r["threshold"]
        print(f"  {t:<5.{2 if round(t, 2) == t else 3}f}    {pct(r['paraphrase_hit_rate'])}      "
              f"{pct(r['negation_false_hit_rate'])}        | {pct(w['paraphrase_hit_rate'])}     "
              f"{pct(w['negation_false_hit_rate'])} | {kinds}{mark}")
    print()
    rule = (f"the lowest threshold whose negation false-hit rate (negation_guard on) is <= "
            f"{100 * args.target:g} %: both rates fall as the threshold rises, so it keeps the most "
            "paraphrase hits within the target")
    default = ragperf.SemanticCache().similarity_threshold
    if chosen:
        print(f"rule: {rule}\n  -> {chosen['threshold']:g} (paraphrase hits "
              f"{pct(chosen['paraphrase_hit_rate']).strip()}, false hits "
              f"{pct(chosen['negation_false_hit_rate']).strip()}); the installed default is {default:g}")
    else:
        print(f"rule: {rule}\n  -> no threshold in the sweep meets it; the installed default is {default:g}")

    if args.json:
        out = {
            "model": model.model_id, "model_dir": args.model, "pairs_dir": str(folder),
            "n_paraphrase": len(para), "n_negation": len(neg), "negation_kinds": by_kind,
            "method": "a fresh SemanticCache per pair and threshold: store(a, emb(a)), then lookup(b, emb(b))",
            "rows": rows, "target": args.target, "rule": rule,
            "chosen_threshold": chosen["threshold"] if chosen else None, "installed_default": default,
            # hits_up_to: the highest threshold of the sweep at which the pair hits (None: none)
            "paraphrase_pairs": [dict(p, cosine=c, hits_up_to=f) for p, c, f in zip(para, para_sim, para_top)],
            "negation_pairs": [dict(p, cosine=c, hits_up_to=f) for p, c, f in zip(neg, neg_sim, neg_top)],
        }
        pathlib.Path(args.json).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
