"""Eval sets: load and validate JSONL questions, score retrieval (document level)."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rag.errors import EvalFileError
from rag.evaluate.metrics import (
    answer_metrics,
    by_tag,
    char_f1,
    exact_match,
    is_correct,
    retrieval_metrics,
)
from rag.ingest.chunking import span_text
from rag.retrieve.retriever import Hit, Retriever, Search, overlaps, rank_documents
from rag.textnorm import spaceless

__all__ = [
    "AnswerFirst",
    "EvalQuestion",
    "is_correct",
    "load_eval_file",
    "run_answers",
    "run_retrieval",
]

REQUIRED = {"id": str, "question": str, "answers": list, "gold_sources": list, "answerable": bool}


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    answers: list[str]
    gold_sources: list[str]
    answerable: bool
    tags: list[str] = field(default_factory=list)
    # Renderings in another language that also count as correct (an English answer to an
    # English question over Chinese documents says 70%, not 7成); unlike `answers`, not
    # expected verbatim in the documents.
    translations: list[str] = field(default_factory=list)
    # "dev" (rules are tuned on it) or "test" (only measured); "" when the file has no split.
    split: str = ""

    @property
    def accepted(self) -> list[str]:
        return self.answers + self.translations


def load_eval_file(path: Path, known_sources: Iterable[str] | None = None) -> list[EvalQuestion]:
    """Parse and check an eval file; errors name the line and what is wrong with it."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalFileError(f"Cannot read eval file {path}: {exc}.") from None
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
            raise EvalFileError(f"{where}: not valid JSON ({exc.msg}).") from None
        if not isinstance(raw, dict):
            raise EvalFileError(f"{where}: expected a JSON object.")
        for key, kind in REQUIRED.items():
            if not isinstance(raw.get(key), kind):
                raise EvalFileError(f"{where}: '{key}' must be a {kind.__name__}.")
        translations = raw.get("translations", [])
        if not isinstance(translations, list) or not all(isinstance(t, str) for t in translations):
            raise EvalFileError(f"{where}: 'translations' must be a list of strings.")
        split = raw.get("split", "")
        if split not in ("", "dev", "test"):
            raise EvalFileError(f'{where}: \'split\' must be "dev" or "test", got {split!r}.')
        if raw["id"] in seen:
            raise EvalFileError(f"{where}: duplicate id '{raw['id']}'.")
        seen.add(raw["id"])
        if known is not None:
            unknown = [s for s in raw["gold_sources"] if s not in known]
            if unknown:
                raise EvalFileError(
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
                translations=translations,
                split=split,
            )
        )
    if not questions:
        raise EvalFileError(f"Eval file {path} holds no questions.")
    return questions


def run_retrieval(
    retriever: Retriever,
    questions: list[EvalQuestion],
    k: int,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Search every question; returns {"metrics", "by_tag", "questions"} with one record each."""
    records: list[dict[str, Any]] = []
    for i, q in enumerate(questions):
        started = time.perf_counter()
        # Ask for extra chunks so that k distinct documents are usually present.
        hits = retriever.search(q.question, k * 4).hits
        seconds = time.perf_counter() - started
        records.append(
            {
                "id": q.id,
                "question": q.question,
                "gold_sources": q.gold_sources,
                "answerable": q.answerable,
                "tags": q.tags,
                "retrieved": rank_documents(hits)[:k],
                "retrieve_s": round(seconds, 4),
            }
        )
        if progress:
            progress(i + 1, len(questions))
    return {
        "metrics": retrieval_metrics(records, k),
        "by_tag": by_tag(records, retrieval_metrics, k),
        "questions": records,
    }


class AnswerFirst:
    """A retriever for diagnosis (`rag eval --answer-first`): for an answerable eval
    question, the best-ranked passage of a gold document that holds one of its answers (among
    the first `pool` retrieved) goes first and the others follow in their order, so the
    answers measure the model's reading alone, as if retrieval were perfect. Other questions
    and queries, and a question whose answer no such passage holds, are searched as usual.
    Everything else is the wrapped retriever's."""

    def __init__(self, retriever: Retriever, questions: list[EvalQuestion], pool: int = 200):
        self._retriever = retriever
        self.pool = pool
        # Longest first: the query is the question, or the question and its translation.
        self._questions = sorted(
            ((q.question, q) for q in questions if q.answerable), key=lambda p: -len(p[0])
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._retriever, name)

    def search(self, query: str, top_k: int) -> Search:
        found = self._retriever.search(query, top_k)
        hits = found.hits
        asked = next((q for text, q in self._questions if query.startswith(text)), None)
        if asked is None or not hits:
            return found
        wanted = [a for a in map(spaceless, asked.answers) if a]

        def holds(hit: Hit) -> bool:
            text = spaceless(span_text(hit.chunk))
            return hit.source in asked.gold_sources and any(a in text for a in wanted)

        if holds(hits[0]):
            return found
        pool = self._retriever.search(query, self.pool).hits
        best = next((h for h in pool if holds(h)), None)
        if best is None:
            return found
        rest = [h for h in hits if not overlaps(h.chunk, best.chunk)][: top_k - 1]
        moved = [replace(h, rank=i) for i, h in enumerate([best, *rest], start=1)]
        return replace(found, hits=moved)


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
                "answers": q.accepted,
                "tags": q.tags,
                "retrieved": rank_documents(answer.retrieved),
                "answer": answer.answer,
                "direct_answer": answer.direct,
                "raw_answer": answer.raw_answer,
                "retried": answer.retried,
                "read_alone": answer.read_alone,
                "other_reply": answer.other_reply,
                "translated_question": answer.translated_question,
                "also_searched": answer.also_searched,
                "refused": answer.refused,
                "refused_by": answer.refused_by or None,
                "citations": [vars(c) for c in answer.citations],
                "cited_sources": sorted({c.source for c in answer.citations}),
                "sentences": [
                    {
                        "text": s.text,
                        "citations": s.citations,
                        "supported": s.supported,
                        "dropped_by": s.dropped_by or None,
                        "cut_by": s.cut_by or None,
                    }
                    for s in answer.sentences
                ],
                "correct": (not answer.refused) and is_correct(answer.answer, q.accepted),
                "exact_match": 0.0 if answer.refused else exact_match(answer.answer, q.accepted),
                "f1": 0.0 if answer.refused else round(char_f1(answer.answer, q.accepted), 4),
                "retrieve_s": answer.timings.get("retrieve_s"),
                "ttft_s": answer.timings.get("ttft_s"),
                "total_s": round(total, 3),
            }
        )
        if progress:
            progress(i + 1, len(questions))
    return {
        "metrics": answer_metrics(records),
        "by_tag": by_tag(records, answer_metrics),
        "questions": records,
    }


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
        raise EvalFileError(f"{dataset} is not a SQuAD/DRCD-style JSON file ({exc}).") from None
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


