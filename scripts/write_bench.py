"""Write bench/RESULTS.md and bench/retrieval-latency.png from `rag bench --json` output and a
pyinstrument profile of one `rag ask`; with --run, produce those first.

Usage:
    python scripts/write_bench.py --run            # rag bench --quick, the profile, then write
    python scripts/write_bench.py --run --full     # the full bench (DRCD, 30 questions) instead
    python scripts/write_bench.py                  # only rewrite from bench/runs/*.json

Needs the bench extra (pip install -e '.[bench]'): matplotlib, pyinstrument, LlamaIndex.
Every number in RESULTS.md comes from the JSON files named there; none is typed by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
RUNS = BENCH / "runs"
PROFILE_QUESTION = "台智雲的總經理是誰？"
# Where the time of one `rag ask` goes: profile frames named "file:function", the outermost
# match counted. pyinstrument samples the main thread: e5 loads in another thread, and what
# the main thread spends waiting for it is the part that did not overlap with the GGUF load.
STAGES = [
    ("load the GGUF (header check, llama.cpp)", "rag/generator.py:warm_up"),
    (
        "wait for e5, the index and jieba (loaded in a thread beside the GGUF)",
        "rag/retrieve.py:wait",
    ),
    ("retrieve (first query)", "rag/retrieve.py:search"),
    ("evaluate the fixed prompt prefix (system message)", "rag/generator.py:_prepare"),
    ("evaluate the prompt, then decode the answer", "llama_cpp/llama.py:_create_completion"),
    ("check citations and refusals", "rag/answer.py:judge"),
]


def bench_command(full: bool, out: Path) -> list[str]:
    args = ["rag", "bench", "--json", "--out", str(out.relative_to(REPO))]
    return args if full else [*args[:2], "--quick", *args[2:]]


def run_bench(full: bool, out: Path) -> None:
    command = bench_command(full, out)
    subprocess.run(
        [sys.executable, "-m", "rag", *command[1:]], cwd=REPO, check=True, stdout=subprocess.DEVNULL
    )


def profile_command(index: str, out: Path) -> list[str]:
    return [
        "pyinstrument", "-r", "json", "-o", str(out.relative_to(REPO)),
        "-m", "rag", "ask", PROFILE_QUESTION, "--index", index,
    ]  # fmt: skip


def run_profile(index: str, out: Path) -> None:
    command = profile_command(index, out)
    subprocess.run(
        [sys.executable, "-m", "pyinstrument", *command[1:]],
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _frames(frame: dict[str, Any], name: str) -> float:
    """Seconds in frames named `name` ("file:function"), nested matches not counted twice."""
    file, function = name.split(":")
    if frame.get("function") == function and str(frame.get("file_path_short", "")).endswith(file):
        return float(frame["time"])
    return sum(_frames(child, name) for child in frame.get("children", []))


def profile_rows(profile: dict[str, Any]) -> list[str]:
    root = profile["root_frame"]
    total = float(profile["duration"])
    lines = ["| stage | s | share |", "|---|---|---|"]
    counted = 0.0
    for label, name in STAGES:
        seconds = _frames(root, name)
        if seconds < 0.005:  # below what the profile resolves (or trimmed from it)
            continue
        counted += seconds
        lines.append(f"| {label} | {seconds:.2f} | {seconds / total:.0%} |")
    rest = total - counted
    other = "everything else (Python start, imports, settings, chunk records)"
    lines.append(f"| {other} | {rest:.2f} | {rest / total:.0%} |")
    lines.append(f"| **total, process start to exit** | {total:.2f} | 100% |")
    return lines


def plot(retrieval: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(int(n) for n in retrieval)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    for key, label in (
        ("p95_ms", "hybrid query p95"),
        ("p50_ms", "hybrid query p50"),
        ("dense_ms_p50", "dense side p50 (embed question + search)"),
        ("lexical_ms_p50", "BM25 side p50"),
    ):
        ax.plot(sizes, [retrieval[str(n)][key] for n in sizes], marker="o", label=label)
    ax.axhline(50, color="grey", linestyle="--", linewidth=1, label="target p95 50 ms")
    ax.set_xscale("log")
    ax.set_yscale("log")  # a contended run can be 100x a quiet one
    ax.set_xlabel("chunks in the index (synthetic)")
    ax.set_ylabel("ms per query, warm")
    ax.set_title("Hybrid retrieval latency against index size")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def _v(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def write(
    result: dict[str, Any],
    run_file: Path,
    full: bool,
    profile: dict[str, Any] | None,
    notes: list[str] | None = None,
) -> str:
    m = result["machine"]
    lines = [
        "# Performance",
        "",
        f"Generated by `python scripts/write_bench.py` from `{run_file.relative_to(REPO)}` "
        f"({result['generated_at']}), produced by `{shlex.join(bench_command(full, run_file))}` "
        f"in {_v(result['wall_s'])} s on {m['cores']} cores ({m['cpu']}), Python {m['python']}.",
        "",
        "**Load.** The 1-minute load average was "
        f"{_v(m['loadavg_1m_at_start'])} at the start (2 means both cores busy). Each section "
        "records the load before and after it (`loadavg_1m` in the JSON). Times, LLM times most, "
        "depend on it: llama.cpp's threads wait for each other, so one busy neighbour slows "
        "generation several-fold. Compare runs only at similar load.",
        "",
        *[f"**Note.** {note}\n" for note in notes or []],
        "## Targets",
        "",
        "| target | measured | bound | met |",
        "|---|---|---|---|",
    ]
    for row in result["targets"]:
        met = {True: "yes", False: "**no**", None: "not measured"}[row["met"]]
        lines.append(
            f"| {row['label']} | {_v(row['value'])} | {row['op']} {row['bound']} | {met} |"
        )
    idx = result["index"]
    lines += [
        "",
        "## Index build",
        "",
        "A full build (nothing reused) including loading the embedding model; chunks/s is "
        "chunks over the whole wall time.",
        "",
        "| corpus | docs | chunks | wall s | model load s | chunks/s | peak RSS MB | load avg |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in (("bundled", idx), ("DRCD dev", idx.get("drcd"))):
        if r:
            lines.append(
                f"| {name} | {r['docs']} | {r['chunks']} | {_v(r['wall_s'])} | "
                f"{_v(r['model_load_s'])} | {_v(r['chunks_per_s'])} | {_v(r['peak_rss_mb'])} | "
                f"{r['loadavg_1m'][0]}-{r['loadavg_1m'][1]} |"
            )
    ret = result["retrieval"]
    sizes = sorted(int(n) for n in ret)
    lines += [
        "",
        "## Retrieval from 1k to 100k chunks",
        "",
        "One full hybrid query, warm: embed the question with e5, BM25 over all chunks, the "
        "vector search, exact dense scores for BM25-only candidates, fusion. Over the eval "
        "questions, twice each, after 10 untimed ones. Synthetic chunks: words drawn from the "
        "bundled corpus's word frequencies with its chunk lengths, vectors drawn from a "
        "Gaussian fitted to its real e5 vectors (no topical clusters: a hard case for HNSW). "
        "RSS is the query process (e5 model included); index RSS is what loading the index "
        "added. Recall: dense recall@10 against exact search; same top-5: share of questions "
        "whose hybrid top 5 is the same set as with exact search.",
        "",
        "![retrieval latency against N](retrieval-latency.png)",
        "",
        "| chunks | store | p50 ms | p95 ms | BM25 p50 ms | dense p50 ms | build s | RSS MB "
        "| index RSS MB | recall@10 vs exact | same top-5 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n in sizes:
        r = ret[str(n)]
        lines.append(
            f"| {n:,} | {r['store']} | {_v(r['p50_ms'])} | {_v(r['p95_ms'])} | "
            f"{_v(r['lexical_ms_p50'])} | {_v(r['dense_ms_p50'])} | {_v(r['build_s'])} | "
            f"{_v(r['rss_mb'])} | {_v(r['index_rss_mb'])} | {_v(r['recall_vs_exact'])} | "
            f"{_v(r['hybrid_same_top_k'])} |"
        )
    lo, hi = ret[str(sizes[0])], ret[str(sizes[-1])]

    def growth(key: str) -> str:
        return f"{hi[key] / max(lo[key], 1e-3):.1f}x"

    lines += [
        "",
        f"From {sizes[0]:,} to {sizes[-1]:,} chunks ({sizes[-1] // sizes[0]}x), p50 grows "
        f"{growth('p50_ms')}, the BM25 side {growth('lexical_ms_p50')} "
        f"and the dense side {growth('dense_ms_p50')}; the "
        f"index build takes {_v(hi['build_s'])} s (tokenizing for BM25 and building the "
        "HNSW graph; embedding real text would add about 1 s per 10 chunks).",
    ]
    sweep = hi.get("ef_sweep")
    if sweep:
        lines += [
            "",
            f"HNSW search breadth at {sizes[-1]:,} chunks (dense search alone, per question):",
            "",
            "| efSearch | recall@10 vs exact | ms |",
            "|---|---|---|",
            *[
                f"| {s['ef_search']} | {_v(s['recall_at_10'])} | {_v(s['search_ms'])} |"
                for s in sweep
            ],
        ]
    lines += _ask(result["ask"]) + _peer(result["peer"])
    if profile is not None:
        lines += [
            "",
            "## Where the time of one `rag ask` goes",
            "",
            f"`{shlex.join(profile_command('<bench index>', RUNS / 'ask-profile.json'))}` "
            f"(a fresh process, wall time; CPU time {_v(profile['cpu_time'])} s):",
            "",
            *profile_rows(profile),
        ]
    return "\n".join(lines) + "\n"


def _ask(a: dict[str, Any]) -> list[str]:
    cold = ", ".join(_v(r.get("first_output_s")) for r in a.get("cold_start_runs", []))
    return [
        "",
        "## Answering",
        "",
        f"{a['n']} eval questions spread over `eval/questions.jsonl`, with the default model "
        f"warm (one untimed question first), as `rag ask` answers them ({a['mode']}). Cold "
        "start: `rag ask` in a new process, from its start to the first answer text on stdout; "
        "the model files were in the page cache.",
        "",
        "| TTFT p50 s | TTFT p95 s | total p50 s | tokens/s | prompt tokens p50 | cold start s "
        "| accuracy | llama.cpp threads | load avg |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {_v(a['ttft_s_p50'])} | {_v(a['ttft_s_p95'])} | {_v(a['total_s_p50'])} | "
        f"{_v(a['tokens_per_s'])} | {_v(a['prompt_tokens_p50'])} | {_v(a['cold_start_s'])} "
        f"(runs: {cold}) | {_v(a['accuracy'])} | {_v(a['llm_threads'])} | "
        f"{a['loadavg_1m'][0]}-{a['loadavg_1m'][1]} |",
    ]


def _peer(p: dict[str, Any]) -> list[str]:
    lines = ["", "## Side by side with LlamaIndex", ""]
    if "skipped" in p:
        return [*lines, f"Skipped: {p['skipped']}."]
    fw = ", ".join(f"{k} {v}" for k, v in p["framework"].items())
    lines += [
        f"{fw}: `SimpleDirectoryReader` over the same corpus, `VectorStoreIndex.from_documents` "
        f"with its default chunking ({p['chunk_size']} tokens, overlap {p['chunk_overlap']}: "
        f"{p['nodes']} nodes, indexed in {_v(p['index_s'])} s), `as_query_engine()` with its "
        "default prompts and top-2; the same e5 model (HuggingFaceEmbedding with e5's prompts) "
        "and the same GGUF (LlamaCPP, ChatML format, greedy, same answer length). Same "
        "questions for both. hit@k: a gold document among the first k distinct documents "
        "(answerable questions); accuracy: an accepted answer in a non-refused answer "
        "(`rag.evaluate.runner.is_correct`); p50: question in, full answer out.",
        "",
        "| system | questions | hit@1 | hit@5 | MRR | accuracy | unanswerable refused | p50 s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in (("sovereign-rag", p["ours"]), ("LlamaIndex", p)):
        lines.append(
            f"| {name} | {r['n']} | {_v(r['hit@1'])} | {_v(r['hit@5'])} | {_v(r['mrr'])} | "
            f"{_v(r['accuracy'])} | {_v(r['refused_unanswerable'])} | {_v(r['total_s_p50'])} |"
        )
    ratio = p.get("latency_ratio_ours_to_peer")
    if ratio:
        lines += ["", f"Our p50 end-to-end latency is {ratio:.2f}x LlamaIndex's."]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--run", action="store_true", help="run the bench and the profile first")
    parser.add_argument("--full", action="store_true", help="the full bench, not --quick")
    parser.add_argument("--note", action="append", help="a remark to print above the tables")
    args = parser.parse_args()
    RUNS.mkdir(parents=True, exist_ok=True)
    run_file = RUNS / ("full.json" if args.full else "quick.json")
    profile_file = RUNS / "ask-profile.json"
    if args.run:
        run_bench(args.full, run_file)
    result = json.loads(run_file.read_text(encoding="utf-8"))
    if args.run:
        run_profile(str(Path(result["options"]["work"]) / "bundled-index"), profile_file)
    profile = (
        json.loads(profile_file.read_text(encoding="utf-8")) if profile_file.is_file() else None
    )
    plot(result["retrieval"], BENCH / "retrieval-latency.png")
    (BENCH / "RESULTS.md").write_text(
        write(result, run_file, args.full, profile, args.note), encoding="utf-8"
    )


if __name__ == "__main__":
    main()
