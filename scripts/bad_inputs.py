"""Try every bad input through the real `rag` command, one after another, in a temp folder.

Prints the exit code and the message for each and fails if any run prints a traceback or
exits with an unexpected code. Uses the hashing embedder, so it needs no model and takes
about a minute (each run starts a fresh Python). Usage: python scripts/bad_inputs.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"
TEXT = "鳳梨酥是臺灣的名產，每盒售價三百五十元。"


def write(path: str, data: bytes | str) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    target.write_bytes(data)


def live_build() -> Path:
    return Path("index") / Path("index/CURRENT").read_text(encoding="utf-8").strip()


def damage(name: str) -> Callable[[], None]:
    def run() -> None:
        rag("index", "--rebuild")  # start from a good index each time
        target = Path("index/CURRENT") if name == "CURRENT" else live_build() / name
        target.write_bytes(b"\x00garbage{")

    return run


def other_format() -> None:
    rag("index", "--rebuild")
    manifest = json.loads((live_build() / "manifest.json").read_text(encoding="utf-8"))
    manifest["format_version"] = 999
    (live_build() / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def eval_file(second_line: str) -> Callable[[], None]:
    good = {
        "id": "q1",
        "question": "鳳梨酥多少錢？",
        "answers": ["三百五十元"],
        "gold_sources": ["big5.txt"],
        "answerable": True,
    }
    return lambda: write("eval.jsonl", json.dumps(good, ensure_ascii=False) + "\n" + second_line)


def nothing() -> None:
    pass


def rag(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rag", *args],
        capture_output=True,
        text=True,
        env={**ENV, **(env or {})},
        timeout=300,
    )


ENV: dict[str, str] = {}
ASK = ("ask", "台智雲的總經理是誰？", "--no-llm")
# (what, set-up, arguments, expected exit code, extra environment)
CASES: list[tuple[str, Callable[[], None], tuple[str, ...], int, dict[str, str]]] = [
    ("empty question", nothing, ("ask", "", "--no-llm"), 1, {}),
    ("whitespace question", nothing, ("search", " \t\n "), 1, {}),
    ("corpus folder missing", nothing, ("index", "--corpus", "nowhere"), 1, {}),
    (
        "corpus is a file",
        lambda: write("notes.txt", "筆記"),
        ("index", "--corpus", "notes.txt"),
        1,
        {},
    ),
    (
        "no readable document",
        lambda: (write("junk/a.txt", b""), write("junk/b.txt", PNG)),
        ("index", "--corpus", "junk"),
        1,
        {},
    ),
    (
        "binary, empty, Big5, UTF-16, UTF-8 BOM files",
        lambda: (
            write("corpus/photo.txt", PNG),
            write("corpus/empty.md", b""),
            write("corpus/big5.txt", TEXT.encode("cp950")),
            write("corpus/utf16.txt", "台智雲的總經理是吳漢章。".encode("utf-16")),
            write("corpus/bom.md", b"\xef\xbb\xbf" + "珍珠奶茶起源於台中。".encode()),
        ),
        ("index",),
        0,
        {},
    ),
    ("Big5 text is searchable", nothing, ("search", "鳳梨酥多少錢", "-k", "1"), 0, {}),
    ("over-long question (capped)", nothing, ("ask", "台智雲？" * 200, "--no-llm"), 0, {}),
    ("missing index", nothing, ("search", "台智雲", "--index", "nowhere"), 1, {}),
    ("index of another embedding model", nothing, ASK, 1, {"RAG_EMBEDDER": "e5"}),
    ("index of another format version", other_format, ASK, 1, {}),
    ("corrupt manifest", damage("manifest.json"), ASK, 1, {}),
    ("corrupt FAISS file", damage("dense.faiss"), ASK, 1, {}),
    ("corrupt vectors", damage("vectors.npy"), ASK, 1, {}),
    ("corrupt chunk records", damage("chunks.jsonl"), ASK, 1, {}),
    ("corrupt CURRENT pointer", damage("CURRENT"), ASK, 1, {}),
    ("rebuild repairs it", nothing, ("index", "--rebuild"), 0, {}),
    ("index path is a file", nothing, ("index", "--index", "notes.txt"), 1, {}),
    ("model path missing", nothing, (*ASK[:2], "--model", "missing.gguf"), 1, {}),
    ("model path is a folder", nothing, (*ASK[:2], "--model", "corpus"), 1, {}),
    ("model is not a GGUF", nothing, (*ASK[:2], "--model", "notes.txt"), 1, {}),
    (
        "model is a truncated GGUF",
        lambda: write("cut.gguf", b"GGUF\x03\x00\x00\x00"),
        (*ASK[:2], "--model", "cut.gguf"),
        1,
        {},
    ),
    (
        "eval file with a bad line",
        eval_file("{broken"),
        ("eval", "--eval-file", "eval.jsonl"),
        1,
        {},
    ),
    (
        "eval line missing a field",
        eval_file('{"id": "q2"}'),
        ("eval", "--eval-file", "eval.jsonl"),
        1,
        {},
    ),
    ("eval file missing", nothing, ("eval", "--eval-file", "none.jsonl"), 1, {}),
    ("bad environment value", nothing, ("search", "台智雲"), 2, {"RAG_TOP_K": "lots"}),
    ("bad config file", lambda: write("rag.toml", "top_k = [\n"), ("search", "台智雲"), 2, {}),
    ("unknown option (typer usage)", lambda: Path("rag.toml").unlink(), ("index", "--fast"), 2, {}),
]


def main() -> int:
    failures = 0
    with tempfile.TemporaryDirectory(prefix="rag-bad-inputs-") as tmp:
        os.chdir(tmp)
        ENV.update(os.environ)
        ENV.update(
            {
                "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
                "RAG_HOME": str(Path(tmp) / "home"),
                "RAG_EMBEDDER": "hash",
                "XDG_CONFIG_HOME": str(Path(tmp) / "config"),
                "COLUMNS": "200",
            }
        )
        for what, setup, args, expected, env in CASES:
            setup()
            result = rag(*args, env=env)
            output = result.stdout + result.stderr
            # typer draws usage errors in a box: keep the words only.
            lines = [line.strip(" │") for line in result.stderr.splitlines()]
            lines = [line for line in lines if line and not line.startswith(("╭", "╰"))]
            shown = " | ".join(lines) if lines else result.stdout.strip().splitlines()[0]
            ok = "Traceback" not in output and result.returncode == expected
            failures += not ok
            print(f"{'ok ' if ok else 'BAD'} [{result.returncode}] {what}: {shown}")
    print(
        f"{len(CASES) - failures} of {len(CASES)} cases as expected, no traceback"
        if not failures
        else f"{failures} of {len(CASES)} cases failed"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