def select_split(questions: list[EvalQuestion], split: str | None) -> list[EvalQuestion]:
    """The questions of one half ("dev" or "test"); all of them for None."""
    if split is None:
        return questions
    if split not in ("dev", "test"):
        raise EvalFileError(f"--split must be dev or test, got {split!r}.")
    chosen = [q for q in questions if q.split == split]
    if not chosen:
        raise EvalFileError(f"No question of the eval file is in the {split!r} half.")
    return chosen


def sample_questions(questions: list[EvalQuestion], n: int, seed: int = 0) -> list[EvalQuestion]:
    """A fixed random sample of n questions (same seed, same sample), in file order."""
    if n >= len(questions):
        return questions
    chosen = set(random.Random(seed).sample(range(len(questions)), n))
    return [q for i, q in enumerate(questions) if i in chosen]


def load_run(path: Path) -> dict[str, Any]:
    """A saved `rag eval --json` run."""
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvalFileError(f"Cannot read eval run {path}: {exc}.") from None
    if not isinstance(run, dict) or "questions" not in run or "metrics" not in run:
        raise EvalFileError(f"{path} is not a saved `rag eval --json` run.")
    return run


def _question_view(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per question id: what a reader compares between runs."""
    answers = {r["id"]: r for r in run.get("answers", {}).get("questions", [])}
    view: dict[str, dict[str, Any]] = {}
    for r in run["questions"]:
        a = answers.get(r["id"], {})
        view[r["id"]] = {
            "question": r["question"],
            "top document": (r["retrieved"] or [None])[0],
            "gold retrieved": bool(set(r["retrieved"]) & set(r["gold_sources"])),
            "correct": a.get("correct"),
            "refused": a.get("refused"),
            "answer": a.get("answer"),
        }
    return view


def compare_runs(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """What changed from run a to run b: every shared metric, and question by question the
    retrieval and answer outcomes that differ."""
    metrics = []
    for ma, mb in (
        (a["metrics"], b["metrics"]),
        (a.get("answers", {}).get("metrics", {}), b.get("answers", {}).get("metrics", {})),
    ):
        for key, x in ma.items():
            y = mb.get(key)
            if isinstance(x, int | float) and isinstance(y, int | float):
                metrics.append({"metric": key, "a": x, "b": y, "delta": round(y - x, 4)})
    va, vb = _question_view(a), _question_view(b)
    changed = []
    for qid in [q for q in va if q in vb]:
        fields = ("top document", "gold retrieved", "correct", "refused")
        diff = {f: [va[qid][f], vb[qid][f]] for f in fields if va[qid][f] != vb[qid][f]}
        if diff:
            answers = [va[qid]["answer"], vb[qid]["answer"]]
            changed.append({"id": qid, "question": va[qid]["question"], **diff, "answer": answers})
    return {
        "metrics": metrics,
        "changed": changed,
        "only_in_a": [q for q in va if q not in vb],
        "only_in_b": [q for q in vb if q not in va],
    }
