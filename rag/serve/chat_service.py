"""Answering a chat request: the question and history read from OpenAI messages, the answer
made in a thread of its own (after waiting its turn for the model) and handed to the event
loop piece by piece, stopped when the client goes away."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from rag.answer.types import Answer
from rag.errors import QueryError
from rag.serve.engines import Engine
from rag.serve.queue import CANCEL, Cancelled, Ticket, check_cancelled

log = logging.getLogger(__name__)
Disconnected = Callable[[], Awaitable[bool]]
_POLL_S = 0.25  # how often a waiting request checks that its client is still there


@dataclass(frozen=True)
class Turn:
    """The question to answer and the conversation before it, as (question, answer) pairs."""

    question: str
    history: list[tuple[str, str]] = field(default_factory=list)


def message_text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for part in content:
        if isinstance(part, dict) and part.get("type") in ("text", "input_text"):
            parts.append(str(part.get("text", "")))
    return "\n".join(parts)


def read_turn(messages: list[dict[str, Any]], max_chars: int) -> Turn:
    """The last user message as the question, earlier user/assistant pairs as history;
    system messages are left out (the answer prompts are fixed). QueryError if there is no
    question."""
    history: list[tuple[str, str]] = []
    pending: str | None = None
    for message in messages[:-1]:
        role, text = message.get("role"), message_text(message.get("content")).strip()
        if role == "user":
            pending = text
        elif role == "assistant" and pending is not None:
            history.append((pending, text))
            pending = None
    last = messages[-1] if messages else {}
    question = message_text(last.get("content")).strip()
    if last.get("role") != "user" or not question:
        raise QueryError(
            "The last message must be the user's question, with text "
            '(e.g. {"role": "user", "content": "主權AI是什麼？"}).'
        )
    return Turn(question[:max_chars], history)


@dataclass
class Event:
    kind: str  # token, status, done, error
    value: Any


class AnswerRun:
    """One answer being made: started in a thread, read as events, cancellable."""

    def __init__(self, engine: Engine, turn: Turn, ticket: Ticket):
        self.engine = engine
        self.turn = turn
        self.ticket = ticket
        self.cancel = threading.Event()
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._work, name="answer", daemon=True)

    def start(self) -> AnswerRun:
        self._thread.start()
        return self

    def _emit(self, kind: str, value: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the event loop is closed: nobody listens
            self._loop.call_soon_threadsafe(self._events.put_nowait, Event(kind, value))

    def _on_token(self, piece: str) -> None:
        check_cancelled()  # the client left: stop here (the stream's close stops the model)
        self._emit("token", piece)

    def _work(self) -> None:
        CANCEL.set(self.cancel)  # this thread's context: the shared generator reads it
        try:
            with self.ticket.turn(self.cancel):
                answer = self.engine.answerer.ask(
                    self.turn.question,
                    on_token=self._on_token,
                    history=self.turn.history,
                    on_status=lambda message: self._emit("status", message),
                )
            self._emit("done", answer)
        except Cancelled:
            log.debug("answer cancelled: the client went away")
            self._emit("error", Cancelled())
        except BaseException as exc:  # handed to the request, which answers with an error
            self._emit("error", exc)
        finally:
            self.ticket.leave()

    async def events(self, disconnected: Disconnected | None = None) -> AsyncIterator[Event]:
        """The answer's events up to `done` (an `error` event is raised). Cancels the answer
        when the consumer stops early or `disconnected()` says the client left."""
        loop = asyncio.get_running_loop()
        checked = loop.time()
        try:
            while True:
                event = None
                with contextlib.suppress(TimeoutError):
                    event = await asyncio.wait_for(self._events.get(), _POLL_S)
                # Checked on a clock, not only when idle: pieces may arrive without a pause.
                if disconnected is not None and loop.time() - checked >= _POLL_S:
                    checked = loop.time()
                    if await disconnected():
                        raise Cancelled()
                if event is None:
                    continue
                if event.kind == "error":
                    raise event.value
                yield event
                if event.kind == "done":
                    return
        finally:
            self.cancel.set()  # no effect once the answer is done

    async def answer(self, disconnected: Disconnected | None = None) -> Answer:
        """The whole answer (for a response that is not streamed)."""
        async for event in self.events(disconnected):
            if event.kind == "done":
                return event.value  # type: ignore[no-any-return]
        raise Cancelled()
