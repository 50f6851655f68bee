"""PDF page geometry to text as a reader sees it: lines, table rows, paragraphs, page furniture.

Pure functions over positioned glyphs (PDF coordinates, y grows upwards), so that the rules
can be tested on their own: wrapped lines join (no space inside Chinese, one space between
English words, hyphenation undone), cells of a ruled table become one tab-separated row,
and running headers, footers and page numbers are recognised across pages.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field

from rag.textnorm import HAN

_CJK = re.compile(f"[{HAN}\\u3000-\\u303f\\uff00-\\uffef\\u2018-\\u201d]")
_SENTENCE_END = tuple("。！？；：.!?;:」』”)）")
_OPENING = set("「『“‘（〈《【([")
_CLOSING = set("。，、；：！？」』”’）〉》】,.;:!?)¹²³⁴⁵⁶⁷⁸⁹⁰")
_PAGE_NUMBER = re.compile(
    r"^(?:[-–—]\s*)?(?:page\s*|p\.\s*|第\s*)?\d{1,4}(?:\s*(?:/|of|／)\s*\d{1,4})?"
    r"(?:\s*頁)?(?:\s*[-–—])?$",
    re.I,
)
EDGE_ZONE = 0.12  # share of the page height at the top and bottom where furniture lives


@dataclass(frozen=True)
class Glyph:
    char: str
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass
class Fragment:
    """Glyphs that run together on one baseline."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    glyphs: list[Glyph] = field(default_factory=list, repr=False)

    @property
    def height(self) -> float:
        return max(self.y1 - self.y0, 1.0)

    def token_width(self) -> float:
        """Width of the first word (Latin) or first character (CJK), with the punctuation
        that may not be parted from it: what would have had to fit on the line above."""
        boxed = [g for g in self.glyphs if g.x1 > g.x0]
        if not boxed:
            return self.x1 - self.x0
        first = 1 if boxed[0].char in _OPENING and len(boxed) > 1 else 0
        latin = not is_cjk(boxed[first].char)
        end = boxed[first].x1
        for glyph in boxed[first + 1 :]:
            if glyph.char not in _CLOSING and (
                not latin or is_cjk(glyph.char) or glyph.x0 - end > 0.15 * self.height
            ):
                break
            end = glyph.x1
        return end - boxed[0].x0


@dataclass
class Line:
    fragments: list[Fragment] = field(default_factory=list)
    cells: list[str] | None = None  # set for a table row

    @property
    def x0(self) -> float:
        return min(f.x0 for f in self.fragments)

    @property
    def x1(self) -> float:
        return max(f.x1 for f in self.fragments)

    @property
    def top(self) -> float:
        return max(f.y1 for f in self.fragments)

    @property
    def bottom(self) -> float:
        return min(f.y0 for f in self.fragments)

    @property
    def height(self) -> float:
        return statistics.median(f.height for f in self.fragments)

    @property
    def text(self) -> str:
        if self.cells is not None:
            return "\t".join(self.cells)
        return join_fragments(self.fragments)

    @property
    def is_row(self) -> bool:
        return self.cells is not None


def is_cjk(char: str) -> bool:
    return bool(_CJK.match(char))


def join_fragments(fragments: list[Fragment]) -> str:
    """Fragments of one line, left to right; a wide gap becomes a tab."""
    parts: list[str] = []
    previous: Fragment | None = None
    for frag in sorted(fragments, key=lambda f: f.x0):
        if previous is not None:
            gap = frag.x0 - previous.x1
            if gap > 1.5 * previous.height:
                parts.append("\t")
            elif gap > 0.15 * previous.height and not (
                is_cjk(parts[-1][-1:]) and is_cjk(frag.text[:1])
            ):
                parts.append(" ")
        parts.append(frag.text)
        previous = frag
    return "".join(parts).strip()


