"""Split documents into sentence-packed chunks that keep offsets into the original text."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from rag.ingest.documents import Document
from rag.ingest.extract import Location
from rag.ingest.extract.base import HEADING_SEPARATOR
from rag.textnorm import han_count

SPLITTER_VERSION = 3  # 3: documents mainly in Latin script sized in units (sized_in_words)
# A sentence ends at Chinese or ASCII terminal punctuation, with any closing quotes or
# brackets that follow it, or at a line break.
_SENTENCE_END = re.compile(r"[。！？；!?;]+[」』”’\"'）)\]】]*|\.(?=\s)|\n")
_CLAUSE_END = re.compile(r"[，、：,:]")

# A document mainly in Latin script (English, code) is sized in units: a Latin word counts
# LATIN_WORD_UNITS, any other character or punctuation mark one. For the embedder a Latin word
# is about two tokens and a Chinese character 0.85 (multilingual-e5's tokenizer on DRCD dev and
# on this project's English docs). Sized in characters, a 120-character chunk of English held
# about one sentence and cut longer ones in the middle; sized in units it holds about 50 words.
# A document mainly in Chinese is sized in characters, as before: counting its English terms as
# words instead changed which passages answer and cost answers on the bundled corpus
# (eval/RESULTS.md, 2026-12-06).
LATIN_WORD_UNITS = 2
_LATIN_WORD = re.compile(r"[A-Za-z0-9]+(?:['’.\-][A-Za-z0-9]+)*")
_UNIT = re.compile(f"{_LATIN_WORD.pattern}|\\S")


def _weight(piece: str) -> int:
    return LATIN_WORD_UNITS if piece[0].isascii() and piece[0].isalnum() else 1


def text_units(text: str, start: int = 0, end: int | None = None) -> int:
    """The size of text[start:end] in units (see LATIN_WORD_UNITS)."""
    stop = len(text) if end is None else end
    return sum(_weight(m.group()) for m in _UNIT.finditer(text, start, stop))


def sized_in_words(text: str) -> bool:
    """Whether a document is mainly in Latin script, so sized in units: its Latin words,
    counted LATIN_WORD_UNITS each, outweigh its Chinese characters."""
    words = len(_LATIN_WORD.findall(text))
    return han_count(text) < LATIN_WORD_UNITS * words


def _size(text: str, start: int, end: int, words: bool) -> int:
    return text_units(text, start, end) if words else end - start


def _after(text: str, start: int, end: int, units: int, words: bool) -> int:
    """The position in text[start:end] where the first `units` units end (at most `end`)."""
    if not words:
        return min(start + units, end)
    total = 0
    for match in _UNIT.finditer(text, start, end):
        total += _weight(match.group())
        if total > units:
            return max(match.start(), start + 1)
    return end


@dataclass(frozen=True)
class Chunk:
    """A span of a document. `text == document.text[start:end]` always holds."""

    id: str
    doc_id: str
    start: int
    end: int
    text: str
    # Text that is not inside the span but needed to read it: a table's header row.
    context: str = ""
    # Where the span is in the source file (1-based page or slide; heading path).
    page: int | None = None
    slide: int | None = None
    section: str | None = None
    # The document's title and the span's heading path (`heading_line`), indexed with the
    # span but never read by the model; empty unless the index is built with headings.
    heading: str = ""

    def location(self) -> dict[str, object]:
        """The non-empty of page, slide and section."""
        return location(self.page, self.slide, self.section)


def location(page: int | None, slide: int | None, section: str | None) -> dict[str, object]:
    """Page, slide and section as a record shows them: only the ones that are set."""
    found = {"page": page, "slide": slide, "section": section}
    return {k: v for k, v in found.items() if v}


def _is_table_row(line: str) -> bool:
    stripped = line.strip()
    return "\t" in stripped or (stripped.startswith("|") and stripped.count("|") >= 2)


TABLE_ROW_LIMIT = 4
_SEPARATOR_CELL = re.compile(r"^:?-{2,}:?$")


def _cells(line: str) -> list[str]:
    stripped = line.strip()
    if stripped.startswith("|"):
        return [c.strip() for c in stripped.strip("|").split("|")]
    return [c.strip() for c in stripped.split("\t")]


def linearize_tables(text: str) -> str:
    """Table rows rewritten as 「header: value；…」 sentences under their header row, so that a
    reader (a small model most of all) sees which column a number belongs to. Separator rows
    go; a header without rows, and rows whose cells do not match the header, stay as written."""
    out: list[str] = []
    header: list[str] | None = None
    wrote_row = False
    for line in text.splitlines():
        if not _is_table_row(line):
            if header is not None and not wrote_row:
                out.append(" | ".join(header))
            header, wrote_row = None, False
            out.append(line)
            continue
        cells = _cells(line)
        if all(_SEPARATOR_CELL.match(c) for c in cells if c):
            continue
        if header is None:
            header = cells
        elif len(cells) == len(header):
            pairs = [f"{h}: {v}" if h else v for h, v in zip(header, cells, strict=True) if v]
            out.append("；".join(pairs) + "。")
            wrote_row = True
        else:
            if not wrote_row:
                out.append(" | ".join(header))
                wrote_row = True
            out.append(line)
    if header is not None and not wrote_row:
        out.append(" | ".join(header))
    return "\n".join(out)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end) with surrounding whitespace trimmed.

    Table rows (tab-separated or markdown pipes) stay whole so that they read as rows.
    """
    spans: list[tuple[int, int]] = []
    pos = 0
    for line in text.splitlines(keepends=True):
        line_start, line_end = pos, pos + len(line)
        pos = line_end
        if _is_table_row(line):
            start, end = _trim(text, line_start, line_end)
            if start < end:
                spans.append((start, end))
            continue
        cursor = line_start
        for match in _SENTENCE_END.finditer(text, line_start, line_end):
            start, end = _trim(text, cursor, match.end())
            if start < end:
                spans.append((start, end))
            cursor = match.end()
        start, end = _trim(text, cursor, line_end)
        if start < end:
            spans.append((start, end))
    return spans


