"""Documents in other formats through the pipeline: locations in chunks, the index, search
and ask output; extracted text kept in the index; unchanged files not parsed again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import rag.ingest.extract.pdf
from rag.cli.app import app
from rag.embed.embedder import HashEmbedder
from rag.index.build import build_index
from rag.index.load import load_index
from rag.retrieve.retriever import Retriever

FIXTURES = Path(__file__).parent / "fixtures" / "formats"
runner = CliRunner()


@pytest.fixture
def mixed_corpus(tmp_path: Path) -> Path:
    """The acceptance folder's good half: one bundled document in each format."""
    corpus = tmp_path / "mixed"
    corpus.mkdir()
    for name in (
        "000_a143eb185df1b7b2.pdf",
        "001_1e43fc4feda8cb6f.docx",
        "002_a3962cbbc0e7db72.pptx",
        "003_6bea5cbf75ef0922.odt",
        "004_0bea1a8d285e02fc.html",
    ):
        shutil.copy(FIXTURES / name, corpus / name)
    return corpus


@pytest.fixture
def hash_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_EMBEDDER", "hash")
    monkeypatch.setenv("RAG_DENSE_WEIGHT", "0.3")


def test_chunks_carry_locations_and_offsets_hold(mixed_corpus: Path, tmp_path: Path) -> None:
    report = build_index(mixed_corpus, tmp_path / "idx", HashEmbedder(), 120, 1)
    assert report.documents == 5 and not report.skipped
    index = load_index(tmp_path / "idx")
    by_doc: dict[str, list] = {}
    for chunk in index.chunks:
        by_doc.setdefault(chunk.doc_id, []).append(chunk)
        # Offsets point into the extracted text the index keeps.
        assert index.document_text(chunk.doc_id)[chunk.start : chunk.end] == chunk.text
    assert all(c.page for c in by_doc["000_a143eb185df1b7b2.pdf"])
    assert {c.page for c in by_doc["000_a143eb185df1b7b2.pdf"]} == {1, 2, 3}
    assert all(c.slide for c in by_doc["002_a3962cbbc0e7db72.pptx"])
    assert any(c.section for c in by_doc["001_1e43fc4feda8cb6f.docx"])
    manifest_doc = index.manifest["documents"]["002_a3962cbbc0e7db72.pptx"]
    assert manifest_doc["kind"] == "pptx" and manifest_doc["units"] > 10
    # A sentence of the deck is found on the slide the deck shows it on.
    expected = json.loads((FIXTURES / "fixtures.json").read_text(encoding="utf-8"))
    probes = expected["002_a3962cbbc0e7db72.pptx"]["probes"]
    hits = (
        Retriever(index, None, 0.0).search("National Center for High-performance Computing", 3).hits
    )
    top = hits[0].chunk
    assert top.doc_id == "002_a3962cbbc0e7db72.pptx" and "National Center" in top.text
    assert top.slide == probes["National Center for High-perfo"]["slide"]
    assert index.location(top.doc_id, top.start) == {"slide": top.slide}


def test_unchanged_pdf_is_not_parsed_again(
    mixed_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = rag.ingest.extract.pdf.extract_pdf

    def counting(data: bytes, name: str, options: object) -> object:
        calls.append(name)
        return real(data, name, options)  # type: ignore[arg-type]

    monkeypatch.setattr(rag.ingest.extract.pdf, "extract_pdf", counting)
    first = build_index(mixed_corpus, tmp_path / "idx", HashEmbedder(), 120, 1)
    assert calls == ["000_a143eb185df1b7b2.pdf"] and first.extracted == 5
    second = build_index(mixed_corpus, tmp_path / "idx", HashEmbedder(), 120, 1)
    assert calls == ["000_a143eb185df1b7b2.pdf"] and second.extracted == 0
    assert second.embedded == 0 and second.unchanged == 5
    # Renamed but the same bytes: still not parsed; --rebuild parses again.
    (mixed_corpus / "000_a143eb185df1b7b2.pdf").rename(mixed_corpus / "report.pdf")
    build_index(mixed_corpus, tmp_path / "idx", HashEmbedder(), 120, 1)
    assert len(calls) == 1
    build_index(mixed_corpus, tmp_path / "idx", HashEmbedder(), 120, 1, rebuild=True)
    assert calls[-1] == "report.pdf" and len(calls) == 2


def test_search_and_ask_show_page_and_slide(hash_env: None, mixed_corpus: Path) -> None:
    result = runner.invoke(app, ["index", "--corpus", str(mixed_corpus), "--index", "idx"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app, ["search", "台灣Top 500 超級電腦 Nano4", "--index", "idx", "--json", "-k", "8"]
    )
    assert result.exit_code == 0, result.output
    results = json.loads(result.stdout)["results"]
    slides = [r for r in results if r["source"].endswith(".pptx")]
    assert slides and all(isinstance(r["slide"], int) and "page" not in r for r in slides)
    pages = [r for r in results if r["source"].endswith(".pdf")]
    assert all(isinstance(r["page"], int) for r in pages)
    result = runner.invoke(app, ["search", "吳漢章 主權AI 國家安全", "--index", "idx"])
    assert "000_a143eb185df1b7b2.pdf p. " in result.output
    result = runner.invoke(
        app, ["ask", "吳漢章認為主權AI牽動什麼？", "--index", "idx", "--no-llm", "--json"]
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    pdf_citations = [c for c in answer["citations"] if c["source"].endswith(".pdf")]
    assert pdf_citations and all(c["page"] in (1, 2, 3) for c in pdf_citations)
    # The quoted text is the extracted text at those offsets.
    index = load_index(Path("idx"))
    for c in answer["citations"]:
        assert index.document_text(c["source"])[c["start"] : c["end"]] == c["text"]
    result = runner.invoke(app, ["ask", "吳漢章認為主權AI牽動什麼？", "--index", "idx", "--no-llm"])
    assert ".pdf p. " in result.output
