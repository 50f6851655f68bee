"""`rag ask` and `rag chat`: a question in, the answer streamed, then the checked answer and
its sources; the pipeline comes from the builder."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from rag.check.sentences import same_answer
from rag.cli.options import (
    IndexOpt,
    JsonOpt,
    KbOpt,
    LlmUrlOpt,
    ModelOpt,
    NoLlmOpt,
    TopKOpt,
    check_question,
    err,
    log,
    ms,
    out,
    say,
    settings_for,
    user_errors,
    where,
)
from rag.generate.prompts import DIRECT_LABEL
from rag.settings import Settings


def load_pipeline(settings: Settings, no_llm: bool, quiet: bool) -> Any:
    """The pipeline with the terminal's progress bar while the answer model is assembled."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    from rag.pipeline import build_pipeline

    def fallback(message: str) -> None:
        err.print(f"[yellow]Notice:[/yellow] {message}", highlight=False)

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=err.quiet or not err.is_terminal,
    ) as bar:
        task = bar.add_task("Preparing the answer model (first use)", visible=False)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, visible=True)

        return build_pipeline(
            settings,
            no_llm=no_llm,
            notice=None if quiet else say,
            model_progress=progress,
            on_fallback=fallback,
        )


def print_answer(answer: Any, streamed: str) -> None:
    """After the streamed text: the checked answer if it differs, then the sources."""
    if answer.mode == "llm" and not same_answer(answer.answer, streamed):
        out.print(f"\n[bold]Checked answer[/bold] ({answer.revision_note()}):", highlight=False)
        out.print(answer.answer, highlight=False)
    elif answer.mode != "llm":
        out.print(answer.answer, highlight=False)
    if answer.direct:
        out.print(f"\n[bold]{DIRECT_LABEL[answer.script]}[/bold]", end="", highlight=False)
        out.print(answer.direct, highlight=False, markup=False)
    if answer.citations:
        out.print("\n[bold]Sources[/bold]", highlight=False)
        for c in answer.citations:
            quote = " ".join(c.text.split())
            out.print(
                f"[{c.n}] [cyan]{where(c.source, c.location())}[/cyan] {c.start}-{c.end}",
                highlight=False,
            )
            out.print(f"    「{quote}」", highlight=False)
    elif answer.retrieved:
        out.print("\n[bold]Closest passages[/bold]", highlight=False)
        for h in answer.retrieved[:3]:
            quote = " ".join(h.chunk.text.split())
            out.print(
                f"[{h.rank}] [cyan]{where(h.source, h.chunk.location())}[/cyan] "
                f"{h.chunk.start}-{h.chunk.end}",
                highlight=False,
            )
            out.print(f"    「{quote}」", highlight=False)


def _status(message: str) -> None:
    err.print(f"\n{message}", style="dim", highlight=False)


def ask(
    question: Annotated[str, typer.Argument(help="Your question, in any language.")],
    index_dir: IndexOpt = None,
    top_k: TopKOpt = None,
    model: ModelOpt = None,
    no_llm: NoLlmOpt = False,
    llm_url: LlmUrlOpt = None,
    as_json: JsonOpt = False,
    kb: KbOpt = None,
) -> None:
    """Answer a question from the indexed documents, with checked citations."""
    with user_errors():
        settings = settings_for(kb, index=index_dir, answer_k=top_k, model=model, llm_url=llm_url)
        question = check_question(question, settings)
        pipeline = load_pipeline(settings, no_llm, quiet=as_json)
        streamed: list[str] = []

        def on_token(piece: str) -> None:
            streamed.append(piece)
            if not as_json:
                out.print(piece, end="", highlight=False, markup=False)

        status = None if as_json else _status
        answer = pipeline.answerer.ask(question, on_token=on_token, on_status=status)
        log.debug("answer (%s): %s", answer.mode, ms(answer.timings))
    if as_json:
        out.print_json(json.dumps(answer.to_json(), ensure_ascii=False))
        return
    print_answer(answer, "".join(streamed))


def chat(
    index_dir: IndexOpt = None,
    top_k: TopKOpt = None,
    model: ModelOpt = None,
    no_llm: NoLlmOpt = False,
    llm_url: LlmUrlOpt = None,
    kb: KbOpt = None,
) -> None:
    """Ask questions one after another; models stay loaded, follow-ups use the history."""
    with user_errors():
        settings = settings_for(kb, index=index_dir, answer_k=top_k, model=model, llm_url=llm_url)
        pipeline = load_pipeline(settings, no_llm, quiet=False)
        history: list[tuple[str, str]] = []
        streamed: list[str] = []

        def on_token(piece: str) -> None:
            streamed.append(piece)
            out.print(piece, end="", highlight=False, markup=False)

        err.print("Ask a question (empty line or Ctrl-D to quit).", highlight=False)
        while True:
            try:
                question = input("\n> ").strip()
            except EOFError:
                break
            if not question:
                break
            question = check_question(question, settings)
            streamed.clear()
            answer = pipeline.answerer.ask(
                question, on_token=on_token, history=history, on_status=_status
            )
            print_answer(answer, "".join(streamed))
            history.append((question, answer.answer))
