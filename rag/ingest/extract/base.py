"""The extractor contract: file bytes in; text, a location map and metadata out."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

# Bump when any extractor's output changes: cached extractions of older versions are redone.
EXTRACT_VERSION = 2  # 2: no Markdown headings inside fenced code


class ExtractError(ValueError):
    """A file that cannot be read; the message is the reason shown to the user."""


@dataclass(frozen=True)
class Location:
    """Where the text in [start, end) of the extracted text came from (1-based numbers)."""

    start: int
    end: int
    page: int | None = None
    slide: int | None = None
    section: str | None = None

    def to_row(self) -> list[object]:
        return [self.start, self.end, self.page, self.slide, self.section]

    @classmethod
    def from_row(cls, row: list[object]) -> Location:
        start, end, page, slide, section = row
        return cls(int(start), int(end), page, slide, section)  # type: ignore[arg-type, call-overload]

    def describe(self) -> dict[str, object]:
        """The non-empty fields a citation carries: page, slide, section."""
        found = {"page": self.page, "slide": self.slide, "section": self.section}
        return {k: v for k, v in found.items() if v}


def locate(locations: Sequence[Location], offset: int) -> Location | None:
    """The location holding character `offset`, if any (locations sorted and disjoint)."""
    i = bisect_right([loc.start for loc in locations], offset) - 1
    if i >= 0 and offset < locations[i].end:
        return locations[i]
    return None


def location_label(location: dict[str, object]) -> str:
    """How a location reads after a file name: "p. 3", "slide 2", "§ Intro > Scope"."""
    parts = []
    if location.get("page"):
        parts.append(f"p. {location['page']}")
    if location.get("slide"):
        parts.append(f"slide {location['slide']}")
    if location.get("section"):
        parts.append(f"§ {location['section']}")
    return ", ".join(parts)


@dataclass(frozen=True)
class ExtractOptions:
    """What a user can set about reading files."""

    max_file_bytes: int = 50 * 1024 * 1024
    # Tesseract languages for pages without a text layer; "" turns OCR off.
    ocr_languages: str = "chi_tra+eng"


@dataclass
class Extracted:
    text: str
    locations: list[Location] = field(default_factory=list)
    kind: str = "text"
    title: str = ""
    date: str | None = None
    author: str | None = None
    encoding: str = ""
    units: int = 0  # pages, slides or sheets read (0 for flowing text)
    # Parts that could not be read (a page without a text layer): the file is partly indexed.
    warnings: list[str] = field(default_factory=list)
    # Set when pages were left out only because OCR was not available.
    ocr_pending: bool = False


# (file bytes, file name, options) -> Extracted; raises ExtractError with a reason.
Extractor = Callable[[bytes, str, ExtractOptions], Extracted]


class TextBuilder:
    """Assembles extracted text block by block, recording each block's location.

    Blocks are separated by a blank line, table rows by one line break, so that the
    chunker sees paragraphs and rows as it does in a text file.
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self.locations: list[Location] = []
        self.last = ""  # the block added last

    def add(
        self,
        text: str,
        page: int | None = None,
        slide: int | None = None,
        section: str | None = None,
        separator: str = "\n\n",
    ) -> None:
        text = text.strip("\n\r ")  # not tabs: a table row may start with an empty cell
        if not text.strip():
            return
        if self._parts:
            self._parts.append(separator)
            self._length += len(separator)
        start = self._length
        self._parts.append(text)
        self._length += len(text)
        self.last = text
        last = self.locations[-1] if self.locations else None
        if last is not None and (last.page, last.slide, last.section) == (page, slide, section):
            self.locations[-1] = Location(last.start, self._length, page, slide, section)
        else:
            self.locations.append(Location(start, self._length, page, slide, section))

    def add_table(
        self,
        rows: list[list[str]],
        page: int | None = None,
        slide: int | None = None,
        section: str | None = None,
    ) -> None:
        """A table row by row, cells separated by tabs (what the chunker keeps as rows)."""
        lines = ["\t".join(" ".join(c.split()) for c in row) for row in rows]
        lines = [line for line in lines if line.strip()]
        if lines:
            self.add("\n".join(lines), page, slide, section)

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def result(self, kind: str, **metadata: object) -> Extracted:
        if not self._length:
            raise ExtractError(f"no text found in this {kind.upper()} file")
        locations = [loc for loc in self.locations if loc.describe()]
        return Extracted(self.text, locations, kind=kind, **metadata)  # type: ignore[arg-type]


HEADING_SEPARATOR = " > "  # between the headings of a section's path


def heading_path(stack: list[tuple[int, str]], level: int, title: str) -> str:
    """Push a heading of `level` onto `stack` (popping deeper or equal ones); the path."""
    while stack and stack[-1][0] >= level:
        stack.pop()
    stack.append((level, " ".join(title.split())))
    return HEADING_SEPARATOR.join(t for _, t in stack)
