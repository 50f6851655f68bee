"""One local model, many clients: a bounded queue in front of the answer model, and a way to
stop an answer whose client went away.

The in-process model holds one llama.cpp context, so answers are generated one at a time.
A request is admitted while fewer than `depth` others wait (else QueueFull: the server says
429 with Retry-After), then waits for its turn. Whether a request was cancelled is kept in a
context variable of the thread that answers it, never on the shared generator: `Cancellable`
wraps that generator and stops streaming (closing the model's stream, which stops llama.cpp)
as soon as the current request's cancel event is set.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from rag.generate.base import Generator, Messages, OnDone

# The cancel event of the request the current thread answers (None outside a request).
CANCEL: ContextVar[threading.Event | None] = ContextVar("rag_serve_cancel", default=None)
_POLL_S = 0.05


class QueueFull(Exception):
    """Every place in the queue is taken; try again after `retry_after` seconds."""

    def __init__(self, retry_after: int, depth: int):
        super().__init__(
            f"The answer model is busy: {depth} question(s) are already waiting. "
            f"Try again in {retry_after} s."
        )
        self.retry_after = retry_after


class Cancelled(Exception):
    """The client went away; the answer was stopped."""


def check_cancelled() -> None:
    """Raise Cancelled if the current request has been cancelled."""
    event = CANCEL.get()
    if event is not None and event.is_set():
        raise Cancelled()


class GenerationQueue:
    """One answer at a time, at most `depth` more waiting."""

    def __init__(self, depth: int, first_estimate_s: float = 10.0):
        self.depth = depth
        self._model = threading.Lock()
        self._guard = threading.Lock()
        self._admitted = 0
        self._running = 0
        self._mean_s = first_estimate_s  # moving average of how long an answer holds the model

    def admit(self) -> Ticket:
        """A place in the queue, or QueueFull."""
        with self._guard:
            if self._admitted > self.depth:
                raise QueueFull(self.retry_after(), self.depth)
            self._admitted += 1
        return Ticket(self)

    def retry_after(self) -> int:
        """Seconds until a place is likely free: about one answer's time."""
        return max(1, min(600, math.ceil(self._mean_s)))

    def counts(self) -> dict[str, int]:
        with self._guard:
            return {
                "running": self._running,
                "waiting": self._admitted - self._running,
                "depth": self.depth,
            }

    def stop(self, timeout: float = 10.0) -> bool:
        """Take the model for good (the server is stopping): waits for the answer being
        generated, then no other starts. False if it did not end within `timeout`."""
        return self._model.acquire(timeout=timeout)

    def _leave(self) -> None:
        with self._guard:
            self._admitted -= 1

    @contextmanager
    def _turn(self, cancel: threading.Event) -> Iterator[None]:
        while not self._model.acquire(timeout=_POLL_S):
            if cancel.is_set():
                raise Cancelled()
        started = time.perf_counter()
        with self._guard:
            self._running += 1
        try:
            if cancel.is_set():
                raise Cancelled()
            yield
        finally:
            spent = time.perf_counter() - started
            with self._guard:
                self._running -= 1
                self._mean_s = 0.7 * self._mean_s + 0.3 * spent
            self._model.release()


class Ticket:
    """A request's place in the queue: `turn` waits for the model, `leave` gives the place up
    (once; after the turn or instead of it)."""

    def __init__(self, queue: GenerationQueue):
        self._queue = queue
        self._left = False

    def turn(self, cancel: threading.Event) -> Any:
        """A context manager holding the model; Cancelled if `cancel` is set while waiting."""
        return self._queue._turn(cancel)

    def leave(self) -> None:
        if not self._left:
            self._left = True
            self._queue._leave()


class Cancellable:
    """The shared answer model, streaming only while the current request is wanted. It keeps
    nothing of a request: the cancel event comes from the answering thread's context."""

    def __init__(self, inner: Generator):
        self.inner = inner

    def model_info(self) -> dict[str, Any]:
        return self.inner.model_info()

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def warm_up(self) -> None:
        self.inner.warm_up()

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()

    def stream(
        self,
        messages: Messages,
        max_tokens: int,
        stop: list[str] | None = None,
        reuse_prompt: bool = False,
        on_done: OnDone | None = None,
    ) -> Iterator[str]:
        check_cancelled()
        pieces = self.inner.stream(
            messages, max_tokens, stop=stop, reuse_prompt=reuse_prompt, on_done=on_done
        )
        try:
            # Checked before each piece is asked for: a cancelled request generates nothing more.
            while True:
                check_cancelled()
                piece = next(pieces, None)
                if piece is None:
                    return
                yield piece
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()  # stops llama.cpp mid-answer
