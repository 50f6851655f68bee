"""Command line: parses options, calls the library, prints. Heavy imports stay inside commands."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from rag.cli.options import (
    CorpusOpt,
    IndexOpt,
    JsonOpt,
    ModelOpt,
    NoLlmOpt,
    TopKOpt,
    alerts,
    err,
    out,
)
from rag.errors import RagError
from rag.settings import Settings, load_settings

app = typer.Typer(
    help="Offline question answering over Chinese documents, with cited sources.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="Prepare and check the local models.", no_args_is_help=True)
app.add_typer(models_app, name="models")

log = logging.getLogger("rag.cli.app")


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


def _settings(**overrides: Any) -> Settings:
    return load_settings(overrides)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn a RagError into one line on stderr and its exit code."""
    try:
        yield
    except RagError as exc:
        alerts.print(f"[red]Error:[/red] {exc}", highlight=False)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        alerts.print("Interrupted.")
        raise typer.Exit(130) from None


def _embedder(settings: Settings, notice: Callable[[str], None]) -> Any:
    from rag.embed.embedder import E5Embedder, HashEmbedder

    if settings.embedder == "hash":
        return HashEmbedder()
    embedder = E5Embedder(settings.models_dir, settings.embed_batch, settings.threads)
    embedder.on_prepare = notice
    return embedder


