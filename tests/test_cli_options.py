"""Global options: -q/--quiet and -v/--verbose."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag.cli.app import app

runner = CliRunner()
CORPUS = Path(__file__).resolve().parent.parent / "corpus"
LONG = "滷肉飯多少錢？" + "請詳細說明。" * 100


@pytest.fixture
def indexed(tiny_corpus: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RAG_EMBEDDER", "hash")
    monkeypatch.setenv("RAG_CORPUS", str(tiny_corpus))
    (tiny_corpus / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert runner.invoke(app, ["index"]).exit_code == 0
    return tiny_corpus


def test_quiet_drops_notices_but_not_results_warnings_or_errors(indexed: Path) -> None:
    loud = runner.invoke(app, ["search", LONG])
    assert loud.exit_code == 0 and "only the first 500 are used" in loud.output
    quiet = runner.invoke(app, ["-q", "search", LONG])
    assert quiet.exit_code == 0, quiet.output
    assert "Note" not in quiet.output and "food.txt" in quiet.stdout
    reindex = runner.invoke(app, ["--quiet", "index"])
    assert reindex.exit_code == 0
    assert "Skipped photo.txt: the content is a PNG image" in reindex.output  # a warning stays
    assert "Indexed 3 documents" in reindex.stdout
    failed = runner.invoke(app, ["-q", "search", "主權AI", "--index", "nowhere"])
    assert failed.exit_code == 1 and "Run `rag index` first" in failed.output


def test_verbose_shows_stages_and_timings(indexed: Path) -> None:
    result = runner.invoke(app, ["-v", "index", "--rebuild"])
    assert result.exit_code == 0, result.output
    assert "rag.index.build: read 3 documents (1 skipped)" in result.output
    assert "embedded" in result.output and "chunks/s" in result.output
    assert "switched CURRENT" in result.output
    result = runner.invoke(app, ["--verbose", "search", "滷肉飯"])
    assert result.exit_code == 0
    assert "retrieval: lexical" in result.output and " ms" in result.output
    quiet_again = runner.invoke(app, ["search", "滷肉飯"])
    assert "rag.index.build" not in quiet_again.output  # verbose does not stick between runs


def test_quiet_and_verbose_together_is_a_usage_error() -> None:
    result = runner.invoke(app, ["-q", "-v", "search", "x"])
    assert result.exit_code == 2 and "not both" in result.output


def test_flag_beats_environment_beats_file_beats_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_EMBEDDER", "hash")
    assert runner.invoke(app, ["index", "--corpus", str(CORPUS)]).exit_code == 0

    def results(*flags: str) -> int:
        result = runner.invoke(app, ["search", "台智雲的總經理", "--json", *flags])
        assert result.exit_code == 0, result.output
        return len(json.loads(result.stdout)["results"])

    assert results() == 5  # the default
    Path("rag.toml").write_text("top_k = 2\n", encoding="utf-8")
    assert results() == 2
    monkeypatch.setenv("RAG_TOP_K", "3")
    assert results() == 3
    assert results("--top-k", "4") == 4
