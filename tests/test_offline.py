"""Offline guarantee: index -> search -> ask in a process where opening any socket raises."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Imported by Python at start-up (sitecustomize), before rag or any library: every way to
# open a socket raises, and each attempt is logged with its stack, so an attempt that a
# library catches and ignores still fails the test.
BLOCKER = """
import os, socket, _socket, traceback

def _refuse(*args, **kwargs):
    with open(os.environ["NO_NETWORK_LOG"], "a", encoding="utf-8") as log:
        log.write("".join(traceback.format_stack()) + "\\n")
    raise OSError("network access attempted in an offline run")

class _NoSocket(socket.socket):
    def __init__(self, *args, **kwargs):
        _refuse()

socket.socket = _socket.socket = _NoSocket
socket.create_connection = socket.getaddrinfo = socket.socketpair = _refuse
socket.fromfd = socket.create_server = _refuse
"""


@pytest.fixture
def offline(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """Environment for a child process without network, and the log of its attempts."""
    blocker = tmp_path / "no_network"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    log = tmp_path / "network-attempts.log"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(blocker), str(REPO)])
    env["NO_NETWORK_LOG"] = str(log)
    return env, log


def _rag(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "rag", *args], env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result


def test_the_blocker_blocks(offline: tuple[dict[str, str], Path]) -> None:
    env, log = offline
    probe = (
        "import socket\n"
        "attempts = (lambda: socket.socket(), lambda: socket.getaddrinfo('pypi.org', 443),\n"
        "            lambda: socket.create_connection(('127.0.0.1', 9)))\n"
        "for attempt in attempts:\n"
        "    try:\n        attempt()\n    except OSError as exc:\n        print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert out.stdout.count("network access attempted") == 3, out.stdout + out.stderr
    assert log.read_text(encoding="utf-8").count("in _refuse") == 3  # each attempt logged


def test_index_search_ask_without_network_fast(
    offline: tuple[dict[str, str], Path], tiny_corpus: Path
) -> None:
    env, log = offline
    env["RAG_EMBEDDER"] = "hash"
    _rag(env, "index", "--corpus", str(tiny_corpus))
    found = json.loads(_rag(env, "search", "滷肉飯多少錢", "--json").stdout)
    assert found["results"][0]["source"] == "food.txt"
    answer = json.loads(_rag(env, "ask", "滷肉飯多少錢？", "--no-llm", "--json").stdout)
    assert answer["citations"][0]["source"] == "food.txt"
    assert not log.exists(), log.read_text(encoding="utf-8")


@pytest.mark.integration
def test_index_search_ask_without_network_real_models(
    offline: tuple[dict[str, str], Path], tiny_corpus: Path, shared_home: Path
) -> None:
    """The default embedding model and the default GGUF answer, with no socket anywhere."""
    env, log = offline
    env["RAG_HOME"] = str(shared_home)
    _rag(env, "index", "--corpus", str(tiny_corpus))
    found = json.loads(_rag(env, "search", "台智雲的總經理是誰", "--json").stdout)
    assert found["results"][0]["source"] == "taiwan.txt"
    answer = json.loads(_rag(env, "ask", "台智雲的總經理是誰？", "--json").stdout)
    assert answer["mode"] == "llm" and not answer["refused"], answer
    assert "吳漢章" in answer["answer"]
    assert [c["source"] for c in answer["citations"]] == ["taiwan.txt"]
    assert not log.exists(), log.read_text(encoding="utf-8")
