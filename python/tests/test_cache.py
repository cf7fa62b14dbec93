"""SemanticCache: exact and similarity hits on real embeddings, misses, TTL expiry, the capacity
bound, bad arguments, and a BatchProcessor answering repeats from it."""

import asyncio
import time

import numpy as np
import pytest

import ragperf


async def test_hit_on_the_same_query_miss_on_a_different_one(embed):
    cache = ragperf.SemanticCache(similarity_threshold=0.95, ttl=60, capacity=100)
    q = "how do I reset my password?"
    vec = await embed.embed_single(q)
    assert cache.lookup(q, vec) is None
    cache.store(q, {"answer": "use the reset link", "n": 3}, vec)
    hit = cache.lookup("  How do I RESET my password?  ")  # the exact tier normalises the text
    assert hit == {"value": {"answer": "use the reset link", "n": 3}, "kind": "exact", "similarity": 1.0, "query": q}
    other = "which index type does pgvector offer for approximate search?"
    other_vec = await embed.embed_single(other)
    assert float(other_vec @ vec) / (np.linalg.norm(other_vec) * np.linalg.norm(vec)) < 0.95
    assert cache.lookup(other, other_vec) is None
    # the similarity tier: another text whose embedding is the same vector
    semantic = cache.lookup("another text with the same vector", vec * 3.0)
    assert semantic["kind"] == "semantic" and semantic["similarity"] == pytest.approx(1.0, abs=1e-5)
    assert semantic["value"]["n"] == 3 and semantic["query"] == q
    # the negation guard: a query with "never" does not reuse an answer stored without one
    assert cache.lookup("a text never stored", vec * 3.0) is None
    s = cache.get_stats()
    assert (s["exact_hits"], s["semantic_hits"], s["misses"], s["stores"], s["entries"]) == (1, 1, 3, 1, 1)
    assert len(cache) == 1


def test_values_scopes_and_exact_only():
    cache = ragperf.SemanticCache()
    v = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    cache.store("bytes", b"\x00\xff", v)
    cache.store("text", "é answer")
    cache.store("list", [1, "two", None])
    assert cache.get("bytes") == b"\x00\xff" and cache.get("text") == "é answer"
    assert cache.get("list") == [1, "two", None]
    assert cache.get("bytes", scope="another") is None  # scopes do not see each other's entries
    cache.store("bytes", "scoped", scope="another")
    assert cache.get("bytes", scope="another") == "scoped" and cache.get("bytes") == b"\x00\xff"
    # The default: the lowest threshold at which all-MiniLM-L6-v2 answers <= 2 % of opposite-meaning
    # questions (bench/cache_threshold.py; the same value as SemanticCacheOptions in C++).
    assert cache.similarity_threshold == pytest.approx(0.998)
    exact = ragperf.SemanticCache(exact_only=True)
    exact.store("q", 1, v)
    assert exact.exact_only and exact.lookup("other", v) is None and exact.get("q") == 1
    cache.clear()
    assert len(cache) == 0 and cache.get("text") is None


def test_ttl_expiry():
    cache = ragperf.SemanticCache(ttl=0.5)
    assert cache.ttl == pytest.approx(0.5)
    cache.store("short", "a")
    cache.store("forever", "b", ttl=0)      # 0: never expires
    cache.store("longer", "c", ttl=30)
    assert cache.get("short") == "a"
    time.sleep(0.7)
    assert cache.get("short") is None
    assert cache.get("forever") == "b" and cache.get("longer") == "c"
    assert cache.get_stats()["expirations"] == 1


def test_capacity_bound_evicts_the_least_recently_used():
    cache = ragperf.SemanticCache(capacity=3)
    for i in range(3):
        cache.store(f"q{i}", i)
    assert cache.get("q0") == 0  # q0 is now the most recently used: q1 goes first
    cache.store("q3", 3)
    cache.store("q4", 4)
    assert len(cache) == 3 and cache.capacity == 3
    assert [cache.get(f"q{i}") for i in range(5)] == [0, None, None, 3, 4]
    assert cache.get_stats()["evictions"] == 2


