"""Building the index: incremental (only changed files re-read, only new text embedded),
atomic and locked.

Layout: `<index>/CURRENT` names the live build folder `<index>/build-*/`, which holds
`manifest.json`, `chunks.jsonl`, `vectors.npy`, the vector store (a FAISS file, or a
collection its manifest names) and the BM25 folder. A build is written beside the live one and
switched in by replacing CURRENT, so a failed or interrupted build leaves the previous index
in use; what a replaced build kept outside its folder is dropped after the switch.
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
from dataclasses import asdict, dataclass, field, replace
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
    IndexWriteError,
)
from rag.index.aliases import Aliases, mine_aliases
from rag.index.backends import store_backend
from rag.index.lexical import TOKENIZER_ID, BM25Index
from rag.index.load import (
    DOCUMENTS_FILE,
    FORMAT_VERSION,
    current_build,
    read_chunks,
    read_documents,
    read_manifest,
    store_params_of,
)
from rag.index.store import StoreBackend, StoreParams
from rag.ingest.chunking import SPLITTER_VERSION, Chunk, chunk_documents, index_text
from rag.ingest.documents import Document, document_record, extracted_from_record, load_corpus
from rag.ingest.extract import Extracted, ExtractOptions

log = logging.getLogger(__name__)
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
    # Each chunk indexed with its document's title and heading path (chunking.heading_line).
    headings: bool = False


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


def _previous_extractions(index_dir: Path) -> dict[str, Extracted]:
    """Extractions in the live build keyed by the file bytes' sha256: unchanged files are
    not parsed again."""
    build = current_build(index_dir)
    if build is None:
        return {}
    try:
        records = read_documents(build)
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


def _previous_vectors(index_dir: Path, params: IndexParams) -> dict[str, np.ndarray]:
    """Vectors of the live build keyed by embedded text, if they came from the same model."""
    build = current_build(index_dir)
    if build is None:
        return {}
    try:
        manifest = read_manifest(build)
        old = manifest.get("params", {})
        if (old.get("embedding_model"), old.get("dimension")) != (
            params.embedding_model,
            params.dimension,
        ):
            return {}
        chunks = read_chunks(build)
        vectors = np.load(build / "vectors.npy")
    except (IndexCorruptError, OSError, ValueError):
        return {}  # an unreadable old build only costs re-embedding
    if len(vectors) != len(chunks):
        return {}
    return {_text_key(c): vectors[i] for i, c in enumerate(chunks)}


def _text_key(chunk: Chunk) -> str:
    """Content hash of what is embedded: equal texts share one vector across builds."""
    return hashlib.sha1(index_text(chunk).encode("utf-8")).hexdigest()


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
    headings: bool = False,
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
    params = IndexParams(
        chunk_chars, chunk_overlap, embedder.model_id, embedder.dimension, headings=headings
    )
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
        build = current_build(index_dir)
        if build is not None:
            try:
                old_docs = read_manifest(build).get("documents", {})
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
        chunks = chunk_documents(loaded.documents, chunk_chars, chunk_overlap, headings)
        texts = [index_text(c) for c in chunks]
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
        previous = current_build(index_dir)
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
    replaced = _store_record(previous)
    backend = store_backend(_keep_store(store_params or StoreParams(), replaced))
    store: dict[str, Any] | None = None
    try:
        tmp.mkdir()
        store = _write_build(tmp, chunks, vectors, params, backend)
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
        _discard(tmp, backend, store)
        raise _write_error(index_dir, exc) from None
    except BaseException:
        _discard(tmp, backend, store)
        raise
    if previous is not None and previous != final:
        _drop_store(previous, replaced)
        shutil.rmtree(previous, ignore_errors=True)
    _remove_stale_partials(index_dir, keep=final)
    return final


def _store_record(build: Path | None) -> dict[str, Any] | None:
    """What the live build's manifest records of its store (None: no build, an unreadable
    manifest, or an old manifest that recorded only the FAISS kind)."""
    if build is None:
        return None
    try:
        described = read_manifest(build).get("store")
    except IndexCorruptError:
        return None
    return described if isinstance(described, dict) else None


def _keep_store(params: StoreParams, replaced: dict[str, Any] | None) -> StoreParams:
    """Where the new build keeps its vectors: the store asked for, or (backend "") the one
    the live build uses, with its URI unless another is given; FAISS for a first build. A
    plain `rag index` never moves an index to another store."""
    if params.backend:
        return params
    kept = store_params_of(replaced)
    return replace(params, backend=kept.backend, uri=params.uri or kept.uri)


def _discard(folder: Path, backend: StoreBackend, store: dict[str, Any] | None) -> None:
    """Remove a build that failed, with what its store wrote elsewhere."""
    if store is not None:
        try:
            backend.drop(folder, store)
        except Exception as exc:  # the build failed already; say so, not this
            log.warning("could not drop the failed build's vector store: %s", exc)
    shutil.rmtree(folder, ignore_errors=True)


def _drop_store(build: Path, described: dict[str, Any] | None) -> None:
    """Drop what a replaced build's store kept outside its folder (a collection; FAISS keeps
    nothing outside)."""
    if described is None:
        return
    try:
        store_backend(store_params_of(described)).drop(build, described)
    except Exception as exc:  # the new build is live: an old collection left is only waste
        log.warning("could not drop the vector store of the replaced build %s: %s", build, exc)


def _remove_stale_partials(index_dir: Path, keep: Path) -> None:
    for path in index_dir.iterdir():
        if path.is_dir() and path != keep and path.name.startswith((".build-", "build-")):
            shutil.rmtree(path, ignore_errors=True)


def _write_build(
    folder: Path,
    chunks: list[Chunk],
    vectors: np.ndarray,
    params: IndexParams,
    backend: StoreBackend,
) -> dict[str, Any]:
    """Write chunk records, vectors, the vector store and BM25; returns the store's record."""
    with (folder / "chunks.jsonl").open("w", encoding="utf-8") as fh:
        for chunk in chunks:
            fh.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
    np.save(folder / "vectors.npy", vectors)
    bm25_dir = folder / "bm25"
    bm25_dir.mkdir()
    BM25Index.build([index_text(c) for c in chunks], params.bm25_k1, params.bm25_b).save(bm25_dir)
    # The store last: from here on the caller holds its record, so a failure drops it too.
    store = backend.build(vectors, folder)
    try:
        described: dict[str, Any] = store.describe()
    finally:
        store.close()
    return described


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
