"""ParallelRetriever and BatchProcessor on the embedded store: rankings against a brute-force numpy
ranking of the same vectors, deduplication, bad input, cancellation, 1,000 concurrent tasks."""

import asyncio

import numpy as np
import pytest

import ragperf

TABLES = {
    "documents": ["PostgreSQL uses MVCC for concurrency control",
                  "pgvector adds a vector type and nearest neighbour search",
                  "HNSW indexes trade recall for speed"],
    "articles": ["Connection pools keep database connections open",
                 "Batching queries amortises the model's forward pass",
                 "shared text in two tables"],
    "papers": ["Dense retrieval embeds queries and passages",
               "Reciprocal rank fusion merges ranked lists",
               "shared text in two tables"],
}


@pytest.fixture
async def corpus(embed, tmp_path):
    store = ragperf.VectorStore.local(tmp_path / "store")
    vectors = {}
    for table, texts in TABLES.items():
        m = await embed.embed_batch(texts)
        store.add(table, texts, m, model_id=embed.model_id, ids=[f"{table}-{i}" for i in range(len(texts))],
                  metadata=[{"table": table, "n": i} for i in range(len(texts))])
        vectors[table] = m
    return store, vectors


def brute_force(query_vec, vectors, k):
    scored = []
    for table, m in vectors.items():
        for i, s in enumerate(m @ query_vec):
            scored.append((float(s), TABLES[table][i], table))
    scored.sort(key=lambda x: -x[0])
    return scored[:k]


async def test_retrieve_parallel_equals_brute_force(embed, corpus):
    store, vectors = corpus
    r = ragperf.ParallelRetriever(None, embed, list(TABLES), embed_dim=384, store=store)
    query = "how does postgres handle concurrent transactions?"
    hits = await r.retrieve_parallel(query, top_k=4, deduplicate=False)
    expected = brute_force(await embed.embed_single(query), vectors, 4)
    assert [(h["text"], h["source_table"]) for h in hits] == [(t, tab) for _, t, tab in expected]
    for h, (score, _, _) in zip(hits, expected):
        assert h["score"] == pytest.approx(score, abs=1e-5)
        assert h["metadata"]["table"] == h["source_table"]
        assert set(h) >= {"score", "text", "source_table", "id", "metadata"}
    assert hits == sorted(hits, key=lambda h: -h["score"])


async def test_exact_text_is_the_best_hit_and_dedup_merges_tables(embed, corpus):
    store, _ = corpus
    r = ragperf.ParallelRetriever(embed_model=embed, tables=list(TABLES), store=store)
    hits = await r.retrieve_parallel("shared text in two tables", top_k=3, deduplicate=True)
    assert hits[0]["text"] == "shared text in two tables"
    assert hits[0]["score"] == pytest.approx(1.0, abs=1e-5)
    assert sorted(hits[0]["source_tables"]) == ["articles", "papers"]
    assert len({h["text"] for h in hits}) == len(hits)
    undeduped = await r.retrieve(query="shared text in two tables", top_k=3, deduplicate=False)
    assert [h["text"] for h in undeduped[:2]] == ["shared text in two tables"] * 2


async def test_where_filters_every_table(embed, corpus):
    store, vectors = corpus
    r = ragperf.ParallelRetriever(embed_model=embed, tables=list(TABLES), store=store)
    query = "how does postgres handle concurrent transactions?"
    hits = await r.retrieve_parallel(query, top_k=9, deduplicate=False, where="meta.n >= 1 and meta.table != 'papers'")
    assert {(h["source_table"], h["metadata"]["n"]) for h in hits} == {
        ("documents", 1), ("documents", 2), ("articles", 1), ("articles", 2)}
    assert hits == sorted(hits, key=lambda h: -h["score"])
    assert await r.retrieve(query, top_k=3, where="meta.n = 99") == []
    with pytest.raises(ragperf.InputError, match="filter: expected a value"):
        await r.retrieve_parallel(query, where="meta.n >= ")
    with pytest.raises(TypeError, match="where must be str"):
        await r.retrieve_parallel(query, where=3)


