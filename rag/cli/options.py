"""What the CLI modules share: the consoles (so that --quiet reaches every command), the
option types that several commands take, and turning errors into messages and exit codes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from rag.errors import ConfigError, QueryError, RagError
from rag.settings import Settings, load_settings

out = Console(soft_wrap=True)
# Progress bars and notices; --quiet silences this console.
err = Console(stderr=True, soft_wrap=True)
# Errors, warnings and --verbose details: never silenced.
alerts = Console(stderr=True, soft_wrap=True)

CorpusOpt = Annotated[
    Path | None, typer.Option("--corpus", help="Folder of documents [default: ./corpus].")
]
IndexOpt = Annotated[Path | None, typer.Option("--index", help="Index folder [default: ./index].")]
TopKOpt = Annotated[int | None, typer.Option("--top-k", "-k", help="Passages to return.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
ModelOpt = Annotated[
    Path | None, typer.Option("--model", help="A GGUF chat model [default: the bundled Qwen].")
]
NoLlmOpt = Annotated[
    bool, typer.Option("--no-llm", help="Answer with the best retrieved sentences, no model.")
]
KbOpt = Annotated[
    str | None,
    typer.Option("--kb", help="A knowledge base (rag kb list) instead of --index."),
]
LlmUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--llm-url",
        help="Answer with an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 "
        "[default: the local model].",
    ),
]


log = logging.getLogger("rag.cli")


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn a RagError into one line on stderr and its exit code."""
    try:
        yield
    except RagError as exc:
        alerts.print(f"[red]Error:[/red] {exc}", highlight=False)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        alerts.print("Interrupted.")
        raise typer.Exit(130) from None


def settings_for(kb: str | None = None, **overrides: Any) -> Settings:
    """The settings with this command's flags on top (None: not given); with `kb`, that
    knowledge base's folders as corpus and index."""
    settings = load_settings(overrides)
    if kb is None:
        return settings
    if overrides.get("index") is not None:
        raise ConfigError("Pass --kb or --index, not both.")
    from rag.serve.kb import get_kb

    return get_kb(settings, kb).settings(settings)


def say(message: str) -> None:
    """A notice on stderr (silenced by --quiet)."""
    err.print(message, highlight=False)


def check_question(question: str, settings: Settings) -> str:
    """The question stripped and cut to max_question_chars; an empty one is an error."""
    question = question.strip()
    if not question:
        raise QueryError("The question is empty. Example: rag ask '主權AI是什麼？'")
    if len(question) > settings.max_question_chars:
        err.print(
            f"[yellow]Note:[/yellow] the question was {len(question)} characters; only the "
            f"first {settings.max_question_chars} are used.",
            highlight=False,
        )
        question = question[: settings.max_question_chars]
    return question


def where(source: str, location: dict[str, object]) -> str:
    """`report.pdf p. 3`, `deck.pptx slide 2`, or the bare source."""
    from rag.ingest.extract.base import location_label

    label = location_label(location)
    return f"{source} {label}" if label else source


def ms(timings: dict[str, Any]) -> str:
    """Timings for --verbose: seconds as milliseconds, counts as they are."""
    parts = []
    for key, value in timings.items():
        if isinstance(value, float) and key.endswith("_s"):
            parts.append(f"{key[:-2]} {value * 1000:.1f} ms")
        elif value is not None:
            parts.append(f"{key} {value}")
    return ", ".join(parts)


@contextmanager
def embedding_progress(quiet: bool) -> Iterator[Callable[[int, int], None]]:
    """A progress bar for embedding chunks on stderr (none when quiet or not a terminal);
    yields the (done, total) callback that moves it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    disable = quiet or err.quiet or not err.is_terminal
    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeRemainingColumn(), console=err, disable=disable) as bar:
        task = bar.add_task("Embedding chunks", total=None, visible=False)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, visible=True)

        yield progress
