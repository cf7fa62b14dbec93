"""SemanticCache: answers repeated questions without embedding or searching again."""

import json
import numbers

import numpy as np

from . import _core
from ._bridge import check_positive_int, check_seconds, check_text

__all__ = ["SemanticCache"]

_BYTES, _STR, _JSON = b"b", b"s", b"j"


def _encode(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _BYTES + bytes(value)
    if isinstance(value, str):
        return _STR + value.encode("utf-8", "surrogatepass")
    try:
        return _JSON + json.dumps(value, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise TypeError(f"value must be bytes, str or JSON-serialisable, not {type(value).__name__} ({e})") from None


def _decode(payload):
    tag, body = payload[:1], payload[1:]
    if tag == _BYTES:
        return body
    if tag == _STR:
        return body.decode("utf-8", "surrogatepass")
    return json.loads(body)


def _check_embedding(embedding):
    if embedding is None:
        return None
    if isinstance(embedding, (str, bytes)):
        raise TypeError(f"embedding must be a 1-D array of floats or None, not {type(embedding).__name__}")
    try:
        arr = np.asarray(embedding, dtype=np.float32)
    except (TypeError, ValueError):
        raise TypeError(f"embedding must be a 1-D array of floats or None, not {type(embedding).__name__}") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"embedding must be a non-empty 1-D array of floats, not shape {arr.shape}")
    return arr


class SemanticCache:
    """Reuses answers for queries already seen: an exact tier (the query text, Unicode-normalised,
    case-folded, whitespace collapsed) and a similarity tier (the query embedding's cosine
    similarity to a stored one at least ``similarity_threshold``).

    ``similarity_threshold``: cosine similarity in [-1, 1] a query needs to reuse an entry (default
    0.998: the lowest at which all-MiniLM-L6-v2 answers at most 2 % of opposite-meaning questions,
    so only near-duplicates hit; ``bench/cache_threshold.py`` and the README give both curves);
    ``ttl``: seconds an entry lives (``0``: never expires); ``capacity``: entries kept, the least
    recently used evicted beyond it; ``exact_only``: only the exact tier answers;
    ``negation_guard``: a semantic hit also needs the same negation words ("is X safe" never
    answers "is X not safe").

    Give it to ``BatchProcessor(..., cache=cache)`` to answer repeated queries without embedding or
    searching, or use it directly::

        cache = SemanticCache(similarity_threshold=0.998, ttl=3600, capacity=10_000)
        vec = await embed.embed_single(query)
        hit = cache.lookup(query, vec)          # None, or {"value", "kind", "similarity", "query"}
        if hit is None:
            answer = await run_rag(query)
            cache.store(query, answer, vec)
    """

    def __init__(self, similarity_threshold=0.998, ttl=3600.0, capacity=10000, *, exact_only=False,
                 negation_guard=True, monitor=None):
        if isinstance(similarity_threshold, bool) or not isinstance(similarity_threshold, numbers.Real):
            raise TypeError(f"similarity_threshold must be a number, not {type(similarity_threshold).__name__}")
        similarity_threshold = float(similarity_threshold)
        if not -1.0 <= similarity_threshold <= 1.0:
            raise ValueError(f"similarity_threshold={similarity_threshold} must be a cosine similarity in [-1, 1]")
        ttl = check_seconds(ttl, "ttl", allow_none=False)
        capacity = check_positive_int(capacity, "capacity", allow_none=False)
        from .monitor import PerformanceMonitor

        if monitor is not None and not isinstance(monitor, PerformanceMonitor):
            raise TypeError(f"monitor must be a ragperf.PerformanceMonitor or None, not {type(monitor).__name__}")
        self._monitor = monitor
        self._core = _core.Cache(capacity, ttl, similarity_threshold, bool(exact_only), bool(negation_guard),
                                 monitor._core if monitor is not None else None)

    @property
    def similarity_threshold(self):
        return self._core.similarity_threshold

    @property
    def ttl(self):
        """Seconds an entry lives (0: never expires)."""
        return self._core.ttl

    @property
    def capacity(self):
        return self._core.capacity

    @property
    def exact_only(self):
        return self._core.exact_only

    def lookup(self, query, embedding=None, *, scope=""):
        """The entry stored for ``query`` (exact tier), else (given ``embedding``) for the most
        similar stored query at or above the threshold: ``{"value", "kind" ("exact"/"semantic"),
        "similarity", "query"}``; ``None`` on a miss. ``scope``: entries are only seen from the
        scope they were stored in (e.g. one per table or model). InputError for invalid UTF-8, a
        non-finite or all-zero embedding, or another dimension than the scope's entries."""
        check_text(query, "query")
        check_text(scope, "scope")
        hit = self._core.lookup(query, _check_embedding(embedding), scope)
        if hit is None:
            return None
        payload, kind, similarity, stored = hit
        return {"value": _decode(payload), "kind": kind, "similarity": similarity, "query": stored}

    def get(self, query, embedding=None, *, scope=""):
        """The stored value for ``query`` (see lookup), or ``None``."""
        hit = self.lookup(query, embedding, scope=scope)
        return None if hit is None else hit["value"]

    def store(self, query, value, embedding=None, *, scope="", ttl=None):
        """Stores ``value`` (bytes, str, or anything JSON-serialisable) for ``query``; with
        ``embedding`` it also answers similar queries. ``ttl`` overrides the cache's (seconds, 0:
        never expires)."""
        check_text(query, "query")
        check_text(scope, "scope")
        ttl = check_seconds(ttl, "ttl")
        self._core.store(query, _check_embedding(embedding), _encode(value), scope, ttl)

    set = store

    def invalidate_table(self, table):
        """Drops the query path's entries that read ``table`` (call after ingesting into it)."""
        return self._core.invalidate_table(check_text(table, "table"))

    def purge_expired(self):
        """Drops expired entries now; returns how many."""
        return self._core.purge_expired()

    def clear(self):
        self._core.clear()

    def get_stats(self):
        """``hits``, ``exact_hits``, ``semantic_hits``, ``misses``, ``hit_rate``, ``stores``,
        ``evictions``, ``expirations``, ``invalidations``, ``entries``, ``lookup_p50`` / ``lookup_p99``
        (seconds)."""
        return self._core.get_stats()

    def __len__(self):
        return self._core.size()

    def __repr__(self):
        return (f"SemanticCache(similarity_threshold={self.similarity_threshold}, ttl={self.ttl}, "
                f"capacity={self.capacity}, entries={len(self)})")
