from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag.cli.app import app

runner = CliRunner()

QUESTIONS = [
    {
        "id": "food",
        "question": "滷肉飯大約多少錢？",
        "answers": ["五十元"],
        "gold_sources": ["food.txt"],
        "answerable": True,
        "tags": ["traditional"],
    },
    {
        "id": "boss",
        "question": "台智雲的總經理是誰",
        "answers": ["吳漢章"],
        "gold_sources": ["taiwan.txt"],
        "answerable": True,
        "tags": ["traditional"],
    },
    {
        "id": "absent",
        "question": "日本的首相是誰？",
        "answers": [],
        "gold_sources": [],
        "answerable": False,
        "tags": ["unanswerable"],
    },
]


@pytest.fixture
def indexed(monkeypatch: pytest.MonkeyPatch, tiny_corpus: Path, tmp_path: Path) -> Path:
    monkeypatch.setenv("RAG_EMBEDDER", "hash")
    monkeypatch.setenv("RAG_DENSE_WEIGHT", "0.3")
    result = runner.invoke(app, ["index", "--corpus", str(tiny_corpus), "--index", "idx"])
    assert result.exit_code == 0, result.output
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in QUESTIONS) + "\n")
    return path


def _eval(*args: str) -> dict:
    result = runner.invoke(app, ["eval", "--index", "idx", "--no-llm", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_eval_answers_every_question_and_saves_the_run(indexed: Path, tmp_path: Path) -> None:
    run = _eval("--eval-file", str(indexed))
    assert run["metrics"]["n"] == 2 and run["metrics"]["hit@1"] == 1.0
    answers = run["answers"]
    assert answers["mode"] == "extractive"
    records = {r["id"]: r for r in answers["questions"]}
    assert set(records) == {"food", "boss", "absent"}
    assert records["food"]["correct"] and records["food"]["cited_sources"] == ["food.txt"]
    assert {"exact_match", "f1", "sentences", "retrieved", "citations"} <= set(records["boss"])
    m = answers["metrics"]
    assert m["accuracy"] == 1.0 and m["citation_precision"] == 1.0
    assert m["refused_unanswerable"] == 0.0  # extractive answers never refuse
    assert "traditional" in answers["by_tag"] and "ttft_p50_s" in m
    saved = list((tmp_path / "eval" / "runs").glob("*.json"))
    assert len(saved) == 1 and json.loads(saved[0].read_text())["config"]["top_k"] == 5
    assert json.loads(saved[0].read_text())["config"]["alone_gap"] == 1.0


def test_eval_retrieval_only_and_sample(indexed: Path) -> None:
    run = _eval("--eval-file", str(indexed), "--retrieval-only", "--out", "a.json")
    assert "answers" not in run and Path("a.json").exists()
    run = _eval("--eval-file", str(indexed), "--sample", "2", "--out", "b.json")
    assert len(run["answers"]["questions"]) == 2 and len(run["questions"]) == 3


def test_eval_answer_first_is_recorded_and_puts_the_answer_first(indexed: Path) -> None:
    run = _eval("--eval-file", str(indexed), "--answer-first", "--out", "f.json")
    assert run["config"]["answer_first"] is True
    records = {r["id"]: r for r in run["answers"]["questions"]}
    for qid in ("food", "boss"):
        assert records[qid]["retrieved"][0] == records[qid]["gold_sources"][0]
    assert _eval("--eval-file", str(indexed), "--out", "g.json")["config"]["answer_first"] is False


def test_compare_shows_what_changed(indexed: Path) -> None:
    _eval("--eval-file", str(indexed), "--out", "a.json")
    _eval("--eval-file", str(indexed), "--out", "b.json", "--dense-weight", "1")
    before = json.loads(Path("a.json").read_text())
    broken = dict(before)
    broken["answers"] = dict(before["answers"])
    broken["answers"]["questions"] = [
        {**r, "correct": False} if r["id"] == "food" else r for r in before["answers"]["questions"]
    ]
    Path("c.json").write_text(json.dumps(broken, ensure_ascii=False))
    result = runner.invoke(app, ["eval", "--compare", "a.json", "c.json"])
    assert result.exit_code == 0, result.output
    assert "food" in result.output and "correct: True -> False" in result.output
    result = runner.invoke(app, ["eval", "--compare", "a.json", "a.json", "--json"])
    assert json.loads(result.stdout)["changed"] == []


def test_compare_names_a_file_that_is_not_a_run(indexed: Path) -> None:
    Path("x.json").write_text("{}")
    result = runner.invoke(app, ["eval", "--compare", "x.json", "x.json"])
    assert result.exit_code != 0
    assert "x.json is not a saved `rag eval --json` run" in result.output


def test_independent_script_recomputes_the_reported_metrics(indexed: Path) -> None:
    import subprocess
    import sys

    script = Path(__file__).resolve().parent.parent / "scripts" / "recompute_metrics.py"
    _eval("--eval-file", str(indexed), "--out", "a.json")
    done = subprocess.run([sys.executable, script, "a.json"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all metrics match" in done.stdout and "citation_recall" in done.stdout
    run = json.loads(Path("a.json").read_text())
    run["answers"]["metrics"]["accuracy"] = 0.25  # a wrong report must be caught
    Path("b.json").write_text(json.dumps(run, ensure_ascii=False))
    done = subprocess.run([sys.executable, script, "b.json"], capture_output=True, text=True)
    assert done.returncode == 1 and "accuracy" in done.stdout and "MISMATCH" in done.stdout


def test_eval_split_asks_one_half_only(indexed: Path, tmp_path: Path) -> None:
    halves = [{**q, "split": s} for q, s in zip(QUESTIONS, ("dev", "test", "dev"), strict=True)]
    path = tmp_path / "halves.jsonl"
    path.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in halves) + "\n")
    run = _eval("--eval-file", str(path), "--split", "dev", "--out", "d.json")
    assert [r["id"] for r in run["answers"]["questions"]] == ["food", "absent"]
    assert run["config"]["split"] == "dev"
    wrong = runner.invoke(app, ["eval", "--index", "idx", "--eval-file", str(path), "--split", "x"])
    assert wrong.exit_code != 0 and "--split must be dev or test" in wrong.output
