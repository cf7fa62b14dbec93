"""DatabaseConnectionPool against a real PostgreSQL + pgvector (DATABASE_URL): asyncpg-style calls,
types, errors, exhaustion under 500 tasks, 1,000 concurrent tasks, cancellation, no leaked
connection (pg_stat_activity agrees); ParallelRetriever and BatchProcessor on pgvector tables."""

import asyncio
import time
import datetime
import decimal
import uuid

import numpy as np
import pytest

import ragperf

APP = "ragperf-python"


async def backends(url):
    """Connections of this package's pools that the server sees, from a separate pool."""
    async with ragperf.DatabaseConnectionPool(dsn=url, min_size=1, max_size=1) as probe:
        return await probe.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()", APP)


async def no_backends_left(url):
    """True once the server has no connection of this package's pools left (a closed connection's
    server process exits a moment after the client hangs up; one mid-statement after it ends)."""
    for _ in range(50):
        if await backends(url) == 0:
            return True
        await asyncio.sleep(0.1)
    return False


async def test_fetch_types_records_and_status(database_url):
    async with ragperf.DatabaseConnectionPool(dsn=database_url, min_size=1, max_size=2) as pool:
        when = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=datetime.timezone.utc)
        row = await pool.fetchrow(
            "SELECT $1::int8 AS i, $2::float8 AS f, $3::text AS t, $4::bool AS b, $5::bytea AS by, "
            "$6::jsonb AS j, $7::timestamptz AS ts, $8::date AS d, $9::numeric AS n, $10::uuid AS u, "
            "$11::text AS nul, $12::vector AS v",
            2**40, 1.25, "héllo", False, b"\x00\x01", {"k": [1, "x"]}, when, datetime.date(2020, 2, 29),
            decimal.Decimal("-12.0340"), uuid.UUID(int=7), None, np.array([1.5, -2.0, 0.25], dtype=np.float32))
        assert row["i"] == 2**40 and row[0] == 2**40
        assert row["f"] == 1.25 and row["t"] == "héllo" and row["b"] is False and row["by"] == b"\x00\x01"
        assert row["j"] == {"k": [1, "x"]} and row["ts"] == when and row["d"] == datetime.date(2020, 2, 29)
        assert row["n"] == decimal.Decimal("-12.0340") and row["u"] == uuid.UUID(int=7) and row["nul"] is None
        assert row["v"].dtype == np.float32 and row["v"].tolist() == [1.5, -2.0, 0.25]
        assert list(dict(row)) == ["i", "f", "t", "b", "by", "j", "ts", "d", "n", "u", "nul", "v"]
        assert len(row) == 12 and row.get("missing", 3) == 3
        with pytest.raises(KeyError, match="missing"):
            row["missing"]
        assert await pool.fetchval("SELECT $1::int + 1", 41) == 42
        assert await pool.fetchrow("SELECT 1 WHERE false") is None
        assert await pool.fetch("SELECT g FROM generate_series(1, 3) g") == [(1,), (2,), (3,)]
        async with pool.acquire() as conn:
            assert await conn.execute("CREATE TEMP TABLE t (a int)") == "CREATE TABLE"
            assert await conn.execute("INSERT INTO t SELECT generate_series(1, $1::int)", 5) == "INSERT 0 5"
            assert await conn.fetchval("SELECT sum(a) FROM t") == 15
            async with conn.transaction():
                await conn.execute("INSERT INTO t VALUES (100)")
            with pytest.raises(KeyError):
                async with conn.transaction():
                    await conn.execute("INSERT INTO t VALUES (1000)")
                    raise KeyError("roll back")
            assert await conn.fetchval("SELECT max(a) FROM t") == 100


