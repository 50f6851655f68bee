"""OpenDocument text (.odt) and presentations (.odp) with odfpy.

ODT: body headings (outline levels) become sections; tables row by row; running headers and
footers live in styles.xml, not in the body, and are left out. ODP: slide numbers.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

from rag.ingest.extract.base import (
    Extracted,
    ExtractError,
    ExtractOptions,
    TextBuilder,
    heading_path,
)

_BLOCK_CONTAINERS = {"text:section", "text:list", "text:list-item", "text:list-header"}
_SKIP = {"text:tracked-changes", "text:sequence-decls", "office:forms", "text:table-of-content"}


def _open(data: bytes, kind: str) -> Any:
    from odf.opendocument import load

    try:
        return load(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ExtractError(f"damaged or truncated {kind.upper()} ({exc})") from None
    except Exception as exc:  # odfpy lets XML parser errors through
        raise ExtractError(f"damaged or truncated {kind.upper()} ({type(exc).__name__})") from None


def _text(element: Any) -> str:
    from odf import teletype

    return str(teletype.extractText(element))


def _table_rows(table: Any) -> list[list[str]]:
    rows = []
    for row in table.getElementsByType(_table_row()):
        cells = [_text(cell) for cell in row.childNodes if cell.tagName == "table:table-cell"]
        rows.append(cells)
    return rows


def _table_row() -> Any:
    from odf.table import TableRow

    return TableRow


def _metadata(doc: Any) -> dict[str, Any]:
    found: dict[str, str] = {}
    for node in doc.meta.childNodes:
        if node.tagName in ("dc:title", "dc:creator", "meta:initial-creator", "dc:date"):
            found.setdefault(node.tagName, _text(node))
        if node.tagName == "meta:creation-date":
            found["created"] = _text(node)
    date = (found.get("created") or found.get("dc:date") or "")[:10] or None
    author = found.get("meta:initial-creator") or found.get("dc:creator") or None
    return {"title": found.get("dc:title", ""), "date": date, "author": author}


def _walk_text(node: Any, builder: TextBuilder, stack: list[tuple[int, str]], state: dict) -> None:
    for child in node.childNodes:
        tag = getattr(child, "tagName", None)
        if tag is None or tag in _SKIP:
            continue
        if tag == "text:h":
            level = int(child.getAttribute("outlinelevel") or 1)
            state["section"] = heading_path(stack, level, _text(child))
            builder.add(_text(child), section=state["section"])
        elif tag == "text:p":
            builder.add(_text(child), section=state["section"])
        elif tag == "table:table":
            builder.add_table(_table_rows(child), section=state["section"])
        elif tag in _BLOCK_CONTAINERS:
            _walk_text(child, builder, stack, state)


def extract_odt(data: bytes, name: str, options: ExtractOptions) -> Extracted:
    """Body text of an OpenDocument text file, headings as sections, tables as rows."""
    doc = _open(data, "odt")
    builder = TextBuilder()
    _walk_text(doc.text, builder, [], {"section": None})
    return builder.result("odt", **_metadata(doc))


def extract_odp(data: bytes, name: str, options: ExtractOptions) -> Extracted:
    """Each slide's frames (text boxes and tables) in document order, with slide numbers."""
    from odf.draw import Page

    doc = _open(data, "odp")
    builder = TextBuilder()
    pages = doc.presentation.getElementsByType(Page)
    for number, page in enumerate(pages, start=1):
        _walk_slide(page, builder, number)
    return builder.result("odp", units=len(pages), **_metadata(doc))


def _walk_slide(node: Any, builder: TextBuilder, number: int) -> None:
    for child in node.childNodes:
        tag = getattr(child, "tagName", None)
        if tag == "table:table":
            builder.add_table(_table_rows(child), slide=number)
        elif tag in ("text:p", "text:h"):
            builder.add(_text(child), slide=number)
        elif tag is not None:
            _walk_slide(child, builder, number)
