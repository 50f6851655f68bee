"""Saved web pages: the main content only (trafilatura), headings as sections, tables as rows.

Navigation, cookie banners, scripts, asides and footers are left out by trafilatura's
main-content extraction; see docs/FORMATS.md for how it compares with the alternatives.
"""

from __future__ import annotations

from typing import Any

from rag.ingest.extract.base import (
    Extracted,
    ExtractError,
    ExtractOptions,
    TextBuilder,
    heading_path,
)
from rag.ingest.extract.text import decode_bytes


def _text(element: Any) -> str:
    return " ".join("".join(element.itertext()).split())


def extract_html(data: bytes, name: str, options: ExtractOptions) -> Extracted:
    """The main content of an HTML page, with its title, author and date."""
    import trafilatura

    try:
        markup, encoding = decode_bytes(data)
    except ValueError as exc:
        raise ExtractError(str(exc)) from None
    found: Any = trafilatura.bare_extraction(
        markup,
        include_tables=True,
        include_comments=False,
        include_formatting=False,
        include_images=False,
        with_metadata=True,
        favor_recall=True,
        deduplicate=False,
        # Dates only from the page's metadata, never guessed from years in the text.
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    if found is None or found.body is None:
        raise ExtractError("no main text found in this HTML page")
    builder = TextBuilder()
    stack: list[tuple[int, str]] = []
    section: str | None = None
    for element in found.body:
        if element.tag == "head":
            rend = str(element.get("rend", "h2"))
            level = int(rend[1]) if len(rend) == 2 and rend[1].isdigit() else 2
            section = heading_path(stack, level, _text(element))
            builder.add(_text(element), section=section)
        elif element.tag == "table":
            rows = [[_text(cell) for cell in row.iter("cell")] for row in element.iter("row")]
            builder.add_table(rows, section=section)
        elif element.tag == "list":
            for item in element.iter("item"):
                builder.add(_text(item), section=section, separator="\n")
        else:
            builder.add(_text(element), section=section)
    return builder.result(
        "html",
        title=found.title or "",
        date=found.date,
        author=found.author,
        encoding=encoding,
    )
