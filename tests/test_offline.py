"""Offline guarantee: index -> search -> ask in a process where opening any socket raises."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Imported by Python at start-up (sitecustomize), before rag or any library: every way to
# open a socket raises, and each attempt is logged with its stack, so an attempt that a
# library catches and ignores still fails the test. NO_NETWORK_ALLOW ("host:port,...") lets
# connections to exactly those addresses through (a configured model server), nothing else.
BLOCKER = """
import os, socket, _socket, traceback

ALLOWED = {
    tuple(item.rsplit(":", 1)) for item in os.environ.get("NO_NETWORK_ALLOW", "").split(",") if item
}
_base = _socket.socket
_getaddrinfo, _create_connection = socket.getaddrinfo, socket.create_connection

def _refuse(*args, **kwargs):
    with open(os.environ["NO_NETWORK_LOG"], "a", encoding="utf-8") as log:
        log.write("".join(traceback.format_stack()) + "\\n")
    raise OSError("network access attempted in an offline run")

def _allowed(address):
    return isinstance(address, tuple) and (str(address[0]), str(address[1])) in ALLOWED

class _NoSocket(socket.socket):
    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        if not ALLOWED:
            _refuse()
        if fileno is None:  # socket.socket.__init__, which would call the patched _socket
            family = socket.AF_INET if family == -1 else family
            type = socket.SOCK_STREAM if type == -1 else type
            proto = 0 if proto == -1 else proto
        _base.__init__(self, family, type, proto, fileno)
        self._io_refs, self._closed = 0, False

    def connect(self, address):
        return super().connect(address) if _allowed(address) else _refuse()

    def connect_ex(self, address):
        return super().connect_ex(address) if _allowed(address) else _refuse()

    def bind(self, address):  # binding to loopback sends nothing (urllib3 probes for IPv6)
        local = isinstance(address, tuple) and address[0] in ("127.0.0.1", "::1")
        return super().bind(address) if local else _refuse()

    sendto = sendmsg = _refuse

def _only_allowed(real):
    def check(address, *args, **kwargs):
        if isinstance(address, tuple) and _allowed(address):
            return real(address, *args, **kwargs)
        return _refuse()
    return check

def _resolve(host, port, *args, **kwargs):
    return _getaddrinfo(host, port, *args, **kwargs) if _allowed((host, port)) else _refuse()

socket.socket = _socket.socket = _NoSocket
socket.getaddrinfo = _resolve
socket.create_connection = _only_allowed(_create_connection)
socket.socketpair = socket.fromfd = socket.create_server = _refuse
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


def test_the_blocker_lets_only_the_allowed_address_through(
    offline: tuple[dict[str, str], Path],
) -> None:
    env, log = offline
    with (
        socket.create_server(("127.0.0.1", 0)) as allowed,
        socket.create_server(("127.0.0.1", 0)) as other,
    ):
        yes, no = allowed.getsockname()[1], other.getsockname()[1]
        env["NO_NETWORK_ALLOW"] = f"127.0.0.1:{yes}"
        probe = (
            "import socket\n"
            f"socket.create_connection(('127.0.0.1', {yes})).close()\n"
            "print('allowed ok')\n"
            f"attempts = (lambda: socket.create_connection(('127.0.0.1', {no})),\n"
            "            lambda: socket.getaddrinfo('pypi.org', 443),\n"
            f"            lambda: socket.socket().connect(('127.0.0.1', {no})))\n"
            "for attempt in attempts:\n"
            "    try:\n        attempt()\n    except OSError as exc:\n        print(exc)\n"
        )
        out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert out.stdout.startswith("allowed ok"), out.stdout + out.stderr
    assert out.stdout.count("network access attempted") == 3, out.stdout + out.stderr
    assert log.read_text(encoding="utf-8").count("in _refuse") == 3


def test_answers_from_a_model_server_reach_only_that_server(
    offline: tuple[dict[str, str], Path], tiny_corpus: Path
) -> None:
    """`--llm-url` over a Milvus Lite index: the one request goes to the configured URL."""
    from test_openai_generator import answer_from_passages, serving

    env, log = offline
    env["RAG_EMBEDDER"] = "hash"
    with serving(answer_from_passages("滷肉飯是常見的小吃，價格大約五十元。")) as server:
        # Sockets may now be made (pymilvus' urllib3 makes one at import to probe for IPv6),
        # but only this address can be reached.
        env["NO_NETWORK_ALLOW"] = f"127.0.0.1:{server.server_address[1]}"
        _rag(env, "index", "--corpus", str(tiny_corpus), "--store", "milvus")
        asked = _rag(env, "ask", "滷肉飯多少錢？", "--llm-url", server.url, "--json")
    answer = json.loads(asked.stdout)
    assert answer["mode"] == "llm" and not answer["refused"], answer
    assert [c["source"] for c in answer["citations"]] == ["food.txt"]
    assert len(server.requests) == 1
    assert not log.exists(), log.read_text(encoding="utf-8")