async def test_text_and_hybrid_modes(embed, corpus):
    store, _ = corpus
    r = ragperf.ParallelRetriever(embed_model=embed, tables=["documents"], store=store)
    with pytest.raises(ragperf.InputError, match="ragperf migrate --table documents"):
        await r.retrieve_parallel("MVCC", mode="text")
    store.enable_text_search("documents")
    hits = await r.retrieve_parallel("MVCC concurrency", top_k=3, mode="text")
    assert hits[0]["text"] == TABLES["documents"][0]
    assert hits[0]["text_rank"] == 1 and "vector_rank" not in hits[0]
    hybrid = await r.retrieve_parallel("MVCC concurrency control", top_k=3, mode="hybrid")
    assert hybrid[0]["text"] == TABLES["documents"][0]
    assert hybrid[0]["vector_rank"] >= 1 and hybrid[0]["text_rank"] == 1
    with pytest.raises(ragperf.InputError, match="search mode 'bm25'"):
        await r.retrieve_parallel("MVCC", mode="bm25")


async def test_default_local_store_when_pool_is_none(embed, corpus):
    # RAGPERF_HOME/store is the default embedded store (conftest points RAGPERF_HOME at tmp_path)
    texts = TABLES["documents"]
    ragperf.VectorStore.local().add("documents", texts, await embed.embed_batch(texts), model_id=embed.model_id)
    r = ragperf.ParallelRetriever(pool=None, embed_model=embed, tables=["documents"], embed_dim=384)
    hits = await r.retrieve_parallel(texts[1], top_k=1)
    assert hits[0]["text"] == texts[1]


async def test_bad_input(embed, corpus):
    store, _ = corpus
    with pytest.raises(ragperf.ConfigError, match="768"):
        ragperf.ParallelRetriever(embed_model=embed, tables=["documents"], embed_dim=768, store=store)
    with pytest.raises(ragperf.InputError, match="bad-name"):
        ragperf.ParallelRetriever(embed_model=embed, tables=["bad-name"], store=store)
    with pytest.raises(TypeError, match="tables must be a list of str"):
        ragperf.ParallelRetriever(embed_model=embed, tables="documents", store=store)
    with pytest.raises(TypeError, match="embed_model must be a ragperf.AsyncEmbedding"):
        ragperf.ParallelRetriever(embed_model="model", tables=["documents"], store=store)
    r = ragperf.ParallelRetriever(embed_model=embed, tables=["documents", "missing_table"], store=store)
    with pytest.raises(ragperf.InputError, match="missing_table"):
        await r.retrieve_parallel("anything")
    r = ragperf.ParallelRetriever(embed_model=embed, tables=["documents"], store=store)
    with pytest.raises(TypeError, match="query must be str"):
        await r.retrieve_parallel(42)
    with pytest.raises(ValueError, match="top_k=0"):
        await r.retrieve_parallel("x", top_k=0)
    with pytest.raises(ragperf.InputError, match="UTF-8"):
        await r.retrieve_parallel(b"\xff\xfe".decode("utf-8", "surrogateescape"))
    assert len(await r.retrieve_parallel("still works", top_k=2)) == 2


async def test_cancelled_and_1000_concurrent_retrievals(embed, corpus):
    store, _ = corpus
    r = ragperf.ParallelRetriever(embed_model=embed, tables=list(TABLES), store=store)
    task = asyncio.create_task(r.retrieve_parallel("cancel me"))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    queries = [TABLES[t][i] for t in TABLES for i in range(3)]
    results = await asyncio.gather(*(r.retrieve_parallel(queries[i % len(queries)], top_k=2) for i in range(1000)))
    for i, hits in enumerate(results):
        assert hits[0]["text"] == queries[i % len(queries)]


async def test_batch_processor_answers_like_the_retriever(embed, corpus):
    store, _ = corpus
    bp = ragperf.BatchProcessor(embed_model=embed, table="documents", batch_size=32, timeout=60.0, store=store)
    futures = [await bp.add_query(t) for t in TABLES["documents"]]
    assert not any(f.done() for f in futures)
    assert await bp.process_batch() == 3
    answers = await asyncio.wait_for(asyncio.gather(*futures), 30)
    for text, hits in zip(TABLES["documents"], answers):
        assert hits[0]["text"] == text and hits[0]["source_table"] == "documents"
        assert hits[0]["score"] == pytest.approx(1.0, abs=1e-5)
    assert bp.get_stats()["batches"] == 1
    await bp.close()


