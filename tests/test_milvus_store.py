"""The Milvus store (`rag index --store milvus`) with Milvus Lite in tmp_path: the same answers
as FAISS, old collections dropped, failed builds harmless, clear errors, no network needed."""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rag.cli.app import app
from rag.errors import ConfigError, IndexCorruptError
from rag.index.aliases import Aliases
from rag.index.load import current_build, read_manifest
from rag.index.milvus_local import open_lite, release_lite
from rag.index.milvus_store import (
    HNSW,
    LITE_FOLDER,
    MilvusBackend,
    check_uri,
    collection_name,
)
from rag.index.store import StoreParams

pytest.importorskip("milvus_lite")
runner = CliRunner()
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def hash_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_EMBEDDER", "hash")


def _index(corpus: Path, idx: Path, *flags: str) -> dict:
    args = ["index", "--corpus", str(corpus), "--index", str(idx), "--json", *flags]
    result = runner.invoke(app, [*args, "--store", "milvus"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _search(idx: Path, question: str) -> list[dict]:
    result = runner.invoke(app, ["search", question, "--index", str(idx), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["results"]


def _store(idx: Path) -> dict:
    build = current_build(idx)
    assert build is not None
    return read_manifest(build)["store"]


def _collections(idx: Path) -> list[str]:
    """The collections in the index's Lite folder, asked through the same client."""
    from pymilvus import MilvusClient

    path = idx / LITE_FOLDER
    client = MilvusClient(uri=open_lite(path))
    try:
        return sorted(client.list_collections())
    finally:
        client.close()
        release_lite(path)


def test_milvus_index_answers_like_faiss(hash_env: None, tiny_corpus: Path, tmp_path: Path) -> None:
    mv, fa = tmp_path / "mv", tmp_path / "fa"
    _index(tiny_corpus, mv, "--rebuild")
    assert (
        runner.invoke(app, ["index", "--corpus", str(tiny_corpus), "--index", str(fa)]).exit_code
        == 0
    )
    store = _store(mv)
    assert store["backend"] == "milvus" and store["collection"] == _collections(mv)[0]
    assert store["uri"] == "" and (mv / LITE_FOLDER).is_dir()  # Lite, inside the index folder
    for question in ("滷肉飯多少錢", "台智雲的總經理是誰", "歐盟的AI法規"):
        got, expected = _search(mv, question), _search(fa, question)
        assert [(h["source"], h["start"]) for h in got] == [
            (h["source"], h["start"]) for h in expected
        ]
        assert [h["dense_score"] for h in got] == pytest.approx(
            [h["dense_score"] for h in expected], abs=1e-4
        )
    answer = runner.invoke(app, ["ask", "滷肉飯多少錢？", "--index", str(mv), "--no-llm", "--json"])
    assert answer.exit_code == 0, answer.output
    assert json.loads(answer.stdout)["citations"][0]["source"] == "food.txt"


def test_incremental_rebuild_drops_the_old_collection(
    hash_env: None, tiny_corpus: Path, tmp_path: Path
) -> None:
    idx = tmp_path / "idx"
    _index(tiny_corpus, idx)
    first = _store(idx)["collection"]
    (tiny_corpus / "new.txt").write_text("新文件：牛肉麵一碗一百五十元。", encoding="utf-8")
    report = _index(tiny_corpus, idx)
    assert report["added"] == ["new.txt"] and report["reused"] > 0
    second = _store(idx)["collection"]
    assert second != first and _collections(idx) == [second]
    assert _search(idx, "牛肉麵多少錢")[0]["source"] == "new.txt"


def _fail_after_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(self: object, folder: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Aliases, "save", disk_full)  # written after the collection is filled


def _fail_while_inserting(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(MilvusBackend, "_fill", staticmethod(interrupted))


@pytest.mark.parametrize(
    ("inject", "exit_code", "message"),
    [
        (_fail_after_the_store, 1, "No space left on device"),
        (_fail_while_inserting, 130, "Interrupted."),
    ],
    ids=["disk-full-after-store", "ctrl-c-while-inserting"],
)
def test_failed_build_leaves_the_previous_collection_in_use(
    hash_env: None,
    tiny_corpus: Path,
    tmp_path: Path,
    inject: object,
    exit_code: int,
    message: str,
) -> None:
    idx = tmp_path / "idx"
    _index(tiny_corpus, idx)
    before = _store(idx)
    args = ["index", "--corpus", str(tiny_corpus), "--index", str(idx), "--store", "milvus"]
    with pytest.MonkeyPatch.context() as failing:
        inject(failing)  # type: ignore[operator]
        result = runner.invoke(app, [*args, "--rebuild"])
    assert result.exit_code == exit_code and message in result.output
    assert "Traceback" not in result.output
    assert _store(idx) == before
    assert _collections(idx) == [before["collection"]]  # the failed build's one is dropped
    assert _search(idx, "滷肉飯多少錢")[0]["source"] == "food.txt"


def test_collection_of_a_killed_build_is_dropped_by_the_next_build(
    hash_env: None, tiny_corpus: Path, tmp_path: Path
) -> None:
    idx = tmp_path / "idx"
    _index(tiny_corpus, idx)
    dead = idx / ".build-20260101T000000-deadbeef.partial"
    dead.mkdir()
    vectors = np.eye(4, 256, dtype=np.float32)
    MilvusBackend(StoreParams(backend="milvus")).build(vectors, dead).close()
    shutil.rmtree(dead)  # kill -9 after the collection was made: only the collection is left
    assert collection_name(dead) in _collections(idx)
    _index(tiny_corpus, idx)
    assert _collections(idx) == [_store(idx)["collection"]]


def test_wrong_or_unreachable_uri_is_one_clear_line(
    hash_env: None, tiny_corpus: Path, tmp_path: Path
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    idx = tmp_path / "idx"
    base = ["index", "--corpus", str(tiny_corpus), "--index", str(idx), "--store", "milvus"]
    down = runner.invoke(app, [*base, "--milvus-uri", f"http://127.0.0.1:{port}"])
    assert down.exit_code == 1
    assert f"Cannot use Milvus at http://127.0.0.1:{port}" in down.output
    assert "--milvus-uri" in down.output and "Traceback" not in down.output
    assert len(down.output.strip().splitlines()) == 1
    assert current_build(idx) is None
    wrong = runner.invoke(app, [*base, "--milvus-uri", "ftp://milvus:19530"])
    assert wrong.exit_code == 2 and "milvus_uri must be" in wrong.output
    nowhere = runner.invoke(app, [*base, "--milvus-uri", str(tmp_path / "no" / "such.db")])
    assert nowhere.exit_code == 2 and "does not exist" in nowhere.output


def test_missing_collection_says_rebuild(hash_env: None, tiny_corpus: Path, tmp_path: Path) -> None:
    from pymilvus import MilvusClient

    idx = tmp_path / "idx"
    _index(tiny_corpus, idx)
    path = idx / LITE_FOLDER
    client = MilvusClient(uri=open_lite(path))
    client.drop_collection(_store(idx)["collection"])
    client.close()
    release_lite(path)
    result = runner.invoke(app, ["search", "滷肉飯", "--index", str(idx)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "is not in Milvus Lite" in result.output and "rag index --rebuild" in result.output


def test_token_and_credentials_stay_out_of_the_manifest(tmp_path: Path) -> None:
    backend = MilvusBackend(
        StoreParams(backend="milvus", uri="https://user:pw@milvus.example:19530", token="t0k")
    )
    assert backend._recorded_uri() == "https://milvus.example:19530"
    assert check_uri(" ./x.db ") == "./x.db"
    with pytest.raises(ConfigError, match="neither a Milvus server"):
        check_uri("grpc://milvus:19530")


def test_hnsw_from_the_threshold_and_load_checks_the_count(tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    idx.mkdir()
    folder = idx / ".build-20260101T000000-0000aaaa.partial"
    folder.mkdir()
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((300, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    backend = MilvusBackend(StoreParams(backend="milvus", hnsw_threshold=100))
    store = backend.build(vectors, folder)
    described = store.describe()
    assert store.kind == HNSW and described["hnsw_ef_search"] == 256
    scores, positions = store.search(vectors[7], 5)
    assert positions[0] == 7 and scores[0] == pytest.approx(1.0, abs=1e-4)
    scores, positions = store.search(vectors[7], 500)  # more than it holds: all of them
    assert len(positions) == 300 and (positions >= 0).all()
    store.close()
    opened = backend.load(folder, described)
    assert opened.search(vectors[42], 1)[1][0] == 42
    opened.close()
    with pytest.raises(IndexCorruptError, match="holds 300 vectors"):
        backend.load(folder, {**described, "vectors": 301})
    backend.drop(folder, described)
    with pytest.raises(IndexCorruptError, match="is not in Milvus Lite"):
        backend.load(folder, described)


def test_lite_open_in_another_process_is_named(
    hash_env: None, tiny_corpus: Path, tmp_path: Path
) -> None:
    idx = tmp_path / "idx"
    _index(tiny_corpus, idx)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from rag.index.milvus_local import open_lite; "
            f"open_lite(Path({str(idx / LITE_FOLDER)!r})); print('held', flush=True); "
            "sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = runner.invoke(app, ["search", "滷肉飯", "--index", str(idx)])
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert "is open in another process" in result.output
    finally:
        holder.communicate("", timeout=30)
    assert _search(idx, "滷肉飯多少錢")[0]["source"] == "food.txt"


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _unshare_works(), reason="needs `unshare -n` (root or user namespaces)")
def test_lite_searches_with_no_network_interface(
    hash_env: None, tiny_corpus: Path, tmp_path: Path
) -> None:
    """In a new network namespace even loopback is down: TCP to 127.0.0.1 fails there."""
    idx = tmp_path / "idx"
    _index(tiny_corpus, idx)
    command = [sys.executable, "-m", "rag", "search", "滷肉飯多少錢", "--json", "--index", str(idx)]
    result = subprocess.run(
        ["unshare", "-n", *command],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, "RAG_EMBEDDER": "hash"},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["results"][0]["source"] == "food.txt"


def test_lite_listens_on_a_unix_socket_not_a_port(tmp_path: Path) -> None:
    """No TCP port on loopback: other local users cannot reach Lite, which has no login."""
    path = tmp_path / LITE_FOLDER
    uri = open_lite(path)
    sock = Path(uri.removeprefix("unix:"))
    try:
        assert uri.startswith("unix:/") and stat.S_ISSOCK(sock.stat().st_mode)
        assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700
    finally:
        release_lite(path)
    assert not sock.parent.exists()  # removed with the last user


def test_a_plain_rag_index_keeps_the_store_the_index_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_corpus: Path
) -> None:
    """No --store on an update: the index stays where it is (a FAISS index stays FAISS)."""
    monkeypatch.setenv("RAG_EMBEDDER", "hash")
    index = tmp_path / "idx"
    args = ["index", "--corpus", str(tiny_corpus), "--index", str(index)]
    assert runner.invoke(app, [*args, "--store", "milvus"]).exit_code == 0
    (tiny_corpus / "more.txt").write_text("新加的文件。", encoding="utf-8")
    assert runner.invoke(app, args).exit_code == 0, "update"
    from rag.index.load import load_index

    assert load_index(index).manifest["store"]["backend"] == "milvus"
    plain = tmp_path / "plain"
    assert (
        runner.invoke(app, ["index", "--corpus", str(tiny_corpus), "--index", str(plain)]).exit_code
        == 0
    )
    assert load_index(plain).manifest["store"]["backend"] == "faiss"
