"""What the CLI modules share: the consoles (so that --quiet reaches every command) and the
option types that several commands take."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

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
