"""Word .docx (python-docx): body paragraphs and tables in order, headings as sections.

Running headers and footers are not part of the body and are left out.
"""

from __future__ import annotations

import re
import zipfile
from typing import Any

from rag.ingest.extract.base import (
    Extracted,
    ExtractError,
    ExtractOptions,
    TextBuilder,
    heading_path,
)

_HEADING = re.compile(r"^(?:heading|標題|标题)\s*(\d)$", re.I)


def heading_level(style: Any) -> int | None:
    """1-6 for heading styles (also localised names and styles based on them), else None."""
    depth = 0
    while style is not None and depth < 5:
        name = (style.name or "").strip()
        if name.lower() == "title":
            return 1
        match = _HEADING.match(name) or _HEADING.match(style.style_id or "")
        if match:
            return int(match.group(1))
        style = style.base_style
        depth += 1
    return None


def _date(value: Any) -> str | None:
    return value.date().isoformat() if value is not None else None


def extract_docx(data: bytes, name: str, options: ExtractOptions) -> Extracted:
    """Paragraphs and tables of a .docx in reading order, with headings as sections."""
    import io

    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ExtractError(f"damaged or truncated DOCX ({exc})") from None
    except Exception as exc:  # python-docx raises its own PackageNotFoundError and lxml errors
        raise ExtractError(f"damaged or truncated DOCX ({type(exc).__name__}: {exc})") from None
    builder = TextBuilder()
    stack: list[tuple[int, str]] = []
    section: str | None = None
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            rows = []
            for row in block.rows:
                cells: list[Any] = []
                for cell in row.cells:  # a merged cell repeats: keep it once
                    if not cells or cell._tc is not cells[-1]._tc:
                        cells.append(cell)
                rows.append([c.text for c in cells])
            builder.add_table(rows, section=section)
            continue
        level = heading_level(block.style)
        if level is not None and block.text.strip():
            section = heading_path(stack, level, block.text)
        builder.add(block.text, section=section)
    props = document.core_properties
    return builder.result(
        "docx", title=props.title or "", date=_date(props.created), author=props.author or None
    )
