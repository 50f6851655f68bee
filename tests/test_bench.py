"""`rag bench`'s pieces with fakes: synthetic corpora, timing helpers, ask statistics, targets,
the peer's bookkeeping, and one tiny end-to-end CLI run."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from rag.answer.answerer import Answerer
from rag.bench.peer import peer_missing, peer_runner, summarize
from rag.bench.run import bench_ask, check_targets, first_output_s, parse_sizes, pick
from rag.bench.scale import synthetic_corpus, synthetic_texts, synthetic_vectors
from rag.check.catalog import ALL_ON
from rag.cli.app import app
from rag.embed.embedder import HashEmbedder
from rag.errors import ConfigError
from rag.evaluate.runner import EvalQuestion
from rag.index.build import build_index
from rag.index.load import load_index
from rag.retrieve.retriever import Retriever

REAL = [
    "國網中心的晶創26在TOP500排名第29名，由華碩建造。",
    "台智雲提供雲端算力服務，總經理是吳漢章。",
    "珍珠奶茶起源於台中。滷肉飯是常見的小吃。",
]


def test_synthetic_texts_use_the_corpus_words_and_lengths() -> None:
    texts = synthetic_texts(REAL, 300, seed=1)
    assert len(texts) == 300
    allowed = set("".join(REAL))
    assert all(set(t) <= allowed for t in texts)
    mean = np.mean([len(t) for t in texts])
    assert abs(mean - np.mean([len(t) for t in REAL])) < 6
    assert texts == synthetic_texts(REAL, 300, seed=1)
    assert texts != synthetic_texts(REAL, 300, seed=2)


def test_synthetic_vectors_follow_the_base_distribution() -> None:
    base = HashEmbedder(dimension=32).embed_passages(REAL * 20 + ["吳漢章", "台中", "華碩"])
    vectors = synthetic_vectors(base, 500, seed=0)
    assert vectors.shape == (500, 32) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # As anisotropic as the base: they lean towards its mean direction.
    direction = base.mean(axis=0) / np.linalg.norm(base.mean(axis=0))
    assert float((vectors @ direction).mean()) > 0.3


def test_synthetic_corpus_offsets_point_into_documents() -> None:
    texts = synthetic_texts(REAL, 25)
    documents, chunks = synthetic_corpus(texts)
    assert len(chunks) == 25 and len(documents) == 3
    by_id = {d.id: d for d in documents}
    assert all(by_id[c.doc_id].text[c.start : c.end] == c.text for c in chunks)


def test_parse_sizes_and_pick() -> None:
    assert parse_sizes("1000, 10000") == (1000, 10000)
    assert parse_sizes(None) is None
    with pytest.raises(ConfigError, match="--sizes"):
        parse_sizes("1k")
    questions = [EvalQuestion(f"q{i}", "?", [], [], True) for i in range(100)]
    picked = pick(questions, 10)
    assert [q.id for q in picked][:3] == ["q0", "q10", "q20"] and len(picked) == 10
    assert len(pick(questions, 500)) == 100


def test_first_output_is_timed_apart_from_exit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    # The child prints after 0.3 s, then stays alive until the parent has read the clock again
    # (every reading after the first leaves a file), so the first-output reading provably falls
    # between its output and its exit, however slow the machine is.
    seen = tmp_path / "read"
    code = (
        "import pathlib, sys, time\n"
        "time.sleep(0.3); print('x'); sys.stdout.flush()\n"
        "deadline = time.monotonic() + 10\n"
        "while not pathlib.Path(sys.argv[1]).exists() and time.monotonic() < deadline:\n"
        "    time.sleep(0.01)\n"
        "sys.exit(0 if pathlib.Path(sys.argv[1]).exists() else 'exited before the reading')\n"
    )
    clock = time.perf_counter
    readings: list[float] = []

    def reading() -> float:
        readings.append(clock())
        if len(readings) > 1:
            seen.touch()
        return readings[-1]

    with monkeypatch.context() as patch:
        patch.setattr(time, "perf_counter", reading)
        timing = first_output_s([sys.executable, "-c", code, str(seen)])
    assert timing["exit_code"] == 0, timing
    assert 0.3 <= timing["first_output_s"] <= timing["exit_s"]
    failed = first_output_s([sys.executable, "-c", "raise SystemExit('no model')"])
    assert failed["first_output_s"] is None and failed["error"] == ["no model"]


@dataclass
class _Timings:
    prompt_tokens: int
    tokens_per_s: float
    threads: int = 2

    def as_dict(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "tokens_per_s": self.tokens_per_s,
            "threads": self.threads,
        }


class CountingGenerator:
    """Answers with the passage it was shown first, cited; counts calls; reports timings."""

    def __init__(self) -> None:
        self.calls = 0

    def model_info(self) -> dict[str, Any]:
        return {"name": "counting"}

    def count_tokens(self, text: str) -> int:
        return len(text)

    def stream(
        self,
        messages: list[dict[str, str]],
        max_tokens: int,
        stop: list[str] | None = None,
        reuse_prompt: bool = False,
        on_done: Any = None,
    ) -> Iterator[str]:
        self.calls += 1
        prompt = messages[-1]["content"]
        first = next(line for line in prompt.splitlines() if line.startswith("[1]"))
        yield first[4:]
        yield "[1]"
        if on_done is not None:
            on_done(_Timings(prompt_tokens=len(prompt), tokens_per_s=20.0 + self.calls))


def test_bench_ask_reports_warm_statistics(tiny_corpus: Path, tmp_path: Path) -> None:
    build_index(tiny_corpus, tmp_path / "idx", HashEmbedder(), 60, 0)
    retriever = Retriever(load_index(tmp_path / "idx"), HashEmbedder(), 0.3)
    generator = CountingGenerator()
    questions = [
        EvalQuestion("a", "台智雲的總經理是誰？", ["吳漢章"], ["taiwan.txt"], True),
        EvalQuestion("b", "珍珠奶茶起源於哪裡？", ["台中"], ["food.txt"], True),
        EvalQuestion("c", "火星上有幾座城市？", [], [], False),
    ]
    one_reading = ALL_ON.without("top_passage_alone")  # one model call per question
    result = bench_ask(Answerer(retriever, generator, top_k=2, rules=one_reading), questions)
    assert generator.calls == 4  # one warm-up question, not counted
    assert result["n"] == 3 and len(result["questions"]) == 3
    assert result["ttft_s_p50"] is not None and result["ttft_s_p95"] >= result["ttft_s_p50"]
    assert result["tokens_per_s"] == 23.0  # median of 22, 23, 24
    assert result["prompt_tokens_p50"] > 0
    assert result["accuracy"] == 1.0
    assert result["llm_threads"] == 2


def test_targets_are_checked_against_the_numbers() -> None:
    result = {
        "retrieval": {"100000": {"p95_ms": 61.0}},
        "index": {"chunks_per_s": 9.5},
        "ask": {"ttft_s_p50": 5.9, "cold_start_s": None},
    }
    met = {row["target"]: row["met"] for row in check_targets(result)}
    assert met == {
        "retrieval_p95_ms_100k": False,
        "index_chunks_per_s": True,
        "ttft_s_p50": True,
        "cold_start_s": None,
    }


def test_peer_summary_counts_like_eval() -> None:
    records = [
        {"answerable": True, "gold_sources": ["a"], "retrieved": ["b", "a"], "correct": True,
         "refused": False, "total_s": 10.0},
        {"answerable": True, "gold_sources": ["c"], "retrieved": ["c"], "correct": False,
         "refused": False, "total_s": 30.0},
        {"answerable": False, "gold_sources": [], "retrieved": ["a"], "correct": False,
         "refused": True, "total_s": 20.0},
    ]  # fmt: skip
    summary = summarize(records, 5)
    assert summary["hit@1"] == 0.5 and summary["hit@5"] == 1.0 and summary["mrr"] == 0.75
    assert summary["accuracy"] == 0.5 and summary["refused_unanswerable"] == 1.0
    assert summary["total_s_p50"] == 20.0


def test_peer_not_installed_is_skipped_not_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert peer_missing() == "pip install -e '.[bench]'"
    run = peer_runner(Path("e5"), 4096, 256, 2)
    assert run(Path("corpus"), [], Path("model.gguf")) == {"skipped": "pip install -e '.[bench]'"}


def test_peer_runs_llamaindex_on_the_corpus(tiny_corpus: Path) -> None:
    pytest.importorskip("llama_index.core")
    from llama_index.core.embeddings import MockEmbedding
    from llama_index.core.llms import MockLLM

    from rag.bench.peer import run_peer

    questions = [EvalQuestion("a", "台智雲的總經理是誰？", ["吳漢章"], ["taiwan.txt"], True)]
    result = run_peer(tiny_corpus, questions, MockEmbedding(embed_dim=8), MockLLM(max_tokens=8))
    assert result["nodes"] >= 3
    record = result["questions"][0]
    # Sources are named as `rag` names them: relative to the corpus folder.
    assert set(record["retrieved"]) == {"taiwan.txt", "food.txt", "sub/europe.md"}
    assert result["n"] == 1 and result["total_s_p50"] is not None


def test_cli_bench_tiny(tiny_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_EMBEDDER", "hash")
    monkeypatch.setenv("RAG_HNSW_THRESHOLD", "100")
    questions = tmp_path / "q.jsonl"
    rows = [
        {"id": "a", "question": "台智雲的總經理是誰？", "answers": ["吳漢章"],
         "gold_sources": ["taiwan.txt"], "answerable": True},
        {"id": "b", "question": "珍珠奶茶起源於哪裡？", "answers": ["台中"],
         "gold_sources": ["food.txt"], "answerable": True},
    ]  # fmt: skip
    questions.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
    out = tmp_path / "bench.json"
    args = ["bench", "--quick", "--no-llm", "--sizes", "150", "--corpus", str(tiny_corpus)]
    args += ["--eval-file", str(questions), "--json", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved["index"]["docs"] == 3 and saved["index"]["chunks_per_s"] > 0
    assert saved["retrieval"]["150"]["store"] == "faiss-hnsw-ip"
    assert saved["retrieval"]["150"]["chunks"] == 150
    assert 0 < saved["retrieval"]["150"]["recall_vs_exact"] <= 1
    assert saved["ask"]["mode"] == "extractive" and saved["ask"]["n"] == 2
    assert saved["ask"]["cold_start_s"] > 0
    assert saved["peer"] == {"skipped": "no language model (--no-llm)"}


def test_cli_bench_rejects_bad_sizes() -> None:
    result = CliRunner().invoke(app, ["bench", "--sizes", "lots"])
    assert result.exit_code != 0 and "--sizes" in result.output


def test_results_page_is_written_from_the_json(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    import importlib.util

    script = Path(__file__).resolve().parent.parent / "scripts" / "write_bench.py"
    spec = importlib.util.spec_from_file_location("write_bench", script)
    assert spec is not None and spec.loader is not None
    write_bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(write_bench)
    point = {
        "store": "faiss-flat-ip", "p50_ms": 1.5, "p95_ms": 3.0, "lexical_ms_p50": 0.5,
        "dense_ms_p50": 0.9, "build_s": 2.0, "rss_mb": 900.0, "index_rss_mb": 10.0,
        "recall_vs_exact": 1.0, "hybrid_same_top_k": 1.0,
    }  # fmt: skip
    result = {
        "generated_at": "2026-11-23T00:00:00+00:00",
        "wall_s": 100.0,
        "machine": {"cores": 2, "cpu": "test", "python": "3.11", "loadavg_1m_at_start": 0.5},
        "targets": check_targets({"ask": {"ttft_s_p50": 4.25}}),
        "index": {"docs": 5, "chunks": 294, "wall_s": 20.0, "model_load_s": 6.0,
                  "chunks_per_s": 14.7, "peak_rss_mb": 1100.0, "loadavg_1m": [0.5, 1.0]},
        "retrieval": {"1000": point, "100000": {**point, "p50_ms": 30.0, "store": "faiss-hnsw-ip"}},
        "ask": {"n": 10, "mode": "llm", "ttft_s_p50": 4.25, "ttft_s_p95": 6.0, "total_s_p50": 7.0,
                "tokens_per_s": 20.0, "prompt_tokens_p50": 400, "cold_start_s": 12.5,
                "cold_start_runs": [{"first_output_s": 12.5}], "accuracy": 0.5,
                "llm_threads": 2, "loadavg_1m": [1.0, 2.0]},
        "peer": {"skipped": "pip install -e '.[bench]'"},
    }  # fmt: skip
    run_file = write_bench.RUNS / "quick.json"
    page = write_bench.write(result, run_file, False, None)
    assert "| time to first token p50, warm (s) | 4.25 | < 6.0 | yes |" in page
    assert "| 100,000 | faiss-hnsw-ip | 30 |" in page
    assert "p50 grows 20.0x" in page
    assert "rag bench --quick --json --out bench/runs/quick.json" in page
    assert "Skipped: pip install -e '.[bench]'." in page
    write_bench.plot(result["retrieval"], tmp_path / "plot.png")
    assert (tmp_path / "plot.png").read_bytes().startswith(b"\x89PNG")
