"""Vector stores: inner-product search over normalised vectors. FAISS is the local one."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag.errors import IndexCorruptError


class VectorStore(Protocol):
    kind: str

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, positions) of the k nearest vectors, best first; positions -1 pad."""
        ...

    def save(self, folder: Path) -> None: ...


class FaissStore:
    """Exact inner-product search (IndexFlatIP): fast enough below ~100k vectors."""

    kind = "faiss-flat-ip"
    filename = "dense.faiss"

    def __init__(self, index: Any):
        self._index = index

    @classmethod
    def build(cls, vectors: np.ndarray) -> FaissStore:
        import faiss

        index = faiss.IndexFlatIP(vectors.shape[1])
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index)

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self.size)
        if k <= 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        scores, positions = self._index.search(
            np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k
        )
        return scores[0], positions[0]

    def save(self, folder: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(folder / self.filename))

    @classmethod
    def load(cls, folder: Path) -> FaissStore:
        import faiss

        path = folder / cls.filename
        try:
            return cls(faiss.read_index(str(path)))
        except RuntimeError as exc:
            # faiss prefixes the reason with its C++ function and source line: drop those.
            reason = str(exc).splitlines()[0].rsplit(": ", 1)[-1]
            raise IndexCorruptError(
                f"Cannot read the vector index {path} ({reason}). "
                "Rebuild it with `rag index --rebuild`."
            ) from None
