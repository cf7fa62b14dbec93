"""AsyncEmbedding: the guide's embedder, on ragperf's C++ encoder."""

import numpy as np

from . import _core
from ._bridge import check_positive_int, check_text, check_texts, pending
from .errors import InputError

__all__ = ["AsyncEmbedding"]


def _truncation(truncate):
    if truncate is None:
        return "none"
    if truncate in ("right", "left"):
        return truncate
    raise InputError(f"truncate={truncate!r} is not one of None, 'right' (keep the start), 'left' (keep the end)")


class AsyncEmbedding:
    """Embeds texts with a sentence-transformers model folder or hub id, off the event loop.

    ``model_name``: a folder or a hub id (``None``: ``EMBED_MODEL``); ``device``: ``"cpu"``, ``"auto"``
    or ``None`` (auto; ``"cuda"`` raises ConfigError in this CPU build); ``batch_size``: most texts
    per forward pass (``None``: ``EMBED_BATCH``). Concurrent calls are merged into shared forward
    passes on ragperf's compute threads; the GIL is released while they run. A text with more tokens
    than the model's ``max_seq_length`` raises InputError naming its tokens and the limit (ragperf's
    one rule for over-long input: refused, never silently cut) unless the call passes
    ``truncate="right"`` or ``"left"``.

    Example::

        embed = AsyncEmbedding("/models/all-MiniLM-L6-v2")
        v = await embed.embed_single("what is pgvector?")      # float32, shape (dim,)
        m = await embed.embed_batch(["a", "b"])                # float32, shape (2, dim)
        embed.get_stats()["throughput_embeddings_per_sec"]
    """

    def __init__(self, model_name=None, device=None, batch_size=None, *, monitor=None):
        if model_name is not None:
            check_text(model_name, "model_name")
        if device is not None:
            check_text(device, "device")
        batch_size = check_positive_int(batch_size, "batch_size")
        self._monitor = monitor
        self._core = _core.Embedding(model_name, device, batch_size,
                                     monitor._core if monitor is not None else None)

    @property
    def dim(self):
        """The embedding dimension."""
        return self._core.dim

    @property
    def model_id(self):
        """The model's identity as stores record it."""
        return self._core.model_id

    @property
    def device(self):
        return self._core.device

    async def embed_single(self, text, *, truncate=None):
        """One text -> a float32 numpy array of shape ``(dim,)``. InputError for invalid UTF-8, and
        for a text over the model's length unless ``truncate`` is ``"right"`` (keep its start, as
        sentence-transformers does) or ``"left"`` (keep its end)."""
        check_text(text, "text")
        fut, resolve = pending()
        self._core.submit([text], True, resolve, _truncation(truncate))
        return await fut

    async def embed_batch(self, texts, *, truncate=None):
        """Texts -> a float32 numpy array of shape ``(len(texts), dim)``, rows in order; ``truncate``
        as for embed_single."""
        texts = check_texts(texts, "texts")
        truncation = _truncation(truncate)
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        fut, resolve = pending()
        self._core.submit(texts, False, resolve, truncation)
        return await fut

    def get_stats(self):
        """``total_embeddings``, ``total_requests``, ``total_batches``, ``total_time`` (s),
        ``throughput_embeddings_per_sec``, ``avg_batch_size``, ``device``, ``threads`` ..."""
        return self._core.get_stats()
