"""A failed, interrupted or concurrent `rag index` never costs the previous index."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rag.cli.app import app
from rag.embed.embedder import HashEmbedder, Progress
from rag.errors import IndexWriteError
from rag.index import faiss_store as index_module
from rag.index.build import build_index
from rag.index.load import load_index

runner = CliRunner()


class InterruptedEmbedder(HashEmbedder):
    """Ctrl-C arrives while the passages are being embedded."""

    def embed_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        raise KeyboardInterrupt


def _build(corpus: Path, idx: Path, embedder: HashEmbedder | None = None, **kw: object):
    return build_index(corpus, idx, embedder or HashEmbedder(), 60, 1, **kw)  # type: ignore[arg-type]


def _snapshot(idx: Path) -> tuple[dict, list[str]]:
    loaded = load_index(idx)
    return loaded.manifest, [c.text for c in loaded.chunks]


def _entries(idx: Path) -> list[str]:
    return sorted(p.name for p in idx.iterdir() if p.name not in {".lock"})


def test_ctrl_c_while_embedding_keeps_previous_index(tiny_corpus: Path, tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    _build(tiny_corpus, idx)
    before, entries = _snapshot(idx), _entries(idx)
    (tiny_corpus / "new.txt").write_text("新的文件：牛肉麵。", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt):
        _build(tiny_corpus, idx, InterruptedEmbedder())
    assert _snapshot(idx) == before and _entries(idx) == entries


@pytest.mark.parametrize(
    "failure",
    [KeyboardInterrupt(), OSError(errno.ENOSPC, "No space left on device")],
    ids=["ctrl-c", "disk-full"],
)
def test_failure_while_writing_keeps_previous_index(
    tiny_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    idx = tmp_path / "idx"
    _build(tiny_corpus, idx)
    before, entries = _snapshot(idx), _entries(idx)

    def save_then_fail(self: object, folder: Path) -> None:
        (folder / "dense.faiss").write_bytes(b"half a file")
        raise failure

    monkeypatch.setattr(index_module.FaissStore, "save", save_then_fail)
    (tiny_corpus / "new.txt").write_text("新的文件：牛肉麵。", encoding="utf-8")
    expected = KeyboardInterrupt if isinstance(failure, KeyboardInterrupt) else IndexWriteError
    with pytest.raises(expected) as info:
        _build(tiny_corpus, idx, rebuild=True)
    if expected is IndexWriteError:
        assert "No space left on device" in str(info.value)
        assert "previous index, if any, is unchanged" in str(info.value)
    assert _snapshot(idx) == before and _entries(idx) == entries  # partial build removed


def test_cli_reports_disk_full_and_ctrl_c(
    tiny_corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_EMBEDDER", "hash")
    args = ["index", "--corpus", str(tiny_corpus)]
    assert runner.invoke(app, args).exit_code == 0

    def full(self: object, folder: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(index_module.FaissStore, "save", full)
    result = runner.invoke(app, [*args, "--rebuild"])
    assert result.exit_code == 1 and "No space left on device" in result.output
    assert "Traceback" not in result.output

    def interrupted(self: object, folder: Path) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(index_module.FaissStore, "save", interrupted)
    result = runner.invoke(app, [*args, "--rebuild"])
    assert result.exit_code == 130 and "Interrupted." in result.output
    # Neither failed run touched the index: search still reads the first build.
    found = runner.invoke(app, ["search", "滷肉飯多少錢", "--json"])
    assert found.exit_code == 0 and json.loads(found.stdout)["results"][0]["source"] == "food.txt"


def test_leftovers_of_a_killed_build_are_ignored_then_removed(
    tiny_corpus: Path, tmp_path: Path
) -> None:
    idx = tmp_path / "idx"
    _build(tiny_corpus, idx)
    before = _snapshot(idx)
    # kill -9 can leave a half-written folder, or a finished one CURRENT never pointed at.
    (idx / ".build-20260101T000000-dead.partial").mkdir()
    (idx / "build-20260101T000000-dead").mkdir()
    (idx / "CURRENT.tmp").write_text("build-20260101T000000-dead\n", encoding="utf-8")
    assert _snapshot(idx) == before
    _build(tiny_corpus, idx)
    assert [p for p in _entries(idx) if "dead" in p] == []
    assert _snapshot(idx)[1] == before[1]


def test_second_index_run_gets_a_clear_lock_message(tiny_corpus: Path) -> None:
    """A real second process holds the index lock, as a running `rag index` does."""
    Path("index").mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from filelock import FileLock; lock = FileLock('index/.lock'); "
            "lock.acquire(); print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = runner.invoke(
            app, ["index", "--corpus", str(tiny_corpus)], env={"RAG_EMBEDDER": "hash"}
        )
        assert result.exit_code == 1
        assert "Another `rag index` is writing index" in result.output
        assert "Traceback" not in result.output
        assert not Path("index/CURRENT").exists()
    finally:
        holder.communicate("", timeout=30)
    result = runner.invoke(
        app, ["index", "--corpus", str(tiny_corpus)], env={"RAG_EMBEDDER": "hash"}
    )
    assert result.exit_code == 0, result.output


def test_incremental_run_says_what_it_did(
    tiny_corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_EMBEDDER", "hash")

    def index(*flags: str) -> dict:
        result = runner.invoke(app, ["index", "--corpus", str(tiny_corpus), "--json", *flags])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    first = index()
    assert sorted(first["added"]) == ["food.txt", "sub/europe.md", "taiwan.txt"]
    assert first["embedded"] == first["chunks"] and first["reused"] == 0
    (tiny_corpus / "food.txt").write_text("牛肉麵是台灣名菜，一碗一百五十元。", encoding="utf-8")
    (tiny_corpus / "sub" / "europe.md").unlink()
    (tiny_corpus / "new.md").write_text("# 新文件\n\n台南的擔仔麵很有名。", encoding="utf-8")
    second = index()
    assert second["added"] == ["new.md"] and second["changed"] == ["food.txt"]
    assert second["removed"] == ["sub/europe.md"] and second["unchanged"] == 1
    assert 0 < second["embedded"] < second["chunks"] and second["reused"] > 0
    text = runner.invoke(app, ["index", "--corpus", str(tiny_corpus)]).output
    assert "(3 unchanged)" in text and "0 embedded" in text
    rebuilt = index("--rebuild")
    assert rebuilt["embedded"] == rebuilt["chunks"] and rebuilt["reused"] == 0
    assert set(load_index(Path("index")).manifest["documents"]) == {
        "food.txt",
        "new.md",
        "taiwan.txt",
    }
