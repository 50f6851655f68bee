"""Measure document extraction: PDF and HTML libraries compared, speed per format, OCR.

Prints Markdown tables (docs/FORMATS.md holds a run). Needs LibreOffice for the large test
files, Tesseract for the OCR row, and the `bench` extra (pdfminer.six, pypdf):
    pip install -e '.[bench]'
    python scripts/measure_formats.py [--repeat 7] [--skip-ocr]
"""

from __future__ import annotations

import argparse
import difflib
import io
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "formats"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from make_format_fixtures import (  # noqa: E402
    add_running_header,
    blocks,
    make_pptx,
    soffice,
    web_page,
    writer_html,
)

from rag.ingest.extract import extract  # noqa: E402


def normalise(text: str) -> str:
    text = re.sub(r"^\|?[\s|:-]+\|?$", "", text, flags=re.M)
    text = re.sub(r"^#+\s", "", text, flags=re.M)
    return re.sub(r"[\s|]+", "", text)


def recall_precision(source: str, got: str) -> tuple[float, float]:
    a, b = normalise(source), normalise(got)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    matched = sum(block.size for block in matcher.get_matching_blocks())
    return matched / len(a), matched / max(1, len(b))


def timed(fn: Callable[[], str], runs: int = 3) -> tuple[str, float]:
    times, out = [], ""
    for _ in range(runs):
        started = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - started)
    return out, statistics.median(times)


def pdfium_plain(data: bytes) -> str:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(data)
    return "\n".join(page.get_textpage().get_text_range() for page in doc)


def pdfminer_text(data: bytes) -> str:
    from pdfminer.high_level import extract_text

    return str(extract_text(io.BytesIO(data)))


def pypdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


PDF_LIBRARIES: dict[str, Callable[[bytes], str]] = {
    "pypdfium2 5.15.2 + rag layout (chosen)": lambda d: extract(d, "a.pdf").text,
    "pypdfium2 5.15.2, plain get_text_range": pdfium_plain,
    "pdfminer.six 20260107": pdfminer_text,
    "pypdf 7.1.0": pypdf_text,
}
TABLE_ROW = "美國\t1\t1\t1\t28\t1\t1\t8\t1"


def compare_pdf() -> None:
    print("| library | file | recall | precision | table row kept | header kept | ms |")
    print("|---|---|---|---|---|---|---|")
    for name in ("000_a143eb185df1b7b2", "003_6bea5cbf75ef0922"):
        data = (FIXTURES / f"{name}.pdf").read_bytes()
        source = (REPO / "corpus" / f"{name}.txt").read_text(encoding="utf-8")
        for library, fn in PDF_LIBRARIES.items():
            text, seconds = timed(lambda fn=fn, data=data: fn(data))
            recall, precision = recall_precision(source, text)
            row = "yes" if TABLE_ROW in text.splitlines() else "no"
            row = row if name.startswith("003") else "-"
            headers = len(re.findall(r"第十二期", text))
            print(
                f"| {library} | {name[:3]}.pdf | {recall:.4f} | {precision:.4f} | {row} "
                f"| {headers}x | {seconds * 1000:.0f} |"
            )


def compare_html() -> None:
    import justext
    import lxml.html

    page = (FIXTURES / "004_0bea1a8d285e02fc.html").read_bytes()
    source = (REPO / "corpus" / "004_0bea1a8d285e02fc.txt").read_text(encoding="utf-8")
    boilerplate = ["會員登入", "Cookie", "我同意", "熱門文章", "版權所有", "gtag", "隱私權政策"]

    def jus() -> str:
        paragraphs = justext.justext(page, frozenset(), encoding="utf-8")
        return "\n".join(p.text for p in paragraphs if not p.is_boilerplate)

    def whole() -> str:
        tree = lxml.html.fromstring(page)
        for bad in tree.xpath("//script|//style"):
            bad.drop_tree()
        return str(tree.text_content())

    candidates = {
        "trafilatura 2.3.1 (chosen)": lambda: extract(page, "a.html").text,
        "jusText 3.0.2 (no stoplist: Chinese has none)": jus,
        "lxml text_content, scripts removed": whole,
    }
    print("| extractor | recall | precision | boilerplate strings leaked (of 7) | ms |")
    print("|---|---|---|---|---|")
    for name, fn in candidates.items():
        text, seconds = timed(fn)
        recall, precision = recall_precision(source, text)
        leaked = sum(b in text for b in boilerplate)
        print(f"| {name} | {recall:.4f} | {precision:.4f} | {leaked} | {seconds * 1000:.0f} |")


