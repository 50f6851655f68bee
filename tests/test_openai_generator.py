"""Answers from an OpenAI-compatible server (`--llm-url`): SSE parsing, the request sent, clear
errors, the same answer checks; and, marked integration, llama-cpp-python's real server."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rag.cli.app import app
from rag.errors import ConfigError, ModelError
from rag.generate.base import GenerationTimings
from rag.generate.openai_http import OpenAIGenerator, estimate_tokens
from rag.settings import load_settings

runner = CliRunner()
REPO = Path(__file__).resolve().parent.parent
MESSAGES = [{"role": "user", "content": "台智雲的總經理是誰？"}]
Script = Callable[["Handler", dict[str, Any]], None]


def chunk(content: str | None = None, **extra: Any) -> str:
    """One `data:` line of a streamed chat completion."""
    delta = {} if content is None else {"content": content}
    body = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta}]}
    return "data: " + json.dumps({**body, **extra}, ensure_ascii=False) + "\n\n"


class Handler(BaseHTTPRequestHandler):
    """Answers /v1/models and, as the test scripts it, /v1/chat/completions."""

    server: FakeServer

    def log_message(self, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        if self.path != "/v1/models":
            self.reply(404, {"error": {"message": "not found"}})
            return
        self.reply(200, {"object": "list", "data": [{"id": "served-model", "object": "model"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((dict(self.headers), body))
        self.server.script(self, body)

    def reply(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def events(self, *parts: str) -> None:
        """Start an SSE reply and send these parts (flushed one by one)."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.send(*parts)

    def send(self, *parts: str) -> None:
        for part in parts:
            self.wfile.write(part.encode())
            self.wfile.flush()


class FakeServer(ThreadingHTTPServer):
    """An OpenAI-compatible server on 127.0.0.1 whose chat replies the test scripts."""

    daemon_threads = True

    def __init__(self, script: Script):
        super().__init__(("127.0.0.1", 0), Handler)
        self.script = script
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


@contextmanager
def serving(script: Script) -> Iterator[FakeServer]:
    server = FakeServer(script)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(generator: OpenAIGenerator, **kw: Any) -> tuple[list[str], GenerationTimings]:
    done: list[GenerationTimings] = []
    pieces = list(generator.stream(MESSAGES, 32, on_done=done.append, **kw))
    assert len(done) == 1
    return pieces, done[0]


def test_sse_stream_is_parsed_and_timed() -> None:
    def script(h: Handler, body: dict[str, Any]) -> None:
        h.events(chunk(None, choices=[{"index": 0, "delta": {"role": "assistant"}}]))
        time.sleep(0.2)  # the first content comes later than the role-only chunk
        h.send(
            ": keep-alive comment\n\n",
            "event: completion\n" + chunk("吳漢章"),
            chunk(""),  # empty content: not a piece
            # One event's data over two lines, joined by a newline (valid JSON whitespace).
            'data: {"choices": [{"index": 0,\ndata: "delta": {"content": "是總經理"}}]}\n\n',
            chunk(None, choices=[{"index": 0, "delta": {"reasoning_content": "hmm"}}]),
            chunk(None, choices=[], usage={"prompt_tokens": 21, "completion_tokens": 3}),
            "data: [DONE]\n\n",
            chunk("after DONE: ignored"),
        )

    with serving(script) as server:
        pieces, timings = _run(OpenAIGenerator(server.url))
    assert pieces == ["吳漢章", "是總經理"]
    assert (timings.prompt_tokens, timings.tokens, timings.threads) == (21, 3, 0)
    assert timings.ttft_s >= 0.2 and timings.generate_s >= timings.ttft_s


def test_request_is_greedy_with_model_stop_and_key() -> None:
    def script(h: Handler, body: dict[str, Any]) -> None:
        h.events(chunk("好"), "data: [DONE]\n\n")

    with serving(script) as server:
        _run(OpenAIGenerator(server.url, "my-model", "sk-secret"), stop=["\n\n", ""])
        _run(OpenAIGenerator(server.url + "/"))
    (headers, body), (plain_headers, plain) = server.requests
    assert body["model"] == "my-model" and body["messages"] == MESSAGES
    assert body["temperature"] == 0 and body["stream"] is True and body["max_tokens"] == 32
    assert body["stop"] == ["\n\n"]
    assert headers["Authorization"] == "Bearer sk-secret"
    assert "Authorization" not in plain_headers
    assert plain["model"] == "served-model" and "stop" not in plain  # the first one listed


def test_pieces_arrive_while_the_server_is_still_generating() -> None:
    released = threading.Event()
    waited: list[bool] = []

    def script(h: Handler, body: dict[str, Any]) -> None:
        h.events(chunk("第一"))
        waited.append(released.wait(timeout=5))  # until the client has shown the first piece
        h.send(chunk("第二"), "data: [DONE]\n\n")

    with serving(script) as server:
        pieces = []
        for piece in OpenAIGenerator(server.url).stream(MESSAGES, 8):
            pieces.append(piece)
            released.set()
    assert pieces == ["第一", "第二"] and waited == [True]


