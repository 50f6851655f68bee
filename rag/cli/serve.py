"""`rag serve` (the API and the web page over every knowledge base) and `rag kb ...` (create,
fill, list and empty knowledge bases); the library does the work (rag.serve)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from rag.cli.options import (
    JsonOpt,
    ModelOpt,
    NoLlmOpt,
    alerts,
    embedding_progress,
    err,
    out,
    say,
    settings_for,
    user_errors,
)

kb_app = typer.Typer(
    help="Knowledge bases: named document folders, each with its own index.",
    no_args_is_help=True,
)


def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (others need a token).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file", help="File whose first line is the API token (else RAG_API_TOKEN)."
        ),
    ] = None,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option("--cors-origin", help="A web origin allowed to call the API (repeatable)."),
    ] = None,
    queue: Annotated[
        int, typer.Option("--queue", help="Questions that may wait for the model (then 429).")
    ] = 8,
    model: ModelOpt = None,
    no_llm: NoLlmOpt = False,
) -> None:
    """Serve the knowledge bases: an OpenAI-compatible API with checked citations, document
    upload, and a web page at http://HOST:PORT/."""
    from rag.serve.app import create_app
    from rag.serve.security import ServeConfig, read_token
    from rag.serve.server import bind, limit_malloc_arenas, run
    from rag.serve.services import build_services

    with user_errors():
        settings = settings_for(model=model)
        config = ServeConfig(
            host=host,
            port=port,
            token=read_token(os.environ, token_file),
            cors_origins=tuple(cors_origin or ()),
            queue_depth=queue,
        ).check()
        sock = bind(host, port)  # before loading models: a taken port fails fast

        def fallback(message: str) -> None:
            err.print(f"[yellow]Notice:[/yellow] {message}", highlight=False)

        say("Loading the models…")
        limit_malloc_arenas()
        services = build_services(settings, config, no_llm=no_llm, notice=say, on_fallback=fallback)
        shown = f"[{host}]" if ":" in host else host
        names = ", ".join(kb.name for kb in _kbs(settings))
        say(f"Knowledge bases: {names}")
        auth = "a token is required" if config.token else "no token: this machine only"
        alerts.print(
            f"Serving on http://{shown}:{sock.getsockname()[1]}/ ({auth}). Ctrl-C to stop.",
            highlight=False,
        )
        try:
            run(create_app(services), sock)
        finally:
            services.close()


def _kbs(settings: Any) -> list[Any]:
    from rag.serve.kb import list_kbs

    return list_kbs(settings)


@kb_app.command("create")
def kb_create(name: Annotated[str, typer.Argument(help="Letters, digits, '-' or '_'.")]) -> None:
    """Create an empty knowledge base."""
    from rag.serve.kb import create_kb

    with user_errors():
        kb = create_kb(settings_for(), name)
    out.print(f"Created knowledge base {kb.name} ({kb.documents.parent}).", highlight=False)
    out.print(f"Add documents with: rag kb add {kb.name} FILES…", highlight=False)


@kb_app.command("list")
def kb_list(
    name: Annotated[
        str | None, typer.Argument(help="A knowledge base: list its documents instead.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the knowledge bases (the default index first), or one knowledge base's documents."""
    from rag.serve.kb import get_kb

    with user_errors():
        settings = settings_for()
        if name is not None:
            files = get_kb(settings, name).files()
            if as_json:
                out.print_json(json.dumps(files, ensure_ascii=False))
            for file in [] if as_json else files:
                out.print(file, highlight=False, markup=False)
            return
        kbs = _kbs(settings)
    rows = [
        {
            "name": kb.name,
            "documents": len(kb.files()),
            "indexed": kb.indexed,
            "writable": kb.writable,
            "folder": str(kb.documents),
        }
        for kb in kbs
    ]
    if as_json:
        out.print_json(json.dumps(rows, ensure_ascii=False))
        return
    for row in rows:
        state = "indexed" if row["indexed"] else "not indexed"
        note = "" if row["writable"] else " (rag index)"
        out.print(
            f"{row['name']}: {row['documents']} documents, {state}, {row['folder']}{note}",
            highlight=False,
        )


def _reindex(settings: Any, kb: Any) -> None:
    """Re-index with a progress bar and say what changed."""
    from rag.serve.kb import reindex

    with embedding_progress(quiet=False) as progress:
        report = reindex(settings, kb, progress=progress, notice=say)
    if report is None:
        out.print(f"{kb.name} has no documents left; its index was removed.", highlight=False)
        return
    for path, reason in report.skipped:
        alerts.print(f"[yellow]Skipped[/yellow] {path}: {reason}", highlight=False)
    out.print(
        f"{kb.name}: {report.documents} documents, {report.chunks} chunks "
        f"({report.embedded} embedded, {report.reused} reused), {report.seconds:.1f} s.",
        highlight=False,
    )


@kb_app.command("add")
def kb_add(
    name: Annotated[str, typer.Argument(help="The knowledge base.")],
    files: Annotated[list[Path], typer.Argument(help="Documents to copy in.")],
) -> None:
    """Copy documents into a knowledge base and update its index."""
    from rag.serve.kb import add_files, get_kb

    with user_errors():
        settings = settings_for()
        kb = get_kb(settings, name)
        added, rejected = add_files(settings, kb, files)
        for path, reason in rejected:
            alerts.print(f"[yellow]Not added[/yellow] {path}: {reason}", highlight=False)
        if not added:
            alerts.print("[red]Error:[/red] no file was added.", highlight=False)
            raise typer.Exit(1)
        say(f"Added {len(added)} file(s) to {kb.name}.")
        _reindex(settings, kb)


@kb_app.command("remove")
def kb_remove(
    name: Annotated[str, typer.Argument(help="The knowledge base.")],
    documents: Annotated[list[str], typer.Argument(help="Document names, as `rag kb list` shows.")],
) -> None:
    """Remove documents from a knowledge base and update its index."""
    from rag.serve.kb import get_kb, remove_document

    with user_errors():
        settings = settings_for()
        kb = get_kb(settings, name)
        for document in documents:
            remove_document(kb, document)
        _reindex(settings, kb)
