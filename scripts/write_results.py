"""Regenerate eval/RESULTS.md by running the `rag eval` commands it quotes.

Usage: python scripts/write_results.py [--drcd PATH] [--skip-drcd] [--reuse] [--sample N]

Every table row comes from one command's --json output, saved as eval/runs/NAME.json; with
--reuse a run already saved there is read instead of run again (so one slow part can be
redone alone). At the end every saved run is checked by scripts/recompute_metrics.py.
Running everything takes about 90 minutes on 2 cores, most of it the model answering.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RUNS = REPO / "eval" / "runs"
CHUNK_SIZES = [80, 120, 200, 300]
WEIGHTS = [("BM25 only", "0"), ("dense only", "1"), ("hybrid (default weight)", None)]
Row = tuple[str, str, dict[str, Any], float]


def run(args: list[str], name: str, reuse: bool, env: dict[str, str] | None = None) -> Row:
    """`rag eval ... --out eval/runs/NAME.json`; returns (label placeholder, command, run, s)."""
    out = RUNS / f"{name}.json"
    command = ["rag", "eval", *args, "--out", str(out.relative_to(REPO))]
    prefix = " ".join(f"{k}={v}" for k, v in (env or {}).items())
    text = f"{prefix} {shlex.join(command)}".strip()
    if reuse and out.exists():
        saved = json.loads(out.read_text(encoding="utf-8"))
        return "", text, saved, saved.get("config", {}).get("wall_s", 0.0)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "rag", *command[1:], "--json"],
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    seconds = time.perf_counter() - started
    saved = json.loads(out.read_text(encoding="utf-8"))
    saved["config"]["wall_s"] = round(seconds, 1)
    out.write_text(json.dumps(saved, ensure_ascii=False, indent=1), encoding="utf-8")
    return "", text, saved, seconds


def labelled(label: str, row: Row) -> Row:
    return (label, *row[1:])


def index(env: dict[str, str], folder: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "rag", "index", "--index", folder],
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, **env},
    )


def commands(rows: list[Row]) -> list[str]:
    return ["", "Commands:", "", *[f"- {label}: `{cmd}`" for label, cmd, _r, _s in rows]]


def retrieval_table(rows: list[Row], k: int) -> list[str]:
    lines = [
        f"| method | questions | hit@1 | hit@{k} | MRR | p50 ms | p95 ms | wall s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, _cmd, result, seconds in rows:
        m = result["metrics"]
        lines.append(
            f"| {label} | {m['n']} | {m['hit@1']:.3f} | {m[f'hit@{k}']:.3f} | {m['mrr']:.3f} "
            f"| {m['retrieve_p50_ms']} | {m['retrieve_p95_ms']} | {seconds:.0f} |"
        )
    return lines + commands(rows)


def by_tag(result: dict[str, Any], k: int) -> list[str]:
    lines = [f"| tag | questions | hit@1 | hit@{k} | MRR |", "|---|---|---|---|---|"]
    for tag, m in result["by_tag"].items():
        if m["n"]:
            lines.append(
                f"| {tag} | {m['n']} | {m['hit@1']:.3f} | {m[f'hit@{k}']:.3f} | {m['mrr']:.3f} |"
            )
    return lines


ANSWER_KEYS = [
    ("accuracy", "accuracy"),
    ("EM", "exact_match"),
    ("F1", "f1"),
    ("false refusals", "false_refusals"),
    ("unanswerable refused", "refused_unanswerable"),
    ("citation precision", "citation_precision"),
    ("citation recall", "citation_recall"),
    ("answered citing gold", "answered_citing_gold"),
    ("sentences supported", "supported_sentences"),
    ("TTFT p50 s", "ttft_p50_s"),
    ("TTFT p95 s", "ttft_p95_s"),
    ("total p50 s", "total_p50_s"),
    ("total p95 s", "total_p95_s"),
]


def answer_table(rows: list[tuple[str, dict[str, Any]]]) -> list[str]:
    lines = [
        "| set | answerable | unanswerable | " + " | ".join(k for k, _ in ANSWER_KEYS) + " |",
        "|---" * (3 + len(ANSWER_KEYS)) + "|",
    ]
    for name, m in rows:
        cells = ["-" if m.get(key) is None else f"{m[key]:.3f}" for _, key in ANSWER_KEYS]
        lines.append(f"| {name} | {m['answerable']} | {m['unanswerable']} | {' | '.join(cells)} |")
    return lines


def answers_section(rows: list[Row], tags: bool) -> list[str]:
    doc = answer_table([(label, r["answers"]["metrics"]) for label, _c, r, _s in rows])
    doc += commands(rows)
    if tags:
        label, _cmd, result, _s = rows[0]
        doc += ["", f"By tag, {label}:", ""]
        doc += answer_table(list(result["answers"]["by_tag"].items()))
    return doc


def recompute_check() -> list[str]:
    files = sorted(RUNS.glob("*.json"))
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "recompute_metrics.py"), *map(str, files)],
        capture_output=True,
        text=True,
    )
    verdict = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    return [
        "## Metrics recomputed independently",
        "",
        "`python scripts/recompute_metrics.py eval/runs/*.json` recomputes every metric above "
        "from the saved per-question records with its own code (no `rag` import) and compares: "
        f"**{verdict}** ({len(files)} runs, exit code {done.returncode}).",
        "",
    ]


DEFINITIONS = (
    "Definitions. Retrieval is scored at document level: a hit at k when a gold document is "
    "among the first k distinct documents retrieved; MRR counts ranks within k. Answers are "
    "compared after normalisation (one script, folded width and case, no spaces, punctuation "
    "or citation markers). Accuracy: an acceptable answer occurs in a non-refused answer. EM "
    "and F1: character level against the best acceptable answer, F1 from the longest common "
    "substring (CMRC/DRCD style); a whole-sentence answer has low EM/F1 even when correct. "
    "Citation precision: cited documents that are gold for their question; citation recall: "
    "per answered question, the share of its gold documents cited (ALCE sense, document "
    "level); answered citing gold: answered questions citing at least one gold document; "
    "sentences supported: answer sentences the citation checker found supported (unsupported "
    "ones are dropped before the user sees the answer). Latencies are warm, per question, on "
    "this machine (2 CPU cores), with nothing else running unless noted."
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--drcd", default="../shared/datasets/drcd/DRCD_dev.json")
    parser.add_argument("--skip-drcd", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="read runs already saved")
    parser.add_argument("--sample", type=int, default=200, help="DRCD questions answered")
    parser.add_argument("--note", default="", help="a remark printed under the heading")
    args = parser.parse_args()
    RUNS.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "rag", "index"], cwd=REPO, check=True)
    reuse = args.reuse
    bundled = [
        labelled(
            label,
            run(
                ["--retrieval-only"] + ([] if w is None else ["--dense-weight", w]),
                f"bundled-w{w or 'default'}",
                reuse,
            ),
        )
        for label, w in WEIGHTS
    ]
    doc = [
        "# Evaluation results",
        "",
        "Generated by `python scripts/write_results.py` on "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} ({platform.machine()}, Python "
        f"{platform.python_version()}); every number below comes from the quoted command's "
        "`--json` output, saved under `eval/runs/` (not committed).",
        "",
        DEFINITIONS,
        "",
        *([f"Note: {args.note}", ""] if args.note else []),
        "## Bundled corpus, `eval/questions.jsonl`: retrieval",
        "",
        *retrieval_table(bundled, 5),
        "",
        "By tag, hybrid:",
        "",
        *by_tag(bundled[-1][2], 5),
        "",
    ]
    answered = [
        labelled("default model", run([], "answers-llm", reuse)),
        labelled("no model (--no-llm)", run(["--no-llm"], "answers-nollm", reuse)),
    ]
    doc += [
        "## Bundled corpus: answers, model vs --no-llm",
        "",
        *answers_section(answered, tags=True),
        "",
    ]
    sweep = []
    for chars in CHUNK_SIZES:
        env = {"RAG_CHUNK_CHARS": str(chars)}
        folder = f"eval/runs/index-chunk{chars}"
        if not (reuse and (RUNS / f"chunk{chars}.json").exists()):
            index(env, folder)
        row = run(["--index", folder, "--retrieval-only"], f"chunk{chars}", reuse, env)
        sweep.append(labelled(f"{chars} characters", row))
    doc += [
        "## Chunk size (bundled corpus, hybrid, default weight)",
        "",
        "Each row indexes the corpus with `RAG_CHUNK_CHARS=N rag index --index "
        "eval/runs/index-chunkN` first.",
        "",
        *retrieval_table(sweep, 5),
        "",
    ]
    if not args.skip_drcd:
        drcd = [
            labelled(
                label,
                run(
                    ["--drcd", args.drcd, "--retrieval-only"]
                    + ([] if w is None else ["--dense-weight", w]),
                    f"drcd-w{w or 'default'}",
                    reuse,
                ),
            )
            for label, w in WEIGHTS
        ]
        build = drcd[0][2]["config"]["index_build"]
        sample = ["--drcd", args.drcd, "--sample", str(args.sample)]
        drcd_answers = [
            labelled("default model", run(sample, "drcd-answers-llm", reuse)),
            labelled(
                "no model (--no-llm)", run([*sample, "--no-llm"], "drcd-answers-nollm", reuse)
            ),
        ]
        doc += [
            "## DRCD dev: retrieval (1,000 paragraphs as documents, all 3,524 questions)",
            "",
            "The first command also builds the index (one document per paragraph, title on the "
            "first line); later ones reuse it (re-embedding nothing). First build: "
            f"{build['documents']} documents, {build['chunks']} chunks, {build['embedded']} "
            f"embedded, {build['seconds']:.0f} s on 2 cores.",
            "",
            *retrieval_table(drcd, 5),
            "",
            f"## DRCD dev: answers on a fixed sample of {args.sample} questions, model vs --no-llm",
            "",
            "`--sample N` answers a fixed random sample (seed 0) of the questions; retrieval "
            "above is over all of them. DRCD answers are short spans, so EM/F1 against a "
            "whole-sentence answer stay low; accuracy (the span contained in the answer) is "
            "the comparable number.",
            "",
            *answers_section(drcd_answers, tags=False),
            "",
        ]
    doc += recompute_check()
    (REPO / "eval" / "RESULTS.md").write_text("\n".join(doc), encoding="utf-8")


if __name__ == "__main__":
    main()
