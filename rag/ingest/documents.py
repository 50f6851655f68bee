"""Load the documents of a corpus folder: extract each file, hash its bytes, list the skips.

Extraction itself (formats, encodings, location maps) lives in `rag.ingest.extract`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import CorpusError
from rag.ingest.extract import (
    EXTRACT_VERSION,
    SUFFIXES,
    Extracted,
    ExtractError,
    ExtractOptions,
    Location,
    extract,
)
from rag.ingest.extract.text import decode_bytes, extract_metadata

__all__ = [
    "Document",
    "LoadResult",
    "decode_bytes",
    "extract_metadata",
    "iter_corpus_files",
    "load_corpus",
    "load_document",
]

TEXT_SUFFIXES = tuple(SUFFIXES)  # every name `rag index` reads (kept under its old name)
MAX_FILE_BYTES = ExtractOptions().max_file_bytes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Document:
    """One source document. `id` (path relative to the corpus, '/'-separated) is its citation.

    `text` is the extracted text that chunk offsets point into; `locations` map its spans
    to pages, slides or sections."""

    id: str
    text: str
    sha256: str
    encoding: str
    title: str = ""
    date: str | None = None
    kind: str = "text"
    author: str | None = None
    locations: tuple[Location, ...] = ()
    units: int = 0
    warnings: tuple[str, ...] = ()
    ocr_pending: bool = False


@dataclass
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    partial: list[tuple[str, str]] = field(default_factory=list)  # indexed in part: (path, why)
    reextracted: int = 0  # files parsed this time (the rest came from the cache)


def iter_corpus_files(corpus: Path) -> Iterator[Path]:
    """Files under `corpus` in a stable order, skipping hidden files and folders."""
    for path in sorted(corpus.rglob("*")):
        rel = path.relative_to(corpus)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_file():
            yield path


def _document(doc_id: str, sha256: str, extracted: Extracted, fallback_title: str) -> Document:
    title, date = extracted.title, extracted.date
    if not title or not date:  # a `date YYYY-MM-DD` lead-in or a short first line
        lead_title, lead_date = extract_metadata(extracted.text, fallback_title)
        title, date = title or lead_title, date or lead_date
    return Document(
        id=doc_id,
        text=extracted.text,
        sha256=sha256,
        encoding=extracted.encoding,
        title=title,
        date=date,
        kind=extracted.kind,
        author=extracted.author,
        locations=tuple(extracted.locations),
        units=extracted.units,
        warnings=tuple(extracted.warnings),
        ocr_pending=extracted.ocr_pending,
    )


def load_document(
    path: Path,
    doc_id: str,
    options: ExtractOptions | None = None,
    cache: Mapping[str, Extracted] | None = None,
) -> tuple[Document, bool]:
    """Read and extract one file; (document, whether it was parsed rather than cached).

    Raises ValueError (ExtractError) with a reason a user can act on."""
    options = options or ExtractOptions()
    size = path.stat().st_size
    if size == 0:
        raise ExtractError("empty file")
    if size > options.max_file_bytes:
        limit = options.max_file_bytes / (1024 * 1024)
        raise ExtractError(
            f"{size / (1024 * 1024):.1f} MB is over the {limit:g} MB limit (setting max_file_mb)"
        )
    data = path.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    cached = (cache or {}).get(sha256)
    if cached is not None and not (cached.ocr_pending and _ocr_ready(options)):
        return _document(doc_id, sha256, cached, path.stem), False
    return _document(doc_id, sha256, extract(data, path.name, options), path.stem), True


def _ocr_ready(options: ExtractOptions) -> bool:
    from rag.ingest.extract.ocr import ocr_ready

    return ocr_ready(options.ocr_languages) is None


def load_corpus(
    corpus: Path,
    options: ExtractOptions | None = None,
    cache: Mapping[str, Extracted] | None = None,
) -> LoadResult:
    """Every readable document under `corpus`, recursively; the rest listed as skipped.

    `cache` maps a file's sha256 to an earlier extraction of the same bytes."""
    if not corpus.exists():
        raise CorpusError(f"Corpus folder {corpus} does not exist. Pass --corpus DIR.")
    if not corpus.is_dir():
        raise CorpusError(f"Corpus path {corpus} is not a folder. Pass --corpus DIR.")
    result = LoadResult()
    for path in iter_corpus_files(corpus):
        rel = path.relative_to(corpus).as_posix()
        if path.suffix.lower() not in SUFFIXES:
            result.skipped.append((rel, f"unsupported file type '{path.suffix or '(none)'}'"))
            continue
        try:
            doc, parsed = load_document(path, rel, options, cache)
        except (OSError, ValueError) as exc:
            result.skipped.append((rel, str(exc)))
            continue
        except Exception as exc:  # a reader that cannot load or crashes stops one file only
            log.debug("reading %s failed", rel, exc_info=True)
            result.skipped.append((rel, reader_failure(path, exc)))
            continue
        result.documents.append(doc)
        result.reextracted += parsed
        result.partial.extend((rel, warning) for warning in doc.warnings)
    if not result.documents:
        found = "; ".join(f"{p}: {r}" for p, r in result.skipped[:3])
        found = f" (skipped {found}{', ...' if len(result.skipped) > 3 else ''})" if found else ""
        raise CorpusError(
            f"No readable document in {corpus}{found}. Supported: {', '.join(SUFFIXES)}."
        )
    return result


def reader_failure(path: Path, exc: Exception) -> str:
    """Why a file was skipped when its reader could not load or crashed (a missing or broken
    library, a bug): the reader, the error's first line and what to do."""
    kind = SUFFIXES.get(path.suffix.lower(), "text").upper()
    first = (str(exc).strip().splitlines() or [""])[0]
    detail = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    if isinstance(exc, ImportError):
        return f"the {kind} reader cannot load ({detail}); reinstall with `pip install -e .`"
    return f"the {kind} reader failed ({detail}); the other files were read"


def document_record(doc: Document) -> dict[str, Any]:
    """What the index keeps of a document: its extracted text, location map and metadata."""
    return {
        "id": doc.id,
        "sha256": doc.sha256,
        "extract_version": EXTRACT_VERSION,
        "kind": doc.kind,
        "encoding": doc.encoding,
        "title": doc.title,
        "date": doc.date,
        "author": doc.author,
        "units": doc.units,
        "warnings": list(doc.warnings),
        "ocr_pending": doc.ocr_pending,
        "locations": [loc.to_row() for loc in doc.locations],
        "text": doc.text,
    }


def extracted_from_record(record: Mapping[str, Any]) -> Extracted | None:
    """The extraction stored by `document_record`; None if made by other extractor code."""
    if record.get("extract_version") != EXTRACT_VERSION:
        return None
    return Extracted(
        text=record["text"],
        locations=[Location.from_row(row) for row in record["locations"]],
        kind=record["kind"],
        title=record["title"],
        date=record["date"],
        author=record["author"],
        encoding=record["encoding"],
        units=record["units"],
        warnings=list(record["warnings"]),
        ocr_pending=record["ocr_pending"],
    )