def test_bad_arguments_give_clear_errors():
    with pytest.raises(ValueError, match="capacity=0"):
        ragperf.SemanticCache(capacity=0)
    with pytest.raises(TypeError, match="capacity must be an int"):
        ragperf.SemanticCache(capacity=2.5)
    with pytest.raises(ValueError, match="ttl=-1.0"):
        ragperf.SemanticCache(ttl=-1)
    with pytest.raises(TypeError, match="ttl must be a number of seconds"):
        ragperf.SemanticCache(ttl="1h")
    with pytest.raises(ValueError, match=r"similarity_threshold=1.5 must be a cosine similarity in \[-1, 1\]"):
        ragperf.SemanticCache(similarity_threshold=1.5)
    with pytest.raises(TypeError, match="similarity_threshold must be a number"):
        ragperf.SemanticCache(similarity_threshold="high")
    with pytest.raises(TypeError, match="monitor must be a ragperf.PerformanceMonitor"):
        ragperf.SemanticCache(monitor=object())
    cache = ragperf.SemanticCache()
    with pytest.raises(TypeError, match="query must be str"):
        cache.lookup(42)
    with pytest.raises(TypeError, match="value must be bytes, str or JSON-serialisable, not object"):
        cache.store("q", object())
    with pytest.raises(TypeError, match="embedding must be a 1-D array of floats or None, not str"):
        cache.lookup("q", "0.1,0.2")
    with pytest.raises(ValueError, match=r"non-empty 1-D array of floats, not shape \(2, 2\)"):
        cache.store("q", 1, np.ones((2, 2)))
    with pytest.raises(ragperf.InputError, match="UTF-8"):
        cache.store(b"\xff bad".decode("utf-8", "surrogateescape"), 1)
    with pytest.raises(ragperf.InputError):
        cache.store("zeros", 1, np.zeros(4))
    with pytest.raises(ragperf.InputError):
        cache.lookup("nan", np.array([1.0, float("nan"), 0.0, 0.0]))
    cache.store("four", 1, np.ones(4))
    with pytest.raises(ragperf.InputError, match="3"):
        cache.lookup("three dims", np.ones(3))
    with pytest.raises(ValueError, match="ttl=-2.0"):
        cache.store("q", 1, ttl=-2)
    assert cache.get("four") == 1  # still usable after the errors


async def test_batch_processor_answers_repeats_from_the_cache(embed, tmp_path):
    texts = ["PostgreSQL uses MVCC", "pgvector adds nearest neighbour search", "HNSW trades recall for speed"]
    store = ragperf.VectorStore.local(tmp_path / "store")
    store.add("docs", texts, await embed.embed_batch(texts), model_id=embed.model_id)
    monitor = ragperf.PerformanceMonitor()
    cache = ragperf.SemanticCache(similarity_threshold=0.99, ttl=60, capacity=100, monitor=monitor)
    with pytest.raises(TypeError, match="cache must be a ragperf.SemanticCache"):
        ragperf.BatchProcessor(embed, None, "docs", 8, 0.01, store=store, cache={})
    bp = ragperf.BatchProcessor(embed, None, "docs", 8, 0.01, store=store, cache=cache)
    assert bp.cache is cache
    first = await asyncio.wait_for(bp.query(texts[1]), 30)
    assert first[0]["text"] == texts[1]
    assert cache.get_stats()["stores"] == 1 and len(cache) == 1
    fut = await bp.add_query(texts[1])       # an exact repeat: answered without entering a batch
    again = await asyncio.wait_for(fut, 30)
    assert bp.get_stats()["batches"] == 1
    assert [h["text"] for h in again] == [h["text"] for h in first]
    assert [h["score"] for h in again] == pytest.approx([h["score"] for h in first], abs=1e-6)
    other = await asyncio.wait_for(bp.query(texts[2]), 30)  # a different query is searched
    assert other[0]["text"] == texts[2]
    s = bp.get_stats()
    assert s["cache_exact_hits"] == 1 and s["batches"] == 2
    assert cache.get_stats()["exact_hits"] == 1 and len(cache) == 2
    assert monitor.get_stats("cache")["count"] >= 3
    assert cache.invalidate_table("docs") == 2 and len(cache) == 0
    await bp.close()


async def test_parallel_retriever_answers_repeats_from_the_cache(embed, tmp_path):
    texts = ["PostgreSQL uses MVCC", "pgvector adds nearest neighbour search", "HNSW trades recall for speed"]
    store = ragperf.VectorStore.local(tmp_path / "store")
    store.add("docs", texts, await embed.embed_batch(texts), model_id=embed.model_id)
    store.add("notes", texts[:1], await embed.embed_batch(texts[:1]), model_id=embed.model_id)
    monitor = ragperf.PerformanceMonitor()
    cache = ragperf.SemanticCache(similarity_threshold=0.99, ttl=60, capacity=100)
    with pytest.raises(TypeError, match="cache must be a ragperf.SemanticCache"):
        ragperf.ParallelRetriever(None, embed, ["docs"], store=store, cache=[])
    r = ragperf.ParallelRetriever(None, embed, ["docs", "notes"], embed_dim=384, store=store, cache=cache,
                                  monitor=monitor)
    assert r.cache is cache
    first = await r.retrieve_parallel(texts[1], top_k=2)
    assert first[0]["text"] == texts[1] and len(cache) == 1
    again = await r.retrieve_parallel(texts[1], top_k=2)  # an exact repeat: no embedding, no search
    assert again == first
    assert cache.get_stats()["exact_hits"] == 1
    assert monitor.get_stats("embed")["count"] == 1 and monitor.get_stats("query")["count"] == 1
    # Another top_k or filter is another question: searched, not answered from the first entry.
    three = await r.retrieve_parallel(texts[1], top_k=3)
    assert len(three) == 3 and len(cache) == 2
    only_notes = await r.retrieve_parallel(texts[1], top_k=2, where="source ^= 'nowhere'")
    assert only_notes == [] and monitor.get_stats("query")["count"] == 3
    # Without a cache every call searches.
    plain = ragperf.ParallelRetriever(None, embed, ["docs"], store=store, monitor=monitor)
    assert plain.cache is None
    await plain.retrieve_parallel(texts[1])
    await plain.retrieve_parallel(texts[1])
    assert monitor.get_stats("query")["count"] == 5