def test_closing_the_stream_early_still_reports_timings() -> None:
    def script(h: Handler, body: dict[str, Any]) -> None:
        h.events(chunk("一"), chunk("二"), chunk("三"), "data: [DONE]\n\n")

    done: list[GenerationTimings] = []
    with serving(script) as server:
        stream = OpenAIGenerator(server.url).stream(MESSAGES, 8, on_done=done.append)
        assert next(stream) == "一"
        stream.close()
    assert len(done) == 1 and done[0].tokens == 1


def test_a_server_that_ignores_stream_still_answers() -> None:
    def script(h: Handler, body: dict[str, Any]) -> None:
        message = {"role": "assistant", "content": "整段回答"}
        h.reply(200, {"choices": [{"message": message}], "usage": {"completion_tokens": 4}})

    with serving(script) as server:
        pieces, timings = _run(OpenAIGenerator(server.url))
    assert pieces == ["整段回答"] and timings.tokens == 4


def _one_line_error(run: Callable[[], object], *expected: str) -> str:
    with pytest.raises(ModelError) as info:
        run()
    message = str(info.value)
    assert "\n" not in message, message
    for part in expected:
        assert part in message, message
    return message


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (
            lambda h, b: h.reply(500, {"error": {"message": "llama_decode failed"}}),
            ("HTTP 500", "llama_decode failed"),
        ),
        (lambda h, b: h.reply(401, {"error": "bad key"}), ("HTTP 401", "llm_api_key")),
        (lambda h, b: h.events("data: <html>oops</html>\n\n"), ("not a chat completion chunk",)),
        (lambda h, b: h.events("data: [1, 2]\n\n"), ("not a JSON object",)),
        (
            lambda h, b: h.events(chunk("半"), 'data: {"error": {"message": "out of memory"}}\n\n'),
            ("failed while answering", "out of memory"),
        ),
    ],
    ids=["500", "401", "not-json", "not-object", "error-mid-stream"],
)
def test_server_errors_are_one_line_model_errors(script: Script, expected: tuple[str, ...]) -> None:
    with serving(script) as server:
        _one_line_error(lambda: _run(OpenAIGenerator(server.url)), server.url, *expected)


def test_server_down_is_a_model_error_with_the_fix() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    generator = OpenAIGenerator(url)
    _one_line_error(
        generator.warm_up, f"Cannot reach the answer model server at {url}", "--llm-url"
    )
    _one_line_error(lambda: _run(generator), "Cannot reach")


def test_url_and_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="llm_url"):
        OpenAIGenerator("localhost:8000/v1")
    monkeypatch.setenv("RAG_LLM_URL", "http://gpu:8000/v1")
    monkeypatch.setenv("RAG_LLM_MODEL", "qwen")
    monkeypatch.setenv("RAG_LLM_API_KEY", "k")
    settings = load_settings()
    assert (settings.llm_url, settings.llm_model, settings.llm_api_key) == (
        "http://gpu:8000/v1",
        "qwen",
        "k",
    )
    monkeypatch.setenv("RAG_LLM_URL", "ftp://gpu/v1")
    with pytest.raises(ConfigError, match="llm_url must be"):
        load_settings()


def test_model_info_names_the_server_never_the_key() -> None:
    def script(h: Handler, body: dict[str, Any]) -> None:
        h.events("data: [DONE]\n\n")

    with serving(script) as server:
        generator = OpenAIGenerator(server.url, api_key="sk-secret")
        generator.warm_up()
        info = generator.model_info()
    assert info["name"] == "served-model" and info["url"] == server.url
    assert "sk-secret" not in json.dumps(info)
    assert estimate_tokens("台智雲 CEO") == 3 + 1


# -- through the CLI: the same answer checks ------------------------------------------------


def answer_from_passages(sentence: str, cited: str | None = None) -> Script:
    """A model that answers `sentence` citing the passage that holds `cited` (or `sentence`)."""

    def script(h: Handler, body: dict[str, Any]) -> None:
        prompt = body["messages"][-1]["content"]
        found = re.search(r"^\[(\d+)\][^\n]*" + re.escape(cited or sentence), prompt, re.M)
        n = found.group(1) if found else "1"
        h.events(chunk(sentence[:4]), chunk(sentence[4:] + f"[{n}]"), "data: [DONE]\n\n")

    return script


