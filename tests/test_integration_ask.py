"""`rag ask` end to end with the real embedding model and the default GGUF."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag.cli.app import app
from rag.textnorm import has_han, to_traditional

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def indexed(shared_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    index = tmp_path_factory.mktemp("ask") / "index"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAG_HOME", str(shared_home))
        result = CliRunner().invoke(
            app, ["index", "--corpus", str(REPO / "corpus"), "--index", str(index)]
        )
    assert result.exit_code == 0, result.output
    return index


def _ask(question: str, index: Path, home: Path, mp: pytest.MonkeyPatch) -> dict:
    mp.setenv("RAG_HOME", str(home))
    result = CliRunner().invoke(app, ["ask", question, "--index", str(index), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_answer_states_the_fact_and_cites_its_document(
    indexed: Path, shared_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = _ask("台智雲的總經理是誰？", indexed, shared_home, monkeypatch)
    assert not answer["refused"], answer
    assert "吳漢章" in answer["answer"]
    assert answer["citations"], answer
    holders = {"000_a143eb185df1b7b2.txt", "002_a3962cbbc0e7db72.txt"}
    assert {c["source"] for c in answer["citations"]} <= holders
    for c in answer["citations"]:
        original = (REPO / "corpus" / c["source"]).read_text(encoding="utf-8")
        assert original[c["start"] : c["end"]] == c["text"]
    assert answer["timings"]["ttft_s"] is not None
    # Traditional question, Traditional answer: every character that OpenCC would change to
    # Traditional must be one the documents themselves use (台 in 台灣, say).
    passages = "".join(r["text"] for r in answer["retrieved"])
    leaks = [ch for ch in answer["answer"] if to_traditional(ch) != ch and ch not in passages]
    assert leaks == [], leaks


def test_question_the_documents_cannot_answer_is_refused(
    indexed: Path, shared_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = _ask("国网中心现任主任叫什么名字？", indexed, shared_home, monkeypatch)
    assert answer["refused"], answer
    assert answer["answer"] == "资料中没有相关信息"
    assert answer["citations"] == [] and answer["retrieved"]


def test_chinese_question_over_english_documents_is_answered_in_chinese(
    shared_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three sections of Pro Git (eval/dev/english-git, CC BY-NC-SA): an English folder.
    folder = tmp_path / "docs"
    folder.mkdir()
    corpus = REPO / "eval" / "dev" / "english-git" / "corpus"
    for name in ("07-git-tools_credentials.md", "04-git-server_protocols.md"):
        (folder / name).write_bytes((corpus / name).read_bytes())
    index = tmp_path / "index"
    monkeypatch.setenv("RAG_HOME", str(shared_home))
    built = CliRunner().invoke(app, ["index", "--corpus", str(folder), "--index", str(index)])
    assert built.exit_code == 0, built.output
    answer = _ask(
        "開啟 credential cache 之後，密碼會在記憶體裡保留多久？", index, shared_home, monkeypatch
    )
    assert not answer["refused"], answer
    # Asked in English, drafted in English from the English passages, shown in Chinese.
    assert not has_han(answer["translated_question"]) and not has_han(answer["raw_answer"])
    assert has_han(answer["answer"]) and "15" in answer["answer"]
    assert {c["source"] for c in answer["citations"]} == {"07-git-tools_credentials.md"}
