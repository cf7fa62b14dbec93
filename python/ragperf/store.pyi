import os
from typing import Any, Iterable, Optional, Sequence, Union

import numpy.typing as npt

from .pool import DatabaseConnectionPool

class VectorStore:
    @classmethod
    def local(cls, folder: Union[str, os.PathLike[str], None] = None) -> "VectorStore": ...
    @classmethod
    def postgres(cls, pool: DatabaseConnectionPool) -> "VectorStore": ...
    def ensure_collection(self, table: str, dim: int, model_id: str, metric: str = "cosine") -> dict[str, Any]: ...
    def add(
        self,
        table: str,
        texts: Iterable[str],
        embeddings: npt.ArrayLike,
        *,
        model_id: str,
        ids: Optional[Sequence[Any]] = None,
        metadata: Optional[Sequence[Optional[dict[str, Any]]]] = None,
        sources: Optional[Sequence[str]] = None,
        metric: str = "cosine",
    ) -> None: ...
    def adopt(self, table: str, dim: int, model_id: str, metric: str = "cosine", *, id: str = "id",
              text: str = "text", embedding: str = "embedding", metadata: Optional[str] = None,
              source: Optional[str] = None, content_hash: Optional[str] = None) -> dict[str, Any]: ...
    def count(self, table: str) -> int: ...
    def drop(self, table: str) -> None: ...
    def collections(self) -> list[dict[str, Any]]: ...
