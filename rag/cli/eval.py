"""`rag eval`: score retrieval, answers and citations against an eval set; compare runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from rag.check.catalog import RuleSet
from rag.cli.options import (
    IndexOpt,
    JsonOpt,
    LlmUrlOpt,
    NoLlmOpt,
    TopKOpt,
    alerts,
    err,
    out,
    say,
    settings_for,
    user_errors,
)

RUNS = Path("eval") / "runs"


def eval_cmd(
    eval_file: Annotated[Path, typer.Option("--eval-file", help="JSONL questions.")] = Path(
        "eval/questions.jsonl"
    ),
    index_dir: IndexOpt = None,
    top_k: TopKOpt = None,
    dense_weight: Annotated[
        float | None,
        typer.Option("--dense-weight", help="0 = BM25 only, 1 = dense only [default: setting]."),
    ] = None,
    drcd: Annotated[
        Path | None,
        typer.Option("--drcd", help="A DRCD/SQuAD JSON file: index its paragraphs and ask all."),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="DRCD: first N paragraphs.")] = None,
    retrieval_only: Annotated[
        bool, typer.Option("--retrieval-only", help="Score retrieval only; do not answer.")
    ] = False,
    sample: Annotated[
        int | None,
        typer.Option(
            "--sample", help="Answer a fixed random sample of N questions (retrieval: all)."
        ),
    ] = None,
    split: Annotated[
        str | None,
        typer.Option("--split", help="Only the 'dev' or the 'test' half of the eval file."),
    ] = None,
    no_llm: NoLlmOpt = False,
    llm_url: LlmUrlOpt = None,
    answer_first: Annotated[
        bool,
        typer.Option(
            "--answer-first",
            help="Diagnosis: answer with the passage that holds each answer placed first, "
            "to score the model's reading as if retrieval were perfect.",
        ),
    ] = False,
    as_json: JsonOpt = False,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Save the run here [default: eval/runs/<time>.json]."),
    ] = None,
    compare: Annotated[
        tuple[Path, Path] | None,
        typer.Option("--compare", help="Show what changed between two saved runs A B."),
    ] = None,
) -> None:
    """Score retrieval (hit@1, hit@k, MRR), answers (accuracy, EM, F1, refusals), citations
    (precision, recall, supported sentences) and latency, overall and by tag."""
    if compare is not None:
        _compare(*compare, as_json)
        return
    from rich.progress import Progress

    from rag.evaluate.runner import (
        export_squad,
        load_eval_file,
        run_retrieval,
        sample_questions,
        select_split,
    )
    from rag.pipeline import (
        index_folder,
        make_answerer,
        make_embedder,
        make_generator,
        make_retriever,
        open_index,
    )

    with user_errors():
        settings = settings_for(
            index=index_dir, top_k=top_k, dense_weight=dense_weight, llm_url=llm_url
        )
        embedder = make_embedder(settings, say)
        index_path = settings.index
        built = None
        with Progress(console=err, disable=as_json or not err.is_terminal) as bar:
            if drcd is not None:
                work = settings.home / "datasets" / f"{drcd.stem}-{limit or 'all'}"
                corpus, eval_file, paragraphs, _ = export_squad(drcd, work, limit)
                index_path = work / "index"
                task = bar.add_task(f"Indexing {paragraphs} paragraphs", total=None)
                built = index_folder(
                    settings,
                    corpus=corpus,
                    index_dir=index_path,
                    progress=lambda d, t: bar.update(task, completed=d, total=t),
                    embedder=embedder,
                )
            loaded = open_index(settings, embedder, index_path)
            questions = select_split(load_eval_file(eval_file, loaded.manifest["documents"]), split)
            retriever = make_retriever(settings, embedder, loaded)
            task = bar.add_task("Retrieving", total=len(questions))
            run = run_retrieval(
                retriever,
                questions,
                settings.top_k,
                progress=lambda d, t: bar.update(task, completed=d),
            )
            if not retrieval_only:
                from rag.evaluate.runner import AnswerFirst, run_answers

                asked = questions if sample is None else sample_questions(questions, sample)
                reader: Any = AnswerFirst(retriever, asked) if answer_first else retriever
                generator = make_generator(settings, no_llm=no_llm, on_fallback=_fallback)
                answerer = make_answerer(settings, reader, generator)
                task = bar.add_task("Answering", total=len(asked))
                run["answers"] = run_answers(
                    answerer, asked, progress=lambda d, t: bar.update(task, completed=d)
                )
                run["answers"]["mode"] = "llm" if answerer.generator else "extractive"
                run["answers"]["model"] = (
                    answerer.generator.model_info() if answerer.generator else None
                )
    run["config"] = {
        "eval_file": str(eval_file),
        "index": str(index_path),
        "top_k": settings.top_k,
        "answer_k": settings.answer_k,
        "look_further": settings.look_further,
        "dense_weight": settings.dense_weight,
        "embedding_model": embedder.model_id,
        "chunk_chars": loaded.manifest["params"]["chunk_chars"],
        "chunk_overlap": loaded.manifest["params"]["chunk_overlap"],
        "sample": sample,
        "split": split,
        "answer_first": answer_first,
        "rules_off": sorted(RuleSet.parse(settings.rules_off).off),
        "alone_gap": settings.alone_gap,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if built is not None:
        run["config"]["index_build"] = {
            "documents": built.documents,
            "chunks": built.chunks,
            "embedded": built.embedded,
            "seconds": round(built.seconds, 1),
        }
    text = json.dumps(run, ensure_ascii=False, indent=1)
    saved = out_file or RUNS / f"{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}.json"
    try:
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(text, encoding="utf-8")
    except OSError as exc:
        alerts.print(f"[yellow]Warning:[/yellow] could not save the run to {saved}: {exc}")
    else:
        err.print(f"Run saved to {saved}", highlight=False)
    if as_json:
        out.print_json(text)
        return
    _print_metrics(run, settings.top_k)
    if "answers" in run:
        _print_answer_metrics(run["answers"])


def _fallback(message: str) -> None:
    err.print(f"[yellow]Notice:[/yellow] {message}", highlight=False)


def _cells(m: dict[str, Any], keys: list[str]) -> list[str]:
    return ["-" if m.get(k) is None else f"{m[k]:.3f}" for k in keys]


ANSWER_COLUMNS = {
    "accuracy": "accuracy",
    "exact_match": "EM",
    "f1": "F1",
    "direct_f1": "direct F1",
    "false_refusals": "false refusals",
    "refused_unanswerable": "unanswerable refused",
}
CITATION_COLUMNS = {
    "citation_precision": "precision",
    "citation_recall": "recall",
    "answered_citing_gold": "answered citing gold",
    "supported_sentences": "sentences supported",
}


def _print_answer_metrics(result: dict[str, Any]) -> None:
    from rich.table import Table

    rows = [("all", result["metrics"]), *result["by_tag"].items()]
    answers = Table("set", "ans.", "unans.", *ANSWER_COLUMNS.values(), title="Answers")
    citations = Table("set", *CITATION_COLUMNS.values(), title="Citations (document level)")
    for name, m in rows:
        answers.add_row(
            name, str(m["answerable"]), str(m["unanswerable"]), *_cells(m, [*ANSWER_COLUMNS])
        )
        citations.add_row(name, *_cells(m, [*CITATION_COLUMNS]))
    out.print(answers)
    out.print(citations)
    m = result["metrics"]
    latency = Table("latency (s)", "p50", "p95")
    for name in ("retrieve", "ttft", "total"):
        latency.add_row(name, *_cells(m, [f"{name}_p50_s", f"{name}_p95_s"]))
    out.print(latency)


def _print_metrics(run: dict[str, Any], k: int) -> None:
    from rich.table import Table

    table = Table("set", "n", "hit@1", f"hit@{k}", "MRR", title="Retrieval (document level)")
    for name, m in [("all", run["metrics"]), *run["by_tag"].items()]:
        table.add_row(name, str(m["n"]), *_cells(m, ["hit@1", f"hit@{k}", "mrr"]))
    out.print(table)
    m = run["metrics"]
    out.print(f"retrieval p50 {m['retrieve_p50_ms']} ms, p95 {m['retrieve_p95_ms']} ms")


def _compare(path_a: Path, path_b: Path, as_json: bool) -> None:
    from rich.table import Table

    from rag.evaluate.runner import compare_runs, load_run

    with user_errors():
        diff = compare_runs(load_run(path_a), load_run(path_b))
    if as_json:
        out.print_json(json.dumps(diff, ensure_ascii=False))
        return
    table = Table("metric", "A", "B", "change", title=f"A = {path_a}, B = {path_b}")
    for row in diff["metrics"]:
        sign = "" if row["delta"] == 0 else ("+" if row["delta"] > 0 else "")
        table.add_row(row["metric"], str(row["a"]), str(row["b"]), f"{sign}{row['delta']}")
    out.print(table)
    if not diff["changed"]:
        out.print("No question changed.")
    for change in diff["changed"]:
        out.print(f"[bold]{change['id']}[/bold] {change['question']}", highlight=False)
        for field, values in change.items():
            if field not in ("id", "question", "answer"):
                out.print(f"  {field}: {values[0]} -> {values[1]}", highlight=False)
        a_answer, b_answer = change["answer"]
        if a_answer != b_answer:
            out.print(f"  A: {a_answer}\n  B: {b_answer}", highlight=False)
    for side, key in (("A", "only_in_a"), ("B", "only_in_b")):
        if diff[key]:
            out.print(f"Only in {side}: {', '.join(diff[key])}", highlight=False)