def _cut_long(text: str, start: int, end: int, limit: int, words: bool) -> list[tuple[int, int]]:
    """Cut a sentence of more than `limit` (units with `words`, else characters), preferring
    clause punctuation, else a hard cut."""
    pieces: list[tuple[int, int]] = []
    # What is left is too long while the first `limit` of it ends before its end: scanning only
    # that far keeps cutting a long run of words linear in its length.
    while (window_end := _after(text, start, end, limit, words)) < end:
        cut = None
        half = _after(text, start, end, limit // 2, words)
        for match in _CLAUSE_END.finditer(text, half, window_end):
            cut = match.end()
        cut = cut or window_end
        piece = _trim(text, start, cut)
        if piece[0] < piece[1]:
            pieces.append(piece)
        start = cut
    piece = _trim(text, start, end)
    if piece[0] < piece[1]:
        pieces.append(piece)
    return pieces


def _segments(doc: Document) -> list[tuple[int, int, Location | None]]:
    """The document cut at its location boundaries: (start, end, location) covering it all."""
    segments: list[tuple[int, int, Location | None]] = []
    pos = 0
    for loc in doc.locations:
        if loc.start > pos:
            segments.append((pos, loc.start, None))
        segments.append((loc.start, loc.end, loc))
        pos = loc.end
    if pos < len(doc.text) or not segments:
        segments.append((pos, len(doc.text), None))
    return segments


def chunk_document(
    doc: Document, target_chars: int, overlap: int, headings: bool = False
) -> list[Chunk]:
    """Pack whole sentences into chunks of about `target_chars` characters, or units for a
    document mainly in Latin script (`sized_in_words`), carrying `overlap` sentences.

    A sentence is cut only when it alone is longer than `target_chars`; a table row only when
    it is longer than TABLE_ROW_LIMIT times that (a row cut in two loses its meaning). A chunk
    never crosses a page, slide or section boundary, so that it has one location.
    """
    text = doc.text
    words = sized_in_words(text)
    chunks: list[Chunk] = []
    for seg_start, seg_end, location in _segments(doc):
        section = location.section if location else None
        heading = heading_line(doc.title, section) if headings else ""
        sentences: list[tuple[int, int]] = []
        for start, end in split_sentences(text[seg_start:seg_end]):
            start, end = seg_start + start, seg_start + end
            row = _is_table_row(text[start:end])
            limit = target_chars * TABLE_ROW_LIMIT if row else target_chars
            sentences.extend(_cut_long(text, start, end, limit, words))
        sizes = [_size(text, a, b, words) for a, b in sentences]
        i = 0
        while i < len(sentences):
            j = i
            size = 0
            while j < len(sentences):
                length = sizes[j]
                if j > i and size + length > target_chars:
                    break
                size += length
                j += 1
            start, end = sentences[i][0], sentences[j - 1][1]
            context = _table_header(text, start)
            chunks.append(_make_chunk(doc, start, end, context, location, heading))
            if j >= len(sentences):
                break
            # Carry the last `overlap` sentences into the next chunk, but always move forward.
            i = max(i + 1, j - overlap)
    return chunks


def _line_at(text: str, pos: int) -> tuple[int, int]:
    """(start, end) of the line holding position `pos`, without its line break."""
    end = text.find("\n", pos)
    return text.rfind("\n", 0, pos) + 1, len(text) if end < 0 else end


def _table_header(text: str, start: int) -> str:
    """The header row of the table a chunk starts in, unless the chunk starts with it."""
    line_start, line_end = _line_at(text, start)
    if not _is_table_row(text[line_start:line_end]):
        return ""
    header = ""
    while line_start > 0:
        prev_start, prev_end = _line_at(text, line_start - 1)
        line = text[prev_start:prev_end]
        if not _is_table_row(line):
            break
        if not set(line.strip()) <= set("|-: \t"):
            header = line.strip()
        line_start = prev_start
    return header


def _make_chunk(
    doc: Document, start: int, end: int, context: str, location: Location | None, heading: str
) -> Chunk:
    chunk_id = hashlib.sha1(f"{doc.sha256}:{start}:{end}".encode()).hexdigest()[:16]
    return Chunk(
        id=chunk_id,
        doc_id=doc.id,
        start=start,
        end=end,
        text=doc.text[start:end],
        context=context,
        page=location.page if location else None,
        slide=location.slide if location else None,
        section=location.section if location else None,
        heading=heading,
    )


def chunk_documents(
    docs: list[Document], target_chars: int, overlap: int, headings: bool = False
) -> list[Chunk]:
    return [c for doc in docs for c in chunk_document(doc, target_chars, overlap, headings)]


def heading_line(title: str, section: str | None) -> str:
    """The document's title and the heading path of a span, each heading once.

    A span inside a long document often does not name what it is about: an article of a
    statute says 「雇主」 and 「前條」 but not which law, a manual's step not which chapter.
    Indexed with the span (setting `index_headings`, off by default), the title and headings
    let a question that names the law or the chapter find it; measured in eval/RESULTS.md
    (seventh round): more answers right on English documents, fewer unanswerable questions
    refused, no gain on Chinese ones.
    """
    parts = [" ".join(title.split())] if title.strip() else []
    for part in (section or "").split(HEADING_SEPARATOR):
        if part.strip() and part not in parts:
            parts.append(part)
    return HEADING_SEPARATOR.join(parts)


def span_text(chunk: Chunk) -> str:
    """A span as the model reads it and the checks see it: its table header if any, then its
    text."""
    return f"{chunk.context}\n{chunk.text}" if chunk.context else chunk.text


def index_text(chunk: Chunk) -> str:
    """What the embedder and BM25 see: the span as the model reads it (`span_text`),
    preceded by its title and headings if the index keeps them."""
    text = span_text(chunk)
    return f"{chunk.heading}\n{text}" if chunk.heading else text
