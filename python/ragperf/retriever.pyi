import asyncio
from typing import Any, Optional, Sequence

from .cache import SemanticCache
from .embedding import AsyncEmbedding
from .monitor import PerformanceMonitor
from .pool import DatabaseConnectionPool
from .store import VectorStore

Hit = dict[str, Any]  # score, text, source_table, id, metadata, source (+ similarity, source_tables)

class ParallelRetriever:
    def __init__(
        self,
        pool: Optional[DatabaseConnectionPool] = None,
        embed_model: Optional[AsyncEmbedding] = None,
        tables: Optional[Sequence[str]] = None,
        embed_dim: Optional[int] = None,
        *,
        store: Optional[VectorStore] = None,
        monitor: Optional[PerformanceMonitor] = None,
        cache: Optional[SemanticCache] = None,
    ) -> None: ...
    @property
    def tables(self) -> list[str]: ...
    @property
    def cache(self) -> Optional[SemanticCache]: ...
    async def retrieve_parallel(
        self, query: str, top_k: int = 4, deduplicate: bool = True, *, where: str | None = None,
        mode: str | None = None,
    ) -> list[Hit]:
        """The best top_k hits over every table; `where`: a metadata filter (README: Metadata
        filters); `mode`: "vector" (default), "text" or "hybrid"."""
    async def retrieve(
        self, query: str, top_k: int = 4, deduplicate: bool = True, *, where: str | None = None,
        mode: str | None = None,
    ) -> list[Hit]: ...

class BatchProcessor:
    def __init__(
        self,
        embed_model: Optional[AsyncEmbedding] = None,
        pool: Optional[DatabaseConnectionPool] = None,
        table: Optional[str] = None,
        batch_size: Optional[int] = None,
        timeout: Optional[float] = None,
        *,
        store: Optional[VectorStore] = None,
        monitor: Optional[PerformanceMonitor] = None,
        cache: Optional[SemanticCache] = None,
        flush_when_idle: bool = False,
        top_k: Optional[int] = None,
        where: Optional[str] = None,
        mode: Optional[str] = None,
    ) -> None: ...
    @property
    def cache(self) -> Optional[SemanticCache]: ...
    @property
    def batch_size(self) -> int: ...
    @property
    def timeout(self) -> float: ...
    @property
    def flush_when_idle(self) -> bool: ...
    async def add_query(self, text: str) -> asyncio.Future[list[Hit]]: ...
    async def query(self, text: str) -> list[Hit]: ...
    async def process_batch(self) -> int: ...
    async def close(self, fail_pending: bool = False) -> None: ...
    def get_stats(self) -> dict[str, Any]: ...
