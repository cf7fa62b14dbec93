"""ParallelRetriever and BatchProcessor: the guide's retrieval classes on ragperf's C++ engine."""

import asyncio

from . import _core
from ._bridge import check_positive_int, check_seconds, check_text, check_texts, pending
from .store import VectorStore

__all__ = ["ParallelRetriever", "BatchProcessor"]


def _store_for(pool, store):
    if store is not None:
        if not isinstance(store, VectorStore):
            raise TypeError(f"store must be a ragperf.VectorStore, not {type(store).__name__}")
        return store
    if pool is not None:
        from .pool import DatabaseConnectionPool

        if not isinstance(pool, DatabaseConnectionPool):
            raise TypeError(f"pool must be a ragperf.DatabaseConnectionPool or None, not {type(pool).__name__}")
        return VectorStore.postgres(pool)
    return VectorStore.local()


def _embedder(embed_model):
    from .embedding import AsyncEmbedding

    if embed_model is None:
        return AsyncEmbedding()
    if not isinstance(embed_model, AsyncEmbedding):
        raise TypeError(f"embed_model must be a ragperf.AsyncEmbedding, not {type(embed_model).__name__}")
    return embed_model


class ParallelRetriever:
    """Embeds a query once, searches every table at the same time, merges by score.

    ``pool``: a DatabaseConnectionPool whose database holds the tables, or ``None`` for the embedded
    store (``RAGPERF_HOME/store``, or ``store=``). ``tables``: names, or ``"name@location"`` for a table
    elsewhere (a PostgreSQL URL or a store folder). ``embed_dim`` must equal the model's dimension
    (``None``: the model's).

    Example::

        retriever = ParallelRetriever(pool=pool, embed_model=embed,
                                      tables=["documents", "articles", "papers"], embed_dim=384)
        for hit in await retriever.retrieve_parallel("what is MVCC?", top_k=4):
            print(hit["score"], hit["source_table"], hit["text"])
    """

    def __init__(self, pool=None, embed_model=None, tables=None, embed_dim=None, *, store=None,
                 monitor=None):
        if tables is None:
            raise TypeError("tables is required: a list of table names")
        tables = check_texts(tables, "tables")
        if not tables:
            raise ValueError("tables is empty: name at least one table")
        embed_dim = check_positive_int(embed_dim, "embed_dim")
        self._embed = _embedder(embed_model)
        self._store = _store_for(pool, store)
        self._monitor = monitor
        self._core = _core.Retriever(self._store._core, self._embed._core, tables, embed_dim,
                                     monitor._core if monitor is not None else None)

    @property
    def tables(self):
        return list(self._core.tables)

    async def retrieve_parallel(self, query, top_k=4, deduplicate=True):
        """The best ``top_k`` hits over every table, best first: dicts with ``score``, ``text``,
        ``source_table``, ``id``, ``metadata``, ``similarity``, ``source``, ``source_tables``."""
        check_text(query, "query")
        top_k = check_positive_int(top_k, "top_k", allow_none=False)
        fut, resolve = pending()
        self._core.submit(query, top_k, bool(deduplicate), resolve)
        return await fut

    async def retrieve(self, query, top_k=4, deduplicate=True):
        """Same as retrieve_parallel (the guide's monitoring example calls it)."""
        return await self.retrieve_parallel(query, top_k, deduplicate)


class BatchProcessor:
    """Queues concurrent queries against one table and answers them in batches: one forward pass
    per batch, searches together. A batch runs when ``batch_size`` queries wait, when the oldest has
    waited ``timeout`` seconds, or on ``process_batch()`` (``None``: ``BATCH_SIZE`` / ``BATCH_TIMEOUT``).

    Example::

        processor = BatchProcessor(embed_model=embed, pool=pool, table="my_table",
                                   batch_size=32, timeout=1.0)
        future = await processor.add_query("what is pgvector?")
        await processor.process_batch()
        hits = await future            # [{score, text, source_table, id, metadata, source}]
    """

    def __init__(self, embed_model=None, pool=None, table=None, batch_size=None, timeout=None, *,
                 store=None, monitor=None):
        if table is None:
            raise TypeError("table is required: the table to search")
        check_text(table, "table")
        batch_size = check_positive_int(batch_size, "batch_size")
        timeout = check_seconds(timeout, "timeout")
        self._embed = _embedder(embed_model)
        self._store = _store_for(pool, store)
        self._monitor = monitor
        self._core = _core.Batcher(self._embed._core, self._store._core, table, batch_size, timeout,
                                   monitor._core if monitor is not None else None)

    @property
    def batch_size(self):
        return self._core.batch_size

    @property
    def timeout(self):
        return self._core.timeout

    async def add_query(self, text):
        """Queues ``text``; returns an asyncio future of its hits. Cancelling that future drops the
        query if its batch has not started. Raises OverloadedError / UnavailableError when the query is
        not admitted."""
        check_text(text, "text")
        fut, resolve = pending()
        handle = self._core.submit(text, resolve)
        fut.add_done_callback(lambda f: handle.cancel() if f.cancelled() else None)
        return fut

    async def query(self, text):
        """add_query() and wait for the hits."""
        return await (await self.add_query(text))

    async def process_batch(self):
        """Runs every queued query now (in batches of at most batch_size); returns how many."""
        # One loop iteration first: futures cancelled just before have their drop registered (a
        # future's done callbacks run on the next iteration), so their queries are not run.
        await asyncio.sleep(0)
        return self._core.process_batch()

    async def close(self, fail_pending=False):
        """Stops admitting queries and finishes (or fails) the pending ones."""
        await asyncio.to_thread(self._core.close, bool(fail_pending))

    def get_stats(self):
        return self._core.get_stats()
