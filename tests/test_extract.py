"""Extraction from files made by real writers (LibreOffice, python-pptx; see
scripts/make_format_fixtures.py): text recovered, locations right, boilerplate gone."""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

import pytest

from rag.ingest.extract import ExtractError, extract, locate
from rag.ingest.extract.pdflayout import join_wrapped, joiner
from rag.ingest.extract.sniff import sniff

FIXTURES = Path(__file__).parent / "fixtures" / "formats"
CORPUS = Path(__file__).resolve().parent.parent / "corpus"
MANIFEST = json.loads((FIXTURES / "fixtures.json").read_text(encoding="utf-8"))


def _normalise(text: str) -> str:
    """Whitespace, markdown table pipes/separator rows and heading marks removed."""
    text = re.sub(r"^\|?[\s|:-]+\|?$", "", text, flags=re.M)
    text = re.sub(r"^#+\s", "", text, flags=re.M)
    return re.sub(r"[\s|]+", "", text)


def _recall_precision(source: str, extracted: str) -> tuple[float, float]:
    a, b = _normalise(source), _normalise(extracted)
    blocks = difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()
    matched = sum(block.size for block in blocks)
    return matched / len(a), matched / max(1, len(b))


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_fixture_text_recovered_in_order(name: str) -> None:
    entry = MANIFEST[name]
    extracted = extract((FIXTURES / name).read_bytes(), name)
    source = (CORPUS / entry["source"]).read_text(encoding="utf-8")
    recall, precision = _recall_precision(source, extracted.text)
    assert recall >= 0.98, f"{name}: only {recall:.3f} of the source characters recovered"
    # No doubled characters or boilerplate (a web page's title may appear twice).
    assert precision >= 0.98, f"{name}: {1 - precision:.3f} of the output is not in the source"


@pytest.mark.parametrize("name", sorted(n for n in MANIFEST if MANIFEST[n]["probes"]))
def test_fixture_sentences_have_the_right_location(name: str) -> None:
    extracted = extract((FIXTURES / name).read_bytes(), name)
    squeezed = re.sub(r"\s+", "", extracted.text)
    # Map offsets in the whitespace-free text back to the extracted text.
    positions = [i for i, ch in enumerate(extracted.text) if not ch.isspace()]
    for probe, expected in MANIFEST[name]["probes"].items():
        at = squeezed.find(re.sub(r"\s+", "", probe))
        assert at >= 0, f"{name}: {probe!r} not found"
        location = locate(extracted.locations, positions[at])
        found = location.describe() if location else {}
        if "section" in expected:
            assert (found.get("section") or "").endswith(expected["section"]), (probe, found)
        else:
            assert found == expected, (probe, found)


def test_pdf_reads_like_the_page() -> None:
    pdf = extract((FIXTURES / "003_6bea5cbf75ef0922.pdf").read_bytes(), "report.pdf")
    text = pdf.text
    # Running header and "第 N 頁" footers are gone; the six pages are counted.
    assert "第十二期" not in text and not re.search(r"第\s*\d+\s*頁", text)
    assert pdf.units == 6 and pdf.kind == "pdf"
    # Chinese lines wrapped inside a sentence join without a space.
    assert "進而維護國家安全和經濟利益不會受到外部依賴所影響。" in text
    # English words wrapped over a line join with one space.
    assert "發展主權 AI（Sovereign AI）。" in text
    # A ruled table stays row by row, cells separated by tabs (as the chunker expects).
    rows = text.splitlines()
    assert "美國\t1\t1\t1\t28\t1\t1\t8\t1" in rows
    assert any(r.startswith("勞動力發展\t勞動力發展是人工智慧技術進步的基礎。") for r in rows)


def test_join_rules() -> None:
    assert joiner("中", "文") == ""
    assert joiner("AI", "是") == ""
    assert joiner("Sovereign", "AI") == " "
    assert join_wrapped(["主權人工智", "慧的發展"]) == "主權人工智慧的發展"
    assert join_wrapped(["the sovereign", "cloud"]) == "the sovereign cloud"
    assert join_wrapped(["infra-", "structure matters"]) == "infrastructure matters"
    assert join_wrapped(["GPT-", "4 models"]) == "GPT- 4 models"  # not a hyphenated word


def test_web_page_boilerplate_is_left_out() -> None:
    page = extract((FIXTURES / "004_0bea1a8d285e02fc.html").read_bytes(), "page.html")
    for boilerplate in (
        "會員登入",
        "Cookie",
        "我同意",
        "熱門文章",
        "版權所有",
        "gtag",
        "隱私權政策",
    ):
        assert boilerplate not in page.text
    assert page.title == "AI 走向國界後，需要重新思考什麼？"
    assert page.author == "科技新報編輯部"


def test_office_metadata_and_headings() -> None:
    docx = extract((FIXTURES / "001_1e43fc4feda8cb6f.docx").read_bytes(), "a.docx")
    assert docx.author == "sovereign-rag corpus" and docx.kind == "docx"
    sections = {loc.section for loc in docx.locations}
    assert "AI伺服器供應鏈 擁巨大營收增長空間" in sections
    odt = extract((FIXTURES / "003_6bea5cbf75ef0922.odt").read_bytes(), "a.odt")
    # Headers and footers live outside the body of an ODT.
    assert "第十二期" not in odt.text
    assert "美國\t1\t1\t1\t28\t1\t1\t8\t1" in odt.text.splitlines()
    deck = extract((FIXTURES / "002_a3962cbbc0e7db72.pptx").read_bytes(), "deck.pptx")
    assert deck.units == max(loc.slide or 0 for loc in deck.locations)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("000_a143eb185df1b7b2.pdf", "pdf"),
        ("001_1e43fc4feda8cb6f.docx", "docx"),
        ("002_a3962cbbc0e7db72.pptx", "pptx"),
        ("002_a3962cbbc0e7db72.odp", "odp"),
        ("003_6bea5cbf75ef0922.odt", "odt"),
        ("004_0bea1a8d285e02fc.html", "html"),
    ],
)
def test_type_comes_from_the_bytes(name: str, kind: str) -> None:
    data = (FIXTURES / name).read_bytes()
    assert sniff(data, ".bin") == kind
    # A file with the wrong name is read as what it is.
    assert extract(data, "misnamed.txt" if kind != "html" else "page.txt").kind == kind


def test_text_named_as_a_binary_format_is_refused() -> None:
    with pytest.raises(ExtractError, match=r"named \.pdf but the content is plain text"):
        extract("這是純文字，不是 PDF。".encode(), "report.pdf")
    with pytest.raises(ExtractError, match="PNG image"):
        extract(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "scan.docx")


def test_markdown_lines_in_fenced_code_are_no_headings() -> None:
    text = (
        "# Git Basics\nRun it:\n```console\n$ git commit\n# Please enter the commit message\n"
        "```\n## Undoing Things\n~~~~\n# not a heading\n```\n# nor this\n~~~~python\n# nor\n"
        "~~~~\n# Rewriting History\nDone.\n"
    )
    found = extract(text.encode("utf-8"), "guide.md")
    sections = [loc.section for loc in found.locations]
    assert sections == ["Git Basics", "Git Basics > Undoing Things", "Rewriting History"]
