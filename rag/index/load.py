"""Opening the live build of an index, checked against its manifest: chunk records,
vectors, the vector store its manifest names, BM25, name pairs and document texts."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from rag import __version__
from rag.errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from rag.index.aliases import ALIASES_FILE, Aliases
from rag.index.backends import store_backend
from rag.index.lexical import UNSTEMMED_ID, BM25Index
from rag.index.store import StoreParams, VectorStore, backend_name
from rag.ingest.chunking import Chunk
from rag.ingest.extract import Location, locate
from rag.textnorm import han_share

log = logging.getLogger(__name__)
# 2: chunks carry page/slide/section; documents.jsonl keeps each document's extracted text.
FORMAT_VERSION = 2
DOCUMENTS_FILE = "documents.jsonl"
# A corpus whose letters (Han and Latin) are at least this share Han is a Chinese corpus: an
# English question over it is answered through Chinese, and BM25, which shares only stray
# Latin tokens with such a question, is left out of its search.
CHINESE_CORPUS = 0.5


def _unreadable(what: str, exc: BaseException) -> IndexCorruptError:
    """A part of the index that cannot be read, and the fix."""
    return IndexCorruptError(f"Cannot read {what} ({exc}). Rebuild it with `rag index --rebuild`.")


class Index:
    """A loaded index: chunk records, the vector store and the BM25 index."""

    def __init__(
        self, folder: Path, manifest: dict[str, Any], chunks: list[Chunk], store_token: str = ""
    ):
        self.folder = folder
        self.store_token = store_token  # a vector database's credential: never in the manifest
        self.manifest = manifest
        self.chunks = chunks
        self._store: VectorStore | None = None
        self._chinese: bool | None = None
        self._vectors: np.ndarray | None = None
        self._bm25: BM25Index | None = None
        self._documents: dict[str, dict[str, Any]] | None = None
        self._aliases: Aliases | None = None

    @property
    def store(self) -> VectorStore:
        """The vector store the manifest names, opened on first use."""
        if self._store is None:
            described = self.manifest.get("store")
            params = replace(store_params_of(described), token=self.store_token)
            self._store = store_backend(params).load(self.folder, described)
        return self._store

    @store.setter
    def store(self, store: VectorStore) -> None:
        """Search another store of the same vectors (`rag bench` compares HNSW with exact)."""
        self._store = store

    @property
    def bm25(self) -> BM25Index:
        if self._bm25 is None:
            try:
                built_with = self.manifest.get("params", {}).get("tokenizer", UNSTEMMED_ID)
                self._bm25 = BM25Index.load(self.folder / "bm25", built_with)
            except (OSError, ValueError, KeyError) as exc:
                raise _unreadable(f"the lexical index in {self.folder / 'bm25'}", exc) from None
        return self._bm25

    @property
    def aliases(self) -> Aliases:
        """Second names the documents give for things (rag.index.aliases), for widening searches."""
        if self._aliases is None:
            try:
                self._aliases = Aliases.load(self.folder)
            except (OSError, ValueError, TypeError) as exc:
                raise _unreadable(str(self.folder / ALIASES_FILE), exc) from None
        return self._aliases

    def vectors(self) -> np.ndarray:
        if self._vectors is None:
            path = self.folder / "vectors.npy"
            try:
                vectors = np.load(path, mmap_mode="r")  # checks header and size, reads lazily
            except (OSError, ValueError, EOFError) as exc:
                # NumPy's advice for a damaged file (load it with allow_pickle) is not for users.
                reason = "not a NumPy array file" if isinstance(exc, ValueError) else exc
                raise IndexCorruptError(
                    f"Cannot read the vectors {path} ({reason}). "
                    "Rebuild with `rag index --rebuild`."
                ) from None
            if vectors.shape != (len(self.chunks), self.manifest["params"]["dimension"]):
                raise IndexCorruptError(
                    f"The vectors {path} have shape {vectors.shape}, expected "
                    f"{len(self.chunks)} x {self.manifest['params']['dimension']}. "
                    "Rebuild with `rag index --rebuild`."
                )
            self._vectors = vectors
        return self._vectors

    @property
    def documents(self) -> dict[str, dict[str, Any]]:
        """Each document's record: extracted text, location map, metadata."""
        if self._documents is None:
            self._documents = {r["id"]: r for r in read_documents(self.folder)}
        return self._documents

    def document_text(self, doc_id: str) -> str:
        """The extracted text that chunk and citation offsets point into."""
        return str(self.documents[doc_id]["text"])

    @property
    def chinese(self) -> bool:
        """Whether this is a Chinese corpus (CHINESE_CORPUS), judged once on an even sample
        of up to 2,000 chunks."""
        if self._chinese is None:
            sample = self.chunks[:: max(1, len(self.chunks) // 2000)]
            self._chinese = han_share([c.text for c in sample]) >= CHINESE_CORPUS
        return self._chinese

    def close(self) -> None:
        """Release the vector store (a database connection, for a server-backed one)."""
        if self._store is not None:
            self._store.close()
            self._store = None

    def location(self, doc_id: str, offset: int) -> dict[str, object]:
        """Page, slide and/or section of a character offset in a document (may be empty)."""
        record = self.documents.get(doc_id)
        if record is None:
            return {}
        found = locate([Location.from_row(row) for row in record["locations"]], offset)
        return found.describe() if found else {}


def current_build(index_dir: Path, strict: bool = False) -> Path | None:
    """The live build folder; None if there is none. `strict`: a CURRENT that is unreadable
    or names a missing folder is an IndexCorruptError instead."""
    pointer = index_dir / "CURRENT"
    if not pointer.is_file():
        return None
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        if not strict:
            return None
        raise IndexCorruptError(
            f"Cannot read {pointer} ({exc}). Rebuild with `rag index --rebuild`."
        ) from None
    build = index_dir / name
    if name and "/" not in name and build.is_dir():
        return build
    if strict:
        raise IndexCorruptError(
            f"{pointer} names the build {name!r}, which is not in {index_dir}. "
            "Rebuild with `rag index --rebuild`."
        )
    return None


def read_manifest(build: Path) -> dict[str, Any]:
    path = build / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorruptError(
            f"Cannot read index manifest {path} ({exc}). Rebuild with `rag index --rebuild`."
        ) from None
    if not isinstance(manifest, dict) or "format_version" not in manifest:
        raise IndexCorruptError(
            f"Index manifest {path} is not a sovereign-rag manifest. "
            "Rebuild with `rag index --rebuild`."
        )
    return manifest


def read_chunks(build: Path) -> list[Chunk]:
    path = build / "chunks.jsonl"
    try:
        with path.open(encoding="utf-8") as fh:
            return [Chunk(**json.loads(line)) for line in fh if line.strip()]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, TypeError) as exc:
        raise IndexCorruptError(
            f"Cannot read chunk records {path} ({exc}). Rebuild with `rag index --rebuild`."
        ) from None


def read_documents(build: Path) -> list[dict[str, Any]]:
    path = build / DOCUMENTS_FILE
    try:
        with path.open(encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorruptError(
            f"Cannot read document texts {path} ({exc}). Rebuild with `rag index --rebuild`."
        ) from None


def load_index(index_dir: Path, embedding_model: str | None = None, store_token: str = "") -> Index:
    """Open the live build, checking format version and (if given) the embedding model.
    `store_token`: the credential of a vector database server, if the store is one."""
    build = current_build(index_dir, strict=True)
    if build is None:
        raise IndexMissingError(
            f"No index in {index_dir}. Run `rag index` first (or pass --index DIR)."
        )
    manifest = read_manifest(build)
    if manifest["format_version"] != FORMAT_VERSION:
        raise IndexMismatchError(
            f"Index {index_dir} has format version {manifest['format_version']}, this "
            f"sovereign-rag {__version__} reads version {FORMAT_VERSION}. "
            "Run `rag index --rebuild`."
        )
    built_with = manifest.get("params", {}).get("embedding_model")
    if embedding_model is not None and built_with != embedding_model:
        raise IndexMismatchError(
            f"Index {index_dir} was built with embedding model '{built_with}', but the "
            f"configured model is '{embedding_model}'. Run `rag index --rebuild`."
        )
    started = time.perf_counter()
    chunks = read_chunks(build)
    log.debug(
        "loaded %s: %d chunks, %s, built %s (%.1f ms)",
        build,
        len(chunks),
        built_with,
        manifest.get("built_at"),
        (time.perf_counter() - started) * 1000,
    )
    if len(chunks) != manifest.get("chunks"):
        raise IndexCorruptError(
            f"Index {index_dir} lists {manifest.get('chunks')} chunks but holds {len(chunks)}. "
            "Rebuild with `rag index --rebuild`."
        )
    index = Index(build, manifest, chunks, store_token)
    index.vectors()  # a damaged vector file is reported now, not in the middle of a search
    return index


def store_params_of(described: dict[str, Any] | str | None) -> StoreParams:
    """The store parameters a manifest records (older manifests: FAISS defaults)."""
    if not isinstance(described, dict):
        return StoreParams()
    defaults = StoreParams()
    return StoreParams(
        backend=backend_name(described),
        hnsw_threshold=int(described.get("hnsw_threshold", defaults.hnsw_threshold)),
        hnsw_ef_search=int(described.get("hnsw_ef_search", defaults.hnsw_ef_search)),
        uri=str(described.get("uri", "")),
    )
