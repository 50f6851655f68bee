"""How the rule top_passage_alone's threshold was chosen: for a saved `rag eval` run made
without the rule (`rules_off = "top_passage_alone"`), the model reads each question's top
passage alone (replies saved, so a second call only re-judges), and the answers the rule
would show are scored for each lead the top passage's fused score must have over the
second's (the setting `alone_gap`).

    python scripts/top_passage_sweep.py RUN.json --index IDX --replies ALONE.json
        [--split all|dev|test] [--gaps 0,0.5,1,1.5,2]

Per gap: accuracy, false refusals, unanswerable refused, wrong answers shown, and how many
questions were read alone first. The run's own replies are judged again with all rules on
(scripts/replay_rules.py); an answer from the top passage alone stands if it passes the
same checks over that passage, else the run's answer over all passages stands.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from replay_rules import load_cases, prompt_for, score

from rag.answer.answerer import check_reply, top_lead
from rag.answer.draft import draft_answer
from rag.answer.prompting import Prompt
from rag.check.catalog import ALL_ON
from rag.evaluate.metrics import is_correct
from rag.pipeline import make_generator
from rag.settings import load_settings


def _alone_prompt(case: dict[str, Any]) -> Prompt:
    return prompt_for(case["record"], case["hits"][:1])


def alone_replies(cases: list[dict[str, Any]], path: Path) -> dict[str, dict[str, Any]]:
    """The model's reply to each question from its top passage alone (with the retry), read
    from `path` when saved there, else generated and saved as it goes."""
    saved: dict[str, dict[str, Any]] = (
        json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    )
    missing = [c for c in cases if c["record"]["id"] not in saved]
    if missing:
        settings = load_settings({})
        generator = make_generator(settings)
        if generator is None:
            raise SystemExit("no language model: the replies need the model")
        for n, case in enumerate(missing, 1):
            draft = draft_answer(generator, _alone_prompt(case), settings.max_tokens, None)
            saved[case["record"]["id"]] = {"raw": draft.text, "retried": draft.retried}
            path.write_text(json.dumps(saved, ensure_ascii=False), encoding="utf-8")
            print(f"{n}/{len(missing)}", file=sys.stderr)
    return saved


def outcomes(cases: list[dict[str, Any]], replies: dict[str, dict[str, Any]]) -> list[dict]:
    """Per question: the top passage's lead, and the verdicts of both readings."""
    verdicts = score(cases, ALL_ON)["verdicts"]
    out = []
    for case, full in zip(cases, verdicts, strict=True):
        record, hits = case["record"], case["hits"]
        prompt = _alone_prompt(case)
        raw = replies[record["id"]]["raw"]
        alone = check_reply(
            case["retriever"], prompt.question, prompt.checked_script, raw, prompt, hits[:1]
        )
        gold = record["answers"]
        out.append(
            {
                "answerable": record["answerable"],
                "lead": top_lead(hits),
                "full": (full["refused"], not full["refused"] and is_correct(full["answer"], gold)),
                "alone": (alone.refused, not alone.refused and is_correct(alone.kept.answer, gold)),
            }
        )
    return out


def sweep(rows: list[dict], gap: float | None) -> dict[str, Any]:
    """The answers shown when questions whose top passage leads by `gap` are read alone
    first (None: never)."""
    answerable = sum(r["answerable"] for r in rows)
    right = refused = unanswerable_refused = wrong = fired = 0
    for r in rows:
        first = gap is not None and r["lead"] is not None and r["lead"] >= gap
        fired += first
        was_refused, ok = r["alone"] if first and not r["alone"][0] else r["full"]
        if r["answerable"]:
            right += ok
            refused += was_refused
            wrong += not was_refused and not ok
        else:
            unanswerable_refused += was_refused
            wrong += not was_refused
    return {
        "gap": gap,
        "read_alone_first": fired,
        "accuracy": round(right / answerable, 3) if answerable else None,
        "false_refusals": round(refused / answerable, 3) if answerable else None,
        "unanswerable_refused": f"{unanswerable_refused}/{len(rows) - answerable}",
        "wrong_shown": wrong,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--replies", type=Path, required=True, help="saved alone replies")
    parser.add_argument("--split", default="all", help="all, dev or test (of --eval-file)")
    parser.add_argument("--eval-file", type=Path, default=Path("eval/questions.jsonl"))
    parser.add_argument("--gaps", default="0,0.2,0.4,0.6,0.8,1,1.2,1.5,2")
    args = parser.parse_args(argv)
    (cases,) = load_cases([args.run], [args.index], [args.split], args.eval_file)
    if any(c["record"].get("read_alone") for c in cases):
        parser.error("the run read some top passages alone: make it with the rule off")
    rows = outcomes(cases, alone_replies(cases, args.replies))
    gaps: list[float | None] = [None, *(float(g) for g in args.gaps.split(","))]
    for gap in gaps:
        print(json.dumps(sweep(rows, gap)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
