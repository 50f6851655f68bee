"""Bad files never stop an index: each is skipped (or partly indexed) with its reason.

Every bad file is made here from a good fixture by a real tool (pypdf encrypts, Pillow
writes an image-only PDF) or by cutting it short."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from bad_files import FIXTURES, PDF, encrypted_pdf, scanned_pdf, text_then_scan_pdf
from typer.testing import CliRunner

import rag.ingest.extract.ocr
import rag.ingest.extract.pdf
from rag.cli.app import app
from rag.ingest.documents import load_corpus
from rag.ingest.extract import ExtractError, ExtractOptions, extract

runner = CliRunner()


@pytest.fixture
def no_tesseract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rag.ingest.extract.ocr, "_installed_languages", lambda: None)


def test_encrypted_pdf_is_refused_with_a_way_out() -> None:
    with pytest.raises(ExtractError, match="encrypted PDF that needs a password"):
        extract(encrypted_pdf("reader-secret"), "locked.pdf")
    # Restrictions without a password to open (owner password only) do not stop reading.
    assert "吳漢章" in extract(encrypted_pdf(""), "restricted.pdf").text


@pytest.mark.parametrize("name", ["001_1e43fc4feda8cb6f.docx", "002_a3962cbbc0e7db72.pptx"])
def test_truncated_office_file(name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    kind = name.rsplit(".", 1)[1].upper()
    with pytest.raises(ExtractError, match=f"damaged or truncated {kind}"):
        extract(data[: len(data) // 2], name)


def test_image_only_pdf_without_tesseract(no_tesseract: None) -> None:
    with pytest.raises(ExtractError, match="no text layer") as caught:
        extract(scanned_pdf(), "scan.pdf")
    assert "apt-get install tesseract-ocr tesseract-ocr-chi-tra" in str(caught.value)
    partly = extract(text_then_scan_pdf(), "mixed.pdf")
    assert partly.ocr_pending and {loc.page for loc in partly.locations} == {1, 2}
    assert partly.warnings == [
        "page 3 has no text layer (a scan?); Tesseract is not installed "
        "(apt-get install tesseract-ocr tesseract-ocr-chi-tra)"
    ]


def _bad_folder(root: Path) -> Path:
    corpus = root / "mixed"
    corpus.mkdir(parents=True)
    shutil.copy(PDF, corpus / "report.pdf")
    shutil.copy(FIXTURES / "002_a3962cbbc0e7db72.pptx", corpus / "deck.pptx")
    docx = (FIXTURES / "001_1e43fc4feda8cb6f.docx").read_bytes()
    (corpus / "truncated.docx").write_bytes(docx[: len(docx) // 3])
    (corpus / "locked.pdf").write_bytes(encrypted_pdf("reader-secret"))
    (corpus / "notes.pdf").write_text("其實是一個純文字檔。\n", encoding="utf-8")
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "scan.pdf").write_bytes(scanned_pdf())
    (corpus / "mixed.pdf").write_bytes(text_then_scan_pdf())
    return corpus


def test_load_corpus_skips_each_bad_file_with_its_reason(
    no_tesseract: None, tmp_path: Path
) -> None:
    result = load_corpus(_bad_folder(tmp_path), ExtractOptions(max_file_bytes=10**6))
    assert sorted(d.id for d in result.documents) == ["deck.pptx", "mixed.pdf", "report.pdf"]
    reasons = dict(result.skipped)
    assert set(reasons) == {"truncated.docx", "locked.pdf", "notes.pdf", "empty.txt", "scan.pdf"}
    assert "damaged or truncated DOCX" in reasons["truncated.docx"]
    assert "encrypted" in reasons["locked.pdf"]
    assert "plain text" in reasons["notes.pdf"]
    assert reasons["empty.txt"] == "empty file"
    assert "no text layer" in reasons["scan.pdf"]
    assert [p for p, _ in result.partial] == ["mixed.pdf"]
    # The size cap is a setting.
    capped = load_corpus(_bad_folder(tmp_path / "capped"), ExtractOptions(max_file_bytes=60_000))
    assert "MB limit (setting max_file_mb)" in dict(capped.skipped)["report.pdf"]


def test_rag_index_names_bad_files_and_strict_fails(
    no_tesseract: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_EMBEDDER", "hash")
    corpus = _bad_folder(tmp_path)
    (corpus / "big.txt").write_text("大" * 400_000, encoding="utf-8")  # 1.2 MB
    monkeypatch.setenv("RAG_MAX_FILE_MB", "1")
    result = runner.invoke(app, ["index", "--corpus", str(corpus), "--index", "idx", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["documents"] == 3
    skipped = {s["path"]: s["reason"] for s in payload["skipped"]}
    assert set(skipped) == {
        "truncated.docx",
        "locked.pdf",
        "notes.pdf",
        "empty.txt",
        "scan.pdf",
        "big.txt",
    }
    assert "1 MB limit" in skipped["big.txt"]
    assert [p["path"] for p in payload["partial"]] == ["mixed.pdf"]
    # The terminal names each file and its reason on one line, and counts them.
    result = runner.invoke(app, ["index", "--corpus", str(corpus), "--index", "idx"])
    assert result.exit_code == 0 and "Traceback" not in result.output
    for path, reason in skipped.items():
        assert f"Skipped {path}: {reason}" in result.output
    assert "Partly indexed mixed.pdf: page 3 has no text layer" in result.output
    assert "6 files skipped, 1 partly indexed" in result.output
    # --strict: any skip is fatal and the index stays as it was.
    before = (Path("idx") / "CURRENT").read_text(encoding="utf-8")
    result = runner.invoke(app, ["index", "--corpus", str(corpus), "--index", "idx", "--strict"])
    assert result.exit_code == 1
    assert "--strict: 7 file(s)" in result.output and "locked.pdf" in result.output
    assert (Path("idx") / "CURRENT").read_text(encoding="utf-8") == before


def test_scan_is_read_again_once_tesseract_is_there(
    no_tesseract: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag.embed.embedder import HashEmbedder
    from rag.index.build import build_index

    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "mixed.pdf").write_bytes(text_then_scan_pdf())
    first = build_index(corpus, tmp_path / "idx", HashEmbedder(), 120, 1)
    assert [p for p, _ in first.partial] == ["mixed.pdf"]
    assert build_index(corpus, tmp_path / "idx", HashEmbedder(), 120, 1).extracted == 0
    # Tesseract installed since: the same bytes are extracted again, the page OCRed.
    monkeypatch.setattr(rag.ingest.extract.ocr, "_installed_languages", lambda: {"chi_tra", "eng"})
    monkeypatch.setattr(rag.ingest.extract.pdf, "_ocr_page", lambda page, langs: ["掃描頁的文字。"])
    third = build_index(corpus, tmp_path / "idx", HashEmbedder(), 120, 1)
    assert third.extracted == 1 and not third.partial


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (ImportError("lxml.html.clean module is now a separate project"), "cannot load"),
        (KeyError("body"), "failed"),
    ],
)
def test_a_broken_reader_skips_its_file_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception, said: str
) -> None:
    """A reader whose library is missing or that crashes costs its file, not the folder."""
    import rag.ingest.extract.html

    def broken(*_args: object) -> None:
        raise error

    monkeypatch.setattr(rag.ingest.extract.html, "extract_html", broken)
    monkeypatch.setenv("RAG_EMBEDDER", "hash")
    corpus = tmp_path / "docs"
    corpus.mkdir()
    shutil.copy(FIXTURES / "004_0bea1a8d285e02fc.html", corpus / "page.html")
    shutil.copy(FIXTURES / "001_1e43fc4feda8cb6f.docx", corpus / "memo.docx")
    (corpus / "notes.txt").write_text("台智雲的總經理是吳漢章。", encoding="utf-8")
    result = runner.invoke(app, ["index", "--corpus", str(corpus), "--index", "idx"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    line = next(x for x in result.output.splitlines() if x.startswith("Skipped page.html"))
    assert f"the HTML reader {said} ({type(error).__name__}: " in line
    assert "Indexed 2 documents" in result.output
    strict = runner.invoke(app, ["index", "--corpus", str(corpus), "--index", "idx", "--strict"])
    assert strict.exit_code == 1 and "page.html" in strict.output
