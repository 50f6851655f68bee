"""OCR of a scanned page with the Tesseract binary; skipped where it is not installed
(apt-get install tesseract-ocr tesseract-ocr-chi-tra)."""

from __future__ import annotations

import difflib
import io
import re
from pathlib import Path

import pytest

from rag.ingest.extract import extract
from rag.ingest.extract.ocr import clean_ocr_text, ocr_ready

FIXTURES = Path(__file__).parent / "fixtures" / "formats"
PDF = FIXTURES / "000_a143eb185df1b7b2.pdf"


def test_ocr_text_reads_like_chinese() -> None:
    raw = "各 國 政府 與 科\n技巨頭 , 正在 投資 ?\n\n新的 段落 。\n"
    assert clean_ocr_text(raw) == "各國政府與科技巨頭，正在投資？\n\n新的段落。"


@pytest.mark.ocr
@pytest.mark.skipif(ocr_ready("chi_tra+eng") is not None, reason="Tesseract with chi_tra absent")
def test_scanned_page_is_ocred() -> None:
    import pypdfium2 as pdfium

    # Page 1 as a 300 dpi picture in a PDF, as a scanner would make it.
    image = pdfium.PdfDocument(PDF)[0].render(scale=300 / 72, grayscale=True).to_pil()
    scan = io.BytesIO()
    image.save(scan, "PDF", resolution=300)
    ocred = extract(scan.getvalue(), "scan.pdf")
    assert not ocred.warnings and {loc.page for loc in ocred.locations} == {1}
    # Against the text layer of the same page (docs/FORMATS.md: 0.985 measured).
    text_layer = extract(PDF.read_bytes(), "a.pdf")
    first = text_layer.locations[0]
    truth = text_layer.text[first.start : first.end]
    a, b = re.sub(r"\s+", "", truth), re.sub(r"\s+", "", ocred.text)
    blocks = difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()
    recall = sum(block.size for block in blocks) / len(a)
    assert recall >= 0.95, (recall, ocred.text)
    assert "華碩雲端暨台智雲總經理吳漢章指出" in ocred.text
