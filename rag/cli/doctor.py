"""`rag doctor` and `rag models prepare`: what is installed and where, what is missing and
the command that fixes it; preparing both models ahead of first use."""

from __future__ import annotations

import json
from typing import Any

import typer

from rag.cli.options import JsonOpt, out, say, settings_for, user_errors


def doctor(as_json: JsonOpt = False) -> None:
    """Show versions, where models and index live, what is missing and how to fix it."""
    from rag.doctor import diagnose

    with user_errors():
        report = diagnose(settings_for())
    if as_json:
        out.print_json(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        _print_doctor(report)
    if not report.ok:
        raise typer.Exit(1)


def _print_doctor(report: Any) -> None:
    versions = ", ".join(f"{k} {v or 'missing'}" for k, v in report.versions.items())
    out.print(f"[bold]Versions[/bold]: {versions}", highlight=False)
    out.print("[bold]Paths[/bold]", highlight=False)
    for key, value in report.paths.items():
        out.print(f"  {key:<16} {value or '-'}", highlight=False)
    if report.using:
        out.print("[bold]In use[/bold]", highlight=False)
        for key, value in report.using.items():
            out.print(f"  {key:<16} {value}", highlight=False)
    out.print("[bold]Checks[/bold]", highlight=False)
    for c in report.checks:
        mark = "[green]ok[/green]" if c.ok else "[red]MISSING[/red]"
        if not c.ok and not c.required:
            mark = "[yellow]note[/yellow]"
        out.print(f"  {mark} {c.name}: {c.detail}", highlight=False)
        if c.fix and not c.ok:
            out.print(f"      fix: {c.fix}", highlight=False, markup=False)
    if report.index:
        i = report.index
        out.print(
            f"[bold]Index[/bold]: {i['documents']} documents, {i['chunks']} chunks, "
            f"{i['embedding_model']}, built {i['built_at']} in {i['build_seconds']} s, "
            f"{i['bytes'] / 1e6:.1f} MB",
            highlight=False,
        )
    verdict = "ready" if report.ok else "something needed is missing (see fix above)"
    out.print(f"[bold]Status[/bold]: {verdict}", highlight=False)


def models_prepare() -> None:
    """Convert the embedding model and assemble and verify the answer model (once; no network)."""
    from rag.pipeline import prepare_models

    with user_errors():
        folder, gguf = prepare_models(settings_for(), say)
    out.print(f"Embedding model ready: {folder}", highlight=False)
    out.print(f"Answer model ready: {gguf}", highlight=False)
