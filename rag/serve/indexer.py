"""Re-indexing knowledge bases in the background after documents are added or removed, with
progress a client can poll. One build runs at a time (they share the embedder and the
cores); a change asked for while its knowledge base is being built is picked up by one more
build right after. A failed build leaves the previous index live (rag.index.build)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rag.errors import RagError

if TYPE_CHECKING:
    from rag.index.build import BuildReport

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]
Build = Callable[[str, Progress], "BuildReport | None"]


@dataclass
class IndexStatus:
    """Where a knowledge base's re-indexing stands."""

    state: str = "idle"  # idle, queued, indexing, ready, failed
    done: int = 0  # chunks embedded so far in this build
    total: int = 0  # chunks to embed in this build
    requested: int = 0  # how many re-indexings were asked for
    finished: int = 0  # how many of them a finished build covers
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    report: dict[str, Any] | None = None
    _again: bool = field(default=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "requested": self.requested,
            "finished": self.finished,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "error": self.error,
            "report": self.report,
        }


def report_json(report: BuildReport | None) -> dict[str, Any]:
    """What a client needs from a build: counts, changes and each file skipped, by name."""
    if report is None:
        return {"documents": 0, "chunks": 0, "skipped": [], "partial": []}
    return {
        "documents": report.documents,
        "chunks": report.chunks,
        "added": report.added,
        "changed": report.changed,
        "removed": report.removed,
        "embedded": report.embedded,
        "reused": report.reused,
        "seconds": round(report.seconds, 2),
        "skipped": [{"file": p, "reason": r} for p, r in report.skipped],
        "partial": [{"file": p, "reason": r} for p, r in report.partial],
    }


class Indexer:
    """Runs `build(name, progress)` in a background thread when asked, then `on_built(name)`."""

    def __init__(self, build: Build, on_built: Callable[[str], None]):
        self._build = build
        self._on_built = on_built
        self._status: dict[str, IndexStatus] = {}
        self._guard = threading.Lock()
        self._one_build = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}

    def status(self, name: str) -> dict[str, Any]:
        with self._guard:
            return self._status.setdefault(name, IndexStatus()).to_json()

    def request(self, name: str) -> dict[str, Any]:
        """Ask for `name` to be re-indexed; returns its status."""
        with self._guard:
            status = self._status.setdefault(name, IndexStatus())
            status.requested += 1
            if name in self._threads:  # a build runs or is about to: one more after it
                status._again = True
                if status.state != "indexing":
                    status.state = "queued"
            else:
                status.state, status.error = "queued", None
                thread = threading.Thread(
                    target=self._run, args=(name,), name=f"index-{name}", daemon=True
                )
                self._threads[name] = thread
                thread.start()
            return status.to_json()

    def wait(self, name: str, timeout: float | None = None) -> dict[str, Any]:
        """Block until no build of `name` runs or is due (tests and benchmarks)."""
        with self._guard:
            thread = self._threads.get(name)
        if thread is not None:
            thread.join(timeout)
        return self.status(name)

    def _run(self, name: str) -> None:
        while True:
            with self._guard:
                status = self._status[name]
                status._again = False
                covers = status.requested
            with self._one_build:
                self._build_once(name, status, covers)
            with self._guard:
                if not status._again:
                    del self._threads[name]
                    return

    def _build_once(self, name: str, status: IndexStatus, covers: int) -> None:
        def progress(done: int, total: int) -> None:
            status.done, status.total = done, total

        with self._guard:
            status.state, status.done, status.total = "indexing", 0, 0
            status.started_at, status.error = time.time(), None
        try:
            report = self._build(name, progress)
            self._on_built(name)
        except RagError as exc:
            with self._guard:
                status.state, status.error = "failed", str(exc)
                status.finished_at = time.time()
            return
        except Exception as exc:  # a bug: reported by the status, not a dead thread
            log.exception("re-indexing %s failed", name)
            with self._guard:
                status.state = "failed"
                status.error = f"Re-indexing failed ({type(exc).__name__}: {exc})."
                status.finished_at = time.time()
            return
        with self._guard:
            status.state = "ready"
            status.report = report_json(report)
            status.finished = covers
            status.finished_at = time.time()