def fragments_from_glyphs(glyphs: list[Glyph]) -> list[Fragment]:
    """Group glyphs (in content-stream order) into runs on one baseline without wide gaps."""
    fragments: list[Fragment] = []
    current: list[Glyph] = []

    def flush() -> None:
        text = "".join(g.char for g in current).strip()
        boxed = [g for g in current if g.x1 > g.x0]
        if text and boxed:
            fragments.append(
                Fragment(
                    " ".join(text.split(" ")),
                    min(g.x0 for g in boxed),
                    min(g.y0 for g in boxed),
                    max(g.x1 for g in boxed),
                    max(g.y1 for g in boxed),
                    list(current),
                )
            )
        current.clear()

    for glyph in glyphs:
        if current:
            last = next((g for g in reversed(current) if g.x1 > g.x0), current[-1])
            height = max(last.y1 - last.y0, 1.0)
            centre, last_centre = (glyph.y0 + glyph.y1) / 2, (last.y0 + last.y1) / 2
            zero_width = glyph.x1 <= glyph.x0
            if not zero_width and (
                abs(centre - last_centre) > 0.5 * height
                or glyph.x0 < last.x1 - 0.5 * height
                or glyph.x0 - last.x1 > 1.5 * height
            ):
                flush()
        current.append(glyph)
    flush()
    return fragments


def build_lines(fragments: list[Fragment]) -> list[Line]:
    """Fragments sharing a vertical band form a line; lines top to bottom."""
    lines: list[Line] = []
    for frag in sorted(fragments, key=lambda f: (-(f.y0 + f.y1) / 2, f.x0)):
        centre = (frag.y0 + frag.y1) / 2
        if lines:
            line = lines[-1]
            line_centre = (line.top + line.bottom) / 2
            if abs(centre - line_centre) <= 0.4 * min(line.height, frag.height):
                line.fragments.append(frag)
                continue
        lines.append(Line([frag]))
    for line in lines:
        line.fragments.sort(key=lambda f: f.x0)
    return lines


def merge_table_rows(
    lines: list[Line],
    hrules: list[tuple[float, float, float]],
    vrules: list[tuple[float, float, float]],
) -> list[Line]:
    """Lines between the same two horizontal rules of a ruled table become one row, each
    fragment going to the cell its vertical rules put it in.

    hrules: (y, x0, x1); vrules: (x, y0, y1)."""
    out: list[Line] = []
    group: list[Line] = []
    group_key: tuple[int, ...] | None = None

    def flush() -> None:
        if group:
            out.append(_row_from_lines(group, vrules) if group_key is not None else group[0])
        group.clear()

    for line in lines:
        key = _band(line, hrules, vrules)
        if key is None or key != group_key:
            flush()
            group_key = key
        group.append(line)
        if key is None:
            flush()
    flush()
    return out


def _band(
    line: Line, hrules: list[tuple[float, float, float]], vrules: list[tuple[float, float, float]]
) -> tuple[int, ...] | None:
    """Which table cell band a line lies in (rules above and below it), or None outside."""
    centre = (line.top + line.bottom) / 2
    above = [y for y, x0, x1 in hrules if y > centre and x0 <= line.x0 + 1 and x1 >= line.x0]
    below = [y for y, x0, x1 in hrules if y < centre and x0 <= line.x0 + 1 and x1 >= line.x0]
    if not above or not below:
        return None
    top, bottom = min(above), max(below)
    crossing = [x for x, y0, y1 in vrules if y0 <= centre <= y1 and y0 >= bottom - 2]
    if len(crossing) < 3:  # a table has at least two columns: three vertical rules
        return None
    return (round(top), round(bottom))


def _row_from_lines(group: list[Line], vrules: list[tuple[float, float, float]]) -> Line:
    centre = (group[0].top + group[0].bottom) / 2
    edges: list[float] = []
    for x in sorted(x for x, y0, y1 in vrules if y0 - 2 <= centre <= y1 + 2):
        if not edges or x - edges[-1] > 3.0:  # borders are often drawn twice, side by side
            edges.append(x)
    cells: list[list[str]] = [[] for _ in range(max(len(edges) - 1, 1))]
    for line in group:
        per_cell: dict[int, list[Glyph]] = {}
        for frag in line.fragments:
            for glyph in frag.glyphs:
                index = sum(1 for x in edges if x <= glyph.x0 + 1) - 1
                per_cell.setdefault(min(max(index, 0), len(cells) - 1), []).append(glyph)
        for index, glyphs in per_cell.items():
            cells[index].append(join_fragments(fragments_from_glyphs(glyphs)))
    texts = [join_wrapped(cell_lines) for cell_lines in cells]
    return Line([f for line in group for f in line.fragments], cells=texts)