@pytest.fixture
def indexed(tiny_corpus: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RAG_EMBEDDER", "hash")
    result = runner.invoke(app, ["index", "--corpus", str(tiny_corpus), "--index", "idx"])
    assert result.exit_code == 0, result.output
    return Path("idx")


def _ask(url: str, question: str = "滷肉飯多少錢？") -> Any:
    return runner.invoke(app, ["ask", question, "--index", "idx", "--llm-url", url, "--json"])


def test_ask_with_llm_url_goes_through_the_same_checks(indexed: Path) -> None:
    with serving(answer_from_passages("滷肉飯是常見的小吃，價格大約五十元。")) as server:
        result = _ask(server.url)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["mode"] == "llm" and not answer["refused"], answer
    assert [c["source"] for c in answer["citations"]] == ["food.txt"]
    assert answer["model"]["url"] == server.url
    assert server.requests[0][1]["messages"][0]["role"] == "system"
    # A claim no passage makes is caught exactly as with the local model.
    wrong = answer_from_passages("火星上有三座城市。", cited="五十元")
    with serving(wrong) as server:
        checked = json.loads(_ask(server.url).stdout)
    assert checked["raw_answer"].startswith("火星上有三座城市")
    assert checked["refused"] and checked["citations"] == [], checked


def test_ask_with_the_server_down_fails_in_one_line_without_fallback(indexed: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    result = _ask(url)
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error: Cannot reach the answer model server")
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "Traceback" not in result.output and "Notice" not in result.output


def test_doctor_shows_the_server_and_whether_it_answers(
    indexed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_INDEX", "idx")
    with serving(answer_from_passages("好")) as server:
        monkeypatch.setenv("RAG_LLM_URL", server.url)
        result = runner.invoke(app, ["doctor", "--json"])
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["answer model server"]["ok"], checks
    assert "served-model" in checks["answer model server"]["detail"]
    assert report["using"]["generator"] == f"OpenAI-compatible server {server.url}"
    assert checks["vector store"]["ok"] and report["using"]["store"].startswith("faiss")
    assert not checks["answer model"]["required"]  # the local model is not used
    monkeypatch.setenv("RAG_LLM_URL", f"http://127.0.0.1:{free_port()}/v1")
    down = runner.invoke(app, ["doctor", "--json"])
    assert down.exit_code == 1
    failed = {c["name"]: c for c in json.loads(down.stdout)["checks"]}["answer model server"]
    assert not failed["ok"] and "Cannot reach" in failed["detail"]


# -- a real server -------------------------------------------------------------------------


DEFAULT_GGUF = (
    Path.home() / ".local/share/sovereign-rag/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
)


def _gguf(shared_home: Path) -> Path | None:
    for home in (shared_home, Path.home() / ".local/share/sovereign-rag"):
        path = home / "models" / DEFAULT_GGUF.name
        if path.is_file():
            return path
    return None


@pytest.mark.integration
def test_llama_cpp_server_answers_with_checked_citations(
    tiny_corpus: Path, shared_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`python -m llama_cpp.server` serving the default GGUF on loopback, then stopped."""
    gguf = _gguf(shared_home)
    if gguf is None:
        pytest.skip(f"the default GGUF is not prepared ({DEFAULT_GGUF.name})")
    pytest.importorskip("sse_starlette", reason="pip install 'llama-cpp-python[server]'")
    monkeypatch.setenv("RAG_EMBEDDER", "hash")
    assert (
        runner.invoke(app, ["index", "--corpus", str(tiny_corpus), "--index", "idx"]).exit_code == 0
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    serve = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--n_ctx", "4096"]
    serve += ["--interrupt_requests", "false", "--host", "127.0.0.1", "--port", str(port)]
    log = tmp_path / "llama-server.log"  # a pipe would fill with llama.cpp's loading log
    with log.open("w") as sink:
        server = subprocess.Popen(serve, stdout=sink, stderr=subprocess.STDOUT, text=True)
    command = [sys.executable, "-m", "rag", "ask", "台智雲的總經理是誰？", "--index", "idx"]
    command += ["--llm-url", url, "--json"]
    env = {**os.environ, "RAG_EMBEDDER": "hash"}
    try:
        _wait_until_it_answers(url, server, log)
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
        assert result.returncode == 0, result.stderr
        answer = json.loads(result.stdout)
        assert answer["mode"] == "llm" and not answer["refused"], answer
        assert "吳漢章" in answer["answer"]
        assert [c["source"] for c in answer["citations"]] == ["taiwan.txt"]
        assert answer["timings"]["ttft_s"] > 0 and answer["model"]["url"] == url
    finally:
        server.terminate()
        server.communicate(timeout=60)
    stopped = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert stopped.returncode == 1 and stopped.stdout == ""
    assert stopped.stderr.strip().startswith(
        f"Error: Cannot reach the answer model server at {url}"
    )
    assert len(stopped.stderr.strip().splitlines()) == 1 and "Traceback" not in stopped.stderr


def _wait_until_it_answers(url: str, server: subprocess.Popen[str], log: Path) -> None:
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/models", timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.5)
    pytest.fail("llama_cpp.server did not answer within 120 s")
