"""Eval sets: load and validate JSONL questions, score retrieval (document level)."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import ConfigError
from rag.retrieve import Retriever, rank_documents

REQUIRED = {"id": str, "question": str, "answers": list, "gold_sources": list, "answerable": bool}


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    answers: list[str]
    gold_sources: list[str]
    answerable: bool
    tags: list[str] = field(default_factory=list)


def load_eval_file(path: Path, known_sources: Iterable[str] | None = None) -> list[EvalQuestion]:
    """Parse and check an eval file; errors name the line and what is wrong with it."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read eval file {path}: {exc}.") from None
    known = set(known_sources) if known_sources is not None else None
    questions: list[EvalQuestion] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: not valid JSON ({exc.msg}).") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: expected a JSON object.")
        for key, kind in REQUIRED.items():
            if not isinstance(raw.get(key), kind):
                raise ConfigError(f"{where}: '{key}' must be a {kind.__name__}.")
        if raw["id"] in seen:
            raise ConfigError(f"{where}: duplicate id '{raw['id']}'.")
        seen.add(raw["id"])
        if known is not None:
            unknown = [s for s in raw["gold_sources"] if s not in known]
            if unknown:
                raise ConfigError(
                    f"{where}: gold source {', '.join(unknown)} is not a document in the index."
                )
        questions.append(
            EvalQuestion(
                id=raw["id"],
                question=raw["question"],
                answers=[str(a) for a in raw["answers"]],
                gold_sources=[str(s) for s in raw["gold_sources"]],
                answerable=raw["answerable"],
                tags=[str(t) for t in raw.get("tags", [])],
            )
        )
    if not questions:
        raise ConfigError(f"Eval file {path} holds no questions.")
    return questions


def retrieval_metrics(records: list[dict[str, Any]], k: int) -> dict[str, float]:
    """hit@1, hit@k and MRR over records with gold sources (document level)."""
    scored = [r for r in records if r["gold_sources"]]
    if not scored:
        return {"n": 0, "hit@1": 0.0, f"hit@{k}": 0.0, "mrr": 0.0}
    hit1 = hitk = mrr = 0.0
    for record in scored:
        ranks = [
            i + 1 for i, src in enumerate(record["retrieved"][:k]) if src in record["gold_sources"]
        ]
        if ranks:
            hit1 += ranks[0] == 1
            hitk += 1
            mrr += 1 / ranks[0]
    n = len(scored)
    return {"n": n, "hit@1": hit1 / n, f"hit@{k}": hitk / n, "mrr": mrr / n}


