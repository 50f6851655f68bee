"""The index on disk: build (incremental, atomic, locked) and load (checked against a manifest).

Layout: `<index>/CURRENT` names the live build folder `<index>/build-*/`, which holds
`manifest.json`, `chunks.jsonl`, `vectors.npy`, the FAISS file and the BM25 folder. A build is
written beside the live one and switched in by replacing CURRENT, so an interrupted build
leaves the previous index untouched.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from rag import __version__
from rag.embed.embedder import Embedder, Progress
from rag.errors import (
    CorpusError,
    IndexCorruptError,
    IndexLockedError,
    IndexMismatchError,
    IndexMissingError,
    IndexWriteError,
)
from rag.index.aliases import ALIASES_FILE, Aliases, mine_aliases
from rag.index.lexical import TOKENIZER_ID, BM25Index
from rag.index.store import FaissStore, StoreParams
from rag.ingest.chunking import SPLITTER_VERSION, Chunk, chunk_documents
from rag.ingest.documents import Document, document_record, extracted_from_record, load_corpus
from rag.ingest.extract import Extracted, ExtractOptions, Location, locate

log = logging.getLogger(__name__)
# 2: chunks carry page/slide/section; documents.jsonl keeps each document's extracted text.
FORMAT_VERSION = 2
DOCUMENTS_FILE = "documents.jsonl"
BM25_K1 = 1.2
BM25_B = 0.75


@dataclass(frozen=True)
class IndexParams:
    """What decides the content of an index; any change means re-chunking or re-embedding."""

    chunk_chars: int
    chunk_overlap: int
    embedding_model: str
    dimension: int
    splitter_version: int = SPLITTER_VERSION
    tokenizer: str = TOKENIZER_ID
    bm25_k1: float = BM25_K1
    bm25_b: float = BM25_B


@dataclass
class BuildReport:
    documents: int = 0
    chunks: int = 0
    embedded: int = 0
    reused: int = 0
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    partial: list[tuple[str, str]] = field(default_factory=list)
    extracted: int = 0  # files parsed; the others' text came from the previous build
    seconds: float = 0.0
    path: str = ""


def embed_text(chunk: Chunk) -> str:
    """What the embedder and BM25 see: the span, preceded by its table header if any."""
    return f"{chunk.context}\n{chunk.text}" if chunk.context else chunk.text


def _unreadable(what: str, exc: BaseException) -> IndexCorruptError:
    """A part of the index that cannot be read, and the fix."""
    return IndexCorruptError(f"Cannot read {what} ({exc}). Rebuild it with `rag index --rebuild`.")


class Index:
    """A loaded index: chunk records, the vector store and the BM25 index."""

    def __init__(self, folder: Path, manifest: dict[str, Any], chunks: list[Chunk]):
        self.folder = folder
        self.manifest = manifest
        self.chunks = chunks
        self._store: FaissStore | None = None
        self._vectors: np.ndarray | None = None
        self._bm25: BM25Index | None = None
        self._documents: dict[str, dict[str, Any]] | None = None
        self._aliases: Aliases | None = None

    @property
    def store(self) -> FaissStore:
        if self._store is None:
            self._store = FaissStore.load(self.folder, self.manifest.get("store"))
        return self._store

    @store.setter
    def store(self, store: FaissStore) -> None:
        """Search another store of the same vectors (`rag bench` compares HNSW with exact)."""
        self._store = store

    @property
    def bm25(self) -> BM25Index:
        if self._bm25 is None:
            try:
                self._bm25 = BM25Index.load(self.folder / "bm25")
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
            self._documents = {r["id"]: r for r in _read_documents(self.folder)}
        return self._documents

    def document_text(self, doc_id: str) -> str:
        """The extracted text that chunk and citation offsets point into."""
        return str(self.documents[doc_id]["text"])

    def location(self, doc_id: str, offset: int) -> dict[str, object]:
        """Page, slide and/or section of a character offset in a document (may be empty)."""
        record = self.documents.get(doc_id)
        if record is None:
            return {}
        found = locate([Location.from_row(row) for row in record["locations"]], offset)
        return found.describe() if found else {}


def _current_build(index_dir: Path, strict: bool = False) -> Path | None:
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


def _read_manifest(build: Path) -> dict[str, Any]:
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


def _read_chunks(build: Path) -> list[Chunk]:
    path = build / "chunks.jsonl"
    try:
        with path.open(encoding="utf-8") as fh:
            return [Chunk(**json.loads(line)) for line in fh if line.strip()]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, TypeError) as exc:
        raise IndexCorruptError(
            f"Cannot read chunk records {path} ({exc}). Rebuild with `rag index --rebuild`."
        ) from None


def _read_documents(build: Path) -> list[dict[str, Any]]:
    path = build / DOCUMENTS_FILE
    try:
        with path.open(encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorruptError(
            f"Cannot read document texts {path} ({exc}). Rebuild with `rag index --rebuild`."
        ) from None


def _previous_extractions(index_dir: Path) -> dict[str, Extracted]:
    """Extractions in the live build keyed by the file bytes' sha256: unchanged files are
    not parsed again."""
    build = _current_build(index_dir)
    if build is None:
        return {}
    try:
        records = _read_documents(build)
    except IndexCorruptError:
        return {}  # an unreadable old build only costs re-extraction
    cache = {}
    for record in records:
        try:
            extracted = extracted_from_record(record)
        except (KeyError, TypeError, ValueError):
            continue
        if extracted is not None:
            cache[record["sha256"]] = extracted
    return cache


def load_index(index_dir: Path, embedding_model: str | None = None) -> Index:
    """Open the live build, checking format version and (if given) the embedding model."""
    build = _current_build(index_dir, strict=True)
    if build is None:
        raise IndexMissingError(
            f"No index in {index_dir}. Run `rag index` first (or pass --index DIR)."
        )
    manifest = _read_manifest(build)
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
    chunks = _read_chunks(build)
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
    index = Index(build, manifest, chunks)
    index.vectors()  # a damaged vector file is reported now, not in the middle of a search
    return index


def _previous_vectors(index_dir: Path, params: IndexParams) -> dict[str, np.ndarray]:
    """Vectors of the live build keyed by embedded text, if they came from the same model."""
    build = _current_build(index_dir)
    if build is None:
        return {}
    try:
        manifest = _read_manifest(build)
        old = manifest.get("params", {})
        if (old.get("embedding_model"), old.get("dimension")) != (
            params.embedding_model,
            params.dimension,
        ):
            return {}
        chunks = _read_chunks(build)
        vectors = np.load(build / "vectors.npy")
    except (IndexCorruptError, OSError, ValueError):
        return {}  # an unreadable old build only costs re-embedding
    if len(vectors) != len(chunks):
        return {}
    return {_text_key(c): vectors[i] for i, c in enumerate(chunks)}


def _text_key(chunk: Chunk) -> str:
    """Content hash of what is embedded: equal texts share one vector across builds."""
    return hashlib.sha1(embed_text(chunk).encode("utf-8")).hexdigest()


class _Lock:
    """An exclusive, non-blocking lock on an index folder."""

    def __init__(self, index_dir: Path):
        from filelock import FileLock, Timeout

        self._timeout = Timeout
        self._lock = FileLock(str(index_dir / ".lock"), timeout=0)
        self._dir = index_dir

    def __enter__(self) -> _Lock:
        try:
            self._lock.acquire()
        except self._timeout:  # a subclass of OSError: catch it first
            raise IndexLockedError(
                f"Another `rag index` is writing {self._dir}. Wait for it to finish, "
                "or remove the stale lock file .lock there if no such process runs."
            ) from None
        except OSError as exc:
            raise _write_error(self._dir, exc) from None
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def build_index(
    corpus: Path,
    index_dir: Path,
    embedder: Embedder,
    chunk_chars: int,
    chunk_overlap: int,
    rebuild: bool = False,
    progress: Progress | None = None,
    on_stage: Callable[[str], None] | None = None,
    options: ExtractOptions | None = None,
    strict: bool = False,
    store_params: StoreParams | None = None,
) -> BuildReport:
    """Index every document under `corpus` into `index_dir`, re-embedding only new text and
    re-extracting only changed files. `strict`: any skipped or partly read file is an error
    (and the index is left as it was)."""
    started = time.perf_counter()
    stage = on_stage or (lambda _msg: None)
    if index_dir.exists() and not index_dir.is_dir():
        raise IndexWriteError(f"Index path {index_dir} is a file, not a folder. Pass --index DIR.")
    cache = {} if rebuild else _previous_extractions(index_dir)
    loaded = load_corpus(corpus, options, cache)
    if strict and (loaded.skipped or loaded.partial):
        problems = [*loaded.skipped, *loaded.partial]
        listed = "; ".join(f"{path}: {reason}" for path, reason in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise CorpusError(
            f"--strict: {len(problems)} file(s) in {corpus} could not be fully read: "
            f"{listed}{more}. Fix or remove them, or index without --strict."
        )
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _write_error(index_dir, exc) from None
    params = IndexParams(chunk_chars, chunk_overlap, embedder.model_id, embedder.dimension)
    log.debug(
        "read %d documents (%d skipped) from %s in %.2f s",
        len(loaded.documents),
        len(loaded.skipped),
        corpus,
        time.perf_counter() - started,
    )
    report = BuildReport(
        documents=len(loaded.documents),
        skipped=loaded.skipped,
        partial=loaded.partial,
        extracted=loaded.reextracted,
    )
    with _Lock(index_dir):
        old_docs: dict[str, Any] = {}
        build = _current_build(index_dir)
        if build is not None:
            try:
                old_docs = _read_manifest(build).get("documents", {})
            except IndexCorruptError:
                old_docs = {}
        vector_cache = {} if rebuild else _previous_vectors(index_dir, params)
        for doc in loaded.documents:
            if doc.id not in old_docs:
                report.added.append(doc.id)
            elif old_docs[doc.id].get("sha256") != doc.sha256:
                report.changed.append(doc.id)
            else:
                report.unchanged += 1
        current = {d.id for d in loaded.documents}
        report.removed = sorted(set(old_docs) - current)

        stage("chunking")
        chunks = chunk_documents(loaded.documents, chunk_chars, chunk_overlap)
        texts = [embed_text(c) for c in chunks]
        vectors = np.zeros((len(chunks), embedder.dimension), dtype=np.float32)
        todo = []
        for i, chunk in enumerate(chunks):
            cached = vector_cache.get(_text_key(chunk))
            if cached is None:
                todo.append(i)
            else:
                vectors[i] = cached
        report.reused = len(chunks) - len(todo)
        report.embedded = len(todo)
        log.debug(
            "%d chunks (%d chars max): %d to embed, %d reused from the previous build",
            len(chunks),
            max((len(t) for t in texts), default=0),
            len(todo),
            report.reused,
        )
        if todo:
            stage("embedding")
            embed_started = time.perf_counter()
            vectors[todo] = embedder.embed_passages([texts[i] for i in todo], progress=progress)
            spent = time.perf_counter() - embed_started
            log.debug(
                "embedded %d chunks with %s in %.2f s (%.1f chunks/s)",
                len(todo),
                embedder.model_id,
                spent,
                len(todo) / spent if spent > 0 else 0.0,
            )
        stage("writing")
        final = _publish(
            index_dir, build, loaded.documents, chunks, vectors, params, store_params, started
        )
    report.chunks = len(chunks)
    report.seconds = time.perf_counter() - started
    report.path = str(final)
    return report


def _write_error(index_dir: Path, exc: BaseException) -> IndexWriteError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return IndexWriteError(
        f"Cannot write the index in {index_dir} ({reason}); the previous index, if any, is "
        "unchanged. Free disk space or fix the folder's permissions, or pass --index DIR."
    )


def write_index(
    index_dir: Path,
    documents: list[Document],
    chunks: list[Chunk],
    vectors: np.ndarray,
    params: IndexParams,
    store_params: StoreParams | None = None,
) -> Path:
    """Write ready chunks and their vectors as a new build and make it the live one.

    For chunks that come from elsewhere (e.g. `rag bench`'s synthetic corpora); `build_index`
    is the way from a folder of documents. Returns the build folder.
    """
    started = time.perf_counter()
    index_dir.mkdir(parents=True, exist_ok=True)
    with _Lock(index_dir):
        previous = _current_build(index_dir)
        return _publish(
            index_dir, previous, documents, chunks, vectors, params, store_params, started
        )


def _publish(
    index_dir: Path,
    previous: Path | None,
    documents: list[Document],
    chunks: list[Chunk],
    vectors: np.ndarray,
    params: IndexParams,
    store_params: StoreParams | None,
    started: float,
) -> Path:
    """Write a build beside the live one, switch CURRENT to it, remove the old one."""
    name = f"build-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(4)}"
    tmp = index_dir / f".{name}.partial"
    try:
        tmp.mkdir()
        store = _write_build(tmp, chunks, vectors, params, store_params)
        Aliases(mine_aliases([d.text for d in documents], [c.text for c in chunks])).save(tmp)
        with (tmp / DOCUMENTS_FILE).open("w", encoding="utf-8") as fh:
            for doc in documents:
                fh.write(json.dumps(document_record(doc), ensure_ascii=False) + "\n")
        manifest = _manifest(params, store, documents, chunks, time.perf_counter() - started)
        (tmp / "manifest.json").write_text(
            json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        final = index_dir / name
        tmp.rename(final)
        pointer = index_dir / "CURRENT.tmp"
        pointer.write_text(name + "\n", encoding="utf-8")
        os.replace(pointer, index_dir / "CURRENT")
        log.debug("wrote %s and switched CURRENT to it", final)
    except (OSError, RuntimeError) as exc:  # faiss reports a failed write as RuntimeError
        shutil.rmtree(tmp, ignore_errors=True)
        raise _write_error(index_dir, exc) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if previous is not None and previous != final:
        shutil.rmtree(previous, ignore_errors=True)
    _remove_stale_partials(index_dir, keep=final)
    return final


def _remove_stale_partials(index_dir: Path, keep: Path) -> None:
    for path in index_dir.iterdir():
        if path.is_dir() and path != keep and path.name.startswith((".build-", "build-")):
            shutil.rmtree(path, ignore_errors=True)


def _write_build(
    folder: Path,
    chunks: list[Chunk],
    vectors: np.ndarray,
    params: IndexParams,
    store_params: StoreParams | None = None,
) -> dict[str, Any]:
    """Write chunk records, vectors, the vector store and BM25; returns the store's record."""
    with (folder / "chunks.jsonl").open("w", encoding="utf-8") as fh:
        for chunk in chunks:
            fh.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
    np.save(folder / "vectors.npy", vectors)
    store = FaissStore.build(vectors, store_params)
    store.save(folder)
    bm25_dir = folder / "bm25"
    bm25_dir.mkdir()
    BM25Index.build([embed_text(c) for c in chunks], params.bm25_k1, params.bm25_b).save(bm25_dir)
    return store.describe()


def _manifest(
    params: IndexParams,
    store: dict[str, Any],
    documents: list[Document],
    chunks: list[Chunk],
    seconds: float,
) -> dict[str, Any]:
    per_doc: dict[str, int] = {}
    for chunk in chunks:
        per_doc[chunk.doc_id] = per_doc.get(chunk.doc_id, 0) + 1
    return {
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_seconds": round(seconds, 3),
        "params": asdict(params),
        "store": store,
        "chunks": len(chunks),
        "documents": {
            d.id: {
                "sha256": d.sha256,
                "kind": d.kind,
                "encoding": d.encoding,
                "title": d.title,
                "date": d.date,
                "author": d.author,
                "units": d.units,
                "chars": len(d.text),
                "chunks": per_doc.get(d.id, 0),
            }
            for d in documents
        },
    }
