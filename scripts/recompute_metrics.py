"""Recompute the metrics of a saved `rag eval --json` run from its per-question records alone,
without importing `rag`, and check them against the metrics the run reports.

Usage: python scripts/recompute_metrics.py eval/runs/RUN.json [RUN2.json ...]
Exit code 1 when any reported metric differs from the recomputed one by more than 0.0005.
Written separately from rag/metrics.py on purpose: two implementations of the definitions
in eval/RESULTS.md, so that a bug in one shows up as a mismatch.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from pathlib import Path

import opencc

T2S = opencc.OpenCC("t2s")
MARKER = re.compile(r"[\[【［]\s*\d+(?:\s*[,，、\-–~]\s*\d+)*\s*[\]】］]")
TOLERANCE = 0.0005


NUMERAL = re.compile("[零〇一二两三四五六七八九十百千]+")
DIGIT = dict(zip("零〇一二两三四五六七八九", (0, 0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9), strict=True))
UNIT = {"十": 10, "百": 100, "千": 1000}


def numeral(run: str) -> str:
    """A run of Chinese numerals in digits: positional (一二 -> 12) or with units."""
    if not set(run) & set(UNIT):
        return "".join(str(DIGIT[c]) for c in run)
    value, pending = 0, None
    for c in run:
        if c in UNIT:
            value += (1 if pending is None else pending) * UNIT[c]
            pending = None
        else:
            pending = DIGIT[c]
    return str(value + (pending or 0))


def norm(text: str) -> str:
    text = T2S.convert(unicodedata.normalize("NFKC", MARKER.sub("", text)).lower())
    text = NUMERAL.sub(lambda m: numeral(m.group(0)), text)
    return "".join(c for c in text if c.isalnum())


def contains(answer: str, acceptable: list[str]) -> bool:
    return any(norm(a) and norm(a) in norm(answer) for a in acceptable)


def lcs_f1(answer: str, acceptable: list[str]) -> float:
    pred, best = norm(answer), 0.0
    for ref in map(norm, acceptable):
        # Longest common substring by checking every substring of the reference, longest first.
        common = next(
            (
                n
                for n in range(len(ref), 0, -1)
                if any(ref[i : i + n] in pred for i in range(len(ref) - n + 1))
            ),
            0,
        )
        if common:
            p, r = common / len(pred), common / len(ref)
            best = max(best, 2 * p * r / (p + r))
    return best


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def retrieval(records: list[dict], k: int) -> dict[str, float | None]:
    rows = [r for r in records if r["gold_sources"]]
    firsts = []
    for r in rows:
        seen: list[str] = []
        for doc in r["retrieved"]:
            if doc not in seen:
                seen.append(doc)
        gold = [i for i, doc in enumerate(seen[:k]) if doc in r["gold_sources"]]
        firsts.append(gold[0] + 1 if gold else None)
    return {
        "hit@1": mean([float(f == 1) for f in firsts]),
        f"hit@{k}": mean([float(f is not None) for f in firsts]),
        "mrr": mean([1 / f if f else 0.0 for f in firsts]),
    }


def exact(text: str, answers: list[str]) -> float:
    """1.0 when the normalised text is non-empty and equals a normalised accepted answer."""
    return float(bool(norm(text)) and any(norm(text) == norm(a) for a in answers))


def direct(record: dict) -> str:
    """The direct answer where the run has one, else the answer."""
    return record.get("direct_answer") or record["answer"]


def answers(records: list[dict]) -> dict[str, float | None]:
    yes = [r for r in records if r["answerable"]]
    no = [r for r in records if not r["answerable"]]
    answered = [r for r in yes if not r["refused"]]
    cited = [(c, r) for r in answered for c in r["cited_sources"]]
    kept = [s for r in records if not r["refused"] for s in r.get("sentences", [])]
    return {
        "accuracy": mean(
            [float(not r["refused"] and contains(r["answer"], r["answers"])) for r in yes]
        ),
        "exact_match": mean(
            [0.0 if r["refused"] else exact(r["answer"], r["answers"]) for r in yes]
        ),
        "f1": mean([0.0 if r["refused"] else lcs_f1(r["answer"], r["answers"]) for r in yes]),
        "direct_answers": mean([float(bool(r.get("direct_answer"))) for r in answered]),
        "direct_exact_match": mean(
            [0.0 if r["refused"] else exact(direct(r), r["answers"]) for r in yes]
        ),
        "direct_f1": mean([0.0 if r["refused"] else lcs_f1(direct(r), r["answers"]) for r in yes]),
        "false_refusals": mean([float(r["refused"]) for r in yes]),
        "refused_unanswerable": mean([float(r["refused"]) for r in no]),
        "citation_precision": mean([float(c in r["gold_sources"]) for c, r in cited]),
        "citation_recall": mean(
            [
                len(set(r["cited_sources"]) & set(r["gold_sources"])) / len(set(r["gold_sources"]))
                for r in answered
                if r["gold_sources"]
            ]
        ),
        "answered_citing_gold": mean(
            [float(bool(set(r["cited_sources"]) & set(r["gold_sources"]))) for r in answered]
        ),
        "supported_sentences": mean([float(s["supported"]) for s in kept]),
    }


def check(path: Path) -> list[str]:
    run = json.loads(path.read_text(encoding="utf-8"))
    k = run["config"]["top_k"]
    problems = []
    pairs = [("retrieval", retrieval(run["questions"], k), run["metrics"])]
    if "answers" in run:
        pairs.append(("answers", answers(run["answers"]["questions"]), run["answers"]["metrics"]))
    for section, mine, reported in pairs:
        for key, value in mine.items():
            if key not in reported:
                continue  # a metric newer than the run
            theirs = reported.get(key)
            same = (value is None and theirs is None) or (
                value is not None and theirs is not None and abs(value - theirs) <= TOLERANCE
            )
            status = "ok" if same else "MISMATCH"
            shown = "-" if value is None else f"{value:.4f}"
            print(
                f"{path.name} {section:9} {key:22} reported {theirs!s:8} "
                f"recomputed {shown:8} {status}"
            )
            if not same:
                problems.append(f"{path}: {section} {key}")
    return problems


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    problems = [p for arg in sys.argv[1:] for p in check(Path(arg))]
    print("all metrics match" if not problems else f"{len(problems)} mismatches")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
