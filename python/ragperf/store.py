"""VectorStore: the tables ParallelRetriever and BatchProcessor search (embedded or PostgreSQL)."""

import json
import uuid

import numpy as np

from . import _core
from ._bridge import check_text, check_texts

__all__ = ["VectorStore"]


class VectorStore:
    """A ragperf store: ``VectorStore.local(folder)`` (embedded SQLite + exact / HNSW search, the
    default when no database is configured) or ``VectorStore.postgres(pool)`` (pgvector).

    Its methods block (briefly, with the GIL released); use them to fill tables, e.g. with vectors
    from ``AsyncEmbedding.embed_batch``::

        store = VectorStore.local("/tmp/store")
        store.add("docs", texts, await embed.embed_batch(texts), model_id=embed.model_id)
    """

    def __init__(self, core, pool=None):
        self._core = core
        self._pool = pool

    @classmethod
    def local(cls, folder=None):
        """The embedded store in ``folder`` (``None``: ``RAGPERF_HOME/store``), created when missing."""
        if folder is not None:
            folder = str(folder)
        return cls(_core.Store.local(folder))

    @classmethod
    def postgres(cls, pool):
        """The pgvector store on ``pool`` (a DatabaseConnectionPool; initialised if needed)."""
        return cls(_core.Store.postgres(pool._core), pool)

    def ensure_collection(self, table, dim, model_id, metric="cosine"):
        """Creates ``table`` for ``dim``-dimensional vectors of ``model_id`` when missing; its info."""
        return self._core.ensure_collection(check_text(table, "table"), int(dim), metric, model_id)

    def add(self, table, texts, embeddings, *, model_id, ids=None, metadata=None, sources=None,
            metric="cosine"):
        """Adds (or replaces by id) one chunk per text, in one transaction; creates ``table`` first
        when missing. ``embeddings``: shape ``(len(texts), dim)``."""
        check_text(table, "table")
        texts = check_texts(texts, "texts")
        emb = np.ascontiguousarray(embeddings, dtype=np.float32)
        if emb.ndim != 2 or emb.shape[0] != len(texts):
            raise ValueError(f"embeddings must have shape (len(texts)={len(texts)}, dim), not {emb.shape}")
        n = len(texts)
        ids = [str(uuid.uuid4()) for _ in range(n)] if ids is None else [str(i) for i in ids]
        metadata = ["" if m is None else json.dumps(m) for m in (metadata or [None] * n)]
        sources = [str(s) for s in (sources or [""] * n)]
        self._core.ensure_collection(table, emb.shape[1], metric, model_id)
        self._core.add(table, ids, texts, emb, metadata, sources)

    def adopt(self, table, dim, model_id, metric="cosine", *, id="id", text="text", embedding="embedding",
              metadata=None, source=None, content_hash=None):
        """Registers an existing PostgreSQL table (one ragperf did not create, such as the guide's
        ``text`` + ``embedding vector(384)`` tables) so that ParallelRetriever and BatchProcessor can
        search it. Column arguments name its columns; ``None`` means the table has no such column.
        ``model_id`` is the id of the model its vectors came from (``AsyncEmbedding.model_id``)."""
        check_text(table, "table")
        columns = {"id": id, "text": text, "embedding": embedding, "metadata": metadata or "",
                   "source": source or "", "content_hash": content_hash or ""}
        for role, name in columns.items():
            check_text(name, role)
        return self._core.adopt(table, int(dim), metric, check_text(model_id, "model_id"), columns)

    def count(self, table):
        return self._core.count(check_text(table, "table"))

    def enable_text_search(self, table):
        """The migration that gives ``table`` full-text search (``mode="text"`` / ``"hybrid"``
        retrieval): an FTS5 index (embedded store) or a generated tsvector column with a GIN index
        (PostgreSQL). True when it was added, False when the table had it."""
        return self._core.enable_text_search(check_text(table, "table"))

    def create_filter_indexes(self, table):
        """Indexes that serve ``where=`` filters on PostgreSQL (GIN on the metadata, a prefix index
        on the source); the names created (none when present, or on the embedded store)."""
        return self._core.create_filter_indexes(check_text(table, "table"))

    def drop(self, table):
        self._core.drop(check_text(table, "table"))

    def collections(self):
        """Every table: ``{name, dim, metric, model_id, count}``; on PostgreSQL ``count`` is the
        planner's estimate (no rows are read), ``count(table)`` is exact."""
        return self._core.collections()

    def __repr__(self):
        return f"VectorStore({self._core.describe()})"
