"""`rag index` and `rag search`: build or update an index of a folder, and show the passages
that best match a question; the parts come from the builder."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from rag.cli.options import (
    CorpusOpt,
    IndexOpt,
    JsonOpt,
    KbOpt,
    TopKOpt,
    alerts,
    check_question,
    embedding_progress,
    log,
    ms,
    out,
    say,
    settings_for,
    user_errors,
    where,
)


def index(
    corpus: CorpusOpt = None,
    index_dir: IndexOpt = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Re-embed everything.")] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail if any file is skipped or only partly read.")
    ] = False,
    store: Annotated[
        str | None,
        typer.Option("--store", help="Where vectors live: faiss or milvus [default: faiss]."),
    ] = None,
    milvus_uri: Annotated[
        str | None,
        typer.Option(
            "--milvus-uri",
            help="Milvus Lite file or http(s)://host:19530 [default: in the index folder].",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Build or update the index of a corpus folder (only changed documents are re-read and
    re-embedded). Files that cannot be read are skipped with the reason."""
    from rag.pipeline import index_folder

    with user_errors():
        settings = settings_for(corpus=corpus, index=index_dir, store=store, milvus_uri=milvus_uri)
        with embedding_progress(quiet=as_json) as progress:
            report = index_folder(
                settings,
                rebuild=rebuild,
                strict=strict,
                progress=progress,
                notice=None if as_json else say,
            )
    if as_json:
        payload = {
            **{k: v for k, v in vars(report).items() if k not in ("skipped", "partial")},
            "skipped": [{"path": p, "reason": r} for p, r in report.skipped],
            "partial": [{"path": p, "reason": r} for p, r in report.partial],
        }
        out.print_json(json.dumps(payload, ensure_ascii=False))
        return
    for path, reason in report.skipped:
        alerts.print(f"[yellow]Skipped[/yellow] {path}: {reason}", highlight=False)
    for path, reason in report.partial:
        alerts.print(f"[yellow]Partly indexed[/yellow] {path}: {reason}", highlight=False)
    changes = []
    for label, items in (("added", report.added), ("changed", report.changed)):
        if items:
            changes.append(f"{len(items)} {label}")
    if report.removed:
        changes.append(f"{len(report.removed)} removed")
    if report.unchanged:
        changes.append(f"{report.unchanged} unchanged")
    out.print(
        f"Indexed {report.documents} documents ({', '.join(changes) or 'no change'}) into "
        f"{report.chunks} chunks: {report.embedded} embedded, {report.reused} reused, "
        f"{len(report.skipped)} files skipped, {len(report.partial)} partly indexed, "
        f"{report.seconds:.1f} s. Index: {settings.index}",
        highlight=False,
    )


def search(
    question: Annotated[str, typer.Argument(help="What to look for, in any language.")],
    index_dir: IndexOpt = None,
    top_k: TopKOpt = None,
    as_json: JsonOpt = False,
    kb: KbOpt = None,
) -> None:
    """Show the passages that best match a question (no answer generation)."""
    from rag.pipeline import make_embedder, make_retriever

    with user_errors():
        settings = settings_for(kb, index=index_dir, top_k=top_k)
        question = check_question(question, settings)
        retriever = make_retriever(settings, make_embedder(settings, say))
        found = retriever.search(question, settings.top_k)
        log.debug("retrieval: %s", ms(found.timings))
    hits = found.hits
    if as_json:
        results = [
            {
                "rank": h.rank,
                "source": h.source,
                "start": h.chunk.start,
                "end": h.chunk.end,
                **h.chunk.location(),
                "text": h.chunk.text,
                "score": round(h.score, 4),
                "dense_score": None if h.dense_score is None else round(h.dense_score, 4),
                "lexical_score": None if h.lexical_score is None else round(h.lexical_score, 4),
            }
            for h in hits
        ]
        record = {"query": question, "also_searched": found.also_searched}
        out.print_json(json.dumps({**record, "results": results}, ensure_ascii=False))
        return
    if found.also_searched:
        # Other names the documents give for what the question names (rag.index.aliases).
        names = ", ".join(found.also_searched)
        out.print(f"[dim](also searched for: {names})[/dim]", highlight=False)
    if not hits:
        out.print("No matching passage.")
    for h in hits:
        out.print(
            f"[bold]{h.rank}.[/bold] [cyan]{where(h.source, h.chunk.location())}[/cyan] "
            f"[{h.chunk.start}:{h.chunk.end}] score {h.score:.3f}",
            highlight=False,
        )
        out.print("   " + " ".join(h.chunk.text.split()), highlight=False)
