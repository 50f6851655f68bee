"""What the server tests share: a scripted answer model that answers by copying the passage
sentence sharing most with the question (so the answer checks pass), and a server over a
hash-embedded index started on a free loopback port."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rag.generate.prompts import PROMPTS
from rag.pipeline import index_folder
from rag.serve.app import create_app
from rag.serve.security import ServeConfig
from rag.serve.server import BackgroundServer
from rag.serve.services import Services, build_services
from rag.settings import Settings, load_settings

_PASSAGE = re.compile(r"^\[(\d+)\] (.*)$", re.MULTILINE)
_SENTENCE = re.compile(r"[^。！？]+[。！？]")
QUESTION_HEADERS = tuple(p.question_header for p in PROMPTS.values())


def _overlap(a: str, b: str) -> int:
    return len(set(a) & set(b))


class PassageReader:
    """A scripted answer model. To an answer prompt it replies with the passage sentence
    sharing most characters with the question, cited; to a follow-up rewrite, with the
    follow-up itself. `extra` is appended to the reply (an unsupported sentence, say);
    `endless` streams without end (until closed); `hold` blocks each piece until set.
    It records every prompt and how its streams ended."""

    def __init__(
        self,
        *,
        extra: str = "",
        endless: bool = False,
        delay: float = 0.0,
        hold: threading.Event | None = None,
    ):
        self.extra = extra
        self.endless = endless
        self.delay = delay
        self.hold = hold
        self.prompts: list[list[dict[str, str]]] = []
        self.started = threading.Event()  # a piece was asked for
        self.yielded = 0
        self.closed_early = 0
        self.finished = 0

    def model_info(self) -> dict[str, Any]:
        return {"name": "passage-reader"}

    def count_tokens(self, text: str) -> int:
        return len(text)

    def warm_up(self) -> None:
        pass

    def reply(self, messages: list[dict[str, str]]) -> str:
        user = messages[-1]["content"]
        passages = [(int(n), text) for n, text in _PASSAGE.findall(user)]
        if not passages:  # a rewrite or translation prompt: the last line's question
            last = user.strip().splitlines()[-1]
            return re.split(r"[：:]\s*", last, maxsplit=1)[-1]
        question = ""
        for header in QUESTION_HEADERS:
            if header in user:
                question = user.split(header, 1)[1].split("\n\n", 1)[0]
        best = max(
            (
                (_overlap(question, sentence), -n, n, sentence)
                for n, text in passages
                for sentence in _SENTENCE.findall(text) or [text]
            ),
        )
        _score, _order, n, sentence = best
        body = sentence.strip().rstrip("。！？")
        return f"{body}[{n}]。{self.extra}"

    def stream(
        self,
        messages: list[dict[str, str]],
        max_tokens: int,
        stop: list[str] | None = None,
        reuse_prompt: bool = False,
        on_done: Any = None,
    ) -> Iterator[str]:
        self.prompts.append(messages)
        reply = self.reply(messages)

        def pieces() -> Iterator[str]:
            done = False
            try:
                i = 0
                while self.endless or i < len(reply):
                    self.started.set()
                    if self.hold is not None:
                        self.hold.wait(30)
                    if self.delay:
                        time.sleep(self.delay)
                    self.yielded += 1
                    yield reply[i % len(reply) : i % len(reply) + 2] if not self.endless else "很"
                    i += 2
                done = True
                self.finished += 1
            finally:
                if not done:
                    self.closed_early += 1

        return pieces()


def hash_settings(corpus: Path, tmp_path: Path, **overrides: Any) -> Settings:
    """Settings over `corpus` with the hash embedder, an index in tmp_path, built."""
    settings = load_settings(
        {"corpus": corpus, "index": tmp_path / "index", "embedder": "hash", **overrides}
    )
    index_folder(settings)
    return settings


@contextmanager
def running_server(
    settings: Settings,
    generator: Any = None,
    *,
    no_llm: bool = False,
    config: ServeConfig | None = None,
) -> Iterator[tuple[str, Services]]:
    """The app on a free loopback port: its base URL and its services."""
    services = build_services(settings, config or ServeConfig(), no_llm=no_llm, generator=generator)
    server = BackgroundServer(create_app(services)).start()
    try:
        yield server.url, services
    finally:
        server.stop()
        services.close()
