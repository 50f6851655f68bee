"""Every bad input a user can give ends in one clear line and a non-zero exit code, never a
traceback. Each case builds its own state in tmp_path and runs the CLI in process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from rag.cli.app import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def hash_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_EMBEDDER", "hash")


def run(*args: str) -> Result:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output
    # Only typer.Exit (SystemExit) may end a run: any other exception is a bug.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def fails(code: int, *fragments: str, args: tuple[str, ...]) -> Result:
    result = run(*args)
    assert result.exit_code == code, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    for fragment in fragments:
        assert fragment in errors[0], result.output
    return result


@pytest.fixture
def index(tiny_corpus: Path) -> Path:
    assert run("index", "--corpus", str(tiny_corpus), "--index", "idx").exit_code == 0
    return Path("idx") / Path("idx/CURRENT").read_text(encoding="utf-8").strip()


# -- questions ------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["ask", "search"])
@pytest.mark.parametrize("question", ["", "   ", "\n\t "])
def test_empty_question(index: Path, command: str, question: str) -> None:
    fails(1, "question is empty", "rag ", args=(command, question, "--index", "idx"))


def test_over_long_question_is_capped_with_a_notice(index: Path) -> None:
    question = "滷肉飯多少錢？" + "請說明" * 300
    result = run("ask", question, "--index", "idx", "--no-llm", "--json")
    assert result.exit_code == 0
    assert f"the question was {len(question)} characters; only the first 500" in result.output
    assert len(json.loads(result.stdout)["question"]) == 500


# -- corpus ---------------------------------------------------------------------------------


def test_corpus_folder_missing_or_a_file(tmp_path: Path) -> None:
    fails(1, "does not exist", "--corpus", args=("index", "--corpus", "nowhere"))
    Path("notes.txt").write_text("筆記", encoding="utf-8")
    fails(1, "notes.txt is not a folder", args=("index", "--corpus", "notes.txt"))


def test_corpus_without_readable_documents_names_the_files(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    fails(
        1,
        "No readable document",
        "empty.txt: empty file",
        "photo.txt: the content is a PNG image",
        args=("index", "--corpus", str(corpus)),
    )
    (corpus / "sub").mkdir()
    fails(1, "No readable document", args=("index", "--corpus", str(corpus / "sub")))


def test_binary_and_empty_files_are_skipped_with_a_warning_naming_them(tiny_corpus: Path) -> None:
    (tiny_corpus / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (tiny_corpus / "sub" / "blank.md").write_bytes(b"")
    (tiny_corpus / "spaces.txt").write_text(" \n\u3000\n", encoding="utf-8")
    result = run("index", "--corpus", str(tiny_corpus))
    assert result.exit_code == 0
    assert "Skipped photo.txt: the content is a PNG image" in result.output
    assert "Skipped sub/blank.md: empty file" in result.output
    assert "Skipped spaces.txt: no text" in result.output
    assert "Indexed 3 documents" in result.output and "3 files skipped" in result.output


@pytest.mark.parametrize(
    ("name", "encode"),
    [
        ("big5.txt", lambda t: t.encode("cp950")),
        ("utf16.txt", lambda t: t.encode("utf-16")),
        ("utf16le-no-bom.txt", lambda t: t.encode("utf-16-le")),
        ("bom.md", lambda t: b"\xef\xbb\xbf" + t.encode("utf-8")),
    ],
)
def test_legacy_encodings_are_read_and_searchable(tmp_path: Path, name: str, encode) -> None:
    text = "鳳梨酥是臺灣的名產，每盒售價三百五十元。"
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / name).write_bytes(encode(text))
    (corpus / "other.txt").write_text("珍珠奶茶起源於台中。", encoding="utf-8")
    assert run("index", "--corpus", str(corpus)).exit_code == 0
    result = run("search", "鳳梨酥多少錢", "--json")
    top = json.loads(result.stdout)["results"][0]
    assert top["source"] == name and top["text"] == text


# -- index ----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["ask", "search"])
def test_missing_index(command: str) -> None:
    fails(
        1,
        "No index in nowhere",
        "Run `rag index` first",
        args=(command, "台智雲", "--index", "nowhere"),
    )


def test_index_of_another_embedding_model(index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_EMBEDDER", "e5")
    fails(
        1,
        "'hash-ngram-v1'",
        "rag index --rebuild",
        args=("ask", "台智雲", "--index", "idx", "--no-llm"),
    )


def test_index_of_another_format_version(index: Path) -> None:
    manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    manifest["format_version"] = 999
    (index / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    fails(
        1, "format version 999", "rag index --rebuild", args=("search", "台智雲", "--index", "idx")
    )


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        ("manifest.json", "Cannot read index manifest"),
        ("dense.faiss", "dense.faiss"),
        ("vectors.npy", "vectors.npy"),
        ("chunks.jsonl", "chunks.jsonl"),
        ("bm25/params.index.json", "lexical index"),
        ("CURRENT", "CURRENT names the build"),
    ],
)
def test_corrupt_index_files(index: Path, damage: str, named: str) -> None:
    target = index.parent / damage if damage == "CURRENT" else index / damage
    assert target.exists(), f"the index layout changed: no {damage}"
    target.write_bytes(b"\x00garbage{")
    fails(
        1,
        named,
        "rag index --rebuild",
        args=("ask", "台智雲的總經理", "--index", "idx", "--no-llm"),
    )


def test_index_path_that_is_a_file(tiny_corpus: Path) -> None:
    Path("index.txt").write_text("not a folder", encoding="utf-8")
    fails(
        1,
        "index.txt is a file",
        args=("index", "--corpus", str(tiny_corpus), "--index", "index.txt"),
    )


# -- models ---------------------------------------------------------------------------------


def test_model_path_missing_directory_or_not_gguf(index: Path) -> None:
    ask = ("ask", "台智雲", "--index", "idx", "--model")
    fails(1, "missing.gguf does not exist", args=(*ask, "missing.gguf"))
    Path("models").mkdir()
    fails(1, "is a directory", args=(*ask, "models"))
    Path("notes.gguf").write_text("plain text", encoding="utf-8")
    fails(1, "notes.gguf is not a GGUF", args=(*ask, "notes.gguf"))
    Path("cut.gguf").write_bytes(b"GGUF\x03\x00\x00\x00")
    fails(1, "cut.gguf is truncated", args=(*ask, "cut.gguf"))


# -- eval file and settings -----------------------------------------------------------------


def test_eval_file_with_a_bad_line(index: Path) -> None:
    good = {
        "id": "q1",
        "question": "滷肉飯多少錢？",
        "answers": ["五十元"],
        "gold_sources": ["food.txt"],
        "answerable": True,
    }
    path = Path("eval.jsonl")
    path.write_text(json.dumps(good, ensure_ascii=False) + "\n{broken\n", encoding="utf-8")
    fails(
        1,
        "eval.jsonl, line 2: not valid JSON",
        args=("eval", "--eval-file", "eval.jsonl", "--index", "idx"),
    )
    bad = dict(good, id="q2", question=None)
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    fails(
        1,
        "line 2: 'question' must be a str",
        args=("eval", "--eval-file", "eval.jsonl", "--index", "idx"),
    )
    fails(1, "Cannot read eval file", args=("eval", "--eval-file", "none.jsonl", "--index", "idx"))


def test_bad_settings(index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fails(
        2, "top_k must be between 1 and 100", args=("search", "台智雲", "--index", "idx", "-k", "0")
    )
    Path("rag.toml").write_text("top_k = [\n", encoding="utf-8")
    fails(2, "rag.toml", args=("search", "台智雲", "--index", "idx"))
    Path("rag.toml").unlink()
    monkeypatch.setenv("RAG_DENSE_WEIGHT", "heavy")
    fails(2, "RAG_DENSE_WEIGHT", args=("search", "台智雲", "--index", "idx"))


def test_typer_usage_errors_keep_exit_code_2() -> None:
    result = run("search")
    assert result.exit_code == 2 and "Missing argument" in result.output
    result = run("index", "--no-such-flag")
    assert result.exit_code == 2
