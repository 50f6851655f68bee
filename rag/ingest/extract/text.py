"""Plain text and Markdown: encoding detection, a `date` lead-in and title, Markdown sections."""

from __future__ import annotations

import codecs
import re

from rag.ingest.extract.base import Extracted, ExtractError, ExtractOptions, Location, heading_path
from rag.textnorm import HAN

MARKDOWN_SUFFIXES = (".md", ".markdown")
_DATE_LEAD = re.compile(r"^\s*date\s+(\d{4}-\d{2}-\d{2})\s*")
_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
# A fenced code block opens and closes with three or more backticks or tildes; a line in it
# that starts with "#" (a shell comment, a commit message template) is no heading.
_MD_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
# Han characters plus CJK punctuation and full-width forms.
_HAN_OR_CJK_PUNCT = re.compile(f"[\\u3000-\\u303f{HAN}\\uff00-\\uffef]")


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
            title = heading.group(2)
        elif len(line) <= 60:
            title = line
        break
    return title, date


def markdown_sections(text: str) -> list[Location]:
    """Each heading's span up to the next heading, with its heading path; lines inside fenced
    code blocks are never headings."""
    found: list[Location] = []
    stack: list[tuple[int, str]] = []
    pos = 0
    fence = ""  # the fence of the code block the line is in
    for line in text.splitlines(keepends=True):
        opened = _MD_FENCE.match(line)
        if opened and not fence:
            fence = opened.group(1)
        elif opened and opened.group(1).startswith(fence) and not line[opened.end() :].strip():
            fence = ""  # a closing fence: as long as the opening one or longer, nothing after
        match = None if fence or opened else _MD_HEADING.match(line)
        if match:
            if found:
                last = found[-1]
                found[-1] = Location(last.start, pos, section=last.section)
            path = heading_path(stack, len(match.group(1)), match.group(2))
            found.append(Location(pos, len(text), section=path))
        pos += len(line)
    return found


def extract_text(data: bytes, name: str, options: ExtractOptions) -> Extracted:
    """A text file in any common encoding; Markdown headings become sections."""
    try:
        text, encoding = decode_bytes(data)
    except ValueError as exc:
        raise ExtractError(str(exc)) from None
    if not text.strip():
        raise ExtractError("no text (only whitespace)")
    title, date = extract_metadata(text, "")
    sections = markdown_sections(text) if name.lower().endswith(MARKDOWN_SUFFIXES) else []
    return Extracted(text, sections, kind="text", title=title, date=date, encoding=encoding)
