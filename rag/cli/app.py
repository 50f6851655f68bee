"""The `rag` command: the Typer app, its global flags, and the commands of rag/cli/ registered
on it. Each command parses options, asks the pipeline builder (rag.pipeline) for parts,
prints, and turns a RagError into a message and an exit code."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from rag.cli.ask import ask, chat
from rag.cli.bench import bench
from rag.cli.doctor import doctor, models_prepare
from rag.cli.eval import eval_cmd
from rag.cli.indexing import index, search
from rag.cli.options import alerts, err
from rag.cli.serve import kb_app, serve

app = typer.Typer(
    help="Offline question answering over Chinese documents, with cited sources.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="Prepare and check the local models.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(kb_app, name="kb")


class _ConsoleLog(logging.Handler):
    """--verbose: the library's debug records on stderr, seconds since start first."""

    def emit(self, record: logging.LogRecord) -> None:
        from rich.text import Text

        line = f"{record.relativeCreated / 1000:7.2f}s {record.name}: {record.getMessage()}"
        alerts.print(Text(line, style="dim"))


@app.callback()
def main(
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bars or notices; results only.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also show timings and debug details.")
    ] = False,
) -> None:
    """Offline question answering over Chinese documents, with cited sources."""
    if quiet and verbose:
        raise typer.BadParameter("use --quiet or --verbose, not both.")
    err.quiet = quiet
    logger = logging.getLogger("rag")
    for handler in [h for h in logger.handlers if isinstance(h, _ConsoleLog)]:
        logger.removeHandler(handler)
    if verbose:
        logger.addHandler(_ConsoleLog())
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)


app.command()(index)
app.command()(search)
app.command()(ask)
app.command()(chat)
app.command("eval")(eval_cmd)
app.command()(doctor)
app.command()(bench)
app.command()(serve)
models_app.command("prepare")(models_prepare)
