from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag.cli.app import app
from rag.doctor import diagnose
from rag.settings import load_settings

runner = CliRunner()


def _tiny_gguf(path: Path) -> Path:
    """A complete GGUF v3 file with no tensors: enough for header checks, not for answers."""
    key, value = b"general.name", b"tiny"
    meta = struct.pack("<Q", len(key)) + key + struct.pack("<IQ", 8, len(value)) + value
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + meta)
    return path


def _checks(payload: dict) -> dict[str, dict]:
    return {c["name"]: c for c in payload["checks"]}


def test_fresh_home_lists_what_is_missing_with_the_commands(tmp_path: Path) -> None:
    result = runner.invoke(app, ["doctor", "--json"])
    assert result.exit_code == 1, result.output
    payload = json.loads(result.stdout)
    assert payload["ok"] is False
    assert payload["versions"]["python"] == ".".join(map(str, sys.version_info[:3]))
    assert payload["versions"]["faiss-cpu"] and payload["versions"]["torch"]
    assert payload["paths"]["home"] == str(tmp_path / "home")
    checks = _checks(payload)
    assert checks["embedding model"]["ok"] is False
    assert checks["embedding model"]["fix"] == "rag models prepare"
    assert checks["answer model"]["ok"] is False
    assert checks["answer model"]["fix"] == "rag models prepare"
    assert checks["index"]["fix"] == "rag index --corpus corpus --index index"
    assert payload["index"] is None


def test_ready_setup_reports_index_statistics(
    tiny_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_EMBEDDER", "hash")
    monkeypatch.setenv("RAG_MODEL", str(_tiny_gguf(tmp_path / "tiny.gguf")))
    monkeypatch.setenv("RAG_CORPUS", str(tiny_corpus))
    assert runner.invoke(app, ["index"]).exit_code == 0
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    assert "Index: 3 documents" in result.output and "hash-ngram-v1" in result.output
    assert "Status: ready" in result.output
    report = diagnose(load_settings())
    assert report.ok
    assert report.index is not None and report.index["chunks"] == report.index["vectors"] > 0
    assert report.index["build_seconds"] is not None and report.index["built_at"]


def test_index_of_another_model_or_corrupt_says_rebuild(
    tiny_corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_EMBEDDER", "hash")
    assert runner.invoke(app, ["index", "--corpus", str(tiny_corpus)]).exit_code == 0
    monkeypatch.setenv("RAG_EMBEDDER", "e5")
    checks = {c.name: c for c in diagnose(load_settings()).checks}
    assert not checks["index"].ok and "hash-ngram-v1" in checks["index"].detail
    assert checks["index"].fix is not None and "rag index --rebuild" in checks["index"].fix
    monkeypatch.setenv("RAG_EMBEDDER", "hash")
    build = Path("index") / Path("index/CURRENT").read_text(encoding="utf-8").strip()
    (build / "dense.faiss").write_bytes(b"garbage")
    checks = {c.name: c for c in diagnose(load_settings()).checks}
    assert not checks["index"].ok and "dense.faiss" in checks["index"].detail


def test_missing_own_model_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RAG_MODEL", str(tmp_path / "gone.gguf"))
    checks = {c.name: c for c in diagnose(load_settings()).checks}
    assert not checks["answer model"].ok and "gone.gguf" in checks["answer model"].detail


def test_doctor_does_not_import_torch_or_load_models() -> None:
    code = (
        "import sys; from typer.testing import CliRunner; from rag.cli.app import app; "
        "CliRunner().invoke(app, ['doctor']); "
        "print([m for m in ('torch', 'llama_cpp', 'sentence_transformers') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.integration
def test_provisioned_models_are_reported_verified(
    shared_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag.embed.e5convert import ensure_model
    from rag.generate.provision import ensure_default_model

    ensure_model(shared_home / "models" / "multilingual-e5-small")
    ensure_default_model(shared_home / "models")  # tests may run in any order
    monkeypatch.setenv("RAG_HOME", str(shared_home))
    checks = {c.name: c for c in diagnose(load_settings()).checks}
    assert checks["embedding model"].ok and "mean cosine 0.99" in checks["embedding model"].detail
    assert checks["answer model"].ok and "sha256 verified" in checks["answer model"].detail