@app.command()
def index(
    corpus: CorpusOpt = None,
    index_dir: IndexOpt = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Re-embed everything.")] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail if any file is skipped or only partly read.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Build or update the index of a corpus folder (only changed documents are re-read and
    re-embedded). Files that cannot be read are skipped with the reason."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from rag.index.build import build_index

    with _user_errors():
        settings = _settings(corpus=corpus, index=index_dir)
        quiet = as_json or err.quiet or not err.is_terminal
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
            disable=quiet,
        ) as bar:
            task = bar.add_task("Embedding chunks", total=None, visible=False)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total, visible=True)

            def notice(message: str) -> None:
                if not as_json:
                    err.print(message, highlight=False)

            report = build_index(
                settings.corpus,
                settings.index,
                _embedder(settings, notice),
                settings.chunk_chars,
                settings.chunk_overlap,
                rebuild=rebuild,
                progress=progress,
                options=settings.extract_options(),
                strict=strict,
                store_params=settings.store_params(),
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


@app.command()
def search(
    question: Annotated[str, typer.Argument(help="What to look for, in any language.")],
    index_dir: IndexOpt = None,
    top_k: TopKOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the passages that best match a question (no answer generation)."""
    from rag.index.build import load_index
    from rag.retrieve.retriever import Retriever

    with _user_errors():
        settings = _settings(index=index_dir, top_k=top_k)
        question = _check_question(question, settings)
        embedder = _embedder(settings, lambda msg: err.print(msg, highlight=False))
        loaded = load_index(settings.index, embedder.model_id)
        retriever = Retriever(loaded, embedder, settings.dense_weight)
        hits = retriever.search(question, settings.top_k)
        log.debug("retrieval: %s", _ms(retriever.last_timings))
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
        record = {"query": question, "also_searched": retriever.last_other_names}
        out.print_json(json.dumps({**record, "results": results}, ensure_ascii=False))
        return
    if retriever.last_other_names:
        # Other names the documents give for what the question names (rag.index.aliases).
        names = ", ".join(retriever.last_other_names)
        out.print(f"[dim](also searched for: {names})[/dim]", highlight=False)
    if not hits:
        out.print("No matching passage.")
    for h in hits:
        out.print(
            f"[bold]{h.rank}.[/bold] [cyan]{_where(h.source, h.chunk.location())}[/cyan] "
            f"[{h.chunk.start}:{h.chunk.end}] score {h.score:.3f}",
            highlight=False,
        )
        out.print("   " + " ".join(h.chunk.text.split()), highlight=False)


def _generator(settings: Settings, no_llm: bool) -> Any:
    """The local model, loaded; None for --no-llm, or (with a notice) when the default model
    or llama-cpp-python is not available. A model the user named must work."""
    if no_llm:
        return None
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    from rag.errors import ModelError
    from rag.generate.llama import LlamaGenerator
    from rag.generate.provision import resolve_model

    try:
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

            path = resolve_model(settings.model, settings.models_dir, progress)
        generator = LlamaGenerator(path, n_ctx=settings.n_ctx, n_threads=settings.threads)
        generator.warm_up()
    except ModelError as exc:
        if settings.model is not None:
            raise
        err.print(
            f"[yellow]Notice:[/yellow] no language model ({exc}) Answering with the most "
            "relevant sentences instead (--no-llm).",
            highlight=False,
        )
        return None
    return generator


def _answerer(settings: Settings, no_llm: bool, quiet: bool) -> Any:
    """Retriever plus generator, both loaded once and kept for every question."""
    from rag.answer.answerer import Answerer
    from rag.index.build import load_index
    from rag.retrieve.retriever import Retriever

    say = (lambda _msg: None) if quiet else (lambda msg: err.print(msg, highlight=False))
    embedder = _embedder(settings, say)
    loaded = load_index(settings.index, embedder.model_id)
    retriever = Retriever(loaded, embedder, settings.dense_weight)
    warming = retriever.warm_up_in_background()  # overlaps with loading the answer model
    generator = _generator(settings, no_llm)
    warming()
    answerer = Answerer.from_settings(retriever, generator, settings)
    if not quiet:
        answerer.on_status = lambda msg: err.print(f"\n{msg}", style="dim", highlight=False)
    return answerer


def _same_answer(checked: str, streamed: str) -> bool:
    """Whether the streamed text already showed the checked answer: the same words and the
    same citations, wherever the markers stood."""
    from rag.check.cite import parse_markers, strip_markers

    def words(text: str) -> str:
        return "".join(strip_markers(text).split())

    same_marks = parse_markers(checked) == parse_markers(streamed)
    return same_marks and words(checked) == words(streamed)


def _bridge_notice(answerer: Any, question: str) -> None:
    """Say why an English answer over Chinese documents takes a while to start."""
    from rag.textnorm import detect_script

    english = detect_script(question) == "english"
    if english and answerer.generator is not None and answerer.chinese_corpus():
        err.print(
            "(English question, Chinese documents: translating the question, answering in "
            "Chinese, checking, then translating the answer)",
            style="dim",
            highlight=False,
        )


def _where(source: str, location: dict[str, object]) -> str:
    """`report.pdf p. 3`, `deck.pptx slide 2`, or the bare source."""
    from rag.ingest.extract.base import location_label

    label = location_label(location)
    return f"{source} {label}" if label else source


def _print_answer(answer: Any, streamed: str) -> None:
    """After the streamed text: the checked answer if it differs, then the sources."""
    if answer.mode == "llm" and not _same_answer(answer.answer, streamed):
        note = "not supported by the passages" if answer.refused else "citations checked"
        out.print(f"\n[bold]Checked answer[/bold] ({note}):", highlight=False)
        out.print(answer.answer, highlight=False)
    elif answer.mode != "llm":
        out.print(answer.answer, highlight=False)
    if answer.citations:
        out.print("\n[bold]Sources[/bold]", highlight=False)
        for c in answer.citations:
            quote = " ".join(c.text.split())
            out.print(
                f"[{c.n}] [cyan]{_where(c.source, c.location())}[/cyan] {c.start}-{c.end}",
                highlight=False,
            )
            out.print(f"    「{quote}」", highlight=False)
    elif answer.retrieved:
        out.print("\n[bold]Closest passages[/bold]", highlight=False)
        for h in answer.retrieved[:3]:
            quote = " ".join(h.chunk.text.split())
            out.print(
                f"[{h.rank}] [cyan]{_where(h.source, h.chunk.location())}[/cyan] "
                f"{h.chunk.start}-{h.chunk.end}",
                highlight=False,
            )
            out.print(f"    「{quote}」", highlight=False)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question, in any language.")],
    index_dir: IndexOpt = None,
    top_k: TopKOpt = None,
    model: ModelOpt = None,
    no_llm: NoLlmOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Answer a question from the indexed documents, with checked citations."""
    with _user_errors():
        settings = _settings(index=index_dir, answer_k=top_k, model=model)
        question = _check_question(question, settings)
        answerer = _answerer(settings, no_llm, quiet=as_json)
        streamed: list[str] = []

        def on_token(piece: str) -> None:
            streamed.append(piece)
            if not as_json:
                out.print(piece, end="", highlight=False, markup=False)

        if not as_json:
            _bridge_notice(answerer, question)
        answer = answerer.ask(question, on_token=on_token)
        log.debug("answer (%s): %s", answer.mode, _ms(answer.timings))
    if as_json:
        out.print_json(json.dumps(answer.to_json(), ensure_ascii=False))
        return
    _print_answer(answer, "".join(streamed))


@app.command()
def chat(
    index_dir: IndexOpt = None,
    top_k: TopKOpt = None,
    model: ModelOpt = None,
    no_llm: NoLlmOpt = False,
) -> None:
    """Ask questions one after another; models stay loaded, follow-ups use the history."""
    with _user_errors():
        settings = _settings(index=index_dir, answer_k=top_k, model=model)
        answerer = _answerer(settings, no_llm, quiet=False)
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
            question = _check_question(question, settings)
            streamed.clear()
            _bridge_notice(answerer, question)
            answer = answerer.ask(question, on_token=on_token, history=history)
            _print_answer(answer, "".join(streamed))
            history.append((question, answer.answer))


def _ms(timings: dict[str, Any]) -> str:
    """Timings for --verbose: seconds as milliseconds, counts as they are."""
    parts = []
    for key, value in timings.items():
        if isinstance(value, float) and key.endswith("_s"):
            parts.append(f"{key[:-2]} {value * 1000:.1f} ms")
        elif value is not None:
            parts.append(f"{key} {value}")
    return ", ".join(parts)


def _check_question(question: str, settings: Settings) -> str:
    from rag.errors import QueryError

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


@models_app.command("prepare")
def models_prepare() -> None:
    """Convert the embedding model and assemble and verify the answer model (once; no network)."""
    from rag.embed.e5convert import ensure_model
    from rag.generate.provision import resolve_model

    with _user_errors():
        settings = _settings()
        folder = ensure_model(
            settings.models_dir / "multilingual-e5-small",
            progress=lambda msg: err.print(msg, highlight=False),
        )
        out.print(f"Embedding model ready: {folder}", highlight=False)
        err.print("Checking the answer model (sha256 of 1.1 GB on first use)", highlight=False)
        gguf = resolve_model(settings.model, settings.models_dir)
    out.print(f"Answer model ready: {gguf}", highlight=False)


@app.command()
def doctor(as_json: JsonOpt = False) -> None:
    """Show versions, where models and index live, what is missing and how to fix it."""
    from rag.doctor import diagnose

    with _user_errors():
        report = diagnose(_settings())
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


# Registered last: rag.cli.eval imports the shared options and helpers defined above.
from rag.cli.eval import eval_cmd  # noqa: E402

app.command("eval")(eval_cmd)


@app.command()
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

    with _user_errors():
        settings = _settings(corpus=corpus)
        options = BenchOptions.for_run(
            settings, quick, eval_file=eval_file, sizes=parse_sizes(sizes), no_llm=no_llm
        )

        def say(message: str) -> None:
            err.print(f"bench: {message}", highlight=False, markup=False)

        embedder = _embedder(settings, say)
        folder = getattr(embedder, "folder", None)
        peer = peer_runner(folder, settings.n_ctx, settings.max_tokens, settings.threads)
        result = run_bench(
            settings, options, embedder, lambda: _generator(settings, no_llm), say, peer
        )
    text = json.dumps(result, ensure_ascii=False, indent=1)
    if out_file is not None:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(text + "\n", encoding="utf-8")
    if as_json:
        out.print_json(text)
        return
    for line in summary_lines(result):
        out.print(line, highlight=False)
