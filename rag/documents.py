"""Load text documents from a corpus folder: encoding detection, metadata, content hashes."""

from __future__ import annotations

import codecs
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import CorpusError
from rag.textnorm import HAN

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".text")
MAX_FILE_BYTES = 50 * 1024 * 1024
_DATE_LEAD = re.compile(r"^\s*date\s+(\d{4}-\d{2}-\d{2})\s*")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")
# Han characters plus CJK punctuation and full-width forms.
_HAN_OR_CJK_PUNCT = re.compile(f"[\\u3000-\\u303f{HAN}\\uff00-\\uffef]")


@dataclass(frozen=True)
class Document:
    """One source document. `id` (path relative to the corpus, '/'-separated) is its citation."""

    id: str
    text: str
    sha256: str
    encoding: str
    title: str = ""
    date: str | None = None


@dataclass
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode file bytes; returns (text, encoding). Raises ValueError for binary data."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    else:
        if "\x00" in text:
            raise ValueError("binary content (NUL bytes)")
        return text, "utf-8"
    utf16 = _guess_bomless_utf16(data)
    if utf16 is not None:
        return utf16
    if b"\x00" in data:
        raise ValueError("binary content (NUL bytes)")
    # Taiwanese files without a BOM are most often Big5/CP950; take it when it decodes to
    # Chinese, since detectors often misjudge short Big5 text.
    try:
        text = data.decode("cp950")
    except UnicodeDecodeError:
        pass
    else:
        non_ascii = [c for c in text if ord(c) > 127]
        han = sum(1 for c in non_ascii if _HAN_OR_CJK_PUNCT.match(c))
        if non_ascii and han >= 0.8 * len(non_ascii):
            return text, "cp950"
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        raise ValueError("not text in any known encoding")
    return str(best), best.encoding


def _plausible_share(text: str) -> float:
    """Share of characters that ordinary text is made of (ASCII, CJK, CJK punctuation)."""
    if not text:
        return 0.0
    good = sum(1 for c in text if c.isascii() and (c.isprintable() or c.isspace()))
    good += len(_HAN_OR_CJK_PUNCT.findall(text))
    return good / len(text)


def _guess_bomless_utf16(data: bytes) -> tuple[str, str] | None:
    """UTF-16 without a BOM: take the byte order whose text looks like text."""
    if len(data) < 2 or len(data) % 2 or b"\x00" not in data:
        return None
    best: tuple[float, str, str] | None = None
    for encoding in ("utf-16-le", "utf-16-be"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        share = _plausible_share(text)
        if "\x00" not in text and share > 0.9 and (best is None or share > best[0]):
            best = (share, text, encoding)
    return None if best is None else (best[1], best[2])


def extract_metadata(text: str, fallback_title: str) -> tuple[str, str | None]:
    """Title (markdown heading or a short first line) and a `date YYYY-MM-DD` lead-in."""
    date = None
    match = _DATE_LEAD.match(text)
    if match:
        date = match.group(1)
        text = text[match.end() :]
    title = fallback_title
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        heading = _MD_HEADING.match(line)
        if heading:
            title = heading.group(1)
        elif len(line) <= 60:
            title = line
        break
    return title, date


def iter_corpus_files(corpus: Path) -> Iterator[Path]:
    """Files under `corpus` in a stable order, skipping hidden files and folders."""
    for path in sorted(corpus.rglob("*")):
        rel = path.relative_to(corpus)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_file():
            yield path


def load_document(path: Path, doc_id: str) -> Document:
    """Read one text file. Raises ValueError with a reason a user can act on."""
    size = path.stat().st_size
    if size == 0:
        raise ValueError("empty file")
    if size > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    data = path.read_bytes()
    text, encoding = decode_bytes(data)
    if not text.strip():
        raise ValueError("no text (only whitespace)")
    title, date = extract_metadata(text, path.stem)
    return Document(
        id=doc_id,
        text=text,
        sha256=hashlib.sha256(data).hexdigest(),
        encoding=encoding,
        title=title,
        date=date,
    )


def load_corpus(corpus: Path) -> LoadResult:
    """Every readable text document under `corpus`, recursively; the rest listed as skipped."""
    if not corpus.exists():
        raise CorpusError(f"Corpus folder {corpus} does not exist. Pass --corpus DIR.")
    if not corpus.is_dir():
        raise CorpusError(f"Corpus path {corpus} is not a folder. Pass --corpus DIR.")
    result = LoadResult()
    for path in iter_corpus_files(corpus):
        rel = path.relative_to(corpus).as_posix()
        if path.suffix.lower() not in TEXT_SUFFIXES:
            result.skipped.append((rel, f"unsupported file type '{path.suffix or '(none)'}'"))
            continue
        try:
            result.documents.append(load_document(path, rel))
        except (OSError, ValueError) as exc:
            result.skipped.append((rel, str(exc)))
    if not result.documents:
        found = "; ".join(f"{p}: {r}" for p, r in result.skipped[:3])
        found = f" (skipped {found}{', ...' if len(result.skipped) > 3 else ''})" if found else ""
        raise CorpusError(
            f"No readable document in {corpus}{found}. Supported: {', '.join(TEXT_SUFFIXES)}."
        )
    return result
