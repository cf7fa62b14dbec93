"""ragperf: the RAG performance guide's Python API on ragperf's C++ engine.

Change one import line::

    from ragperf import (AsyncEmbedding, DatabaseConnectionPool, ParallelRetriever,
                         BatchProcessor, PerformanceMonitor, SemanticCache)

Every ``await`` completes on the caller's running event loop; the C++ work runs on ragperf's own
threads with the GIL released. Omitted arguments come from the environment, ``.env`` and
``RAGPERF_PROFILE``, as in the C++ library. Errors are ``ragperf.RagperfError`` subclasses.
"""

from .errors import (  # noqa: F401  (re-exported)
    CancelledError,
    ConfigError,
    ConnectionError,
    InputError,
    InterfaceError,
    ModelError,
    OverloadedError,
    PoolExhaustedError,
    PostgresError,
    QueryError,
    RagperfError,
    TimeoutError,
    UnavailableError,
)
from . import _core  # noqa: E402  (after errors: the module imports ragperf.errors)
from .cache import SemanticCache
from .embedding import AsyncEmbedding
from .monitor import PerformanceMonitor
from .pool import Connection, DatabaseConnectionPool, Record
from .retriever import BatchProcessor, ParallelRetriever
from .store import VectorStore

__version__ = "0.1.0"


def settings():
    """The effective settings as ``ragperf config`` shows them: ``{name: (value, source, origin)}``
    (passwords masked)."""
    return _core.settings()


__all__ = [
    "AsyncEmbedding",
    "BatchProcessor",
    "CancelledError",
    "ConfigError",
    "Connection",
    "ConnectionError",
    "DatabaseConnectionPool",
    "InputError",
    "InterfaceError",
    "ModelError",
    "OverloadedError",
    "ParallelRetriever",
    "PerformanceMonitor",
    "PoolExhaustedError",
    "PostgresError",
    "QueryError",
    "RagperfError",
    "Record",
    "SemanticCache",
    "TimeoutError",
    "UnavailableError",
    "VectorStore",
    "settings",
]