def run_retrieval(
    retriever: Retriever,
    questions: list[EvalQuestion],
    k: int,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Search every question; returns {"metrics", "by_tag", "questions"} with one record each."""
    records: list[dict[str, Any]] = []
    latencies: list[float] = []
    for i, q in enumerate(questions):
        started = time.perf_counter()
        # Ask for extra chunks so that k distinct documents are usually present.
        hits = retriever.search(q.question, k * 4)
        latencies.append(time.perf_counter() - started)
        records.append(
            {
                "id": q.id,
                "question": q.question,
                "gold_sources": q.gold_sources,
                "answerable": q.answerable,
                "tags": q.tags,
                "retrieved": rank_documents(hits)[:k],
                "retrieve_s": round(latencies[-1], 4),
            }
        )
        if progress:
            progress(i + 1, len(questions))
    metrics: dict[str, Any] = retrieval_metrics(records, k)
    metrics["retrieve_p50_ms"] = round(statistics.median(latencies) * 1000, 2)
    metrics["retrieve_p95_ms"] = round(_percentile(latencies, 95) * 1000, 2)
    by_tag = {
        tag: retrieval_metrics([r for r in records if tag in r["tags"]], k)
        for tag in sorted({t for r in records for t in r["tags"]})
    }
    return {"metrics": metrics, "by_tag": by_tag, "questions": records}


def normalize_answer(text: str) -> str:
    """For answer matching: one script, folded width and case, no spaces or punctuation."""
    from rag.textnorm import normalize_for_match

    return "".join(ch for ch in normalize_for_match(text) if ch.isalnum())


def is_correct(answer: str, acceptable: list[str]) -> bool:
    """True when a normalised acceptable answer occurs in the normalised answer."""
    norm = normalize_answer(answer)
    return any(a and normalize_answer(a) in norm for a in acceptable)


def answer_metrics(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy, refusals and document-level citation quality over answer records."""
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    answered = [r for r in answerable if not r["refused"]]
    cited = [c for r in answered for c in r["cited_sources"]]
    good = [c for r in answered for c in r["cited_sources"] if c in r["gold_sources"]]
    ttft = [r["ttft_s"] for r in records if r.get("ttft_s") is not None]
    total = [r["total_s"] for r in records]

    def share(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    return {
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "accuracy": share(sum(r["correct"] for r in answerable), len(answerable)),
        "false_refusals": share(len(answerable) - len(answered), len(answerable)),
        "refused_unanswerable": share(sum(r["refused"] for r in unanswerable), len(unanswerable)),
        "citation_precision": share(len(good), len(cited)),
        "answered_citing_gold": share(
            sum(any(c in r["gold_sources"] for c in r["cited_sources"]) for r in answered),
            len(answered),
        ),
        "ttft_p50_s": round(statistics.median(ttft), 3) if ttft else None,
        "ttft_p95_s": round(_percentile(ttft, 95), 3) if ttft else None,
        "total_p50_s": round(statistics.median(total), 3) if total else None,
    }


def run_answers(
    answerer: Any,
    questions: list[EvalQuestion],
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Ask every question through the same path as `rag ask`; one record per question."""
    records: list[dict[str, Any]] = []
    for i, q in enumerate(questions):
        started = time.perf_counter()
        answer = answerer.ask(q.question)
        total = time.perf_counter() - started
        records.append(
            {
                "id": q.id,
                "question": q.question,
                "answerable": q.answerable,
                "gold_sources": q.gold_sources,
                "answers": q.answers,
                "tags": q.tags,
                "retrieved": rank_documents(answer.retrieved),
                "answer": answer.answer,
                "raw_answer": answer.raw_answer,
                "refused": answer.refused,
                "citations": [vars(c) for c in answer.citations],
                "cited_sources": sorted({c.source for c in answer.citations}),
                "correct": (not answer.refused) and is_correct(answer.answer, q.answers),
                "ttft_s": answer.timings.get("ttft_s"),
                "total_s": round(total, 3),
            }
        )
        if progress:
            progress(i + 1, len(questions))
    by_tag = {
        tag: answer_metrics([r for r in records if tag in r["tags"]])
        for tag in sorted({t for r in records for t in r["tags"]})
    }
    return {"metrics": answer_metrics(records), "by_tag": by_tag, "questions": records}


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def export_squad(
    dataset: Path, out_dir: Path, limit: int | None = None
) -> tuple[Path, Path, int, int]:
    """Turn a SQuAD/DRCD-style JSON file into a corpus folder and an eval JSONL file.

    One document per paragraph, named by paragraph id, with the article title on the first
    line. Returns (corpus_dir, eval_file, paragraphs, questions).
    """
    try:
        data = json.loads(dataset.read_text(encoding="utf-8"))
        articles = data["data"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ConfigError(f"{dataset} is not a SQuAD/DRCD-style JSON file ({exc}).") from None
    corpus = out_dir / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    eval_file = out_dir / "questions.jsonl"
    paragraphs = questions = 0
    with eval_file.open("w", encoding="utf-8") as fh:
        for article in articles:
            for para in article["paragraphs"]:
                if limit is not None and paragraphs >= limit:
                    break
                doc_id = f"{para['id']}.txt"
                text = f"{article['title']}\n{para['context']}\n"
                (corpus / doc_id).write_text(text, encoding="utf-8")
                paragraphs += 1
                for qa in para["qas"]:
                    answers = list(dict.fromkeys(a["text"] for a in qa["answers"]))
                    record = {
                        "id": qa["id"],
                        "question": qa["question"],
                        "answers": answers,
                        "gold_sources": [doc_id],
                        "answerable": True,
                        "tags": ["drcd"],
                    }
                    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
                    questions += 1
    return corpus, eval_file, paragraphs, questions
