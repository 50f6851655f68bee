"""The answer model on another machine: any OpenAI-compatible chat server (vLLM, llama.cpp's
server, llama-cpp-python's server, Ollama's /v1) reached over HTTP, streamed, greedy.

It is a `Generator` like the in-process model, so its answers go through the same checks. A
server that is down, refuses or answers something that is not a chat completion ends in a
ModelError that says which URL and what to do; there is no fallback to a local model.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Iterator
from itertools import chain
from typing import Any
from urllib.parse import urlsplit

from rag.errors import ConfigError, ModelError
from rag.generate.base import GenerationTimings, Messages, OnDone

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
# Until the server sends anything: a CPU server evaluating a long prompt is silent that long.
READ_TIMEOUT_S = 300.0
# llama.cpp's servers default to a repeat penalty of 1.1; the in-process model uses none, and
# greedy answers should not depend on where the model runs. Other servers ignore the field.
SAMPLING = {"temperature": 0.0, "repeat_penalty": 1.0}
API = "OpenAI-compatible chat completions"


def check_url(url: str) -> str:
    """The API root (`http(s)://host:port/v1`) without a trailing slash, or ConfigError."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"llm_url {url!r} is not an http(s) URL. Give the server's API root, e.g. "
            "--llm-url http://127.0.0.1:8000/v1 (RAG_LLM_URL)."
        )
    return url


def estimate_tokens(text: str) -> int:
    """About how many tokens `text` is for a BPE chat model: one per Han character (Qwen and
    Llama tokenizers give 0.7-1.1 for Chinese prose), one per 4 other visible characters."""
    han = sum(1 for ch in text if "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff")
    other = sum(1 for ch in text if not ch.isspace()) - han
    return han + math.ceil(other / 4)


