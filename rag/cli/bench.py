"""`rag bench`: indexing, retrieval from 1k to 100k chunks, answering, and LlamaIndex on the
same questions, measured on this machine; the parts come from the builder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from rag.cli.options import CorpusOpt, JsonOpt, NoLlmOpt, err, out, settings_for, user_errors
from rag.generate.base import Generator


def bench(
    quick: Annotated[
        bool, typer.Option("--quick", help="Fewer questions, no DRCD: under 10 min on 2 cores.")
    ] = False,
    corpus: CorpusOpt = None,
    eval_file: Annotated[
        Path | None, typer.Option("--eval-file", help="JSONL questions [default: eval/].")
    ] = None,
    sizes: Annotated[
        str | None, typer.Option("--sizes", help="Synthetic chunk counts [1000,10000,100000].")
    ] = None,
    no_llm: NoLlmOpt = False,
    as_json: JsonOpt = False,
    out_file: Annotated[Path | None, typer.Option("--out", help="Also save the JSON here.")] = None,
) -> None:
    """Measure indexing, retrieval from 1k to 100k chunks, answering, and LlamaIndex on the
    same questions, on this machine (see bench/RESULTS.md)."""
    from rag.bench.peer import peer_runner
    from rag.bench.run import BenchOptions, parse_sizes, run_bench, summary_lines
    from rag.pipeline import make_embedder, make_generator

    with user_errors():
        settings = settings_for(corpus=corpus)
        options = BenchOptions.for_run(
            settings, quick, eval_file=eval_file, sizes=parse_sizes(sizes), no_llm=no_llm
        )

        def say(message: str) -> None:
            err.print(f"bench: {message}", highlight=False, markup=False)

        embedder = make_embedder(settings, say)
        folder = getattr(embedder, "folder", None)
        peer = peer_runner(folder, settings.n_ctx, settings.max_tokens, settings.threads)

        def generator() -> Generator | None:
            return make_generator(settings, no_llm=no_llm, on_fallback=say)

        result = run_bench(settings, options, embedder, generator, say, peer)
    text = json.dumps(result, ensure_ascii=False, indent=1)
    if out_file is not None:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(text + "\n", encoding="utf-8")
    if as_json:
        out.print_json(text)
        return
    for line in summary_lines(result):
        out.print(line, highlight=False)