def joiner(left: str, right: str) -> str:
    """What goes between a wrapped line ending in `left` and the next starting with `right`:
    nothing inside Chinese, one space between words, nothing after an undone hyphen."""
    if not left or not right:
        return ""
    if is_cjk(left[-1]) or is_cjk(right[0]):
        return ""
    return " "


def join_wrapped(lines: list[str]) -> str:
    """Lines of one paragraph as one string, the joins done as `joiner` says."""
    text = ""
    for line in lines:
        line = line.strip()
        if not line:
            continue
        if re.search(r"[A-Za-z]-$", text) and line[:1].islower():
            text = text[:-1] + line  # hyphenation undone
        else:
            text = text + joiner(text, line) + line
    return text


def ends_sentence(text: str) -> bool:
    return text.rstrip().endswith(_SENTENCE_END)


def paragraphs(lines: list[Line]) -> list[tuple[str, bool]]:
    """(text, is_table_row) blocks of a page. A line that reaches the right edge and is
    followed closely by a line starting at the same left edge continues a paragraph."""
    body = [line for line in lines if not line.is_row]
    if not body:
        return [(line.text, True) for line in lines]
    ends = sorted(line.x1 for line in body)
    # The text's right edge: most lines of running text reach it; a few punctuation marks
    # hang past it, and the last lines of paragraphs stop short.
    right = ends[int(0.8 * (len(ends) - 1))]
    blocks: list[tuple[list[str], bool]] = []
    previous: Line | None = None
    for line in lines:
        if line.is_row:
            blocks.append(([line.text], True))
            previous = None
            continue
        if previous is not None and continues(previous, line, right):
            blocks[-1][0].append(line.text)
        else:
            blocks.append(([line.text], False))
        previous = line
    return [(join_wrapped(texts) if not row else texts[0], row) for texts, row in blocks]


def continues(previous: Line, line: Line, right: float) -> bool:
    """Whether `line` wraps on from `previous` within one paragraph."""
    height = previous.height
    # Wrapped: the next line's first word (or character) would not have fitted here.
    full = previous.x1 + line.fragments[0].token_width() > right - 0.5 * height
    close = previous.bottom - line.top <= 0.9 * height
    same_start = line.x0 <= previous.x0 + 0.5 * height
    same_size = abs(line.height - height) <= 0.25 * height
    return full and close and same_start and same_size


def furniture_keys(pages: list[list[Line]], page_heights: list[float]) -> set[str]:
    """Texts of lines in the top or bottom zone that repeat on at least half of the pages
    (digits ignored, so that "第 3 頁" matches "第 4 頁")."""
    if len(pages) < 2:
        return set()
    counts: Counter[str] = Counter()
    for lines, height in zip(pages, page_heights, strict=True):
        keys = {furniture_key(line.text) for line in edge_lines(lines, height)}
        counts.update(keys)
    return {key for key, n in counts.items() if key and n >= max(2, len(pages) / 2)}


def furniture_key(text: str) -> str:
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", text))


def edge_lines(lines: list[Line], page_height: float) -> list[Line]:
    """The lines in the top and bottom zones of a page (at most two at each end)."""
    top = [ln for ln in lines[:2] if ln.bottom >= page_height * (1 - EDGE_ZONE)]
    bottom = [ln for ln in lines[-2:] if ln.top <= page_height * EDGE_ZONE]
    return top + bottom


def drop_furniture(lines: list[Line], page_height: float, repeated: set[str]) -> list[Line]:
    """The page without its running header, footer and page number."""
    edges = {id(line) for line in edge_lines(lines, page_height)}
    kept = []
    for line in lines:
        if id(line) in edges and (
            furniture_key(line.text) in repeated or _PAGE_NUMBER.match(line.text.strip())
        ):
            continue
        kept.append(line)
    return kept
