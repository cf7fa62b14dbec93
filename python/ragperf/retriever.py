"""ParallelRetriever and BatchProcessor: the guide's retrieval classes on ragperf's C++ engine."""

import asyncio

from . import _core
from ._bridge import check_positive_int, check_seconds, check_text, check_texts, pending
from .cache import SemanticCache
from .errors import InputError
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


def _adopt_plain_tables(store, tables, embed):
    """The guide's tables (``text`` + ``embedding vector(dim)`` and an ``id`` column, made by its own
    SQL, not by ragperf) registered with the PostgreSQL store so that they can be searched: every
    plain table name of ``tables`` that exists in the database but not in ragperf's registry is
    adopted as holding ``embed``'s vectors. Tables already registered are left as they are (their
    model is checked at search time); a missing table is reported by the search (InputError).
    Returns the plain tables that do not exist (yet)."""
    if store._pool is None:
        return []
    plain = [t for t in tables if "@" not in t]
    if not plain:
        return []
    known = {c["name"] for c in store.collections()}
    missing = []
    for table in plain:
        if table in known:
            continue
        try:
            store.adopt(table, embed.dim, embed.model_id)
        except InputError as e:
            if "does not exist" in str(e):
                missing.append(table)
                continue
            raise
    return missing


def _check_cache(cache):
    if cache is not None and not isinstance(cache, SemanticCache):
        raise TypeError(f"cache must be a ragperf.SemanticCache or None, not {type(cache).__name__}")


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
    (``None``: the model's). On a pool, a table the guide's own SQL made (``id``, ``text``,
    ``embedding vector(dim)``) and ragperf does not know yet is registered here as holding
    ``embed_model``'s vectors (or, made later, at the first call that finds it; BatchProcessor
    registers its table in its constructor). ``cache``: a SemanticCache that answers repeated
    queries (an exact repeat without embedding, a similar one without searching) and keeps the
    answers of the others, as ``/query`` does; its entries are scoped by tables, ``top_k`` and
    every option that changes the hits.

    Example::

        retriever = ParallelRetriever(pool=pool, embed_model=embed,
                                      tables=["documents", "articles", "papers"], embed_dim=384)
        for hit in await retriever.retrieve_parallel("what is MVCC?", top_k=4):
            print(hit["score"], hit["source_table"], hit["text"])
    """

    def __init__(self, pool=None, embed_model=None, tables=None, embed_dim=None, *, store=None,
                 monitor=None, cache=None):
        if tables is None:
            raise TypeError("tables is required: a list of table names")
        tables = check_texts(tables, "tables")
        if not tables:
            raise ValueError("tables is empty: name at least one table")
        embed_dim = check_positive_int(embed_dim, "embed_dim")
        self._embed = _embedder(embed_model)
        _check_cache(cache)
        self._store = _store_for(pool, store)
        self._missing = _adopt_plain_tables(self._store, tables, self._embed)
        self._monitor = monitor
        self._cache = cache
        self._core = _core.Retriever(self._store._core, self._embed._core, tables, embed_dim,
                                     monitor._core if monitor is not None else None,
                                     cache._core if cache is not None else None)

    @property
    def cache(self):
        return self._cache

    @property
    def tables(self):
        return list(self._core.tables)

    async def retrieve_parallel(self, query, top_k=4, deduplicate=True, *, where=None, mode=None):
        """The best ``top_k`` hits over every table, best first: dicts with ``score``, ``text``,
        ``source_table``, ``id``, ``metadata``, ``similarity``, ``source``, ``source_tables``.
        ``where``: a metadata filter such as ``"meta.lang = 'en' and source ^= 'docs/'"`` (the
        README's "Metadata filters"); only chunks it accepts come back. A filter that does not
        parse raises ``ragperf.InputError`` naming the part. ``mode``: ``"vector"`` (the default),
        ``"text"`` (full-text) or ``"hybrid"`` (both, fused by reciprocal rank; hits then carry
        ``vector_rank`` and ``text_rank``)."""
        check_text(query, "query")
        if where is not None:
            check_text(where, "where")
        if mode is not None:
            check_text(mode, "mode")
        top_k = check_positive_int(top_k, "top_k", allow_none=False)
        if self._missing:  # tables made after this retriever: registered once they exist
            self._missing = await asyncio.to_thread(_adopt_plain_tables, self._store, self._missing, self._embed)
        fut, resolve = pending()
        self._core.submit(query, top_k, bool(deduplicate), resolve, where, mode)
        return await fut

    async def retrieve(self, query, top_k=4, deduplicate=True, *, where=None, mode=None):
        """Same as retrieve_parallel (the guide's monitoring example calls it)."""
        return await self.retrieve_parallel(query, top_k, deduplicate, where=where, mode=mode)


class BatchProcessor:
    """Queues concurrent queries against one table and answers them in batches: one forward pass
    per batch, searches together. A batch runs when ``batch_size`` queries wait, when the oldest has
    waited ``timeout`` seconds, or on ``process_batch()`` (``None``: ``BATCH_SIZE`` / ``BATCH_TIMEOUT``).
    ``flush_when_idle``: also run a batch whenever the embedding stage is idle (continuous
    batching: a lone query runs at once, queries arriving meanwhile form the next batch; off by
    default, as the guide's contract is size-or-timeout).
    ``cache``: a SemanticCache that answers repeated queries (an exact repeat without entering a
    batch, a similar one after embedding, without a search); answers are stored into it.
    ``top_k`` (``None``: 4), ``where`` (a metadata filter, checked here: InputError naming
    the part) and ``mode`` (``"vector"``, ``"text"``, ``"hybrid"``) apply to every query of this
    processor, as ParallelRetriever's arguments of the same names do to one call.

    Example::

        processor = BatchProcessor(embed_model=embed, pool=pool, table="my_table",
                                   batch_size=32, timeout=1.0)
        future = await processor.add_query("what is pgvector?")
        await processor.process_batch()
        hits = await future            # [{score, text, source_table, id, metadata, source}]
    """

    def __init__(self, embed_model=None, pool=None, table=None, batch_size=None, timeout=None, *,
                 store=None, monitor=None, cache=None, flush_when_idle=False, top_k=None, where=None,
                 mode=None):
        if table is None:
            raise TypeError("table is required: the table to search")
        check_text(table, "table")
        batch_size = check_positive_int(batch_size, "batch_size")
        timeout = check_seconds(timeout, "timeout")
        if top_k is not None:
            top_k = check_positive_int(top_k, "top_k")
        if where is not None:
            check_text(where, "where")
        if mode is not None:
            check_text(mode, "mode")
        self._embed = _embedder(embed_model)
        _check_cache(cache)
        self._store = _store_for(pool, store)
        _adopt_plain_tables(self._store, [table], self._embed)
        self._monitor = monitor
        self._cache = cache
        self._core = _core.Batcher(self._embed._core, self._store._core, table, batch_size, timeout,
                                   monitor._core if monitor is not None else None,
                                   cache._core if cache is not None else None, bool(flush_when_idle),
                                   top_k, where, mode)

    @property
    def cache(self):
        return self._cache

    @property
    def batch_size(self):
        return self._core.batch_size

    @property
    def timeout(self):
        return self._core.timeout

    @property
    def flush_when_idle(self):
        return self._core.flush_when_idle

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
