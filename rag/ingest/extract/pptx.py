"""PowerPoint .pptx (python-pptx): each slide's text in reading order, tables as rows, notes.

Locations are slide numbers (1-based, in the order the deck shows them).
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

from rag.ingest.extract.base import Extracted, ExtractError, ExtractOptions, TextBuilder


def _shapes_in_reading_order(shapes: Any) -> list[Any]:
    """Top to bottom, then left to right; shapes inside groups in place of the group."""
    found = []
    for shape in shapes:
        if shape.shape_type is not None and int(shape.shape_type) == 6:  # group
            found.extend(_shapes_in_reading_order(shape.shapes))
        else:
            found.append(shape)
    return sorted(found, key=lambda s: ((s.top or 0) // 50_000, s.left or 0))


def _add_shape(builder: TextBuilder, shape: Any, slide: int) -> None:
    if getattr(shape, "has_table", False) and shape.has_table:
        rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
        builder.add_table(rows, slide=slide)
    elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        for para in shape.text_frame.paragraphs:
            builder.add(para.text.replace("\x0b", "\n"), slide=slide)


def extract_pptx(data: bytes, name: str, options: ExtractOptions) -> Extracted:
    """Slide by slide: the shapes' text (top to bottom), tables row by row, speaker notes."""
    import pptx

    try:
        deck = pptx.Presentation(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ExtractError(f"damaged or truncated PPTX ({exc})") from None
    except Exception as exc:  # python-pptx's PackageNotFoundError, lxml errors
        raise ExtractError(f"damaged or truncated PPTX ({type(exc).__name__}: {exc})") from None
    builder = TextBuilder()
    number = 0
    for number, slide in enumerate(deck.slides, start=1):
        for shape in _shapes_in_reading_order(slide.shapes):
            _add_shape(builder, shape, number)
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            builder.add(slide.notes_slide.notes_text_frame.text, slide=number)
    props = deck.core_properties
    created = props.created.date().isoformat() if props.created else None
    return builder.result(
        "pptx", title=props.title or "", date=created, author=props.author or None, units=number
    )
