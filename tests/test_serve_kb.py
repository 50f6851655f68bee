"""Knowledge bases: created, filled and emptied from the CLI and over HTTP (upload with
size limits, each bad file reported by name, re-indexing in the background with progress),
asked with `rag ask --kb`; and `rag serve` refusing an exposed address without a token."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from serve_fakes import PassageReader, hash_settings, running_server
from typer.testing import CliRunner

from rag.cli.app import app
from rag.errors import ConfigError, NotFoundError
from rag.serve.kb import create_kb, get_kb, list_kbs, stored_name
from rag.serve.security import ServeConfig, is_loopback, read_token
from rag.settings import Settings, load_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def hash_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_EMBEDDER", "hash")


@pytest.fixture
def settings(tiny_corpus: Path, tmp_path: Path) -> Settings:
    return hash_settings(tiny_corpus, tmp_path, chunk_chars=40, chunk_overlap=0)


def _poll(url: str, name: str, timeout: float = 30.0) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kb = httpx.get(f"{url}/v1/knowledge_bases/{name}").json()
        if kb["indexing"]["state"] in ("ready", "failed"):
            return kb  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError(f"indexing of {name} did not finish")


def test_names_and_stored_file_names_are_checked(tmp_path: Path) -> None:
    settings = load_settings()
    for bad in ("", "-x", "a/b", "../up", "空白", "x" * 64):
        with pytest.raises(ConfigError, match="not a usable knowledge base name"):
            create_kb(settings, bad)
    with pytest.raises(ConfigError, match="default"):
        create_kb(settings, "default")
    create_kb(settings, "laws")
    with pytest.raises(ConfigError, match="already exists"):
        create_kb(settings, "laws")
    assert [kb.name for kb in list_kbs(settings)] == ["default", "laws"]
    with pytest.raises(NotFoundError, match="there are: default, laws"):
        get_kb(settings, "nope")
    assert stored_name("C:\\Users\\me\\報告.pdf") == "報告.pdf"
    assert stored_name("../../etc/notes.md") == "notes.md"
    for bad in (".hidden.txt", "run.exe", "noext", ""):
        with pytest.raises(ValueError):
            stored_name(bad)


def test_cli_creates_fills_asks_and_empties_a_knowledge_base(
    tiny_corpus: Path, tmp_path: Path
) -> None:
    assert runner.invoke(app, ["kb", "create", "food"]).exit_code == 0
    bad = tmp_path / "virus.exe"
    bad.write_bytes(b"MZ")
    result = runner.invoke(app, ["kb", "add", "food", str(tiny_corpus / "food.txt"), str(bad)])
    assert result.exit_code == 0, result.output
    assert "virus.exe" in result.output and "unsupported file type" in result.output
    listed = json.loads(runner.invoke(app, ["kb", "list", "--json"]).stdout)
    assert {"name": "food", "documents": 1, "indexed": True} in [
        {k: row[k] for k in ("name", "documents", "indexed")} for row in listed
    ]
    assert runner.invoke(app, ["kb", "list", "food"]).stdout.split() == ["food.txt"]
    asked = runner.invoke(
        app, ["ask", "珍珠奶茶起源於哪裡？", "--kb", "food", "--no-llm", "--json"]
    )
    assert asked.exit_code == 0, asked.output
    answer = json.loads(asked.stdout)
    assert {c["source"] for c in answer["citations"]} == {"food.txt"}
    both = runner.invoke(app, ["ask", "x", "--kb", "food", "--index", "idx", "--no-llm"])
    assert both.exit_code == 2 and "--kb or --index" in both.output
    unknown = runner.invoke(app, ["ask", "x", "--kb", "nope", "--no-llm"])
    assert unknown.exit_code == 1 and "No knowledge base named 'nope'" in unknown.output
    removed = runner.invoke(app, ["kb", "remove", "food", "food.txt"])
    assert removed.exit_code == 0 and "index was removed" in removed.output
    assert not get_kb(load_settings(), "food").indexed


def test_upload_reindexes_in_the_background_and_reports_bad_files(
    settings: Settings, tiny_corpus: Path
) -> None:
    with running_server(settings, PassageReader()) as (url, _services):
        created = httpx.post(f"{url}/v1/knowledge_bases", json={"name": "food"})
        assert created.status_code == 201 and created.json()["indexed"] is False
        empty = httpx.post(
            f"{url}/v1/chat/completions",
            json={"model": "food", "messages": [{"role": "user", "content": "珍珠奶茶？"}]},
        )
        assert empty.status_code == 409 and "no documents yet" in empty.json()["error"]["message"]
        files = [
            ("files", ("food.txt", (tiny_corpus / "food.txt").read_bytes(), "text/plain")),
            ("files", ("tool.exe", b"MZ", "application/octet-stream")),
        ]
        upload = httpx.post(f"{url}/v1/knowledge_bases/food/documents", files=files)
        assert upload.status_code == 202
        body = upload.json()
        assert body["accepted"] == ["food.txt"]
        assert [r["file"] for r in body["rejected"]] == ["tool.exe"]
        assert body["indexing"]["state"] in ("queued", "indexing", "ready")
        kb = _poll(url, "food")
        assert kb["indexing"]["state"] == "ready" and kb["indexed"]
        assert kb["indexing"]["report"]["documents"] == 1
        assert kb["documents"][0]["name"] == "food.txt"
        found = httpx.post(f"{url}/v1/search", json={"model": "food", "query": "珍珠奶茶"}).json()
        assert {h["source"] for h in found["data"]} == {"food.txt"}
        answered = httpx.post(
            f"{url}/v1/chat/completions",
            json={
                "model": "food",
                "messages": [{"role": "user", "content": "珍珠奶茶起源於哪裡？"}],
            },
        ).json()
        assert answered["citations"][0]["source"] == "food.txt"
        # Removed: re-indexed without it, and the knowledge base is empty again.
        gone = httpx.delete(f"{url}/v1/knowledge_bases/food/documents/food.txt")
        assert gone.status_code == 202
        kb = _poll(url, "food")
        assert kb["indexing"]["state"] == "ready" and not kb["indexed"]
        missing = httpx.delete(f"{url}/v1/knowledge_bases/food/documents/food.txt")
        assert missing.status_code == 404


def test_oversized_upload_is_refused_by_name(tiny_corpus: Path, tmp_path: Path) -> None:
    settings = hash_settings(tiny_corpus, tmp_path, max_file_mb=0.001)  # about 1 KB
    create_kb(settings, "small")
    big = "大" * 2000
    with running_server(settings, PassageReader()) as (url, _services):
        files = [("files", ("big.txt", big.encode(), "text/plain"))]
        refused = httpx.post(f"{url}/v1/knowledge_bases/small/documents", files=files)
        assert refused.status_code == 413
        body = refused.json()
        assert body["rejected"][0]["file"] == "big.txt"
        assert "over the 0.001 MB limit" in body["rejected"][0]["reason"]
        assert "big.txt" in body["error"]["message"]
        # A body larger than any upload may be is refused before it is read.
        huge = [("files", (f"f{i}.txt", big.encode(), "text/plain")) for i in range(20)]
        assert (
            httpx.post(f"{url}/v1/knowledge_bases/small/documents", files=huge).status_code == 413
        )
        # Nothing was stored, the server is fine.
        assert get_kb(settings, "small").files() == []
        assert httpx.get(f"{url}/healthz").json()["status"] == "ok"
        # The default index is not changed over HTTP.
        files = [("files", ("a.txt", b"abc", "text/plain"))]
        default = httpx.post(f"{url}/v1/knowledge_bases/default/documents", files=files)
        assert default.status_code == 400 and "rag index" in default.json()["error"]["message"]


def test_exposed_address_needs_a_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    assert not is_loopback("example.org")
    with pytest.raises(ConfigError, match="without a token"):
        ServeConfig(host="0.0.0.0").check()
    assert ServeConfig(host="0.0.0.0", token="t").check().token == "t"
    with pytest.raises(ConfigError, match="any web page"):
        ServeConfig(cors_origins=("*",)).check()
    result = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--no-llm"])
    assert result.exit_code == 2 and "RAG_API_TOKEN" in result.output
    token_file = tmp_path / "token"
    token_file.write_text("  abc123\n", encoding="utf-8")
    assert read_token({}, token_file) == "abc123"
    assert read_token({"RAG_API_TOKEN": "env"}) == "env"
    assert read_token({}) is None
    token_file.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="empty"):
        read_token({}, token_file)


def test_taken_port_is_a_one_line_error() -> None:
    from rag.serve.server import bind

    sock = bind("127.0.0.1", 0)
    try:
        with pytest.raises(ConfigError, match=r"Cannot listen on 127\.0\.0\.1"):
            bind("127.0.0.1", sock.getsockname()[1])
    finally:
        sock.close()


def test_malloc_arenas_can_be_capped() -> None:
    """rag serve caps glibc's malloc arenas (memory target of issue 23) where glibc exists."""
    import ctypes.util

    from rag.serve.server import limit_malloc_arenas

    assert limit_malloc_arenas(2) is bool(ctypes.util.find_library("c"))
