"""The guide's five usage patterns (examples/python/*.py), each run as a program against the
throwaway PostgreSQL + pgvector: the test makes the guide's tables (`id`, `text`,
`embedding vector(384)`, filled through the package), runs the example in a subprocess with
DATABASE_URL and EMBED_MODEL set, and checks what it prints against a brute-force numpy ranking of
the same vectors."""

import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

import ragperf

from conftest import SHARED

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples" / "python"

CORPUS = {
    "documents": [
        "Machine learning lets computers learn patterns from data",
        "A vector database stores embeddings for similarity search",
        "PostgreSQL is a relational database with multiversion concurrency control",
        "Neural networks learn by gradient descent on a loss function",
        "Retrieval augmented generation grounds answers in retrieved documents",
        "The cat sat quietly on the warm windowsill",
    ],
    "articles": [
        "Connection pooling keeps database connections open between requests",
        "Batching amortises the cost of a model's forward pass",
        "A vector database stores embeddings for similarity search",
    ],
    "papers": [
        "Transformers use self-attention over sequences of tokens",
        "Approximate nearest neighbour search with hierarchical navigable small world graphs",
        "Dense passage retrieval embeds questions and passages in one space",
    ],
}


def example_model():
    """The demo's real all-MiniLM-L6-v2 when set up, else a 384-dim model folder of ../shared."""
    real = pathlib.Path(os.environ.get("RAGPERF_DEMO_MODEL", "~/.ragperf/models/all-MiniLM-L6-v2")).expanduser()
    if (real / "config.json").is_file():
        return str(real)
    if SHARED is None:
        pytest.skip("no model folder: run scripts/setup.sh model, or set RAGPERF_SHARED_DIR to the folder holding models/")
    return str(SHARED / "models" / "bert-l2-h384-mean-f16")


@pytest.fixture
async def guide_db(database_url):
    """The guide's three tables, filled; yields (DATABASE_URL, model folder, {table: (texts, vectors)}).
    Dropped (and forgotten by ragperf's registry) afterwards."""
    model = example_model()
    embed = ragperf.AsyncEmbedding(model)
    assert embed.dim == 384
    data = {}
    async with ragperf.DatabaseConnectionPool(dsn=database_url, min_size=1, max_size=4) as pool:
        store = ragperf.VectorStore.postgres(pool)

        def forget():
            known = {c["name"] for c in store.collections()}
            for table in CORPUS:
                if table in known:
                    store.drop(table)

        forget()
        # one vector per distinct text, so that a text in two tables has the same vector in both
        unique = sorted({t for texts in CORPUS.values() for t in texts})
        by_text = dict(zip(unique, await embed.embed_batch(unique)))
        for table, texts in CORPUS.items():
            await pool.execute(f"DROP TABLE IF EXISTS {table}")
            await pool.execute(f"CREATE TABLE {table} (id serial PRIMARY KEY, text text NOT NULL, "
                               "embedding vector(384) NOT NULL)")
            vectors = np.stack([by_text[t] for t in texts])
            for text, vec in zip(texts, vectors):
                await pool.execute(f"INSERT INTO {table} (text, embedding) VALUES ($1, $2)", text, vec)
            data[table] = (texts, vectors)
        yield database_url, model, data
        forget()
        for table in CORPUS:
            await pool.execute(f"DROP TABLE IF EXISTS {table}")


