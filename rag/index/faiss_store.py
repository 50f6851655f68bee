"""The local vector store: a FAISS index in the build folder, exact or HNSW.

The FAISS index type follows the number of vectors: exact search (IndexFlatIP) below
`hnsw_threshold`, an HNSW graph (IndexHNSWFlat, inner product) from there on. Exact search
costs about 0.11 ms per 1,000 vectors per query on 2 cores (11 ms at 100k); HNSW stays near
1 ms but may miss some true neighbours, which `rag bench` measures as recall against exact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexCorruptError
from rag.index.store import FLAT, HNSW, StoreParams

BACKEND = "faiss"


class FaissStore:
    """A FAISS index in one file, exact or HNSW depending on how it was built."""

    filename = "dense.faiss"

    def __init__(self, index: Any, kind: str, params: StoreParams | None = None):
        self._index = index
        self.kind = kind
        self.params = params or StoreParams()
        if kind == HNSW:
            self.set_ef_search(self.params.hnsw_ef_search)

    @classmethod
    def build(cls, vectors: np.ndarray, params: StoreParams | None = None) -> FaissStore:
        """Exact below the threshold, HNSW at or above it."""
        import faiss

        params = params or StoreParams()
        dimension = vectors.shape[1]
        kind = params.kind_for(len(vectors))
        index: Any
        if kind == HNSW:
            index = faiss.IndexHNSWFlat(dimension, params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = params.hnsw_ef_construction
        else:
            index = faiss.IndexFlatIP(dimension)
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index, kind, params)

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    def set_ef_search(self, ef_search: int) -> None:
        """HNSW only: candidates explored per query (recall against speed)."""
        if self.kind == HNSW:
            self._index.hnsw.efSearch = int(ef_search)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self.size)
        if k <= 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        scores, positions = self._index.search(
            np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k
        )
        return scores[0], positions[0]

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"backend": BACKEND, "kind": self.kind, "vectors": self.size}
        info["hnsw_threshold"] = self.params.hnsw_threshold
        if self.kind == HNSW:
            info["hnsw_m"] = self.params.hnsw_m
            info["hnsw_ef_construction"] = self.params.hnsw_ef_construction
            info["hnsw_ef_search"] = int(self._index.hnsw.efSearch)
        return info

    def save(self, folder: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(folder / self.filename))

    def close(self) -> None:
        """Nothing to release: the index is memory."""

    @classmethod
    def load(cls, folder: Path, described: dict[str, Any] | str | None = None) -> FaissStore:
        """Read the FAISS file and check it is the kind the manifest names."""
        import faiss

        path = folder / cls.filename
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            # faiss prefixes the reason with its C++ function and source line: drop those.
            reason = str(exc).splitlines()[0].rsplit(": ", 1)[-1]
            raise IndexCorruptError(
                f"Cannot read the vector index {path} ({reason}). "
                "Rebuild it with `rag index --rebuild`."
            ) from None
        kind = HNSW if isinstance(index, faiss.IndexHNSW) else FLAT
        # Manifests before store selection recorded only the kind, as a string.
        info = {"kind": described} if isinstance(described, str) else dict(described or {})
        expected = info.get("kind", kind)
        if expected != kind:
            raise IndexCorruptError(
                f"The manifest in {folder} names a '{expected}' vector index but {path} holds "
                f"a '{kind}' one. Rebuild it with `rag index --rebuild`."
            )
        defaults = StoreParams()
        params = StoreParams(
            hnsw_threshold=int(info.get("hnsw_threshold", defaults.hnsw_threshold)),
            hnsw_m=int(info.get("hnsw_m", defaults.hnsw_m)),
            hnsw_ef_construction=int(
                info.get("hnsw_ef_construction", defaults.hnsw_ef_construction)
            ),
            hnsw_ef_search=int(info.get("hnsw_ef_search", defaults.hnsw_ef_search)),
        )
        return cls(index, kind, params)


class FaissBackend:
    """Builds and opens FaissStores: one file in each build folder."""

    name = BACKEND

    def __init__(self, params: StoreParams | None = None):
        self.params = params or StoreParams()

    def build(self, vectors: np.ndarray, folder: Path) -> FaissStore:
        store = FaissStore.build(vectors, self.params)
        store.save(folder)
        return store

    def load(self, folder: Path, described: dict[str, Any] | str | None) -> FaissStore:
        return FaissStore.load(folder, described)

    def drop(self, folder: Path, described: dict[str, Any]) -> None:
        """A replaced build's FAISS file goes with its folder: nothing else to remove."""
