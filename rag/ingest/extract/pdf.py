"""PDF with pypdfium2 (PDFium): text by page, laid out as a reader sees it; OCR for scans.

Why PDFium: on LibreOffice-made Chinese PDFs it lost and doubled no characters, like
pdfminer.six and pypdf, and was 10-30x faster (docs/FORMATS.md). Its glyph boxes feed
`pdflayout`, which joins wrapped lines, rebuilds table rows and drops page furniture.
"""

from __future__ import annotations

from typing import Any

from rag.ingest.extract.base import Extracted, ExtractError, ExtractOptions, TextBuilder
from rag.ingest.extract.pdflayout import (
    Glyph,
    Line,
    build_lines,
    drop_furniture,
    ends_sentence,
    fragments_from_glyphs,
    furniture_keys,
    joiner,
    merge_table_rows,
    paragraphs,
)

_PASSWORD_ERROR = 4  # FPDF_ERR_PASSWORD


def _open(data: bytes) -> Any:
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) == _PASSWORD_ERROR or "password" in str(exc).lower():
            raise ExtractError(
                "encrypted PDF that needs a password (save a copy without the password, "
                "e.g. qpdf --decrypt --password=... in.pdf out.pdf)"
            ) from None
        raise ExtractError(f"damaged PDF that PDFium cannot open ({exc})") from None


def _glyphs(textpage: Any) -> list[Glyph]:
    import pypdfium2.raw as pdfium_c

    raw = textpage.raw
    glyphs = []
    for i in range(pdfium_c.FPDFText_CountChars(raw)):
        code = pdfium_c.FPDFText_GetUnicode(raw, i)
        if code in (0, 0xFFFE, 0xFFFF, 13, 10, 2) or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
            continue
        char = chr(code)
        if pdfium_c.FPDFText_IsGenerated(raw, i) and char != " ":
            continue
        left, bottom, right, top = textpage.get_charbox(i, loose=True)
        if char.isspace():
            right = left  # spaces carry no width, so they never widen a fragment
        glyphs.append(Glyph(char, left, bottom, right, top))
    return glyphs


def _rules(page: Any) -> tuple[list[tuple[float, float, float]], list[tuple[float, float, float]]]:
    """Thin horizontal and vertical path objects (table borders): (y, x0, x1), (x, y0, y1)."""
    import pypdfium2.raw as pdfium_c

    hrules, vrules = [], []
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=3):
        x0, y0, x1, y1 = obj.get_bounds()
        if y1 - y0 < 2.0 and x1 - x0 > 5.0:
            hrules.append(((y0 + y1) / 2, x0, x1))
        elif x1 - x0 < 2.0 and y1 - y0 > 5.0:
            vrules.append(((x0 + x1) / 2, y0, y1))
    return hrules, vrules


def page_lines(page: Any) -> list[Line]:
    """The page's lines top to bottom, ruled table rows merged."""
    textpage = page.get_textpage()
    try:
        lines = build_lines(fragments_from_glyphs(_glyphs(textpage)))
    finally:
        textpage.close()
    hrules, vrules = _rules(page) if lines else ([], [])
    return merge_table_rows(lines, hrules, vrules) if hrules and vrules else lines


def _has_images(page: Any) -> bool:
    import pypdfium2.raw as pdfium_c

    return any(True for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3))


def _ocr_page(page: Any, languages: str) -> list[str]:
    from rag.ingest.extract.ocr import DPI, ocr_image

    image = page.render(scale=DPI / 72, grayscale=True).to_pil()
    return ocr_image(image, languages).split("\n\n")


def _pages_label(numbers: list[int]) -> str:
    return ("page " if len(numbers) == 1 else "pages ") + ", ".join(map(str, numbers))


def _pdf_date(raw: str) -> str | None:
    digits = raw[2:10] if raw.startswith("D:") else raw[:8]
    if len(digits) == 8 and digits.isdigit():
        return f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}"
    return None


def extract_pdf(data: bytes, name: str, options: ExtractOptions) -> Extracted:
    """Every page's text in reading order, with 1-based page numbers; scanned pages OCRed
    when Tesseract is installed, otherwise named in a warning."""
    from rag.ingest.extract.ocr import ocr_ready

    doc = _open(data)
    try:
        count = len(doc)
        if count == 0:
            raise ExtractError("PDF without pages")
        pages: list[list[Line]] = []
        heights: list[float] = []
        scanned: list[int] = []
        for number in range(1, count + 1):
            page = doc[number - 1]
            lines = page_lines(page)
            if not lines and _has_images(page):
                scanned.append(number)
            pages.append(lines)
            heights.append(page.get_height())
            page.close()
        repeated = furniture_keys(pages, heights)
        builder = TextBuilder()
        why_not = ocr_ready(options.ocr_languages) if scanned else None
        warnings: list[str] = []
        ocr_failed: list[int] = []
        for number, (lines, height) in enumerate(zip(pages, heights, strict=True), start=1):
            if number in scanned:
                if why_not is None:
                    try:
                        for block in _ocr_page(doc[number - 1], options.ocr_languages):
                            builder.add(block, page=number)
                    except RuntimeError:
                        ocr_failed.append(number)
                continue
            _add_page(builder, drop_furniture(lines, height, repeated), number)
        metadata = doc.get_metadata_dict(skip_empty=True)
    finally:
        doc.close()
    if scanned and why_not is not None:
        verb = "has" if len(scanned) == 1 else "have"
        warnings.append(f"{_pages_label(scanned)} {verb} no text layer (a scan?); {why_not}")
    if ocr_failed:
        warnings.append(f"OCR failed on {_pages_label(ocr_failed)}")
    if not builder.text:
        reason = "; ".join(warnings) or "no text in any of its pages"
        raise ExtractError(f"no text extracted: {reason}")
    return Extracted(
        builder.text,
        builder.locations,
        kind="pdf",
        title=metadata.get("Title", "").strip(),
        date=_pdf_date(metadata.get("CreationDate", "")),
        author=metadata.get("Author", "").strip() or None,
        units=count,
        warnings=warnings,
        ocr_pending=bool(scanned) and why_not is not None,
    )


def _add_page(builder: TextBuilder, lines: list[Line], number: int) -> None:
    """Add a page's paragraphs; a sentence running on from the last page joins it."""
    first = True
    for text, is_row in paragraphs(lines):
        previous = builder.last
        last_was_row = "\t" in previous
        if first and not is_row and previous and not last_was_row and not ends_sentence(previous):
            builder.add(text, page=number, separator=joiner(previous, text))
        elif is_row:
            builder.add(text, page=number, separator="\n" if last_was_row else "\n\n")
        else:
            builder.add(text, page=number)
        first = False
