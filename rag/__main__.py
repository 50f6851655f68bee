"""`python -m rag`: the same as the `rag` command."""

from rag.cli.app import app

app(prog_name="rag")
