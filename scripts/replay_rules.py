"""Replay saved `rag eval` runs with answer rules switched off: what each rule buys.

The model's replies are in the run (raw_answer; `retried` says the first reply was a
refusal), retrieval is deterministic, and the checks are code: so each rule's effect is
measured without the model. Each question's passages are retrieved again from the same index
(the query with its saved translation), the saved reply is judged with the rule off, and the
answer scored as `rag eval` scores it. Exact for every rule; answers the model drafted in the
documents' language (an English question over Chinese passages, a Chinese one over English
passages) are scored on the checked draft (the run translated it with the model).

    python scripts/replay_rules.py RUN.json --index IDX [RUN2.json --index IDX2 ...]
        [--rules all|money_asked,retry,...] [--json]

Prints one row per rule: accuracy, false refusals and unanswerable refused with the rule
off, and the change from all rules on. Replaying with all rules on first checks that the
replay gives the run's own verdicts (it says how many differ).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rag.answer.answerer import check_reply
from rag.answer.prompting import Prompt, build_prompt
from rag.check.catalog import ALL_ON, RULES, RuleSet
from rag.evaluate.metrics import is_correct
from rag.pipeline import make_embedder, make_retriever
from rag.retrieve.retriever import Hit
from rag.settings import load_settings
from rag.textnorm import detect_script

# Rules that change what the model is asked: their effect needs the model (rag eval with the
# rule in `rules_off`).
UNREPLAYABLE = frozenset({"english_draft", "top_passage_alone"})


def _prepare(run: dict[str, Any], index: Path) -> list[dict[str, Any]]:
    """Each answered question with what judging it needs: its passages and documents."""
    settings = load_settings({"index": index})
    retriever = make_retriever(settings, make_embedder(settings))
    k = run["config"].get("answer_k", settings.answer_k)
    cases = []
    for record in run["answers"]["questions"]:
        if record.get("raw_answer") is None:
            continue
        translated = record.get("translated_question")
        query = f"{record['question']}\n{translated}" if translated else record["question"]
        hits = retriever.search(query, k).hits
        case = {
            "record": record,
            "prompt": prompt_for(record, hits),
            "hits": hits,
            "retriever": retriever,
        }
        if record.get("read_alone"):  # answered from the top passage alone
            case["alone"] = prompt_for(record, hits[:1])
        cases.append(case)
    return cases


def prompt_for(record: dict[str, Any], hits: list[Hit]) -> Prompt:
    """The prompt a saved question was asked over these hits (its translation, if any)."""
    question = record["question"]
    return build_prompt(question, detect_script(question), hits, record.get("translated_question"))


def load_cases(
    paths: list[Path], indexes: list[Path], splits: list[str], eval_file: Path
) -> list[list[dict[str, Any]]]:
    """The cases (`_prepare`) of each saved run on its index, keeping only the questions of
    its split of `eval_file` (`dev` or `test`; `all` keeps every question)."""
    halves: dict[str, str | None] = {}
    if any(s != "all" for s in splits):
        lines = eval_file.read_text(encoding="utf-8").splitlines()
        halves = {q["id"]: q.get("split") for q in map(json.loads, filter(str.strip, lines))}
    runs = []
    for path, index, split in zip(paths, indexes, splits, strict=True):
        cases = _prepare(json.loads(path.read_text(encoding="utf-8")), index)
        if split != "all":
            cases = [c for c in cases if halves.get(c["record"]["id"]) == split]
        runs.append(cases)
    return runs


def _verdict(case: dict[str, Any], rules: RuleSet) -> dict[str, Any]:
    """The saved reply judged with `rules`; one the model wrote from the top passage alone
    (rule top_passage_alone) over that passage."""
    record = case["record"]
    raw = record["raw_answer"] or ""
    if record.get("retried") and not rules.on("retry"):
        return {"refused": True, "refused_by": "model", "answer": "", "cited": []}
    if "alone" in case:
        return _judged(case, raw, case["alone"], case["hits"][:1], rules)
    return _judged(case, raw, case["prompt"], case["hits"], rules)


def _judged(
    case: dict[str, Any], raw: str, prompt: Prompt, hits: list[Hit], rules: RuleSet
) -> dict[str, Any]:
    script = prompt.checked_script  # a Chinese question over English passages: English
    verdict = check_reply(case["retriever"], prompt.question, script, raw, prompt, hits, rules)
    if verdict.refused:
        return {"refused": True, "refused_by": verdict.refused_by, "answer": "", "cited": []}
    kept = verdict.kept
    cited = sorted({hits[n - 1].source for n in kept.cited})
    return {"refused": False, "refused_by": "", "answer": kept.answer, "cited": cited}


def score(cases: list[dict[str, Any]], rules: RuleSet) -> dict[str, Any]:
    """accuracy, false refusals, unanswerable refused, citation precision; and the verdicts."""
    answerable = unanswerable = correct = false_refusals = refused_unanswerable = wrong = 0
    cited = cited_gold = 0
    verdicts = []
    for case in cases:
        record = case["record"]
        v = _verdict(case, rules)
        verdicts.append(v)
        if record["answerable"]:
            answerable += 1
            false_refusals += v["refused"]
            right = (not v["refused"]) and is_correct(v["answer"], record["answers"])
            correct += right
            wrong += not v["refused"] and not right
        else:
            unanswerable += 1
            refused_unanswerable += v["refused"]
        cited += len(v["cited"])
        cited_gold += sum(s in record["gold_sources"] for s in v["cited"])
    return {
        "answerable": answerable,
        "unanswerable": unanswerable,
        "accuracy": round(correct / answerable, 4) if answerable else None,
        "false_refusals": round(false_refusals / answerable, 4) if answerable else None,
        "refused_unanswerable": refused_unanswerable,
        # Answers shown that are wrong: an answerable question answered wrongly, or an
        # unanswerable one answered at all.
        "wrong_shown": wrong + unanswerable - refused_unanswerable,
        "citation_precision": round(cited_gold / cited, 4) if cited else None,
        "verdicts": verdicts,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--index", action="append", type=Path, required=True)
    parser.add_argument("--rules", default="all", help="rules to switch off one at a time")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--markdown", action="store_true", help="one table: a row per rule, runs side by side"
    )
    parser.add_argument("--label", action="append", default=[], help="a column name per run")
    parser.add_argument(
        "--split", action="append", default=[], help="per run: all, dev or test (of --eval-file)"
    )
    parser.add_argument("--eval-file", type=Path, default=Path("eval/questions.jsonl"))
    args = parser.parse_args(argv)
    if len(args.index) != len(args.runs):
        parser.error("give one --index per run")
    names = [n for n in RULES if n not in UNREPLAYABLE] if args.rules == "all" else None
    names = names or [n.strip() for n in args.rules.split(",")]
    RuleSet.parse(",".join(names))
    if set(names) & UNREPLAYABLE:
        parser.error(f"{', '.join(sorted(UNREPLAYABLE))}: the model would write another draft")
    splits = args.split or ["all"] * len(args.runs)
    report: dict[str, Any] = {}
    every = load_cases(args.runs, args.index, splits, args.eval_file)
    for n, (path, cases) in enumerate(zip(args.runs, every, strict=True)):
        key = f"{path} ({splits[n]})" if splits[n] != "all" else str(path)
        base = score(cases, ALL_ON)
        differ = sum(
            v["refused"] != c["record"]["refused"]
            for v, c in zip(base["verdicts"], cases, strict=True)
        )
        rows = {"all on": {k: v for k, v in base.items() if k != "verdicts"}}
        for name in names:
            off = score(cases, ALL_ON.without(name))
            rows[name] = {k: v for k, v in off.items() if k != "verdicts"}
        report[key] = {"replay_differs_from_run": differ, "rows": rows}
        if not args.json and not args.markdown:
            print(f"{path}: {len(cases)} questions; replay differs from the run on {differ}")
            print(f"{'rule off':<16} {'acc':>6} {'d acc':>6} {'false ref':>9} {'unans ref':>9}")
            for name, row in rows.items():
                delta = (row["accuracy"] or 0) - (rows["all on"]["accuracy"] or 0)
                print(
                    f"{name:<16} {row['accuracy']!s:>6} {delta:>+6.3f} "
                    f"{row['false_refusals']!s:>9} "
                    f"{row['refused_unanswerable']:>4}/{row['unanswerable']:<4}"
                )
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    if args.markdown:
        print(markdown(report, args.label or [Path(r).stem for r in report]))
    return 0


def markdown(report: dict[str, Any], labels: list[str]) -> str:
    """Rows: all rules on, then each rule off; per run: accuracy, false refusals and
    unanswerable refused, with the change from all rules on."""
    runs = list(report.values())
    head = "| rule off | " + " | ".join(labels) + " |"
    lines = [head, "|---" * (len(labels) + 1) + "|"]
    for name in runs[0]["rows"]:
        cells = []
        for run in runs:
            row, base = run["rows"][name], run["rows"]["all on"]
            acc = row["accuracy"] or 0.0
            delta = acc - (base["accuracy"] or 0.0)
            changed = f" ({delta:+.3f})" if name != "all on" and delta else ""
            unans = f"{row['refused_unanswerable']}/{row['unanswerable']}"
            fr = row["false_refusals"] or 0.0
            cells.append(
                f"{acc:.3f}{changed}, fr {fr:.3f}, unans {unans}, wrong {row['wrong_shown']}"
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
