from rag.cli.app import app

app(prog_name="rag")
