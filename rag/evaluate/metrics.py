"""Eval metrics, computed only from the per-question records that `rag eval --json` prints,
so that anyone can recompute them from those records.

Retrieval is scored at document level. Answers are scored against acceptable strings after
normalisation (one script, folded width and case, no spaces, punctuation or citation markers):
accuracy (an acceptable answer contained in the answer), and character-level exact match and F1
in the CMRC/DRCD style (F1 from the longest common substring), of the whole answer and of its
direct answer where it has one. Citations are scored at document
level in the ALCE sense: precision over the cited documents, recall over the gold documents.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any


def normalize_answer(text: str) -> str:
    """For answer matching: markers dropped, one script, folded width and case, Chinese
    numerals written in digits (一萬顆 and 1萬顆 are the same answer), only letters and
    digits."""
    from rag.check.numbers import chinese_numerals_as_digits
    from rag.check.sentences import strip_markers
    from rag.textnorm import normalize_for_match

    norm = chinese_numerals_as_digits(normalize_for_match(strip_markers(text)))
    return "".join(ch for ch in norm if ch.isalnum())


def is_correct(answer: str, acceptable: Sequence[str]) -> bool:
    """True when a normalised acceptable answer occurs in the normalised answer."""
    norm = normalize_answer(answer)
    return any(a and normalize_answer(a) and normalize_answer(a) in norm for a in acceptable)


def exact_match(answer: str, acceptable: Sequence[str]) -> float:
    """1.0 when the normalised answer equals a normalised acceptable answer."""
    norm = normalize_answer(answer)
    return float(bool(norm) and any(norm == normalize_answer(a) for a in acceptable))


def _longest_common_substring(a: str, b: str) -> int:
    best = 0
    previous = [0] * (len(b) + 1)
    for ch in a:
        current = [0] * (len(b) + 1)
        for j, other in enumerate(b, start=1):
            if ch == other:
                current[j] = previous[j - 1] + 1
                best = max(best, current[j])
        previous = current
    return best


def char_f1(answer: str, acceptable: Sequence[str]) -> float:
    """Best character-level F1 against the acceptable answers (CMRC 2018 style: the longest
    common substring over the lengths of answer and reference)."""
    prediction = normalize_answer(answer)
    best = 0.0
    for reference in (normalize_answer(a) for a in acceptable):
        common = _longest_common_substring(prediction, reference) if reference else 0
        if common:
            precision, recall = common / len(prediction), common / len(reference)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile on the sorted values (the median for pct=50 of odd counts)."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def _share(part: float, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _latency(values: list[float], name: str, scale: float = 1.0) -> dict[str, float | None]:
    unit = "ms" if scale == 1000 else "s"
    p50 = round(statistics.median(values) * scale, 3) if values else None
    p95 = round(percentile(values, 95) * scale, 3) if values else None
    return {f"{name}_p50_{unit}": p50, f"{name}_p95_{unit}": p95}


def retrieval_metrics(records: list[dict[str, Any]], k: int) -> dict[str, Any]:
    """hit@1, hit@k and MRR over records with gold sources (document level); records need
    "gold_sources" and "retrieved" (document ids in rank order, duplicates allowed)."""
    scored = [r for r in records if r["gold_sources"]]
    latencies = [r["retrieve_s"] for r in records if r.get("retrieve_s") is not None]
    result: dict[str, Any] = {"n": len(scored), "hit@1": 0.0, f"hit@{k}": 0.0, "mrr": 0.0}
    for record in scored:
        distinct = list(dict.fromkeys(record["retrieved"]))[:k]
        ranks = [i + 1 for i, src in enumerate(distinct) if src in record["gold_sources"]]
        if ranks:
            result["hit@1"] += ranks[0] == 1
            result[f"hit@{k}"] += 1
            result["mrr"] += 1 / ranks[0]
    for key in ("hit@1", f"hit@{k}", "mrr"):
        result[key] = round(result[key] / len(scored), 4) if scored else 0.0
    result.update(_latency(latencies, "retrieve", 1000))
    return result


def _shown(record: dict[str, Any], direct: bool) -> str:
    return str((direct and record.get("direct_answer")) or record["answer"])


def answer_metrics(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy, EM/F1, refusals, citation quality and latency over answer records."""
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    answered = [r for r in answerable if not r["refused"]]
    cited = [c for r in answered for c in r["cited_sources"]]
    good = [c for r in answered for c in r["cited_sources"] if c in r["gold_sources"]]
    sentences = [s for r in records if not r["refused"] for s in r.get("sentences", [])]

    def scored(fn: Any, direct: bool = False) -> float | None:
        values = [0.0 if r["refused"] else fn(_shown(r, direct), r["answers"]) for r in answerable]
        return _share(sum(values), len(values))

    recall = [
        len(set(r["cited_sources"]) & set(r["gold_sources"])) / len(set(r["gold_sources"]))
        for r in answered
        if r["gold_sources"]
    ]
    result: dict[str, Any] = {
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "accuracy": _share(sum(bool(r["correct"]) for r in answerable), len(answerable)),
        "exact_match": scored(exact_match),
        "f1": scored(char_f1),
        # The direct answer (rag.answer.direct) where the answer has one, else the answer.
        "direct_answers": _share(
            sum(bool(r.get("direct_answer")) for r in answered), len(answered)
        ),
        "direct_exact_match": scored(exact_match, direct=True),
        "direct_f1": scored(char_f1, direct=True),
        "false_refusals": _share(len(answerable) - len(answered), len(answerable)),
        "refused_unanswerable": _share(sum(r["refused"] for r in unanswerable), len(unanswerable)),
        "citation_precision": _share(len(good), len(cited)),
        "citation_recall": _share(sum(recall), len(recall)),
        "answered_citing_gold": _share(
            sum(any(c in r["gold_sources"] for c in r["cited_sources"]) for r in answered),
            len(answered),
        ),
        "supported_sentences": _share(sum(bool(s["supported"]) for s in sentences), len(sentences)),
    }
    result.update(_latency([r["retrieve_s"] for r in records if r.get("retrieve_s")], "retrieve"))
    result.update(_latency([r["ttft_s"] for r in records if r.get("ttft_s") is not None], "ttft"))
    result.update(_latency([r["total_s"] for r in records], "total"))
    return result


def by_tag(records: list[dict[str, Any]], metric: Any, *args: Any) -> dict[str, Any]:
    """The same metric over the records that carry each tag."""
    tags = sorted({t for r in records for t in r.get("tags", [])})
    return {tag: metric([r for r in records if tag in r.get("tags", [])], *args) for tag in tags}
