from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag.cli.app import app

runner = CliRunner()


@pytest.fixture
def hash_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_EMBEDDER", "hash")
    # The hashing embedder is weak; lean on BM25 as a user of it would.
    monkeypatch.setenv("RAG_DENSE_WEIGHT", "0.3")


def test_index_then_search_json(hash_env: None, tiny_corpus: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["index", "--corpus", str(tiny_corpus), "--index", "idx"])
    assert result.exit_code == 0, result.output
    assert "Indexed 3 documents" in result.output
    result = runner.invoke(app, ["search", "滷肉飯多少錢", "--index", "idx", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["query"] == "滷肉飯多少錢"
    first = payload["results"][0]
    assert first["source"] == "food.txt" and first["rank"] == 1
    assert {"start", "end", "text", "score"} <= set(first)


def test_index_json_lists_skipped_files(hash_env: None, tiny_corpus: Path) -> None:
    (tiny_corpus / "blank.txt").write_bytes(b"")
    result = runner.invoke(app, ["index", "--corpus", str(tiny_corpus), "--index", "i", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["skipped"] == [{"path": "blank.txt", "reason": "empty file"}]
    assert payload["documents"] == 3


def test_search_without_index_tells_what_to_do(hash_env: None) -> None:
    result = runner.invoke(app, ["search", "主權AI", "--index", "nowhere"])
    assert result.exit_code == 1
    assert "rag index" in result.output
    assert "Traceback" not in result.output


def test_empty_question_and_missing_corpus(hash_env: None, tmp_path: Path) -> None:
    result = runner.invoke(app, ["search", "   "])
    assert result.exit_code != 0 and "empty" in result.output
    result = runner.invoke(app, ["index", "--corpus", str(tmp_path / "none")])
    assert result.exit_code == 1 and "does not exist" in result.output


def test_bad_setting_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_TOP_K", "lots")
    result = runner.invoke(app, ["search", "主權AI"])
    assert result.exit_code == 2 and "RAG_TOP_K" in result.output


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys; from typer.testing import CliRunner; from rag.cli.app import app; "
        "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0, r.output; "
        "heavy = [m for m in ('torch', 'llama_cpp', 'sentence_transformers', 'faiss') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_ask_without_model_json(hash_env: None, tiny_corpus: Path) -> None:
    assert (
        runner.invoke(app, ["index", "--corpus", str(tiny_corpus), "--index", "i"]).exit_code == 0
    )
    result = runner.invoke(app, ["ask", "滷肉飯多少錢？", "--index", "i", "--no-llm", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["refused"] is False and payload["mode"] == "extractive"
    assert payload["citations"][0]["source"] == "food.txt"
    assert {"question", "answer", "sentences", "retrieved", "timings"} <= set(payload)


def test_ask_with_a_broken_model_file_names_it(hash_env: None, tiny_corpus: Path) -> None:
    runner.invoke(app, ["index", "--corpus", str(tiny_corpus), "--index", "i"])
    Path("fake.gguf").write_text("not a model", encoding="utf-8")
    result = runner.invoke(app, ["ask", "滷肉飯多少錢？", "--index", "i", "--model", "fake.gguf"])
    assert result.exit_code == 1
    assert "fake.gguf" in result.output and "not a GGUF" in result.output
    assert "Traceback" not in result.output


def test_a_question_in_the_other_language_than_the_documents_is_announced() -> None:
    from rag.answer.understand import understand

    class Generator:
        def stream(self, messages: object, max_tokens: int, stop: object = None) -> list[str]:
            return ["Translated?"]

    said: list[str] = []
    understand("Who runs Taiwan AI Cloud?", Generator(), True, on_status=said.append)  # type: ignore[arg-type]
    understand("台智雲的總經理是誰？", Generator(), True, on_status=said.append)  # type: ignore[arg-type]
    understand("Who runs Taiwan AI Cloud?", Generator(), False, on_status=said.append)  # type: ignore[arg-type]
    understand("SuedLink 要花多少錢？", Generator(), False, on_status=said.append)  # type: ignore[arg-type]
    understand("SuedLink 要花多少錢？", None, False, on_status=said.append)  # no model: extractive
    assert len(said) == 2
    assert "answering in Chinese" in said[0] and "answering in English" in said[1]


def test_checked_answer_is_shown_again_only_when_it_differs() -> None:
    from rag.cli.ask import same_answer

    assert same_answer("Diella is the minister[1].", "Diella is the minister.[1] ")
    assert not same_answer("Diella is the minister[2].", "Diella is the minister.[1] ")
    assert not same_answer("Diella[1].", "Diella is the minister[1].")


def test_the_direct_answer_is_printed_after_the_answer() -> None:
    from rag.answer.types import Answer
    from rag.cli import ask as cli

    answer = Answer(
        "晶創26在TOP500排第幾名？", "晶創26排名第29名[1]。", False, "traditional", "llm"
    )
    answer.direct = "29名"
    with cli.out.capture() as captured:
        cli.print_answer(answer, "晶創26排名第29名[1]。")
    assert captured.get().strip() == "簡答：29名"
    answer.direct = None
    with cli.out.capture() as captured:
        cli.print_answer(answer, "晶創26排名第29名[1]。")
    assert "簡答" not in captured.get()