async def test_the_guides_vector_query(database_url):
    async with ragperf.DatabaseConnectionPool(database_url) as pool:
        async with pool.acquire() as conn:
            await conn.execute("CREATE TEMP TABLE docs (id int, text text, embedding vector(3))")
            for i, v in enumerate([[1, 0, 0], [0, 1, 0], [0.9, 0.1, 0]]):
                await conn.execute("INSERT INTO docs VALUES ($1, $2, $3)", i, f"doc {i}", v)
            literal = "[" + ",".join(map(str, [1.0, 0.05, 0.0])) + "]"
            rows = await conn.fetch("SELECT * FROM docs ORDER BY embedding <=> $1::vector LIMIT 4", literal)
            assert [r["text"] for r in rows] == ["doc 0", "doc 2", "doc 1"]
            binary = await conn.fetch("SELECT text FROM docs ORDER BY embedding <=> $1 LIMIT 2",
                                      np.array([0.0, 1.0, 0.0], dtype=np.float32))
            assert [r["text"] for r in binary] == ["doc 1", "doc 2"]


async def test_stats_settings_and_health(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("MIN_POOL_SIZE", "2")
    monkeypatch.setenv("MAX_POOL_SIZE", "6")
    monkeypatch.setenv("CONNECTION_POOL_SIZE", "4")
    pool = ragperf.DatabaseConnectionPool()  # the guide's bare form: settings from the environment
    await pool.initialize()
    try:
        s = pool.get_stats()
        assert s["pool_min"] == 2 and s["pool_max"] == 6 and s["pool_size"] >= 2
        before = s["total_queries"]
        await asyncio.gather(*(pool.fetchval("SELECT $1::int", i) for i in range(10)))
        s = pool.get_stats()
        assert s["total_queries"] >= before + 10 and 0 <= s["pool_free"] <= s["pool_size"]
        assert await pool.health_check() is True
    finally:
        await pool.close()


async def test_errors(database_url):
    pool = ragperf.DatabaseConnectionPool(dsn=database_url, min_size=1, max_size=2)
    await pool.initialize()
    with pytest.raises(ragperf.QueryError, match="no_such_table") as info:
        await pool.fetch("SELECT * FROM no_such_table")
    assert info.value.sqlstate == "42P01"
    with pytest.raises(TypeError, match=r"parameter \$2: cannot send a object"):
        await pool.fetch("SELECT $1, $2", 1, object())
    with pytest.raises(ragperf.InputError, match=r"parameter \$1.*int8"):
        await pool.fetch("SELECT $1", 2**70)
    with pytest.raises(ragperf.QueryError):  # the server rejects the invalid UTF-8 bytes
        await pool.fetch("SELECT $1::text", b"\xff".decode("utf-8", "surrogateescape"))
    with pytest.raises(TypeError, match="query must be str"):
        await pool.fetch(5)
    async with pool.acquire() as conn:
        slow = asyncio.create_task(conn.fetch("SELECT pg_sleep(0.2)"))
        await asyncio.sleep(0.01)
        with pytest.raises(ragperf.InterfaceError, match="in progress"):
            await conn.fetch("SELECT 1")
        await slow
    with pytest.raises(ragperf.InterfaceError, match="released"):
        await conn.fetch("SELECT 1")
    await pool.close()
    with pytest.raises(ragperf.UnavailableError, match="closed"):
        await pool.fetch("SELECT 1")
    with pytest.raises(ragperf.UnavailableError):
        async with pool.acquire():
            pass
    assert await pool.health_check() is False


async def test_unreachable_server_and_bad_config(monkeypatch):
    for var in ("DATABASE_URL", "PGHOST", "PGDATABASE", "PGSERVICE"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ragperf.ConfigError, match="DATABASE_URL"):
        ragperf.DatabaseConnectionPool()  # bare, with nothing configured
    pool = ragperf.DatabaseConnectionPool(dsn="postgresql://nobody@127.0.0.1:1/none", min_size=1,
                                          connect_timeout=2)
    with pytest.raises(ragperf.ConnectionError, match="127.0.0.1:1"):
        await pool.initialize()
    assert await pool.health_check() is False
    await pool.close()
    with pytest.raises(ragperf.ConfigError, match="min_size"):
        ragperf.DatabaseConnectionPool(dsn="postgresql://u@h/db", min_size=5, max_size=2)
    with pytest.raises(TypeError, match="port must be an int"):
        ragperf.DatabaseConnectionPool(host="localhost", port="5432")


async def test_exhaustion_under_500_tasks_and_no_leak(database_url):
    pool = ragperf.DatabaseConnectionPool(dsn=database_url, min_size=1, max_size=4, acquire_timeout=0.3)
    await pool.initialize()

    async def hold():
        async with pool.acquire() as conn:
            await conn.execute("SELECT pg_sleep(0.5)")

    results = await asyncio.wait_for(asyncio.gather(*(hold() for _ in range(500)), return_exceptions=True), 60)
    errors = [r for r in results if r is not None]
    assert 0 < len(errors) < 500
    assert all(isinstance(e, ragperf.PoolExhaustedError) for e in errors), errors[:3]
    assert "acquire" in str(errors[0]).lower() or "pool" in str(errors[0]).lower()
    s = pool.get_stats()
    assert s["in_use"] == 0 and s["pool_size"] <= 4 and s["acquire_timeouts"] == len(errors)
    assert await backends(database_url) == s["pool_size"]
    await pool.close()
    assert await no_backends_left(database_url)


async def test_1000_concurrent_tasks_within_the_acquire_timeout(database_url):
    async with ragperf.DatabaseConnectionPool(dsn=database_url, min_size=2, max_size=10) as pool:
        values = await asyncio.gather(*(pool.fetchval("SELECT $1::int * 2", i) for i in range(1000)))
        assert values == [2 * i for i in range(1000)]

        async def with_conn(i):
            async with pool.acquire() as conn:
                return await conn.fetchval("SELECT $1::text", str(i))

        assert await asyncio.gather(*(with_conn(i) for i in range(1000))) == [str(i) for i in range(1000)]
        assert pool.get_stats()["in_use"] == 0


async def test_cancelled_tasks_leak_no_connection(database_url):
    pool = ragperf.DatabaseConnectionPool(dsn=database_url, min_size=1, max_size=2, acquire_timeout=5)
    await pool.initialize()

    async def hold():
        async with pool.acquire() as conn:
            await conn.execute("SELECT pg_sleep(0.3)")

    tasks = [asyncio.create_task(hold()) for _ in range(6)]  # 2 hold a connection, 4 wait for one
    await asyncio.sleep(0.05)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for _ in range(100):  # connections return as their statements finish on the server
        if pool.get_stats()["in_use"] == 0:
            break
        await asyncio.sleep(0.05)
    assert pool.get_stats()["in_use"] == 0
    assert pool.get_stats()["acquire_cancelled"] >= 4  # the waiters left the queue
    assert await pool.fetchval("SELECT 7") == 7
    await pool.close()
    assert await no_backends_left(database_url)


async def test_retriever_and_batch_processor_on_pgvector(database_url, embed):
    texts = ["pgvector stores embeddings in PostgreSQL", "HNSW is an approximate index",
             "asyncio runs coroutines on one thread"]
    async with ragperf.DatabaseConnectionPool(dsn=database_url, min_size=1, max_size=4) as pool:
        store = ragperf.VectorStore.postgres(pool)
        for table in ("py_docs", "py_notes"):
            store.drop(table)
            store.add(table, texts, await embed.embed_batch(texts), model_id=embed.model_id)
        r = ragperf.ParallelRetriever(pool=pool, embed_model=embed, tables=["py_docs", "py_notes"], embed_dim=384)
        hits = await r.retrieve_parallel(texts[2], top_k=2, deduplicate=True)
        assert hits[0]["text"] == texts[2] and hits[0]["score"] == pytest.approx(1.0, abs=1e-4)
        assert sorted(hits[0]["source_tables"]) == ["py_docs", "py_notes"]
        bp = ragperf.BatchProcessor(embed_model=embed, pool=pool, table="py_docs", batch_size=8, timeout=0.05)
        answers = await asyncio.gather(*(bp.query(t) for t in texts))
        assert [a[0]["text"] for a in answers] == texts
        await bp.close()
        for table in ("py_docs", "py_notes"):
            store.drop(table)


async def test_the_cpp_stages_land_in_the_monitor(database_url, embed):
    monitor = ragperf.PerformanceMonitor()
    async with ragperf.DatabaseConnectionPool(dsn=database_url, min_size=1, max_size=2, monitor=monitor) as pool:
        for i in range(5):
            await pool.fetchval("SELECT $1::int", i)
        assert monitor.get_stats("acquire")["count"] >= 5
        assert monitor.get_stats("query")["count"] == 5


async def test_the_guides_plain_tables_through_adopt(database_url, embed):
    """The guide's pattern 4: ParallelRetriever over tables holding `text` and `embedding vector(384)`
    that ragperf did not create."""
    topics = {"guide_documents": ["MVCC keeps old row versions", "VACUUM reclaims dead rows"],
              "guide_articles": ["Pooling reuses connections", "MVCC keeps old row versions"],
              "guide_papers": ["Dense retrieval with transformers"]}
    async with ragperf.DatabaseConnectionPool(dsn=database_url, min_size=1, max_size=4) as pool:
        for table, texts in topics.items():
            await pool.execute(f"DROP TABLE IF EXISTS {table}")
            await pool.execute(f"CREATE TABLE {table} (id serial PRIMARY KEY, text text, embedding vector(384))")
            for t, v in zip(texts, await embed.embed_batch(texts)):
                await pool.execute(f"INSERT INTO {table} (text, embedding) VALUES ($1, $2)", t, v)
        store = ragperf.VectorStore.postgres(pool)
        with pytest.raises(ragperf.InputError, match="no column 'metadata'"):
            store.adopt("guide_documents", 384, embed.model_id, metadata="metadata")
        for table in topics:
            store.adopt(table, 384, embed.model_id)
        r = ragperf.ParallelRetriever(pool=pool, embed_model=embed, tables=list(topics), embed_dim=384)
        hits = await r.retrieve_parallel(query="MVCC keeps old row versions", top_k=4, deduplicate=True)
        assert hits[0]["text"] == "MVCC keeps old row versions"
        assert sorted(hits[0]["source_tables"]) == ["guide_articles", "guide_documents"]
        assert len(hits) == 4 and len({h["text"] for h in hits}) == 4
        for table in topics:
            store.drop(table)


async def test_a_statement_cancelled_by_its_caller_is_stopped_on_the_server(database_url):
    async with ragperf.DatabaseConnectionPool(dsn=database_url, min_size=2, max_size=2) as pool:
        conn = await pool.acquire()
        watch = await pool.acquire()  # reads the other session's state from outside it
        pid = conn.get_server_pid()
        state = "SELECT state FROM pg_stat_activity WHERE pid = $1"
        task = asyncio.create_task(conn.fetch("SELECT pg_sleep(30)"))
        await asyncio.sleep(0.2)
        assert await watch.fetchval(state, pid) == "active"
        start = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await pool.release(conn)  # waits for the statement's end: milliseconds, not the 30 s sleep
        assert time.monotonic() - start < 5
        assert await watch.fetchval(state, pid) == "idle"  # the same session, no longer sleeping
        await pool.release(watch)
        stats = pool.get_stats()
        assert stats["statements_cancelled"] == 1
        assert stats["connections_closed"] == 0  # the connection was kept, not replaced
        assert await pool.fetchval("SELECT 7") == 7


async def test_a_cancelled_pool_level_statement_is_stopped_on_the_server(database_url):
    async with ragperf.DatabaseConnectionPool(dsn=database_url, min_size=1, max_size=1) as pool:
        task = asyncio.create_task(pool.fetch("SELECT pg_sleep(30)"))
        await asyncio.sleep(0.2)
        start = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # max_size=1: this waits for the cancelled statement's connection to come back
        assert await pool.fetchval("SELECT 7") == 7
        assert time.monotonic() - start < 5
        assert pool.get_stats()["statements_cancelled"] == 1


async def test_a_connection_handed_back_mid_statement_is_replaced(database_url):
    async with ragperf.DatabaseConnectionPool(dsn=database_url, min_size=1, max_size=1) as pool:
        conn = await pool.acquire()
        conn.release_wait = 0.0  # do not wait: the pool must close it and open another
        task = asyncio.create_task(conn.fetch("SELECT pg_sleep(0.3)"))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await pool.release(conn)
        assert await pool.fetchval("SELECT 7") == 7