def build_large(tmp: Path, repeat: int) -> dict[str, Path]:
    """A long report (the corpus `repeat` times) as PDF, DOCX and ODT; a deck; a web page."""
    parts = []
    for _ in range(repeat):
        for path in sorted((REPO / "corpus").glob("*.txt")):
            parts.extend(blocks(path.read_text(encoding="utf-8")))
    rendition = tmp / "report.html"
    rendition.write_text(writer_html("主權AI研究報告", parts), encoding="utf-8")
    plain = soffice(rendition, "odt", tmp / "plain", "HTML (StarWriter)")
    odt = tmp / "report.odt"
    add_running_header(plain, odt)
    files = {"odt": odt}
    files["pdf"] = soffice(odt, "pdf:writer_pdf_Export", tmp / "out")
    files["docx"] = soffice(odt, "docx:MS Word 2007 XML", tmp / "out")
    deck_parts = blocks((REPO / "corpus" / "002_a3962cbbc0e7db72.txt").read_text("utf-8"))
    files["pptx"] = tmp / "deck.pptx"
    make_pptx("deck", deck_parts * 6, files["pptx"])
    files["html"] = tmp / "page.html"
    files["html"].write_text(web_page("主權AI研究報告", "", parts), encoding="utf-8")
    return files


def speed(repeat: int) -> None:
    with tempfile.TemporaryDirectory() as name:
        files = build_large(Path(name), repeat)
        pages = extract(files["pdf"].read_bytes(), "a.pdf").units
        print(f"Long report: the corpus {repeat}x = {pages} PDF pages.\n")
        print("| format | file size | units | chars | seconds | units/s |")
        print("|---|---|---|---|---|---|")
        for kind, path in files.items():
            data = path.read_bytes()
            started = time.perf_counter()
            got = extract(data, path.name)
            seconds = time.perf_counter() - started
            units = got.units or pages  # flowing text: count the same report's PDF pages
            label = "slides" if kind == "pptx" else "pages"
            print(
                f"| {kind} | {len(data) / 1024:.0f} KiB | {units} {label} | {len(got.text):,} "
                f"| {seconds:.2f} | {units / seconds:.1f} |"
            )


def ocr() -> None:
    import pypdfium2 as pdfium

    from rag.ingest.extract.ocr import ocr_ready

    why_not = ocr_ready("chi_tra+eng")
    if why_not:
        print(f"OCR not measured: {why_not}")
        return
    pdf = FIXTURES / "000_a143eb185df1b7b2.pdf"
    text_layer = extract(pdf.read_bytes(), "a.pdf")
    print("| page | dpi | recall | precision | seconds |")
    print("|---|---|---|---|---|")
    for number, loc in enumerate(text_layer.locations[:2], start=1):
        truth = text_layer.text[loc.start : loc.end]
        image = pdfium.PdfDocument(pdf)[number - 1].render(scale=300 / 72, grayscale=True)
        scan = io.BytesIO()
        image.to_pil().save(scan, "PDF", resolution=300)
        started = time.perf_counter()
        got = extract(scan.getvalue(), "scan.pdf").text
        seconds = time.perf_counter() - started
        a, b = re.sub(r"\s+", "", truth), re.sub(r"\s+", "", got)
        matched = sum(
            block.size
            for block in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()
        )
        print(
            f"| {number} | 300 | {matched / len(a):.4f} | {matched / len(b):.4f} | {seconds:.1f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="corpus copies in the long report")
    parser.add_argument("--skip-ocr", action="store_true")
    args = parser.parse_args()
    if shutil.which("soffice") is None:
        raise SystemExit("LibreOffice is needed: apt-get install libreoffice-writer")
    print("## PDF libraries\n")
    compare_pdf()
    print("\n## HTML main content\n")
    compare_html()
    print("\n## Speed\n")
    speed(args.repeat)
    if not args.skip_ocr:
        print("\n## OCR\n")
        ocr()


if __name__ == "__main__":
    main()