async def test_batch_processor_flushes_on_size_and_on_timeout(embed, corpus):
    store, _ = corpus
    by_size = ragperf.BatchProcessor(embed, None, "articles", 4, 60.0, store=store)
    futures = [await by_size.add_query(f"query {i}") for i in range(4)]
    await asyncio.wait_for(asyncio.gather(*futures), 30)  # no process_batch: the 4th query fills it
    by_time = ragperf.BatchProcessor(embed, None, "articles", 100, 0.05, store=store)
    loop = asyncio.get_running_loop()
    start = loop.time()
    hits = await asyncio.wait_for(await by_time.add_query("alone"), 30)
    assert len(hits) > 0 and loop.time() - start >= 0.04


async def test_batch_processor_bad_input_and_cancel(embed, corpus):
    store, _ = corpus
    with pytest.raises(ragperf.InputError, match="nope"):
        ragperf.BatchProcessor(embed, None, "nope", 4, 1.0, store=store)
    with pytest.raises(ValueError, match="batch_size=0"):
        ragperf.BatchProcessor(embed, None, "documents", 0, 1.0, store=store)
    bp = ragperf.BatchProcessor(embed, None, "documents", 32, 60.0, store=store)
    bad = await bp.add_query(b"\xc3\x28 bad".decode("utf-8", "surrogateescape"))
    good = await bp.add_query("good")
    dropped = await bp.add_query("dropped")
    dropped.cancel()
    await bp.process_batch()
    with pytest.raises(ragperf.InputError, match="UTF-8"):
        await asyncio.wait_for(bad, 30)
    assert len(await asyncio.wait_for(good, 30)) > 0
    with pytest.raises(TypeError, match="text must be str"):
        await bp.add_query(None)
    await bp.close()
    assert bp.get_stats()["cancelled"] == 1
    with pytest.raises(ragperf.UnavailableError):
        await bp.add_query("after close")


async def test_batch_processor_1000_concurrent_queries(embed, corpus):
    store, _ = corpus
    bp = ragperf.BatchProcessor(embed, None, "papers", 64, 0.01, store=store)
    texts = TABLES["papers"]
    results = await asyncio.wait_for(asyncio.gather(*(bp.query(texts[i % 3]) for i in range(1000))), 120)
    assert all(r[0]["text"] == texts[i % 3] for i, r in enumerate(results))
    s = bp.get_stats()
    assert s["completed"] == 1000 and s["batches"] < 1000
    await bp.close()


async def test_the_retrievers_stages_land_in_the_monitor(embed, corpus):
    store, _ = corpus
    monitor = ragperf.PerformanceMonitor()
    r = ragperf.ParallelRetriever(embed_model=embed, tables=list(TABLES), store=store, monitor=monitor)
    for _ in range(3):
        with monitor.track("retrieval"):
            await r.retrieve_parallel("stages")
    stats = monitor.get_stats()
    assert stats["retrieval"]["count"] == 3
    assert stats["total"]["count"] == 3 and stats["merge"]["count"] == 3
    assert stats["total"]["p50"] <= stats["retrieval"]["p50"] * 1.05


async def test_batch_processor_top_k_where_and_mode(embed, corpus):
    store, _ = corpus
    bp = ragperf.BatchProcessor(embed, None, "documents", 4, 0.01, store=store, top_k=2, where="meta.n >= 1")
    hits = await asyncio.wait_for(bp.query("vector search in postgres"), 30)
    assert len(hits) == 2 and all(h["metadata"]["n"] >= 1 for h in hits)
    await bp.close()
    with pytest.raises(ragperf.InputError, match="meta.n >="):
        ragperf.BatchProcessor(embed, None, "documents", store=store, where="meta.n >= ")
    with pytest.raises(ValueError, match="mode"):
        ragperf.BatchProcessor(embed, None, "documents", store=store, mode="sideways")
    with pytest.raises(TypeError, match="where must be str"):
        ragperf.BatchProcessor(embed, None, "documents", store=store, where=1)
    with pytest.raises(ValueError, match="top_k=0"):
        ragperf.BatchProcessor(embed, None, "documents", store=store, top_k=0)
