"""The real embedding model on the bundled corpus: the acceptance bar for retrieval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag.cli.app import app
from rag.embed.embedder import E5Embedder
from rag.evaluate.runner import load_eval_file, run_retrieval
from rag.index.build import build_index
from rag.index.load import load_index
from rag.retrieve.retriever import Retriever
from rag.settings import Settings

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def e5_index(shared_home: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    index = tmp_path_factory.mktemp("e5") / "index"
    settings = Settings(home=shared_home)
    embedder = E5Embedder(settings.models_dir)
    build_index(REPO / "corpus", index, embedder, settings.chunk_chars, settings.chunk_overlap)
    return shared_home, index


def test_eval_questions_find_their_document(e5_index: tuple[Path, Path]) -> None:
    home, index = e5_index
    settings = Settings(home=home)
    embedder = E5Embedder(settings.models_dir)
    loaded = load_index(index, embedder.model_id)
    questions = load_eval_file(REPO / "eval" / "questions.jsonl", loaded.manifest["documents"])
    run = run_retrieval(Retriever(loaded, embedder, settings.dense_weight), questions, 5)
    metrics = run["metrics"]
    assert metrics["n"] >= 80
    assert metrics["hit@5"] >= 0.95, metrics
    assert metrics["hit@1"] >= 0.85, metrics
    for language in ("simplified", "english", "traditional"):
        assert run["by_tag"][language]["hit@5"] >= 0.9, (language, run["by_tag"][language])


def test_search_cli_with_the_real_model(
    e5_index: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    home, index = e5_index
    monkeypatch.setenv("RAG_HOME", str(home))
    result = CliRunner().invoke(
        app,
        [
            "search",
            "Which Taiwanese supercomputer ranks highest on TOP500?",
            "--index",
            str(index),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    results = json.loads(result.stdout)["results"]
    assert results[0]["source"] == "002_a3962cbbc0e7db72.txt"
    assert all(r["dense_score"] is not None for r in results)