class OpenAIGenerator:
    """Chat messages to `{url}/chat/completions` with `stream: true`, text pieces back.

    `model` empty: the first model the server lists at `{url}/models` (servers that serve one
    model, like llama.cpp's, accept any name). `api_key` is sent as a Bearer token.
    """

    def __init__(
        self,
        url: str,
        model: str = "",
        api_key: str = "",
        *,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        read_timeout_s: float = READ_TIMEOUT_S,
    ) -> None:
        self.url = check_url(url)
        self.model = model
        self._api_key = api_key
        self._timeouts = (connect_timeout_s, read_timeout_s)
        self._served: list[str] | None = None
        self._client: Any = None
        self._guard = threading.Lock()

    # -- HTTP ------------------------------------------------------------------------------------

    def _http(self) -> Any:
        """One httpx client (thread-safe, keeps connections) for every call."""
        with self._guard:
            if self._client is None:
                import httpx

                connect, read = self._timeouts
                headers = {"Accept": "application/json, text/event-stream"}
                if self._api_key:
                    headers["Authorization"] = f"Bearer {self._api_key}"
                self._client = httpx.Client(
                    timeout=httpx.Timeout(read, connect=connect),
                    headers=headers,
                    trust_env=False,  # no proxy from the environment: only the URL given
                )
            return self._client

    def close(self) -> None:
        """Close the connections; the next call opens new ones."""
        with self._guard:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _failure(self, exc: BaseException, what: str) -> ModelError:
        """A transport error as one line: which server, what happened, what to do."""
        import httpx

        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            reason = " ".join(str(exc).split()) or type(exc).__name__
            return ModelError(
                f"Cannot reach the answer model server at {self.url} ({reason}). Start it, or "
                "fix --llm-url (RAG_LLM_URL); unset it to answer with the local model."
            )
        if isinstance(exc, httpx.TimeoutException):
            return ModelError(
                f"The answer model server at {self.url} did not answer {what} within "
                f"{self._timeouts[1]:.0f} s. Check that it is not overloaded."
            )
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return ModelError(f"The answer model server at {self.url} failed {what}: {reason}.")

    def _refused(self, status: int, body: bytes, what: str) -> ModelError:
        """An HTTP error status as one line, with the server's own message if it gave one."""
        text = body.decode("utf-8", "replace")
        try:
            detail = json.loads(text).get("error", text)
            if isinstance(detail, dict):
                detail = detail.get("message", detail)
        except (ValueError, AttributeError):
            detail = text
        detail = " ".join(str(detail).split())[:300] or "no message"
        hint = ""
        if status in (401, 403):
            hint = " Set llm_api_key (RAG_LLM_API_KEY) to the server's key."
        elif status == 404:
            hint = " Is --llm-url the API root, e.g. http://host:8000/v1? Is llm_model served?"
        return ModelError(
            f"The answer model server at {self.url} refused {what}: HTTP {status} ({detail}).{hint}"
        )

    # -- the contract ----------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Ask the server which models it serves (GET /models); ModelError if it does not
        answer. Loads nothing locally."""
        if self._served is not None:
            return
        import httpx

        try:
            response = self._http().get(f"{self.url}/models")
        except httpx.HTTPError as exc:
            raise self._failure(exc, "GET /models") from None
        if response.status_code == 404:
            self._served = []  # some servers only serve chat completions: fine
            return
        if response.status_code != 200:
            raise self._refused(response.status_code, response.content, "GET /models")
        try:
            served = [str(m["id"]) for m in response.json().get("data", [])]
        except (ValueError, AttributeError, KeyError, TypeError):
            raise ModelError(
                f"{self.url}/models did not answer an OpenAI model list. Is --llm-url the API "
                "root of an OpenAI-compatible server (e.g. http://host:8000/v1)?"
            ) from None
        if self.model and served and self.model not in served:
            log.warning("%s lists %s, not llm_model %r", self.url, ", ".join(served), self.model)
        self._served = served

    def model_info(self) -> dict[str, Any]:
        """The server and model name; never the API key."""
        return {
            "name": self._model_name() or "(the server's default)",
            "url": self.url,
            "api": API,
            "served": self._served,
            "loaded": self._served is not None,
        }

    def _model_name(self) -> str:
        if self.model:
            return self.model
        return self._served[0] if self._served else ""

    def count_tokens(self, text: str) -> int:
        """An estimate (`estimate_tokens`): the OpenAI API has no tokenizer endpoint, and
        servers that have one each name it differently."""
        return estimate_tokens(text)

    def stream(
        self,
        messages: Messages,
        max_tokens: int,
        stop: list[str] | None = None,
        reuse_prompt: bool = False,
        on_done: OnDone | None = None,
    ) -> Iterator[str]:
        """Yield the answer's text pieces as the server streams them (temperature 0).
        `reuse_prompt` is the server's business (its own prompt cache); nothing is kept here.
        Time to first token is the first non-empty `delta.content`."""
        import httpx

        self.warm_up()
        body: dict[str, Any] = {
            "messages": messages,
            "max_tokens": max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
            **SAMPLING,
        }
        if self._model_name():
            body["model"] = self._model_name()
        if stop:
            body["stop"] = [s for s in stop if s][:4]  # the OpenAI API takes at most 4
        start = time.perf_counter()
        first: float | None = None
        usage: dict[str, Any] = {}
        pieces = 0
        try:
            with self._http().stream("POST", f"{self.url}/chat/completions", json=body) as response:
                if response.status_code != 200:
                    raise self._refused(
                        response.status_code, response.read(), "the chat completion"
                    )
                for chunk in self._chunks(response):
                    if isinstance(chunk.get("usage"), dict):
                        usage = chunk["usage"]
                    for piece in _contents(chunk):
                        if first is None:
                            first = time.perf_counter() - start
                        pieces += 1
                        yield piece
        except httpx.HTTPError as exc:
            raise self._failure(exc, "the chat completion") from None
        finally:
            total = time.perf_counter() - start
            ttft = total if first is None else first
            tokens = int(usage.get("completion_tokens") or pieces)
            decode = total - ttft
            timings = GenerationTimings(
                prompt_tokens=int(
                    usage.get("prompt_tokens")
                    or sum(estimate_tokens(m.get("content", "")) for m in messages)
                ),
                cached_tokens=int(
                    (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
                ),
                tokens=tokens,
                ttft_s=ttft,
                generate_s=total,
                tokens_per_s=(tokens - 1) / decode if tokens > 1 and decode > 0 else 0.0,
                threads=0,  # the server's own
            )
            log.debug("generation at %s: %s", self.url, timings)
            if on_done is not None:
                on_done(timings)

    def _chunks(self, response: Any) -> Iterator[dict[str, Any]]:
        """The JSON objects of an SSE stream (comments and event names ignored, multi-line
        data joined, `[DONE]` ends it); a server that ignored `stream` gives one object."""
        kind = response.headers.get("content-type", "")
        if kind.startswith("application/json"):
            yield _as_chunk(self._parse(response.read().decode("utf-8", "replace")))
            return
        data: list[str] = []
        for line in chain(response.iter_lines(), [""]):  # "": the end ends the last event
            if line.startswith(":"):
                continue  # an SSE comment (keep-alive)
            if line:
                name, _, value = line.partition(":")
                if name == "data":
                    data.append(value[1:] if value.startswith(" ") else value)
                continue
            if not data:
                continue
            payload, data = "\n".join(data), []
            if payload.strip() == "[DONE]":
                return
            yield self._parse(payload)

    def _parse(self, payload: str) -> dict[str, Any]:
        try:
            chunk = json.loads(payload)
        except ValueError:
            raise ModelError(
                f"The answer model server at {self.url} sent something that is not a chat "
                f"completion chunk: {payload[:80]!r}. Is it an OpenAI-compatible server?"
            ) from None
        if not isinstance(chunk, dict):
            raise ModelError(
                f"The answer model server at {self.url} sent {payload[:80]!r}, not a JSON "
                "object. Is it an OpenAI-compatible server?"
            )
        if "error" in chunk:
            error = chunk["error"]
            message = error.get("message", error) if isinstance(error, dict) else error
            raise ModelError(
                f"The answer model server at {self.url} failed while answering: "
                f"{' '.join(str(message).split())[:300]}."
            )
        return chunk


def _contents(chunk: dict[str, Any]) -> Iterator[str]:
    """The non-empty `delta.content` of a streamed chunk's first choice (role-only and
    reasoning chunks give nothing)."""
    choices = chunk.get("choices") or []
    if not choices or not isinstance(choices[0], dict):
        return
    delta = choices[0].get("delta") or {}
    content = delta.get("content") if isinstance(delta, dict) else None
    if isinstance(content, str) and content:
        yield content


def _as_chunk(completion: dict[str, Any]) -> dict[str, Any]:
    """A non-streamed completion in the shape of one streamed chunk."""
    choices = completion.get("choices") or [{}]
    first = choices[0] if isinstance(choices[0], dict) else {}
    message = first.get("message") or {}
    chunk: dict[str, Any] = {"choices": [{"delta": {"content": message.get("content") or ""}}]}
    if "usage" in completion:
        chunk["usage"] = completion["usage"]
    return chunk
