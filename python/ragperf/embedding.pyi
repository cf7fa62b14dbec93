from typing import Any, Iterable, Literal, Optional

import numpy as np
import numpy.typing as npt

from .monitor import PerformanceMonitor

class AsyncEmbedding:
    def __init__(
        self,
        model_name: Optional[str] = None,
        device: Optional[str] = None,
        batch_size: Optional[int] = None,
        *,
        monitor: Optional[PerformanceMonitor] = None,
    ) -> None: ...
    @property
    def dim(self) -> int: ...
    @property
    def model_id(self) -> str: ...
    @property
    def device(self) -> str: ...
    async def embed_single(self, text: str, *, truncate: Literal["right", "left"] | None = None) -> npt.NDArray[np.float32]: ...
    async def embed_batch(self, texts: Iterable[str], *, truncate: Literal["right", "left"] | None = None) -> npt.NDArray[np.float32]: ...
    def get_stats(self) -> dict[str, Any]: ...
