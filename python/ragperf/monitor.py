"""PerformanceMonitor: per-stage latency percentiles, the guide's monitor on ragperf's C++ histograms."""

import time
from contextlib import contextmanager

from . import _core
from ._bridge import check_text

__all__ = ["PerformanceMonitor"]


class PerformanceMonitor:
    """Per-stage latency histograms (1 µs … 100 s, percentiles within 1 %), thread-safe.

    Pass one to ``AsyncEmbedding``, ``DatabaseConnectionPool``, ``ParallelRetriever`` or
    ``BatchProcessor`` (``monitor=``) and their own C++ stages (``embed``, ``tokenize``, ``acquire``,
    ``query``, ``merge``, ``total`` ...) land in it beside yours.

    Example::

        monitor = PerformanceMonitor()
        with monitor.track("embedding"):
            vec = await embed.embed_single("query")
        monitor.record("llm_generation", 2.5)
        monitor.get_stats("embedding")["p95"]   # seconds
    """

    def __init__(self):
        self._core = _core.Monitor()

    @contextmanager
    def track(self, name):
        """Times the ``with`` block (``await`` inside it included) and records it under ``name``."""
        check_text(name, "name")
        start = time.perf_counter()
        try:
            yield
        finally:
            self._core.record(name, time.perf_counter() - start)

    def record(self, name, seconds):
        """Records one duration of ``seconds`` (a finite number >= 0) under ``name``."""
        check_text(name, "name")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise TypeError(f"seconds must be a number, not {type(seconds).__name__}")
        self._core.record(name, float(seconds))

    def get_stats(self, name=None):
        """``get_stats(name)``: ``{count, mean, p50, p95, p99, min, max, total, throughput_per_sec}`` in
        seconds (``{}`` for a name never recorded); ``get_stats()``: that dict per recorded name."""
        if name is None:
            return self._core.all_stats()
        check_text(name, "name")
        stats = self._core.stage_stats(name)
        return stats if stats is not None else {}

    def export_metrics(self, format="json"):
        """Every stage and counter as JSON text (``format="json"``) or Prometheus text (``"prometheus"``)."""
        check_text(format, "format")
        return self._core.export_metrics(format)

    def reset(self, name=None):
        """Forgets every stage, or only ``name``."""
        if name is None:
            self._core.reset()
        else:
            self._core.reset_stage(check_text(name, "name"))