def run_example(name, db, *args):
    url, model, _ = db
    env = dict(os.environ, DATABASE_URL=url, EMBED_MODEL=model)
    p = subprocess.run([sys.executable, str(EXAMPLES / name), *args], env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, f"{name} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
    return p.stdout


def ranked(data, query_vec, tables, k=4, dedup=False):
    """(text, table, cosine similarity) best first, as pgvector's <=> ranks them."""
    scored = []
    q = np.asarray(query_vec, dtype=np.float64)
    q /= np.linalg.norm(q)
    for table in tables:
        texts, m = data[table]
        for t, row in zip(texts, np.asarray(m, dtype=np.float64)):  # row by row: equal rows, equal scores
            scored.append((t, table, float(np.dot(row, q) / np.linalg.norm(row))))
    scored.sort(key=lambda x: -x[2])  # stable: table order breaks ties
    if dedup:
        seen, out = set(), []
        for s in scored:
            if s[0] not in seen:
                seen.add(s[0])
                out.append(s)
        scored = out
    return scored[:k]


async def vector_of(db, text):
    return await ragperf.AsyncEmbedding(db[1]).embed_single(text)


def listed(block):
    """The texts of the '  1. text' lines."""
    return [m.group(1) for m in re.finditer(r"^  \d+\. (.*)$", block, re.M)]


def ms(output, label):
    m = re.search(rf"^{label}: ([0-9.]+) ms$", output, re.M)
    assert m, f"no '{label}: N ms' line in:\n{output}"
    return float(m.group(1))


async def test_quick_start(guide_db):
    query = "How do computers learn from data?"
    out = run_example("quick_start.py", guide_db, query)
    expected = ranked(guide_db[2], await vector_of(guide_db, query), ["documents"])
    assert f"Query: {query}\nFound 4 documents\n" in out
    assert listed(out) == [t for t, _, _ in expected]
    assert expected[0][0] == CORPUS["documents"][0]
    assert ms(out, "Embedding p50") > 0 and ms(out, "Retrieval p50") > 0


async def test_basic_async_query(guide_db):
    query = "cats sitting by the window"
    out = run_example("basic_async_query.py", guide_db, query)
    expected = ranked(guide_db[2], await vector_of(guide_db, query), ["documents"])
    assert out.startswith(f"Query: {query}\n")
    assert listed(out) == [t for t, _, _ in expected]


async def test_batch_processing(guide_db):
    queries = ["gradient descent training", "a database for embeddings", "MVCC in PostgreSQL"]
    out = run_example("batch_processing.py", guide_db, *queries)
    blocks = re.split(r"^Query: ", out, flags=re.M)[1:]
    assert len(blocks) == 3
    for query, block in zip(queries, blocks):
        assert block.startswith(query + "\n")
        expected = ranked(guide_db[2], await vector_of(guide_db, query), ["documents"])
        assert listed(block) == [t for t, _, _ in expected]
    rate = re.search(r"^Embedded 3 queries: ([0-9.]+) embeddings/s$", out, re.M)
    assert rate and float(rate.group(1)) > 0
    pool = re.search(r"^Pool: size (\d+), free (\d+), queries (\d+)$", out, re.M)
    assert pool, out
    size, free, total = map(int, pool.groups())
    assert size >= 1 and free == size and total >= 3


async def test_parallel_retrieval(guide_db):
    query = "A vector database stores embeddings for similarity search"  # in documents and articles
    out = run_example("parallel_retrieval.py", guide_db, query)
    expected = ranked(guide_db[2], await vector_of(guide_db, query), list(CORPUS), dedup=True)
    lines = re.findall(r"^  \d+\. \[(\w+)\] ([0-9.]+) (.*)$", out, re.M)
    assert f"Query: {query}\nFound 4 results across 3 tables\n" in out
    assert [(table, text) for table, _, text in lines] == [(table, text) for text, table, _ in expected]
    assert lines[0] == ("documents", "1.0000", query)
    for (_, score, _), (_, _, sim) in zip(lines, expected):
        assert float(score) == pytest.approx(sim, abs=2e-4)
    # the guide's plain tables were registered with ragperf on the way (as this model's vectors)
    async with ragperf.DatabaseConnectionPool(dsn=guide_db[0], min_size=1, max_size=1) as pool:
        store = ragperf.VectorStore.postgres(pool)
        names = {c["name"]: c for c in store.collections()}
        # collections() lists without reading rows (its counts are planner estimates); count() is exact
        assert all(names[t]["dim"] == 384 and store.count(t) == len(CORPUS[t]) for t in CORPUS)


async def test_performance_monitoring(guide_db):
    queries = ["What is machine learning?", "self-attention in transformers", "pooling connections"]
    out = run_example("performance_monitoring.py", guide_db, *queries)
    for q in queries:
        assert re.search(rf"^Query: {re.escape(q)} -> 4 results, \d+ characters of context$", out, re.M), out
    assert "Pool healthy: True" in out
    for stage in ("embedding", "retrieval", "processing"):
        m = re.search(rf"^{stage}: count (\d+), p50 ([0-9.]+) ms, p95 ([0-9.]+) ms$", out, re.M)
        assert m, out
        assert int(m.group(1)) == 3 and 0 <= float(m.group(2)) <= float(m.group(3))
    assert float(re.search(r"^retrieval: .* p50 ([0-9.]+) ms", out, re.M).group(1)) > 0


async def test_the_guides_tables_without_an_id_column_get_a_clear_error(database_url, embed):
    async with ragperf.DatabaseConnectionPool(dsn=database_url, min_size=1, max_size=2) as pool:
        await pool.execute("DROP TABLE IF EXISTS guide_noid")
        await pool.execute("CREATE TABLE guide_noid (text text, embedding vector(384))")
        try:
            with pytest.raises(ragperf.InputError, match="guide_noid has no column 'id'"):
                ragperf.ParallelRetriever(pool=pool, embed_model=embed, tables=["guide_noid"], embed_dim=384)
            with pytest.raises(ragperf.InputError, match="guide_noid has no column 'id'"):
                ragperf.BatchProcessor(embed_model=embed, pool=pool, table="guide_noid", batch_size=4, timeout=0.1)
        finally:
            await pool.execute("DROP TABLE IF EXISTS guide_noid")


async def test_batch_processor_on_a_guide_table(guide_db):
    """The guide's BatchProcessor(embed_model, pool, table, batch_size, timeout) on its plain table."""
    url, model, data = guide_db
    embed = ragperf.AsyncEmbedding(model)
    async with ragperf.DatabaseConnectionPool(dsn=url, min_size=1, max_size=4) as pool:
        bp = ragperf.BatchProcessor(embed_model=embed, pool=pool, table="papers", batch_size=32, timeout=1.0)
        futures = [await bp.add_query(t) for t in CORPUS["papers"]]
        await bp.process_batch()
        for text, fut in zip(CORPUS["papers"], futures):
            hits = await fut
            assert hits[0]["text"] == text and hits[0]["source_table"] == "papers"
        await bp.close()


async def test_a_table_registered_with_another_model_is_not_adopted_again(guide_db):
    url, model, _ = guide_db
    embed = ragperf.AsyncEmbedding(model)
    async with ragperf.DatabaseConnectionPool(dsn=url, min_size=1, max_size=2) as pool:
        store = ragperf.VectorStore.postgres(pool)
        store.adopt("papers", 384, "another-model")
        r = ragperf.ParallelRetriever(pool=pool, embed_model=embed, tables=["papers"], embed_dim=384)
        with pytest.raises(ragperf.InputError, match="another-model"):
            await r.retrieve_parallel("anything")
        assert {c["name"]: c["model_id"] for c in store.collections()}["papers"] == "another-model"


async def test_a_guide_table_made_after_the_retriever_is_found(database_url, embed):
    async with ragperf.DatabaseConnectionPool(dsn=database_url, min_size=1, max_size=2) as pool:
        store = ragperf.VectorStore.postgres(pool)
        if "guide_late" in {c["name"] for c in store.collections()}:
            store.drop("guide_late")
        await pool.execute("DROP TABLE IF EXISTS guide_late")
        try:
            r = ragperf.ParallelRetriever(pool=pool, embed_model=embed, tables=["guide_late"], embed_dim=384)
            with pytest.raises(ragperf.InputError, match="guide_late"):
                await r.retrieve_parallel("too early")
            await pool.execute("CREATE TABLE guide_late (id serial PRIMARY KEY, text text, embedding vector(384))")
            texts = ["made after the retriever", "a second row"]
            for t, v in zip(texts, await embed.embed_batch(texts)):
                await pool.execute("INSERT INTO guide_late (text, embedding) VALUES ($1, $2)", t, v)
            hits = await r.retrieve_parallel(texts[0], top_k=2)
            assert [h["text"] for h in hits] == texts
        finally:
            if "guide_late" in {c["name"] for c in store.collections()}:
                store.drop("guide_late")
            await pool.execute("DROP TABLE IF EXISTS guide_late")
