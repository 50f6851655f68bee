"""Where the answers to a saved `rag eval` run are lost: retrieval, reading, or the checks.

For each answerable question: is a gold document among the passages the model read, does an
accepted answer occur in those passages, in the one or two passage sentences that share most
with the question (what the `--no-llm` answer quotes), in the model's reply, and in the
answer shown after the checks. For the unanswerable ones: did the model refuse on its first
reading, and was the answer refused in the end. Retrieval is run again on the run's index (it
is deterministic) and the saved replies are judged again with all rules on, as
scripts/replay_rules.py does.

    python scripts/where_lost.py RUN.json --index IDX [RUN2.json --index IDX2 ...]
        [--label NAME ...] [--split all|dev|test ...] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from replay_rules import load_cases, score

from rag.answer.extractive import best_sentences
from rag.check.catalog import ALL_ON
from rag.evaluate.metrics import is_correct

COLUMNS = {
    "answerable": "answerable",
    "gold_read": "gold document read",
    "in_passages": "answer in the passages read",
    "in_top1": "in the best sentence",
    "in_top2": "in the best 2 sentences",
    "in_reply": "in the model's reply",
    "shown": "answer shown (accuracy)",
    "reply_right_refused": "reply right, refused by the checks",
    "wrong_shown": "wrong answers shown",
    "unanswerable": "unanswerable",
    "unans_first_refused": "unanswerable refused on the first reading",
    "unans_refused": "unanswerable refused in the end",
}


def losses(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """The counts of COLUMNS over one run's cases (from replay_rules.load_cases)."""
    counts = dict.fromkeys(COLUMNS, 0)
    verdicts = score(cases, ALL_ON)["verdicts"]
    for case, verdict in zip(cases, verdicts, strict=True):
        record, hits = case["record"], case["hits"]
        if not record["answerable"]:
            counts["unanswerable"] += 1
            counts["unans_first_refused"] += bool(record.get("retried"))
            counts["unans_refused"] += verdict["refused"]
            continue
        gold = record["answers"]
        counts["answerable"] += 1
        counts["gold_read"] += any(h.source in record["gold_sources"] for h in hits)
        counts["in_passages"] += is_correct("\n".join(case["prompt"].passages), gold)
        for n in (1, 2):
            chosen = best_sentences(record["question"], hits, n)
            quoted = "\n".join(hits[i].chunk.text[a:b] for i, a, b in chosen)
            counts[f"in_top{n}"] += is_correct(quoted, gold)
        in_reply = is_correct(record["raw_answer"] or "", gold)
        counts["in_reply"] += in_reply
        right = not verdict["refused"] and is_correct(verdict["answer"], gold)
        counts["shown"] += right
        counts["reply_right_refused"] += in_reply and verdict["refused"]
        counts["wrong_shown"] += not verdict["refused"] and not right
    counts["wrong_shown"] += counts["unanswerable"] - counts["unans_refused"]
    return counts


def _cell(key: str, counts: dict[str, Any]) -> str:
    value = counts[key]
    if key in {"answerable", "unanswerable", "wrong_shown", "reply_right_refused"}:
        return str(value)
    if key.startswith("unans"):
        return f"{value}/{counts['unanswerable']}"
    return f"{value / counts['answerable']:.3f}" if counts["answerable"] else "-"


def markdown(report: dict[str, dict[str, Any]]) -> str:
    """One row per run, one column per step."""
    lines = [
        "| set | " + " | ".join(COLUMNS.values()) + " |",
        "|---" * (len(COLUMNS) + 1) + "|",
    ]
    for label, counts in report.items():
        lines.append(f"| {label} | " + " | ".join(_cell(k, counts) for k in COLUMNS) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--index", action="append", type=Path, required=True)
    parser.add_argument("--label", action="append", default=[], help="a row name per run")
    parser.add_argument(
        "--split", action="append", default=[], help="per run: all, dev or test (of --eval-file)"
    )
    parser.add_argument("--eval-file", type=Path, default=Path("eval/questions.jsonl"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if len(args.index) != len(args.runs):
        parser.error("give one --index per run")
    splits = args.split or ["all"] * len(args.runs)
    if len(splits) != len(args.runs):
        parser.error("give one --split per run, or none")
    labels = args.label or [p.stem for p in args.runs]
    if len(labels) != len(args.runs):
        parser.error("give one --label per run, or none")
    every = load_cases(args.runs, args.index, splits, args.eval_file)
    report = {label: losses(cases) for label, cases in zip(labels, every, strict=True)}
    print(json.dumps(report, indent=1) if args.json else markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
